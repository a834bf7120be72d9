"""Several processes on one database share the work: one sends each digest (a channel lease),
one leads the refresh, alerts and catch-up (the leader lease), and a leader that dies is
replaced. Two cores on one database stand in for two processes here; the slow test at the end
runs three real `paperboy run` processes on PostgreSQL and kills the leader."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

import aiohttp
import pytest
from sqlalchemy import select

from adapters.app import Core
from adapters.discord.adapter import DiscordAdapter, DiscordConfig
from bot.db import create_engine
from bot.leases import LEADER, LEASES, PROCESSES, Leases
from bot.types import Notice
from tests.conftest import _core
from tests.fake_discord import GUILD_ID, FakeDiscord
from tests.fake_hf import FakeHF
from tests.fake_slack import FakeSlack
from tests.fakes import FakeClock, RecordingPublisher, sample_items
from tests.paperboy_process import PROJECT_ROOT, spawn, stop
from tests.test_commands import run
from tests.test_digest import CHANNEL, subscribe
from tests.test_discord import CHANNEL as DISCORD_CHANNEL
from tests.test_discord import subscribe as discord_subscribe
from tests.test_slack import until

pytest_plugins = ["tests.test_slack", "tests.test_discord"]
T = TypeVar("T")


@asynccontextmanager
async def second_process(
    database_url: str, fake_hf: FakeHF, clock: FakeClock
) -> AsyncIterator[tuple[Core, RecordingPublisher]]:
    publisher = RecordingPublisher()
    async with _core(database_url, fake_hf.url, clock, publisher) as other:
        yield other, publisher


async def test_one_process_sends_a_digest_and_the_others_leave_it(
    core: Core, database_url: str, fake_hf: FakeHF, clock: FakeClock, publisher: RecordingPublisher
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("several processes share a database only on PostgreSQL")
    fake_hf.set_day("2025-11-20", sample_items(12, day=dt.date(2025, 11, 20)))
    await subscribe(core)
    async with (
        second_process(database_url, fake_hf, clock) as (second, second_publisher),
        second_process(database_url, fake_hf, clock) as (third, third_publisher),
    ):
        # The first process plans the digest, sends the header and one paper, and dies.
        publisher.hang_at = {3}
        first = asyncio.ensure_future(core.bot.post_digest(CHANNEL))
        # Killed while its third send hangs: the first two are recorded as sent by then (killed
        # between a send and its record, a message would go out twice: at least once, by design).
        await until(lambda: publisher.attempts == 3)
        first.cancel()
        await asyncio.gather(first, return_exceptions=True)
        clock.advance(minutes=6)  # its claims and its lease have run out

        # The second and third processes' catch-ups both find the expired claims at once:
        # without the channel's lease each would win some of the papers and post them at the
        # same time, out of order and at twice the channel's pace. One sends them all.
        outcomes = await asyncio.gather(second.bot.post_digest(CHANNEL), third.bot.post_digest(CHANNEL))
        assert sorted(len(p.posts) for p in (second_publisher, third_publisher)) == [0, 9]
        notes = [outcome.note for outcome in outcomes]
        assert any("is being posted by another process" in note for note in notes), notes
        sender = second_publisher if second_publisher.posts else third_publisher
        sent = [p for p in publisher.posts + sender.posts if p.paper_id]
        upvotes = [p.message.upvotes for p in sent]  # type: ignore[union-attr]
        assert upvotes == list(range(12, 2, -1))  # each paper once, in the list's order
        header = publisher.posts[0]
        assert isinstance(header.message, Notice)
        assert all(p.thread == header.ref for p in sender.posts)


async def test_one_leader_and_a_new_one_when_it_stops(
    core: Core, database_url: str, fake_hf: FakeHF, clock: FakeClock
) -> None:
    async with second_process(database_url, fake_hf, clock) as (other, _):
        assert await core.bot.leadership.beat() is True  # the first to beat leads
        assert await other.bot.leadership.beat() is False
        assert core.bot.leadership.is_leader and not other.bot.leadership.is_leader
        assert await core.bot.leadership.beat() is False  # renewed, not newly taken
        assert await other.leases.holder(LEADER, now=clock.now()) == core.leases.owner

        # A leader that dies stops renewing: after its lease (half a refresh interval) the
        # other process takes over at its next beat.
        clock.advance(minutes=core.settings.refresh_minutes / 2 + 1)
        assert await other.bot.leadership.beat() is True
        assert await core.bot.leadership.beat() is False and not core.bot.leadership.is_leader

        # A leader that stops cleanly hands over at once.
        await other.bot.leadership.stop()
        assert await core.bot.leadership.beat() is True


async def poll(condition: Callable[[], Awaitable[T | None]], timeout: float = 60) -> T:
    """`condition()`'s first truthy answer, polled until `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        answer = await condition()
        if answer:
            return answer
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)


