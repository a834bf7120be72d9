"""Daily digests: which list, exactly once, resume, catch-up, pauses and recaps."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from adapters.app import Core
from bot.deliveries import RELEASED
from bot.ports import MessageRejected, PublishFailed
from bot.post_calendar import newest_closed_day
from bot.types import ChannelRef, Command, Notice, Post, PostRef, Reaction, UserRef
from tests.fake_hf import FakeHF
from tests.fakes import FakeClock, MemorySource, RecordingPublisher, gone, sample_items

CHANNEL = ChannelRef("test", "team-1", "C1")
ADMIN = UserRef("test", "team-1", "U-admin")
UTC = dt.UTC


def at(year: int, month: int, day: int, hour: int = 12, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


async def subscribe(core: Core, options: str = "09:00 UTC", channel: ChannelRef = CHANNEL) -> str:
    reply = await core.bot.handle_command(
        Command("digest", f"here {options}", ADMIN, channel, can_manage=True)
    )
    assert reply.ok, reply.text
    return reply.text


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (at(2025, 11, 21, 12), dt.date(2025, 11, 20)),  # Friday noon: Thursday's list closed overnight
        (at(2025, 11, 24, 8), dt.date(2025, 11, 21)),  # Monday morning carries Friday's list
        (at(2025, 11, 22, 10), dt.date(2025, 11, 21)),  # Saturday
        (at(2025, 11, 25, 2), dt.date(2025, 11, 21)),  # Monday's list closes at 02:30 UTC Tuesday
        (at(2025, 11, 25, 3), dt.date(2025, 11, 24)),
        (at(2025, 7, 1, 1, 30), dt.date(2025, 6, 30)),  # summer time: closes 01:30 UTC
    ],
)
def test_newest_closed_list(now: dt.datetime, expected: dt.date) -> None:
    assert newest_closed_day(now) == expected


async def test_weekday_digest_posts_header_then_cards_in_its_thread_once(
    core: Core, fake_hf: FakeHF, publisher: RecordingPublisher
) -> None:
    fake_hf.set_day("2025-11-20", sample_items(12, day=dt.date(2025, 11, 20)))
    await subscribe(core)
    outcome = await core.bot.post_digest(CHANNEL)
    assert outcome.day == dt.date(2025, 11, 20) and outcome.posted == 11
    header, *cards = publisher.posts
    assert isinstance(header.message, Notice)
    assert header.text == "Daily Papers · Thu 20 Nov 2025 · 10 of 12"
    assert header.thread is None
    assert len(cards) == 10 and all(card.thread == header.ref for card in cards)
    upvotes = [card.message.upvotes for card in cards]  # type: ignore[union-attr]
    assert upvotes == sorted(upvotes, reverse=True) == list(range(12, 2, -1))

    again = await core.bot.post_digest(CHANNEL)
    assert again.posted == 0 and "already posted" in again.note
    assert len(publisher.posts) == 11


async def test_monday_carries_fridays_list_and_flat_option_skips_the_thread(
    core: Core, fake_hf: FakeHF, publisher: RecordingPublisher, clock: FakeClock
) -> None:
    fake_hf.set_day("2025-11-21", sample_items(3, day=dt.date(2025, 11, 21)))
    clock.set(at(2025, 11, 24, 8))
    await subscribe(core, "09:00 Europe/Berlin flat")
    outcome = await core.bot.post_digest(CHANNEL)
    assert outcome.day == dt.date(2025, 11, 21)
    assert publisher.posts[0].text == "Daily Papers · Fri 21 Nov 2025 · 3 of 3"
    assert all(post.thread is None for post in publisher.posts)


async def test_an_empty_list_posts_nothing_and_its_papers_go_out_once_when_they_appear(
    core: Core, fake_hf: FakeHF, publisher: RecordingPublisher, clock: FakeClock
) -> None:
    # Hugging Face answers an empty list for a closed day during incidents, and fills it later.
    fake_hf.set_day("2025-11-27", [])
    clock.set(at(2025, 11, 28, 9, 5))  # Friday, just after the 09:00 post of Thursday's list
    await subscribe(core)
    [outcome] = await core.bot.catch_up()
    assert outcome.empty_list and publisher.posts == []
    status = await core.bot.handle_command(Command("digest", "status", ADMIN, CHANNEL))
    assert "Waiting for Thu 27 Nov 2025's list: Hugging Face's list is empty so far" in status.text
    assert "Next post: Mon 1 Dec 2025 09:00 UTC, with Fri 28 Nov 2025's list." in status.text

    fake_hf.set_day("2025-11-27", sample_items(3, day=dt.date(2025, 11, 27)))
    clock.advance(minutes=30)  # the next refresh
    await core.bot.catch_up()
    assert publisher.posts[0].text == "Daily Papers · Thu 27 Nov 2025 · 3 of 3"
    assert len(publisher.paper_posts()) == 3
    clock.advance(minutes=30)
    await core.bot.catch_up()
    assert len(publisher.posts) == 4  # once
    status = await core.bot.handle_command(Command("digest", "status", ADMIN, CHANNEL))
    assert "Waiting for" not in status.text and "Last post: Thu 27 Nov 2025's list" in status.text


async def test_a_list_still_empty_at_the_next_post_goes_out_when_it_fills(
    core: Core, fake_hf: FakeHF, publisher: RecordingPublisher, clock: FakeClock
) -> None:
    fake_hf.set_day("2025-11-27", [])
    fake_hf.set_day("2025-11-28", sample_items(2, day=dt.date(2025, 11, 28), start=10))
    clock.set(at(2025, 11, 28, 9, 5))
    await subscribe(core)
    await core.bot.catch_up()
    clock.set(at(2025, 12, 1, 9, 5))  # Monday: Friday's list is due; Thursday's is still empty
    await core.bot.catch_up()
    assert [p.text for p in publisher.posts if not p.paper_id] == ["Daily Papers · Fri 28 Nov 2025 · 2 of 2"]
    fake_hf.set_day("2025-11-27", sample_items(3, day=dt.date(2025, 11, 27)))
    clock.advance(minutes=30)
    await core.bot.catch_up()
    clock.advance(minutes=30)
    await core.bot.catch_up()
    headers = [p.text for p in publisher.posts if not p.paper_id]
    assert headers == ["Daily Papers · Fri 28 Nov 2025 · 2 of 2", "Daily Papers · Thu 27 Nov 2025 · 3 of 3"]
    assert len(publisher.paper_posts()) == 5


async def test_a_list_that_stays_empty_is_given_up_after_two_more_weekdays(
    core: Core, fake_hf: FakeHF, publisher: RecordingPublisher, clock: FakeClock
) -> None:
    fake_hf.set_day("2025-11-27", [])  # Thanksgiving: nothing listed, for good
    fake_hf.set_day("2025-11-28", sample_items(2, day=dt.date(2025, 11, 28), start=10))
    fake_hf.set_day("2025-12-01", sample_items(2, day=dt.date(2025, 12, 1), start=20))
    clock.set(at(2025, 11, 28, 9, 5))
    await subscribe(core)
    await core.bot.catch_up()
    clock.set(at(2025, 12, 1, 9, 5))  # Monday: still awaited (until Monday's list closes)
    await core.bot.catch_up()
    sub = await core.subscriptions.get(CHANNEL)
    assert sub is not None and sub.awaited_days == (dt.date(2025, 11, 27),)
    clock.set(at(2025, 12, 2, 9, 5))  # Tuesday: given up
    await core.bot.catch_up()
    sub = await core.subscriptions.get(CHANNEL)
    assert sub is not None and sub.awaited_days == ()
    status = await core.bot.handle_command(Command("digest", "status", ADMIN, CHANNEL))
    assert "Waiting for" not in status.text
    headers = [p.text for p in publisher.posts if not p.paper_id]
    assert headers == ["Daily Papers · Fri 28 Nov 2025 · 2 of 2", "Daily Papers · Mon 1 Dec 2025 · 2 of 2"]


async def test_filters_size_min_upvotes_and_keywords(
    core: Core, fake_hf: FakeHF, publisher: RecordingPublisher
) -> None:
    items = sample_items(12, day=dt.date(2025, 11, 20))
    fake_hf.set_day("2025-11-20", items)
    await subscribe(core, "top 5 min-upvotes 6")
    await core.bot.post_digest(CHANNEL)
    assert publisher.posts[0].text == "Daily Papers · Thu 20 Nov 2025 · 5 of 12"
    assert [p.message.upvotes for p in publisher.paper_posts()] == [12, 11, 10, 9, 8]  # type: ignore[union-attr]

    other = ChannelRef("test", "team-1", "C2")
    await subscribe(core, "+reasoning -peers", channel=other)
    await core.bot.post_digest(other)
    posted = {p.paper_id for p in publisher.posts if p.channel == other and p.paper_id}

    def words(item: dict[str, object]) -> list[str]:
        paper = item["paper"]
        assert isinstance(paper, dict)
        text = f"{paper['title']} {paper['summary']} {' '.join(paper.get('ai_keywords') or [])}"
        return "".join(c if c.isalnum() else " " for c in text.lower()).split()

    expected = {i["paper"]["id"] for i in items if "reasoning" in words(i) and "peers" not in words(i)}
    assert expected
    assert posted == expected


async def test_a_failed_send_is_tried_again_within_the_run(
    core: Core, fake_hf: FakeHF, publisher: RecordingPublisher
) -> None:
    fake_hf.set_day("2025-11-20", sample_items(12, day=dt.date(2025, 11, 20)))
    await subscribe(core)
    publisher.fail_at[4] = PublishFailed("test said internal_error")
    publisher.fail_at[5] = ConnectionResetError("network dropped")
    outcome = await core.bot.post_digest(CHANNEL)
    assert outcome.complete and outcome.posted == 11
    assert outcome.note == "Posted Thu 20 Nov 2025's list (10 papers)."
    assert core.digester.sleep.waits == [2.0, 10.0]  # type: ignore[attr-defined]
    headers = [p for p in publisher.posts if not p.paper_id]
    papers = [p.paper_id for p in publisher.paper_posts()]
    assert len(headers) == 1 and len(papers) == 10 and len(set(papers)) == 10
    assert all(p.thread == headers[0].ref for p in publisher.paper_posts())


async def test_a_run_that_gives_up_says_what_is_missing_and_a_rerun_completes_it_at_once(
    core: Core, fake_hf: FakeHF, publisher: RecordingPublisher, clock: FakeClock
) -> None:
    fake_hf.set_day("2025-11-20", sample_items(12, day=dt.date(2025, 11, 20)))
    await subscribe(core)
    for attempt in (4, 5, 6):  # the fourth message (third paper) fails on every try
        publisher.fail_at[attempt] = PublishFailed("test said internal_error")
    outcome = await core.bot.post_digest(CHANNEL)
    assert not outcome.complete and outcome.posted == 3
    assert outcome.note == (
        "Thu 20 Nov 2025's digest is incomplete: 8 of 11 messages could not be sent "
        "(test said internal_error; tried 3 times); the next run sends them."
    )
    sub = await core.subscriptions.get(CHANNEL)
    assert sub is not None and sub.last_posted_day is None  # not called posted
    status = await core.bot.handle_command(Command("digest", "status", ADMIN, CHANNEL))
    assert "Last post: none yet." in status.text and "incomplete: 8 of 11" in status.text
    rows = await core.ledger.of_day(CHANNEL, dt.date(2025, 11, 20))
    assert all(row.claimed_at == RELEASED for row in rows if row.sent_at is None)  # every claim given back

    # Another process (here: another claim owner) completes it at once, without a lease to wait.
    core.digester.owner = "another-process"
    resumed = await core.bot.post_digest(CHANNEL)
    assert resumed.complete and resumed.posted == 8
    assert resumed.note == "Posted Thu 20 Nov 2025's list (10 papers)."
    headers = [p for p in publisher.posts if not p.paper_id]
    papers = [p.paper_id for p in publisher.paper_posts()]
    assert len(headers) == 1 and len(papers) == 10 and len(set(papers)) == 10
    assert all(p.thread == headers[0].ref for p in publisher.paper_posts())
    sub = await core.subscriptions.get(CHANNEL)
    assert sub is not None and sub.last_posted_day == dt.date(2025, 11, 20)


async def test_a_message_refused_for_good_is_left_out_not_retried_at_every_run(
    core: Core, fake_hf: FakeHF, publisher: RecordingPublisher
) -> None:
    fake_hf.set_day("2025-11-20", sample_items(4, day=dt.date(2025, 11, 20)))
    await subscribe(core)
    publisher.fail_at[3] = MessageRejected("test said msg_too_long")  # the second paper
    outcome = await core.bot.post_digest(CHANNEL)
    assert outcome.complete and publisher.attempts == 5  # no second try of the refused one
    assert outcome.note == (
        "Posted Thu 20 Nov 2025's list (4 papers; 1 left out, refused for good: test said msg_too_long)."
    )
    assert len(publisher.paper_posts()) == 3
    again = await core.bot.post_digest(CHANNEL)
    assert again.complete and publisher.attempts == 5  # and not at the next run either
    sub = await core.subscriptions.get(CHANNEL)
    assert sub is not None and sub.last_posted_day == dt.date(2025, 11, 20)


async def test_a_send_that_never_answers_is_given_up_and_tried_again(
    core: Core, fake_hf: FakeHF, publisher: RecordingPublisher
) -> None:
    fake_hf.set_day("2025-11-20", sample_items(5, day=dt.date(2025, 11, 20)))
    await subscribe(core)
    # A platform that never answers must not hold a claim until its lease runs out and another
    # process posts the same message: a send is bounded by half the lease (shortened here).
    core.ledger.publish_timeout = dt.timedelta(seconds=0.05)
    publisher.hang_at.add(3)
    outcome = await core.bot.post_digest(CHANNEL)
    assert outcome.complete and publisher.abandoned == 1
    papers = [p.paper_id for p in publisher.paper_posts()]
    assert len(papers) == 5 and len(set(papers)) == 5


async def test_a_claim_taken_over_is_not_marked_sent_by_its_first_owner(core: Core, clock: FakeClock) -> None:
    ledger = core.ledger
    day = dt.date(2025, 11, 20)
    first = await ledger.claim(CHANNEL, day, "paper", "2511.00001", owner="slow", now=clock.now())
    clock.advance(minutes=6)
    second = await ledger.claim(CHANNEL, day, "paper", "2511.00001", owner="next", now=clock.now())
    assert first is not None and second == first
    assert not await ledger.mark_sent(first, PostRef(CHANNEL, "late"), owner="slow", now=clock.now())
    assert await ledger.mark_sent(second, PostRef(CHANNEL, "msg-2"), owner="next", now=clock.now())
    [row] = await ledger.of_day(CHANNEL, day)
    assert row.message_id == "msg-2"


async def test_claims_left_by_a_dead_process_are_taken_over_after_the_lease(
    core: Core, fake_hf: FakeHF, publisher: RecordingPublisher, clock: FakeClock
) -> None:
    fake_hf.set_day("2025-11-20", sample_items(4, day=dt.date(2025, 11, 20)))
    await subscribe(core)
    day = dt.date(2025, 11, 20)
    ledger = core.ledger
    # Another process claimed the header and all papers, sent the header and one paper, and died.
    listed = (await core.ingestor.fetch_days([day]), await core.store.daily_list(day))[1].papers
    header = await ledger.claim(CHANNEL, day, "header", owner="dead", now=clock.now())
    claims = [
        await ledger.claim(CHANNEL, day, "paper", p.id, position=i, owner="dead", now=clock.now())
        for i, p in enumerate(listed, 1)
    ]
    assert header is not None and claims[0] is not None
    assert await ledger.mark_sent(header, PostRef(CHANNEL, "hdr-1"), owner="dead", now=clock.now())
    assert await ledger.mark_sent(claims[0], PostRef(CHANNEL, "p-1", "hdr-1"), owner="dead", now=clock.now())

    clock.advance(minutes=1)
    early = await core.bot.post_digest(CHANNEL)
    assert early.posted == 0 and publisher.posts == []

    clock.advance(minutes=5)
    late = await core.bot.post_digest(CHANNEL)
    assert late.posted == 3
    assert [p.thread.message_id for p in publisher.posts if p.thread] == ["hdr-1"] * 3
    assert {p.paper_id for p in publisher.posts} == {p.id for p in listed[1:]}


async def test_a_gone_channel_pauses_the_subscription_without_retrying(
    core: Core, fake_hf: FakeHF, publisher: RecordingPublisher, clock: FakeClock
) -> None:
    fake_hf.set_day("2025-11-20", sample_items(5, day=dt.date(2025, 11, 20)))
    await subscribe(core)
    publisher.fail_at[2] = gone("not_in_channel")
    outcome = await core.bot.post_digest(CHANNEL)
    assert outcome.note.startswith("Paused: not_in_channel")
    attempts = publisher.attempts
    clock.advance(days=1)
    assert (await core.bot.post_digest(CHANNEL)).posted == 0
    assert await core.bot.catch_up() == []
    assert publisher.attempts == attempts
    status = await core.bot.handle_command(Command("digest", "status", ADMIN, CHANNEL))
    assert "Paused: not_in_channel" in status.text
    resumed = await subscribe(core)
    assert "Daily digest updated" in resumed
    assert (await core.bot.post_digest(CHANNEL, day=dt.date(2025, 11, 20))).posted == 5  # the rest


async def test_catch_up_posts_the_due_digests_of_many_channels_together(
    core: Core, fake_hf: FakeHF, publisher: RecordingPublisher
) -> None:
    # After a restart at 09:05, every channel's digest is due at once. Each channel's header is
    # held until every channel has started: a catch-up going one channel after another never
    # gets there (its first header would wait out the timeout below and fail).
    fake_hf.set_day("2025-11-20", sample_items(2, day=dt.date(2025, 11, 20)))
    channels = [ChannelRef("test", "team-1", f"C{number}") for number in range(10)]
    for channel in channels:
        await subscribe(core, "09:00 UTC", channel=channel)
    started: set[str] = set()
    everyone_started = asyncio.Event()
    send = publisher.publish

    async def publish_when_all_started(
        channel: ChannelRef, message: Notice | Post, *, thread: PostRef | None = None
    ) -> PostRef:
        started.add(channel.channel)
        if len(started) == len(channels):
            everyone_started.set()
        await asyncio.wait_for(everyone_started.wait(), 5)
        return await send(channel, message, thread=thread)

    publisher.publish = publish_when_all_started  # type: ignore[method-assign]
    outcomes = await core.bot.catch_up()
    assert len(outcomes) == 10 and all(outcome.complete for outcome in outcomes)
    assert {post.channel for post in publisher.posts} == set(channels)
    assert len(publisher.posts) == 30  # a header and two papers each, none twice


async def test_catch_up_posts_todays_missed_digest_only_when_its_time_passed(
    core: Core, fake_hf: FakeHF, publisher: RecordingPublisher
) -> None:
    fake_hf.set_day("2025-11-20", sample_items(2, day=dt.date(2025, 11, 20)))
    later = ChannelRef("test", "team-1", "C-later")
    await subscribe(core, "09:00 UTC")
    await subscribe(core, "13:00 UTC", channel=later)
    outcomes = await core.bot.catch_up()
    assert len(outcomes) == 1
    assert {p.channel for p in publisher.posts} == {CHANNEL}
    assert await core.bot.catch_up() and len(publisher.posts) == 3  # a second catch-up posts nothing


NEW_YORK = ChannelRef("test", "team-1", "C-new-york")
TOKYO = ChannelRef("test", "team-1", "C-tokyo")


async def test_a_week_of_refreshes_posts_one_digest_a_day_at_the_right_local_time(
    offline_core: Core, memory_source: MemorySource, publisher: RecordingPublisher, clock: FakeClock
) -> None:
    clock.set(at(2025, 11, 21, 0))
    await subscribe(offline_core, "09:00 America/New_York", channel=NEW_YORK)
    await subscribe(offline_core, "09:00 Asia/Tokyo", channel=TOKYO)
    posted = await refreshes_until(
        offline_core,
        memory_source,
        publisher,
        clock,
        {NEW_YORK: "America/New_York", TOKYO: "Asia/Tokyo"},
        start=at(2025, 11, 23, 12),
    )
    # West of the list's close: every weekday's list goes out at the set time next morning.
    assert posted[NEW_YORK] == [
        "Mon 09:00 Fri 21",
        "Tue 09:00 Mon 24",
        "Wed 09:00 Tue 25",
        "Thu 09:00 Wed 26",
        "Fri 09:00 Thu 27",
        "Mon 09:00 Fri 28",
    ]
    # East of it, the list closes at 11:30 local, after 09:00: it goes out when it closes,
    # once a day, and no list is skipped.
    assert posted[TOKYO] == [
        "Mon 09:00 Fri 21",
        "Tue 11:30 Mon 24",
        "Wed 11:30 Tue 25",
        "Thu 11:30 Wed 26",
        "Fri 11:30 Thu 27",
        "Mon 09:00 Fri 28",
    ]


async def test_a_post_that_waits_for_its_list_is_scheduled_for_when_it_closes(
    core: Core, publisher: RecordingPublisher, clock: FakeClock
) -> None:
    clock.set(at(2025, 11, 24, 12))
    await subscribe(core, "09:00 Asia/Tokyo")
    clock.set(at(2025, 11, 25, 0))  # Tuesday 09:00 in Tokyo; Monday's list closes at 11:30
    assert await core.bot.catch_up() == [] and publisher.posts == []
    when = core.scheduler.next_run("digest-wait:test:team-1:C1")
    assert when == at(2025, 11, 25, 2, 30)  # 11:30 in Tokyo, not the next refresh after it
    await core.bot.handle_command(Command("digest", "off", ADMIN, CHANNEL, can_manage=True))
    assert core.scheduler.next_run("digest-wait:test:team-1:C1") is None


async def test_a_first_post_between_post_time_and_close_does_not_put_a_channel_behind(
    offline_core: Core, memory_source: MemorySource, publisher: RecordingPublisher, clock: FakeClock
) -> None:
    # Subscribing in Tokyo on Tuesday at 10:00, before Monday's list closes at 11:30.
    clock.set(at(2025, 11, 25, 1))
    await subscribe(offline_core, "09:00 Asia/Tokyo")
    posted = await refreshes_until(
        offline_core, memory_source, publisher, clock, {CHANNEL: "Asia/Tokyo"}, start=clock.now()
    )
    assert posted[CHANNEL] == [
        "Tue 11:30 Mon 24",
        "Wed 11:30 Tue 25",
        "Thu 11:30 Wed 26",
        "Fri 11:30 Thu 27",
        "Mon 09:00 Fri 28",
    ]


async def refreshes_until(
    core: Core,
    source: MemorySource,
    publisher: RecordingPublisher,
    clock: FakeClock,
    zones: dict[ChannelRef, str],
    *,
    start: dt.datetime,
) -> dict[ChannelRef, list[str]]:
    """Run the refresh job (which also catches up) every 30 minutes; each channel's digest
    headers, as "local weekday and time, list day"."""
    for offset in range(21):
        day = dt.date(2025, 11, 17) + dt.timedelta(days=offset)
        source.set_day(day, sample_items(2, day=day) if day.weekday() < 5 else [])
    posted: dict[ChannelRef, list[str]] = {channel: [] for channel in zones}
    clock.set(start)
    while clock.now() < at(2025, 12, 2, 0):
        before = len(publisher.posts)
        await core.bot.refresh()
        for post in publisher.posts[before:]:
            if not post.paper_id and post.text.startswith("Daily Papers"):
                local = clock.now().astimezone(ZoneInfo(zones[post.channel]))
                listed = post.text.split(" · ")[1]  # "Fri 21 Nov 2025"
                posted[post.channel].append(f"{local:%a %H:%M} {listed[:6]}")
        clock.advance(minutes=30)
    return posted


async def test_many_channels_posting_the_same_list_fetch_it_from_hf_once(
    core: Core, fake_hf: FakeHF, publisher: RecordingPublisher, clock: FakeClock
) -> None:
    fake_hf.set_day("2025-11-20", sample_items(3, day=dt.date(2025, 11, 20)))
    channels = [ChannelRef("test", "team-1", f"C{n}") for n in range(20)]
    for channel in channels:
        await subscribe(core, channel=channel)
    outcomes = await asyncio.gather(*(core.bot.post_digest(channel) for channel in channels))
    assert all(outcome.posted == 4 for outcome in outcomes)
    assert len(fake_hf.requests_to("/api/daily_papers")) == 1
    clock.advance(minutes=11)  # a later digest of the same list gets fresh upvotes again
    await subscribe(core, channel=ChannelRef("test", "team-1", "C-late"))
    assert (await core.bot.post_digest(ChannelRef("test", "team-1", "C-late"))).posted == 4
    assert len(fake_hf.requests_to("/api/daily_papers")) == 2


async def test_start_schedules_stored_subscriptions_and_catches_up(
    core: Core, fake_hf: FakeHF, publisher: RecordingPublisher
) -> None:
    fake_hf.set_day("2025-11-20", sample_items(2, day=dt.date(2025, 11, 20)))
    await subscribe(core)
    await core.bot.start()
    assert "digest:test:team-1:C1" in core.scheduler.job_ids()
    assert "refresh" in core.scheduler.job_ids()
    await wait_for(lambda: len(publisher.posts) == 3)


async def test_start_refreshes_the_lists_at_once_not_after_the_first_interval(
    core: Core, fake_hf: FakeHF, clock: FakeClock
) -> None:
    await core.ingestor.fetch_days([dt.date(2025, 5, 13)])  # a store from an earlier run
    await core.bot.start()
    today, yesterday = clock.now().date(), clock.now().date() - dt.timedelta(days=1)

    def refreshed() -> bool:
        asked = {request.query.get("date") for request in fake_hf.requests_to("/api/daily_papers")}
        return {today.isoformat(), yesterday.isoformat()} <= asked

    await wait_for(refreshed)


async def test_digest_off_unschedules(core: Core, publisher: RecordingPublisher) -> None:
    await subscribe(core)
    await core.bot.start()
    off = await core.bot.handle_command(Command("digest", "off", ADMIN, CHANNEL, can_manage=True))
    assert off.text == "Daily digest off for this channel." and not off.ephemeral
    assert "digest:test:team-1:C1" not in core.scheduler.job_ids()


async def test_unfetchable_list_is_explained_in_status(
    core: Core, fake_hf: FakeHF, publisher: RecordingPublisher
) -> None:
    from tests.fake_hf import Fault

    await subscribe(core)
    fake_hf.fail_next(*[Fault(503)] * 20)
    outcome = await core.bot.post_digest(CHANNEL)
    assert outcome.posted == 0 and "could not be fetched" in outcome.note
    status = await core.bot.handle_command(Command("digest", "status", ADMIN, CHANNEL))
    assert "could not be fetched from Hugging Face" in status.text
    fake_hf.faults.clear()
    assert (await core.bot.post_digest(CHANNEL)).empty_list  # Thursday had no sample papers


async def test_explicit_day_repeat_posts_nothing_not_even_a_header(
    core: Core, fake_hf: FakeHF, publisher: RecordingPublisher
) -> None:
    await subscribe(core)
    first = await core.bot.post_digest(CHANNEL, day=dt.date(2025, 5, 13))
    assert first.posted == 3
    second = await core.bot.post_digest(CHANNEL, day=dt.date(2025, 5, 13))
    assert second.posted == 0 and len(publisher.posts) == 3


async def test_monday_recap_ranks_last_weeks_papers_by_votes(
    core: Core, fake_hf: FakeHF, publisher: RecordingPublisher, clock: FakeClock
) -> None:
    fake_hf.set_day("2025-11-20", sample_items(3, day=dt.date(2025, 11, 20)))
    await subscribe(core)
    await core.bot.post_digest(CHANNEL)
    cards = publisher.paper_posts()
    for voter in ("U1", "U2"):
        await core.bot.handle_reaction(Reaction(cards[2].ref, UserRef("test", "team-1", voter), "👍", True))
    await core.bot.handle_reaction(Reaction(cards[0].ref, UserRef("test", "team-1", "U1"), "👍", True))
    clock.set(at(2025, 11, 24, 9, 5))
    recap = await core.digester.recap(CHANNEL)
    assert recap.posted == 1
    text = publisher.posts[-1].text
    assert text.startswith("Weekly recap")
    first, second = (line for line in text.splitlines() if line[:2] in {"1.", "2."})
    assert cards[2].text in first and "👍 2" in first and "👍 1" in second
    assert (await core.digester.recap(CHANNEL)).posted == 0


async def test_no_votes_no_recap(core: Core, publisher: RecordingPublisher, clock: FakeClock) -> None:
    await subscribe(core)
    clock.set(at(2025, 11, 24, 9, 5))
    assert (await core.digester.recap(CHANNEL)).posted == 0
    assert publisher.posts == []


async def wait_for(predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_the_recap_is_decided_with_the_monday_post_not_at_every_catch_up(
    core: Core, fake_hf: FakeHF, publisher: RecordingPublisher, clock: FakeClock
) -> None:
    fake_hf.set_day("2025-11-21", sample_items(2, day=dt.date(2025, 11, 21)))
    await subscribe(core)
    clock.set(at(2025, 11, 24, 9))
    await core.bot.catch_up()  # Monday's post; nobody voted last week, so no recap
    assert publisher.posts[0].text.startswith("Daily Papers · Fri 21 Nov 2025")
    await core.bot.handle_reaction(
        Reaction(publisher.paper_posts()[0].ref, UserRef("test", "team-1", "U9"), "👍", True)
    )
    clock.set(at(2025, 11, 24, 15, 30))
    await core.bot.catch_up()
    assert not any(post.text.startswith("Weekly recap") for post in publisher.posts)


@pytest.mark.parametrize("first_try", ["the recap fails to send", "the digest was posted by hand"])
async def test_a_monday_recap_still_goes_out_once(
    core: Core, fake_hf: FakeHF, publisher: RecordingPublisher, clock: FakeClock, first_try: str
) -> None:
    fake_hf.set_day("2025-11-20", sample_items(2, day=dt.date(2025, 11, 20)))
    fake_hf.set_day("2025-11-21", sample_items(2, day=dt.date(2025, 11, 21), start=10))
    await subscribe(core)  # 09:00 UTC
    await core.bot.post_digest(CHANNEL)
    await core.bot.handle_reaction(
        Reaction(publisher.paper_posts()[0].ref, UserRef("test", "team-1", "U9"), "👍", True)
    )
    if first_try == "the recap fails to send":
        clock.set(at(2025, 11, 24, 9))
        publisher.fail_at[publisher.attempts + 4] = ConnectionResetError("503")  # after header + 2 cards
    else:
        clock.set(at(2025, 11, 24, 8))
        await core.bot.post_digest(CHANNEL)  # `paperboy digest post` before the post time
    await core.bot.catch_up()
    for _ in range(6):
        clock.advance(minutes=30)
        await core.bot.catch_up()
    recaps = [post for post in publisher.posts if post.text.startswith("Weekly recap")]
    assert len(recaps) == 1


async def test_a_post_time_changed_elsewhere_is_kept_by_a_job_scheduled_for_the_old_one(
    core: Core, fake_hf: FakeHF, publisher: RecordingPublisher, clock: FakeClock
) -> None:
    # Another process moved the post time to 17:00; this one still runs a job at 09:00.
    fake_hf.set_day("2025-11-21", sample_items(2, day=dt.date(2025, 11, 21)))
    await subscribe(core, "09:00 UTC")
    sub = await core.subscriptions.get(CHANNEL)
    assert sub is not None
    await core.subscriptions.save(dataclasses.replace(sub, post_time=dt.time(17, 0)), now=clock.now())
    clock.set(at(2025, 11, 24, 9))
    assert await core.digests.run_job(CHANNEL) is None  # what the stale 09:00 job runs
    assert publisher.posts == []
    clock.set(at(2025, 11, 24, 17))
    await core.bot.catch_up()
    assert publisher.posts and publisher.posts[0].text.startswith("Daily Papers · Fri 21 Nov 2025")


async def test_monday_catch_up_posts_the_digest_then_the_recap(
    core: Core, fake_hf: FakeHF, publisher: RecordingPublisher, clock: FakeClock
) -> None:
    fake_hf.set_day("2025-11-20", sample_items(2, day=dt.date(2025, 11, 20)))
    fake_hf.set_day("2025-11-21", sample_items(2, day=dt.date(2025, 11, 21), start=10))
    await subscribe(core)
    await core.bot.post_digest(CHANNEL)
    await core.bot.handle_reaction(
        Reaction(publisher.paper_posts()[0].ref, UserRef("test", "team-1", "U9"), "👍", True)
    )
    clock.set(at(2025, 11, 24, 10))
    await core.bot.catch_up()
    texts = [p.text for p in publisher.posts]
    assert texts[-4].startswith("Daily Papers · Fri 21 Nov 2025")
    assert texts[-1].startswith("Weekly recap")


async def test_digest_post_of_an_empty_list_is_awaited_too_and_an_old_empty_list_is_not(
    core: Core, fake_hf: FakeHF, publisher: RecordingPublisher, clock: FakeClock
) -> None:
    fake_hf.set_day("2025-11-27", [])
    clock.set(at(2025, 11, 28, 12))
    await subscribe(core)
    asked = await core.bot.post_digest(CHANNEL, day=dt.date(2025, 11, 27))  # `paperboy digest post`
    assert asked.empty_list and asked.note == (
        "Hugging Face's list for Thu 27 Nov 2025 is empty so far. paperboy checks it at every "
        "refresh until Mon 1 Dec 2025 and posts it then."
    )
    sub = await core.subscriptions.get(CHANNEL)
    assert sub is not None and sub.awaited_days == (dt.date(2025, 11, 27),)  # as it promised
    old = await core.bot.post_digest(CHANNEL, day=dt.date(2025, 5, 16))  # an old empty day
    assert old.note == "Hugging Face's list for Fri 16 May 2025 has no papers; nothing was posted."
    before = await core.bot.post_digest(CHANNEL, day=dt.date(2023, 1, 2))
    assert before.note == "Daily Papers began in May 2023: Mon 2 Jan 2023 has no list."
    assert publisher.posts == []
