"""Every /paper command through the core, with its bad inputs."""

from __future__ import annotations

import datetime as dt

import pytest

from adapters.app import Core
from bot.commands import parse_command
from bot.types import ChannelRef, Command, Reply, UserRef
from tests.fake_hf import FakeHF, Fault
from tests.fakes import FakeClock, sample_items

CHANNEL = ChannelRef("test", "team-1", "C1")
USER = UserRef("test", "team-1", "U1")


async def run(
    core: Core, text: str, user: UserRef = USER, channel: ChannelRef = CHANNEL, *, can_manage: bool = True
) -> Reply:
    """`can_manage`: the right the platform reported for the caller (Manage Channels, a Slack admin)."""
    name, args = parse_command(text)
    return await core.bot.handle_command(Command(name, args, user, channel, can_manage=can_manage))


@pytest.fixture
async def stocked(core: Core) -> Core:
    await core.ingestor.fetch_days([dt.date(2025, 5, 13), dt.date(2025, 5, 19), dt.date(2025, 5, 20)])
    return core


def test_parse_command_accepts_a_leading_slash_paper() -> None:
    assert parse_command("/paper  SEARCH  diffusion  models ") == ("search", "diffusion  models")
    assert parse_command("") == ("", "")


async def test_help_lists_every_command(core: Core) -> None:
    reply = await run(core, "help")
    for name in (
        "search",
        "show",
        "today",
        "top",
        "digest here",
        "digest off",
        "digest status",
        "follow",
        "unfollow",
        "following",
    ):
        assert f"/paper {name}" in reply.text
    assert reply.ephemeral


async def test_search_lists_linked_results(stocked: Core) -> None:
    reply = await run(stocked, "search learning from peers")
    assert reply.ok and reply.ephemeral
    assert reply.items[0].title == "Learning from Peers in Reasoning Models"
    assert reply.items[0].url == "https://huggingface.co/papers/2505.07787"
    assert "▲" in reply.items[0].detail and "2025-05-12" in reply.items[0].detail


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("search", "What should I search for?"),
        ("search zzzqqq", "No papers match. (searched for: zzzqqq)"),
        ('search "', "Nothing to search for"),
        ("search " + "x" * 10_000, "Query too long"),
        ("search since:soon", "since: needs a date"),
        ("search <!channel> @everyone", "No papers match."),
        ("show", "Which paper?"),
        ("show nonsense", "is not an arXiv id"),
        ("show 2505.99999", "Paper 2505.99999 was not found on Hugging Face."),
        ("top forever", "top takes week, month or all."),
        ("digest", "digest takes here, off, status or feed."),
        ("digest here 25:00", "Unknown option '25:00'"),
        ("digest here Mars/Olympus", "Unknown timezone or option"),
        ("digest here top 0", "top must be between 1 and 25."),
        ("digest here top", "top needs a number"),
        ("digest here min-upvotes lots", "min-upvotes needs a number"),
        ("follow", "Follow what?"),
        ("follow -survey", "Add a word to search for"),
        ("unfollow x", "unfollow takes the number"),
        ("unfollow 3", "You have no saved search #3."),
        ("frobnicate now", "Unknown command 'frobnicate'."),
        ("\x00\u202e", "Unknown command"),
    ],
)
async def test_bad_input_gets_a_short_message_never_a_traceback(core: Core, text: str, expected: str) -> None:
    reply = await run(core, text)
    assert expected in reply.text
    assert "Traceback" not in reply.text


async def test_show_by_url_and_on_demand_fetch(core: Core, fake_hf: FakeHF) -> None:
    reply = await run(core, "show https://arxiv.org/abs/2512.06421v2")
    assert reply.ok and reply.posts[0].paper_id == "2512.06421"
    assert len(fake_hf.requests_to("/api/papers/")) == 1
    again = await run(core, "show hf.co/papers/2512.06421")
    assert again.posts[0].paper_id == "2512.06421"
    assert len(fake_hf.requests_to("/api/papers/")) == 1


async def test_show_when_hf_is_down(core: Core, fake_hf: FakeHF) -> None:
    core.lookup.budget = 0.5  # retried within the budget (5 s by default), then given up
    fake_hf.fail_next(*[Fault(503)] * 20)
    reply = await run(core, "show 2512.06421")
    assert not reply.ok and "Hugging Face is not answering; try again later" in reply.text


