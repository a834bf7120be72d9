"""Saved searches: one DM per user per refresh, each paper at most once."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from adapters.app import Core
from bot.db import create_engine
from bot.follows import SavedSearches
from bot.search import PaperSearch
from bot.types import Alert, ChannelRef, Command, Notice, UserRef
from tests.fake_hf import FakeHF
from tests.fakes import FakeClock, RecordingPublisher, sample_items

CHANNEL = ChannelRef("test", "team-1", "C1")
ALICE = UserRef("test", "team-1", "alice")
BOB = UserRef("test", "team-1", "bob")


async def follow(core: Core, user: UserRef, query: str) -> None:
    reply = await core.bot.handle_command(Command("follow", query, user, CHANNEL))
    assert reply.ok, reply.text


async def test_new_matching_papers_are_sent_once(
    core: Core, fake_hf: FakeHF, publisher: RecordingPublisher, clock: FakeClock
) -> None:
    await follow(core, ALICE, "reasoning")
    await follow(core, ALICE, "models")  # overlaps the first: each paper once
    await follow(core, BOB, "zzzunmatched")
    items = sample_items(12, day=dt.date(2025, 11, 21))
    fake_hf.set_day("2025-11-21", items)
    report = await core.bot.refresh()
    assert report is not None and report.new_papers == 12
    assert publisher.dms and {user for user, _ in publisher.dms} == {ALICE}
    texts = [message.text for _, message in publisher.dms if isinstance(message, Notice)]
    lines = [line for text in texts for line in text.splitlines() if line.startswith("• ")]
    assert len(lines) == len(set(lines)) > 0
    assert all(text.count("• ") == text.count("huggingface.co/papers/") for text in texts)
    # Each paper under the first search that found it.
    assert texts[0].startswith("Saved search “reasoning” · ")
    sent = len(publisher.dms)

    clock.advance(minutes=30)
    again = await core.bot.refresh()
    assert again is not None and again.new_papers == 0
    assert len(publisher.dms) == sent  # nothing new: no further DM

    fresh = sample_items(1, day=dt.date(2025, 11, 21), start=40)  # "Think-RM: … Reasoning … Models"
    fake_hf.set_day("2025-11-21", items + fresh)
    clock.advance(minutes=30)
    await core.bot.refresh()
    assert len(publisher.dms) == sent + 1
    last = publisher.dms[-1][1]
    assert isinstance(last, Notice)
    assert [ln for ln in last.text.splitlines() if "papers/" in ln] == [
        f"  https://huggingface.co/papers/{fresh[0]['paper']['id']}"
    ]


async def test_a_paper_shown_before_it_was_listed_is_still_alerted_when_listed(
    core: Core, fake_hf: FakeHF, publisher: RecordingPublisher
) -> None:
    await follow(core, ALICE, "reasoning")
    items = sample_items(12, day=dt.date(2025, 11, 21))
    wanted = next(item for item in items if "reasoning" in item["paper"]["title"].lower())
    shown = await core.bot.handle_command(Command("show", wanted["paper"]["id"], BOB, CHANNEL))
    assert shown.ok and await core.store.get_paper(wanted["paper"]["id"]) is not None
    fake_hf.set_day("2025-11-21", items)
    await core.bot.refresh()
    assert publisher.dms
    message = publisher.dms[0][1]
    assert isinstance(message, Notice) and wanted["paper"]["id"] in message.text


async def test_papers_a_digest_fetches_first_are_alerted_too(
    core: Core, fake_hf: FakeHF, publisher: RecordingPublisher, clock: FakeClock
) -> None:
    await follow(core, ALICE, "reasoning")
    admin = UserRef("test", "team-1", "admin")
    await core.bot.handle_command(Command("digest", "here 09:00 UTC", admin, CHANNEL, can_manage=True))
    fake_hf.set_day("2025-11-20", sample_items(12, day=dt.date(2025, 11, 20)))
    await core.bot.post_digest(CHANNEL)  # its own fetch stores the list before any refresh
    assert len(publisher.dms) == 1 and publisher.dms[0][0] == ALICE
    await core.bot.refresh()
    assert len(publisher.dms) == 1


async def test_papers_another_process_listed_are_alerted_by_the_next_refresh(
    core: Core, fake_hf: FakeHF, publisher: RecordingPublisher, clock: FakeClock
) -> None:
    await follow(core, ALICE, "reasoning")
    items = sample_items(12, day=dt.date(2025, 11, 21))
    fake_hf.set_day("2025-11-21", items)
    # `paperboy fetch` in another process stores the list first ...
    other = await core.ingestor.fetch_days([dt.date(2025, 11, 21)])
    assert other.new_papers == 12 and publisher.dms == []
    # ... so this process's refresh finds nothing new to it, yet the papers are new to Alice.
    clock.advance(minutes=5)
    report = await core.bot.refresh()
    assert report is not None and report.new_papers == 0
    assert len(publisher.dms) == 1 and publisher.dms[0][0] == ALICE


async def test_a_paper_listed_before_the_search_was_saved_is_not_alerted(
    core: Core, fake_hf: FakeHF, publisher: RecordingPublisher, clock: FakeClock
) -> None:
    fake_hf.set_day("2025-11-21", sample_items(12, day=dt.date(2025, 11, 21)))
    await core.bot.refresh()
    clock.advance(minutes=5)
    await follow(core, ALICE, "reasoning")
    clock.advance(minutes=30)
    await core.bot.refresh()
    assert publisher.dms == []


async def test_an_alert_that_could_not_be_sent_is_sent_by_the_next_refresh(
    core: Core, fake_hf: FakeHF, publisher: RecordingPublisher, clock: FakeClock
) -> None:
    await follow(core, ALICE, "reasoning")
    fake_hf.set_day("2025-11-21", sample_items(12, day=dt.date(2025, 11, 21)))
    publisher.dm_failures = 1
    await core.bot.refresh()
    assert publisher.dms == []
    clock.advance(minutes=30)
    await core.bot.refresh()
    assert len(publisher.dms) == 1 and publisher.dms[0][0] == ALICE


async def test_refresh_during_an_outage_says_so_once(core: Core, fake_hf: FakeHF) -> None:
    from tests.fake_hf import Fault

    announced: list[str] = []
    core.announcer.listen(announced.append)
    fake_hf.fail_next(*[Fault(503)] * 100)
    assert await core.bot.refresh() is None
    assert await core.bot.refresh() is None
    assert len(announced) == 1 and "Hugging Face is unreachable" in announced[0]


async def test_every_match_is_alerted_ten_papers_a_message_each_under_its_search(
    core: Core, fake_hf: FakeHF, publisher: RecordingPublisher
) -> None:
    items = sample_items(25, day=dt.date(2025, 11, 21))
    for item in items:  # 25 papers that all match one search, 3 more for a second one
        item["paper"]["title"] = "Zebra " + item["paper"]["title"]
    extra = sample_items(3, day=dt.date(2025, 11, 21), start=30)
    for item in extra:
        item["paper"]["title"] = "Quokka " + item["paper"]["title"]
    await follow(core, ALICE, "zebra")
    await follow(core, ALICE, "quokka")
    fake_hf.set_day("2025-11-21", items + extra)
    await core.bot.refresh()
    texts = [message.text for _, message in publisher.dms if isinstance(message, Notice)]
    assert len(texts) == 3  # 28 papers, ten a message
    bullets = [line for text in texts for line in text.splitlines() if line.startswith("• ")]
    assert len(bullets) == len(set(bullets)) == 28
    assert texts[0].startswith("Saved search “zebra” · 25 new papers:")
    assert texts[1].startswith("Saved search “zebra” (continued):")
    assert "Saved search “quokka” · 3 new papers:" in texts[2]
    sent_ids = {line.rsplit("/", 1)[1] for text in texts for line in text.splitlines() if "/papers/" in line}
    assert sent_ids == {item["paper"]["id"] for item in items + extra}


async def test_two_processes_send_a_paper_to_a_user_once_whichever_searches_match(
    core: Core, fake_hf: FakeHF, database_url: str, clock: FakeClock
) -> None:
    # Alice has two searches that match the same papers. Process A finds the first search's
    # matches, then is held while process B runs a whole refresh; claims per (search, paper)
    # let A keep the first search's papers and B take them through the second: sent twice.
    await follow(core, ALICE, "reasoning")
    await follow(core, ALICE, "models")
    fake_hf.set_day("2025-11-21", sample_items(12, day=dt.date(2025, 11, 21)))
    await core.ingestor.fetch_days([dt.date(2025, 11, 21)])
    listed = await core.store.first_listed_since(clock.now() - dt.timedelta(days=2))
    other_engine = create_engine(database_url)
    other = SavedSearches(other_engine, PaperSearch(other_engine))
    b_done = asyncio.Event()
    a_held = asyncio.Event()
    searches = 0
    real_search = core.follows.search.search

    async def held_after_the_first_search(*args: Any, **kwargs: Any) -> Any:
        nonlocal searches
        searches += 1
        if searches == 2:
            a_held.set()
            await asyncio.wait_for(b_done.wait(), 10)
        return await real_search(*args, **kwargs)

    async def process_b() -> dict[UserRef, list[Alert]]:
        await asyncio.wait_for(a_held.wait(), 10)
        try:
            return await other.alerts(listed, now=clock.now(), platforms={"test"})
        finally:
            b_done.set()

    core.follows.search.search = held_after_the_first_search  # type: ignore[method-assign]
    try:
        from_a, from_b = await asyncio.gather(
            core.follows.alerts(listed, now=clock.now(), platforms={"test"}), process_b()
        )
    finally:
        await other.search.aclose()
        await other_engine.dispose()
    sent = [
        paper.id for found in (from_a, from_b) for alert in found.get(ALICE, []) for paper in alert.papers
    ]
    assert sent and len(sent) == len(set(sent))


async def test_a_duplicate_saved_search_is_refused(core: Core) -> None:
    await follow(core, ALICE, "diffusion -survey")
    again = await core.bot.handle_command(Command("follow", "Diffusion   -survey", ALICE, CHANNEL))
    assert not again.ok and again.text == "You already follow that search (#1 in /paper following)."
    for same in ('-survey "diffusion"', "DIFFUSION -Survey"):
        refused = await core.bot.handle_command(Command("follow", same, ALICE, CHANNEL))
        assert not refused.ok and "already follow that search (#1" in refused.text
    listed = await core.bot.handle_command(Command("following", "", ALICE, CHANNEL))
    assert listed.text == "Your saved searches:\n1. diffusion -survey"
    await follow(core, BOB, "diffusion -survey")  # someone else's is theirs


async def test_a_backfill_of_old_lists_alerts_nobody(
    core: Core, fake_hf: FakeHF, publisher: RecordingPublisher
) -> None:
    await follow(core, ALICE, "reasoning")
    await core.ingestor.fetch_days([dt.date(2025, 5, 13), dt.date(2025, 5, 19), dt.date(2025, 5, 20)])
    await core.bot.send_alerts()
    assert publisher.dms == []
