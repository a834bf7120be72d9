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
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from sqlalchemy import select

from adapters.app import Core
from adapters.discord.adapter import DiscordAdapter, DiscordConfig
from bot.db import create_engine
from bot.deliveries import DELIVERIES
from bot.digest_jobs import digest_job_id
from bot.leases import LEADER, LEASES, PROCESSES
from bot.types import ChannelRef, Command, Notice
from tests.conftest import _core
from tests.fake_discord import MEMBER_PERMISSIONS, FakeDiscord
from tests.fake_hf import FakeHF
from tests.fake_slack import FakeSlack
from tests.fakes import FakeClock, RecordingPublisher, sample_items
from tests.paperboy_process import PROJECT_ROOT, spawn, stop
from tests.test_commands import run
from tests.test_digest import ADMIN, CHANNEL, subscribe
from tests.test_discord import MANAGE_CHANNELS, run_cli
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


async def test_a_digest_changed_in_one_process_is_followed_by_the_others(
    core: Core, database_url: str, fake_hf: FakeHF, clock: FakeClock
) -> None:
    """`/paper digest here|off` is answered by one process; the others follow at their next
    heartbeat, so the digest still goes out at its new time if that process is gone."""
    job = digest_job_id(CHANNEL)
    async with second_process(database_url, fake_hf, clock) as (other, _):
        await subscribe(core, "09:00 UTC")
        assert job in core.scheduler.job_ids() and job not in other.scheduler.job_ids()
        await other.bot._heartbeat()
        assert other.scheduler.daily_time(job) == (dt.time(9, 0), ZoneInfo("UTC"))

        await subscribe(core, "07:30 Europe/Berlin")
        await other.bot._heartbeat()
        assert other.scheduler.daily_time(job) == (dt.time(7, 30), ZoneInfo("Europe/Berlin"))

        off = await core.bot.handle_command(Command("digest", "off", ADMIN, CHANNEL, can_manage=True))
        assert off.ok
        await other.bot._heartbeat()
        assert job not in other.scheduler.job_ids()


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


async def test_discord_clusters_schedule_and_post_their_own_servers_digests(
    core: Core, fake_discord: FakeDiscord, database_url: str, fake_hf: FakeHF, clock: FakeClock
) -> None:
    """Two processes split a four-shard bot (DISCORD_SHARD_COUNT=4, DISCORD_SHARD_IDS 0-1 and
    2-3): each identifies only its shards, in turn, and schedules and posts only the digests of
    the servers on them."""
    lab_a = fake_discord.add_guild("Lab A", shard=(1, 4))
    lab_b = fake_discord.add_guild("Lab B", shard=(2, 4))
    fake_hf.set_day("2025-11-20", sample_items(3, day=dt.date(2025, 11, 20)))
    async with second_process(database_url, fake_hf, clock) as (other, _):

        def cluster(process: Core, shard_ids: tuple[int, ...]) -> DiscordAdapter:
            config = DiscordConfig(
                token="fake-token",
                shards=4,
                shard_ids=shard_ids,
                identify_interval=0.2,
                guild_ready_timeout=0.05,
            )
            adapter = DiscordAdapter(
                process.bot, config, sharded=True, leases=process.leases, budget=process.rate_budget
            )
            process.bot.attach(adapter)
            return adapter

        clusters = [cluster(core, (0, 1)), cluster(other, (2, 3))]
        for adapter in clusters:
            await adapter.start()
        try:
            await fake_discord.wait_for(lambda: len(fake_discord._live) == 4, timeout=15)
            assert sorted(tuple(p["shard"]) for p in fake_discord.identify_payloads) == [
                (n, 4) for n in range(4)
            ]
            channels: dict[str, ChannelRef] = {}
            for (guild_id, channel_id), process in ((lab_a, core), (lab_b, other)):
                channels[process.leases.owner] = ChannelRef("discord", str(guild_id), str(channel_id))
                await _subscribe_at_11(fake_discord, channel_id)

            for process in (core, other):
                await process.digests.schedule_all()  # as at a start
            processes = {process.leases.owner: process for process in (core, other)}
            for owner, channel in channels.items():
                (elsewhere,) = set(processes) - {owner}
                assert digest_job_id(channel) not in processes[elsewhere].scheduler.job_ids()
                # Its post time has come (11:00, the clock says 12:00): the job runs, as APScheduler would run it.
                job = processes[owner].scheduler._scheduler.get_job(digest_job_id(channel))
                await job.func()
            async with core.engine.connect() as conn:
                sent = (await conn.execute(select(DELIVERIES.c.channel, DELIVERIES.c.claimed_by))).all()
            assert {(row.channel, row.claimed_by) for row in sent} == {
                (channel.channel, owner) for owner, channel in channels.items()
            }
            for _, channel_id in (lab_a, lab_b):
                assert any(m["content"].startswith("Daily Papers") for m in fake_discord.messages[channel_id])
        finally:
            for adapter in clusters:
                await adapter.stop()