async def test_today_is_the_newest_list_by_upvotes(core: Core, fake_hf: FakeHF) -> None:
    assert "No Daily Papers lists are stored yet" in (await run(core, "today")).text
    fake_hf.set_day("2025-11-20", sample_items(12, day=dt.date(2025, 11, 20)))
    await core.ingestor.fetch_days([dt.date(2025, 5, 13), dt.date(2025, 11, 20)])
    reply = await run(core, "today")
    assert reply.text == "Daily Papers · Thu 20 Nov 2025 · 10 of 12"
    assert [i.detail.split(" · ")[0] for i in reply.items] == [f"▲ {n}" for n in range(12, 2, -1)]


async def test_digest_here_needs_a_channel_manager(core: Core) -> None:
    denied = await run(core, "digest here 08:30", can_manage=False)
    assert not denied.ok and "Only channel managers can change this channel's digest." in denied.text
    assert await core.subscriptions.get(CHANNEL) is None
    assert not (await run(core, "digest off", can_manage=False)).ok
    boss = UserRef("test", "team-1", "boss")
    allowed = await run(
        core, "digest here 08:30 europe/berlin top 5 min-upvotes 3 +agents -survey flat", boss
    )
    assert allowed.ok and not allowed.ephemeral
    assert allowed.text.startswith(
        "Daily digest on for this channel: 08:30 Europe/Berlin on weekdays, top 5, at least 3 upvotes, "
        "only agents, without survey, papers straight in the channel. "
        "Next post: due now, with Thu 20 Nov 2025's list (within a few minutes)."
    )
    sub = await core.subscriptions.get(CHANNEL)
    assert sub is not None
    assert (sub.post_time, sub.timezone, sub.size, sub.min_upvotes) == (dt.time(8, 30), "Europe/Berlin", 5, 3)
    assert (sub.include_keywords, sub.exclude_keywords, sub.threaded) == (("agents",), ("survey",), False)
    changed = await run(core, "digest here 10:00", boss)
    assert "updated" in changed.text and "10:00 Europe/Berlin" in changed.text and "top 5" in changed.text
    status = await run(core, "digest status")  # anyone may ask
    assert status.ok and "Next post: due now, with Thu 20 Nov 2025's list" in status.text
    assert "Last post: none yet." in status.text
    off = await run(core, "digest off", boss)
    assert off.text == "Daily digest off for this channel."
    assert "No digest in this channel" in (await run(core, "digest status")).text


async def test_digest_status_explains_a_weekend_and_the_pending_list(
    core: Core, fake_hf: FakeHF, clock: FakeClock
) -> None:
    fake_hf.set_day("2025-11-20", sample_items(2, day=dt.date(2025, 11, 20)))
    await run(core, "digest here 09:00 UTC")
    await core.bot.post_digest(CHANNEL)  # Thursday's list, posted Friday
    clock.set(dt.datetime(2025, 11, 22, 12, tzinfo=dt.UTC))
    status = (await run(core, "digest status")).text
    assert "Last post: Thu 20 Nov 2025's list" in status
    assert "No digests on Saturdays and Sundays" in status
    assert "Next post: Mon 24 Nov 2025 09:00 UTC, with Fri 21 Nov 2025's list." in status


async def test_digest_status_east_of_new_york_says_the_post_waits_for_its_list(
    core: Core, fake_hf: FakeHF, clock: FakeClock
) -> None:
    fake_hf.set_day("2025-11-21", sample_items(2, day=dt.date(2025, 11, 21)))
    clock.set(dt.datetime(2025, 11, 24, 0, 30, tzinfo=dt.UTC))  # Monday 09:30 in Tokyo
    await run(core, "digest here 09:00 Asia/Tokyo")
    assert (await core.bot.post_digest(CHANNEL)).day == dt.date(2025, 11, 21)
    status = (await run(core, "digest status")).text
    # Monday's list closes at 11:30 on Tuesday in Tokyo, after that day's 09:00.
    assert "Next post: Tue 25 Nov 2025 11:30 JST, with Mon 24 Nov 2025's list when it closes." in status


async def test_follow_following_unfollow(core: Core) -> None:
    first = await run(core, 'follow "reasoning models" -survey')
    assert first.ok and first.text.startswith('Saved search #1: "reasoning models" -survey.')
    await run(core, "follow author:hinton")
    listing = (await run(core, "following")).text
    assert '1. "reasoning models" -survey' in listing and "2. author:hinton" in listing
    other_user = UserRef("test", "team-1", "U2")
    assert "You follow no searches" in (await run(core, "following", other_user)).text
    assert (await run(core, "unfollow 1")).text == 'Stopped following: "reasoning models" -survey'
    assert "1. author:hinton" in (await run(core, "following")).text


