"""Saved searches: one DM per user per refresh, each paper at most once."""

from __future__ import annotations

import datetime as dt

from adapters.app import Core
from bot.types import ChannelRef, Command, Notice, UserRef
from tests.fake_hf import FakeHF
from tests.fakes import FakeClock, RecordingPublisher, sample_items

CHANNEL = ChannelRef("test", "team-1", "C1")
ALICE = UserRef("test", "team-1", "alice")
BOB = UserRef("test", "team-1", "bob")


async def follow(core: Core, user: UserRef, query: str) -> None:
    reply = await core.bot.handle_command(Command("follow", query, user, CHANNEL))
    assert reply.ok, reply.text


async def test_new_matching_papers_are_sent_once_in_one_dm(
    core: Core, fake_hf: FakeHF, publisher: RecordingPublisher, clock: FakeClock
) -> None:
    await follow(core, ALICE, "reasoning")
    await follow(core, ALICE, "models")  # overlaps the first: still one DM, each paper once
    await follow(core, BOB, "zzzunmatched")
    items = sample_items(12, day=dt.date(2025, 11, 21))
    fake_hf.set_day("2025-11-21", items)
    report = await core.bot.refresh()
    assert report is not None and report.new_papers == 12
    assert len(publisher.dms) == 1
    user, message = publisher.dms[0]
    assert user == ALICE and isinstance(message, Notice)
    lines = [line for line in message.text.splitlines() if line.startswith("• ")]
    assert len(lines) == len(set(lines)) > 0
    assert all("huggingface.co/papers/" in message.text for _ in lines)

    clock.advance(minutes=30)
    again = await core.bot.refresh()
    assert again is not None and again.new_papers == 0
    assert len(publisher.dms) == 1  # nothing new: no second DM

    fresh = sample_items(1, day=dt.date(2025, 11, 21), start=40)  # "Think-RM: … Reasoning … Models"
    fake_hf.set_day("2025-11-21", items + fresh)
    clock.advance(minutes=30)
    await core.bot.refresh()
    assert len(publisher.dms) == 2
    second = publisher.dms[1][1]
    assert isinstance(second, Notice)
    assert [ln for ln in second.text.splitlines() if "papers/" in ln] == [
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
    await core.bot.handle_command(Command("digest", "here 09:00 UTC", admin, CHANNEL))
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
    core.bot.announce = announced.append
    fake_hf.fail_next(*[Fault(503)] * 100)
    assert await core.bot.refresh() is None
    assert await core.bot.refresh() is None
    assert len(announced) == 1 and "Hugging Face is unreachable" in announced[0]