async def _subscribe_at_11(fake: FakeDiscord, channel_id: int) -> None:
    payload = fake.interaction(
        ["paper", "digest", "here"],
        {"time": "11:00"},
        channel_id=channel_id,
        permissions=MEMBER_PERMISSIONS | MANAGE_CHANNELS,
    )
    await fake.dispatch("INTERACTION_CREATE", payload)
    await fake.wait_for(lambda: fake.followups.get(payload["token"]), timeout=10)


@pytest.mark.slow  # paperboy processes
async def test_two_processes_split_a_four_shard_discord_bot(
    database_url: str, fake_hf: FakeHF, tmp_path: Path
) -> None:
    """DISCORD_SHARD_COUNT=4 split over two `paperboy run` processes (shards 0-1 and 2-3): each
    server's commands and reactions reach the process running its shard, a vote counts once,
    and a server stays answered while the other process is down."""
    if database_url.startswith("sqlite"):
        pytest.skip("several processes share a database only on PostgreSQL")
    fake = FakeDiscord(max_concurrency=4)  # four IDENTIFY buckets: the shards start together
    lab_a = fake.add_guild("Lab A", shard=(1, 4))  # on the first process's shards
    lab_b = fake.add_guild("Lab B", shard=(2, 4))  # on the second's
    await fake.start()
    day = dt.date(2025, 11, 20)
    fake_hf.set_day(day, sample_items(3, day=day))
    env = {
        **os.environ,
        "PAPERBOY_DATABASE_URL": database_url,
        "PAPERBOY_HF_BASE_URL": fake_hf.url,
        "PAPERBOY_SEMANTIC": "off",
        "PAPERBOY_HTTP_HOST": "127.0.0.1",
        "PAPERBOY_HTTP_PORT": "0",
        "DISCORD_TOKEN": "fake-token",
        "DISCORD_API_BASE_URL": fake.api_base,
        "DISCORD_GATEWAY_URL": fake.ws_url,
        "DISCORD_SHARD_COUNT": "4",
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    first = await spawn("run", env={**env, "DISCORD_SHARD_IDS": "0-1"}, cwd=tmp_path)
    second = await spawn("run", env={**env, "DISCORD_SHARD_IDS": "2-3"}, cwd=tmp_path)
    outputs = {}
    try:
        await fake.wait_for(lambda: fake.identifies == 4 and len(fake._live) == 4, timeout=60)
        assert sorted(tuple(p["shard"]) for p in fake.identify_payloads) == [(n, 4) for n in range(4)]

        async def command(guild: tuple[int, int], path: list[str], **options: Any) -> str:
            payload = fake.interaction(
                ["paper", *path],
                options,
                channel_id=guild[1],
                permissions=MEMBER_PERMISSIONS | MANAGE_CHANNELS,
            )
            await fake.dispatch("INTERACTION_CREATE", payload, timeout=10)
            followups = await fake.wait_for(lambda: fake.followups.get(payload["token"]), timeout=30)
            return str(followups[0]["content"]) + repr(followups[0].get("embeds"))

        for lab in (lab_a, lab_b):
            assert "Daily digest" in await command(lab, ["digest", "here"], time="09:00")
        post = ("digest", "post", "--platform", "discord", "--channel", str(lab_b[1]), "--date", str(day))
        code, out = await run_cli(env, tmp_path, *post)
        assert code == 0, out
        (thread_id,) = [t for t, thread in fake.threads.items() if int(thread["parent_id"]) == lab_b[1]]
        card = fake.messages[thread_id][0]
        for _ in range(2):  # Discord may deliver an event twice (a resumed session replays it)
            await fake.react(True, message_id=int(card["id"]), channel_id=thread_id)

        async def voted() -> str | None:
            top = await command(lab_b, ["top"])
            return None if "No votes" in top else top

        top = await poll(voted, timeout=30)
        assert "👍 1" in top and "👍 2" not in top, top

        outputs["first"] = await stop(first)
        await fake.wait_for(lambda: len(fake._live) == 2, timeout=30)
        assert "/paper search QUERY" in await command(lab_b, ["help"])  # the second still answers
        unheard = fake.interaction(["paper", "help"], {}, channel_id=lab_a[1])
        with pytest.raises(TimeoutError):  # Lab A's shards are gone with the first process
            await fake.dispatch("INTERACTION_CREATE", unheard, timeout=1)
    finally:
        for name, process in (("first", first), ("second", second)):
            if process.returncode is None:
                outputs[name] = await stop(process)
        await fake.stop()
    assert all("Traceback" not in output for output in outputs.values()), outputs