async def test_a_crashing_command_gets_an_apology_not_a_traceback(core: Core, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    async def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("database on fire")

    monkeypatch.setattr(core.bot.commands, "do_search", boom)
    reply = await run(core, "search x")
    assert not reply.ok and reply.text.startswith("Sorry, something went wrong")
    assert "database on fire" not in reply.text


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("unfollow ²", "unfollow takes the number"),
        ("unfollow 99999999999999999999", "unfollow takes the number"),
        ("digest here top ²", "top needs a number"),
        ("digest here min-upvotes 99999999999999999999", "min-upvotes needs a number"),
        ("digest here rank", "rank takes taste (this channel's votes) or upvotes"),
        ("digest here rank newest", "rank takes taste (this channel's votes) or upvotes"),
        ("digest here +…", "has no letters, digits or emoji to match"),
        ("digest here -%%%", "has no letters, digits or emoji to match"),
    ],
)
async def test_odd_numbers_and_empty_filter_words_get_a_usage_line(
    core: Core, text: str, answer: str
) -> None:
    reply = await run(core, text)
    assert not reply.ok and answer in reply.text
    status = await run(core, "digest status")
    assert "no digest" in status.text.lower()  # nothing was half-saved


async def test_control_characters_in_a_saved_search_are_dropped(core: Core) -> None:
    # PostgreSQL refuses NUL in text; a terminal escape would reach `following` as is.
    saved = await run(core, "follow diffusion\x00models \x1b[2J")
    assert saved.ok, saved.text
    listed = await run(core, "following")
    assert (
        "1. diffusion models [2J" in listed.text and "\x00" not in listed.text and "\x1b" not in listed.text
    )


async def test_show_of_an_unstored_paper_answers_soon_when_hugging_face_does_not(
    core: Core, fake_hf: FakeHF
) -> None:
    core.lookup.budget = 0.3  # the setting's default is 5 s
    fake_hf.fail_next(*(Fault(delay=3.0) for _ in range(5)))
    reply = await run(core, "show 2505.07787")
    assert not reply.ok
    assert reply.text == (
        "2505.07787 is not in the archive yet, and Hugging Face is not answering; try again later."
    )
    assert len(fake_hf.requests_to("/api/papers/")) == 1


async def test_one_result_is_one_match_and_usage_lines_name_every_digest_option(stocked: Core) -> None:
    one = await run(stocked, "search learning from peers")
    assert one.text == "1 match for: learning from peers"
    several = await run(stocked, "search reasoning")
    assert several.text.startswith(f"{len(several.items)} best matches for: reasoning")
    usage = await run(stocked, "digest sideways")
    assert (
        "digest here [HH:MM] [TIMEZONE] [top N] [min-upvotes N] [+word] [-word] [flat] [rank taste]"
        in usage.text
    )


async def test_a_burst_of_commands_is_worked_on_a_few_at_a_time(
    core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fifty commands at once are each answered, at most MAX_CONCURRENT_COMMANDS at a time:
    unbounded, they crowded the event loop and the database so that the platforms' acks of
    the next requests waited (BENCHMARKS.md, slash commands under load)."""
    import asyncio

    from bot.paperbot import MAX_CONCURRENT_COMMANDS

    working, most, release = 0, 0, asyncio.Event()
    handle = core.bot.commands.handle

    async def slow_handle(command: Command) -> Reply:
        nonlocal working, most
        working += 1
        most = max(most, working)
        await release.wait()
        try:
            return await handle(command)
        finally:
            working -= 1

    monkeypatch.setattr(core.bot.commands, "handle", slow_handle)
    burst = [asyncio.ensure_future(run(core, "help")) for _ in range(50)]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while working < MAX_CONCURRENT_COMMANDS and loop.time() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    for _ in range(10):
        await asyncio.sleep(0)  # the others had their chance to start too
    assert working == MAX_CONCURRENT_COMMANDS
    release.set()
    replies = await asyncio.gather(*burst)
    assert all(reply.ok and "/paper search" in reply.text for reply in replies)
    assert most == MAX_CONCURRENT_COMMANDS