@pytest.mark.slow  # paperboy processes
async def test_three_processes_one_leader_and_a_new_one_when_it_is_killed(
    database_url: str, fake_hf: FakeHF, fake_slack: FakeSlack, tmp_path: Path
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("several processes share a database only on PostgreSQL")
    env = {
        **os.environ,
        "PAPERBOY_DATABASE_URL": database_url,
        "PAPERBOY_HF_BASE_URL": fake_hf.url,
        "PAPERBOY_REFRESH_MINUTES": "0.1",  # 6 s: a beat every 1.5 s, the lead lasts 3 s
        "PAPERBOY_SEMANTIC": "off",
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": "secret",
        "SLACK_API_BASE_URL": fake_slack.url + "/api/",
        "PAPERBOY_HTTP_HOST": "127.0.0.1",
        "PAPERBOY_HTTP_PORT": "0",
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    processes = [await spawn("run", env=env, cwd=tmp_path) for _ in range(3)]
    engine = create_engine(database_url)
    try:

        async def alive() -> dict[str, int] | None:
            async with engine.connect() as conn:
                rows = (await conn.execute(select(PROCESSES.c.id, PROCESSES.c.pid))).all()
            return {row.id: row.pid for row in rows} if len(rows) == 3 else None

        async def leader() -> str | None:
            async with engine.connect() as conn:
                return (await conn.execute(select(LEASES.c.owner).where(LEASES.c.name == LEADER))).scalar()

        pids = await poll(alive)
        first = await poll(leader)
        assert {p.pid for p in processes} == set(pids.values())
        killed = next(p for p in processes if p.pid == pids[first])
        killed.kill()  # kill -9: no handover, the lease has to run out
        await killed.wait()
        fetched_before = len(fake_hf.requests_to("/api/daily_papers"))

        async def new_leader() -> str | None:
            owner = await leader()
            return owner if owner and owner != first else None

        second = await poll(new_leader, timeout=30)
        assert second in pids
        # The new leader refreshes at once (a refresh interval is 6 s here).
        await poll(lambda: _more(fake_hf, fetched_before), timeout=30)
    finally:
        outputs = []
        for process in processes:
            if process.returncode is None:
                outputs.append(await stop(process))
        await engine.dispose()
    assert len(outputs) == 2
    assert any("this process is the leader now" in output for output in outputs), outputs


async def _more(fake_hf: FakeHF, before: int) -> bool:
    return len(fake_hf.requests_to("/api/daily_papers")) > before


async def test_status_says_who_leads_and_what_was_posted(
    core: Core, database_url: str, fake_hf: FakeHF, clock: FakeClock
) -> None:
    from bot.status import deployment_status, status_lines

    fake_hf.set_day("2025-11-20", sample_items(3, day=dt.date(2025, 11, 20)))
    await subscribe(core)
    async with second_process(database_url, fake_hf, clock) as (other, _):
        await core.bot.leadership.beat()
        await other.bot.leadership.beat()
        await core.bot.post_digest(CHANNEL)
        clock.advance(minutes=core.settings.refresh_minutes + 1)
        await other.bot.leadership.beat()  # the first process has not beaten for an interval
        status = await deployment_status(
            core.engine,
            core.subscriptions,
            core.leases,
            now=clock.now(),
            refresh_minutes=core.settings.refresh_minutes,
        )
        text = "\n".join(status_lines(status))
        assert sorted((p.alive, p.leader) for p in status.processes) == [(False, False), (True, True)]
        assert text.startswith("Processes: 1 running") and "not seen lately" in text
        assert "Digests today: 1 posted, 0 failed or paused" in text
        assert "test team-1/C1: 09:00 UTC on weekdays" in text and "last run: Posted Thu 20 Nov" in text


async def test_healthz_is_unhealthy_when_the_database_is_unreachable(core: Core) -> None:
    from adapters.http import HttpServer
    from bot.store import PaperStore

    await core.http.start()
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{core.http.port}/healthz") as healthy:
            assert healthy.status == 200 and await healthy.json() == {"ok": True}
        unreachable = create_engine("postgresql://postgres@127.0.0.1:1/none")
        server = HttpServer(
            host="127.0.0.1", port=0, feeds=core.feeds, healthy=PaperStore(unreachable).reachable
        )
        await server.start()
        try:
            async with http.get(f"http://127.0.0.1:{server.port}/healthz") as sick:
                assert sick.status == 503 and (await sick.json())["database"] == "unreachable"
        finally:
            await server.stop()
            await unreachable.dispose()


async def test_metrics_count_commands_digests_and_hugging_face_requests(
    core: Core, fake_hf: FakeHF, publisher: RecordingPublisher
) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    fake_hf.set_day("2025-11-20", sample_items(3, day=dt.date(2025, 11, 20)))
    await subscribe(core)
    await core.bot.post_digest(CHANNEL)
    await run(core, "help")
    await run(core, "no-such-command")
    await core.bot.leadership.beat()
    await core.bot._heartbeat()
    await core.http.start()
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{core.http.port}/metrics") as got:
        assert got.status == 200 and got.headers["Content-Type"].startswith("text/plain")
        text = await got.text()
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    assert samples[("paperboy_commands_total", (("command", "help"), ("outcome", "ok")))] == 1
    assert samples[("paperboy_commands_total", (("command", "unknown"), ("outcome", "ok")))] == 1
    assert samples[("paperboy_digests_total", (("outcome", "posted"),))] == 1
    assert samples[("paperboy_platform_messages_total", (("outcome", "ok"), ("platform", "test")))] == 4
    assert samples[("paperboy_hf_request_seconds_count", (("status", "2xx"),))] >= 1
    assert samples[("paperboy_leader", ())] == 1


async def test_a_discord_cluster_runs_its_shards_and_schedules_its_servers_digests(
    core: Core, fake_discord: FakeDiscord, database_url: str, fake_hf: FakeHF, clock: FakeClock
) -> None:
    """Two processes split a two-shard bot (DISCORD_SHARD_COUNT=2, DISCORD_SHARD_IDS): each
    identifies only its shard, in turn, and schedules only its own servers' digests."""
    ours = (GUILD_ID >> 22) % 2  # the shard Discord puts the test server on
    async with second_process(database_url, fake_hf, clock) as (other, _):

        def cluster(shard: int, leases: Leases) -> DiscordAdapter:
            config = DiscordConfig(
                token="fake-token",
                shards=2,
                shard_ids=(shard,),
                identify_interval=0.2,
                guild_ready_timeout=0.05,
            )
            return DiscordAdapter(core.bot, config, sharded=True, leases=leases, budget=core.rate_budget)

        mine, theirs = cluster(ours, core.leases), cluster(1 - ours, other.leases)
        await mine.start()
        await theirs.start()
        try:
            await fake_discord.wait_for(lambda: fake_discord.identifies == 2, timeout=15)
            assert sorted(tuple(p["shard"]) for p in fake_discord.identify_payloads) == [(0, 2), (1, 2)]
            server = DISCORD_CHANNEL
            assert mine.serves(server) and not theirs.serves(server)

            await discord_subscribe(fake_discord)  # answered by the process with the server's shard
            job = f"digest:{server.platform}:{server.community}:{server.channel}"
            core.bot.attach(theirs)
            await core.digests.schedule_all()
            assert job not in core.scheduler.job_ids()
            core.bot.attach(mine)
            await core.digests.schedule_all()
            assert job in core.scheduler.job_ids()
        finally:
            await theirs.stop()
            await mine.stop()
