"""Exactly-once digests across real OS processes sharing one database (tests/digest_worker.py).

Each worker is a separate `python -m tests.digest_worker` process with its own engine, its own
claim owner and a publisher whose "platform" is one shared append-only file; the file is what the
channel would show.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import inspect
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.dialects import postgresql

from adapters.app import Core
from bot.deliveries import DELIVERIES
from bot.types import ChannelRef, Command, UserRef
from tests.fake_hf import FakeHF
from tests.fakes import RecordingPublisher, sample_items

pytestmark = pytest.mark.slow  # paperboy processes

REPO = Path(__file__).resolve().parents[1]
PLATFORM = "test"  # the workers' publishers and the in-process RecordingPublisher alike
CHANNEL = ChannelRef(PLATFORM, "team-1", "C1")
ADMIN = UserRef(PLATFORM, "team-1", "U-admin")
DAY = dt.date(2025, 11, 20)
HEADER_TEXT = "Daily Papers · Thu 20 Nov 2025 · 10 of 12"
WORKERS = 4
TIMEOUT = 60.0  # seconds for anything a worker does; a run normally takes well under two
WITHIN_LEASE = "2025-11-21T12:01:00+00:00"  # claims were taken at 12:00 with a 5-minute lease
AFTER_LEASE = "2025-11-21T12:06:00+00:00"


@dataclass
class Finished:
    pid: int
    returncode: int | None
    stdout: str
    stderr: str

    def result(self) -> dict[str, Any]:
        assert self.returncode == 0, f"worker {self.pid} exited {self.returncode}:\n{self.stderr}"
        lines = self.stdout.splitlines()
        assert len(lines) == 1, self.stdout
        result: dict[str, Any] = json.loads(lines[0])
        assert result["pid"] == self.pid
        return result


class Workers:
    """Starts digest workers and makes sure none outlives the test."""

    def __init__(self, database_url: str, hf_url: str, out: Path) -> None:
        self.database_url = database_url
        self.hf_url = hf_url
        self.out = out
        self.running: list[asyncio.subprocess.Process] = []
        pythonpath = [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
        self.env = {**os.environ, "PYTHONPATH": os.pathsep.join(pythonpath)}

    @property
    def go_file(self) -> Path:
        return Path(f"{self.out}.go")

    def ready_file(self, proc: asyncio.subprocess.Process) -> Path:
        return Path(f"{self.out}.ready.{proc.pid}")

    def hung_file(self, proc: asyncio.subprocess.Process) -> Path:
        return Path(f"{self.out}.hung.{proc.pid}")

    async def start(self, *extra: str) -> asyncio.subprocess.Process:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-W",
            "error",
            "-m",
            "tests.digest_worker",
            self.database_url,
            self.hf_url,
            str(self.out),
            CHANNEL.platform,
            CHANNEL.community,
            CHANNEL.channel,
            DAY.isoformat(),
            *extra,
            cwd=REPO,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        self.running.append(proc)
        return proc

    async def finish(self, proc: asyncio.subprocess.Process) -> Finished:
        stdout, stderr = await asyncio.wait_for(proc.communicate(), TIMEOUT)
        self.running.remove(proc)
        return Finished(proc.pid, proc.returncode, stdout.decode(), stderr.decode())

    async def kill(self, proc: asyncio.subprocess.Process) -> Finished:
        proc.send_signal(signal.SIGKILL)
        return await self.finish(proc)

    async def wait_until(self, condition: Callable[[], bool | Awaitable[bool]], what: str) -> None:
        """Poll `condition`; fail at once if a worker died, and after TIMEOUT seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TIMEOUT
        while not await _value(condition()):
            for proc in list(self.running):
                if proc.returncode is not None:
                    died = await self.finish(proc)
                    pytest.fail(f"worker {died.pid} exited {died.returncode} before {what}:\n{died.stderr}")
            assert loop.time() < deadline, f"timed out waiting for {what}"
            await asyncio.sleep(0.005)

    async def round(self, count: int, *extra: str) -> list[dict[str, Any]]:
        """`count` workers, all released at once when every one of them is ready; their results."""
        self.go_file.unlink(missing_ok=True)
        procs = [await self.start(*extra) for _ in range(count)]
        await self.wait_until(lambda: all(self.ready_file(p).exists() for p in procs), "all workers ready")
        self.go_file.touch()
        finished = await asyncio.gather(*(self.finish(proc) for proc in procs))
        return [f.result() for f in finished]

    async def close(self) -> None:
        for proc in self.running:
            if proc.returncode is None:
                proc.kill()
        for proc in list(self.running):
            await self.finish(proc)


async def _value(value: bool | Awaitable[bool]) -> bool:
    return await value if inspect.isawaitable(value) else value


@asynccontextmanager
async def workers(database_url: str, fake_hf: FakeHF, tmp_path: Path) -> AsyncIterator[Workers]:
    pool = Workers(database_url, fake_hf.url, tmp_path / "channel.jsonl")
    try:
        yield pool
    finally:
        await pool.close()


def posted(out: Path) -> list[dict[str, Any]]:
    """What the channel shows: every line any worker appended, in order."""
    if not out.exists():
        return []
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


async def prepare(core: Core) -> list[str]:
    """Subscribe the channel and store the day's list; the ids the digest must post, in order."""
    reply = await core.bot.handle_command(
        Command("digest", "here 09:00 UTC", ADMIN, CHANNEL, can_manage=True)
    )
    assert reply.ok, reply.text
    report = await core.ingestor.fetch_days([DAY])
    assert report.papers == 12
    return [paper.id for paper in (await core.store.daily_list(DAY)).papers[:10]]


def assert_one_complete_digest(lines: list[dict[str, Any]], expected_ids: list[str]) -> dict[str, Any]:
    """One header, then each expected paper exactly once, all in the header's thread."""
    headers = [line for line in lines if line["kind"] == "header"]
    papers = [line for line in lines if line["kind"] == "paper"]
    assert len(headers) == 1, headers
    header = headers[0]
    assert lines[0] == header and header["thread"] is None and header["text"] == HEADER_TEXT
    paper_ids = [line["paper_id"] for line in papers]
    assert len(paper_ids) == 10 and len(set(paper_ids)) == 10, paper_ids
    assert set(paper_ids) == set(expected_ids)
    assert all(line["thread"] == header["message_id"] for line in papers)
    assert all(line["channel"] == [CHANNEL.platform, CHANNEL.community, CHANNEL.channel] for line in lines)
    assert len({line["message_id"] for line in lines}) == 11
    return header


async def assert_ledger_matches(core: Core, lines: list[dict[str, Any]]) -> None:
    """Every delivery row is marked sent, with the message id the channel shows."""
    rows = await core.ledger.of_day(CHANNEL, DAY)
    assert len(rows) == 11 and all(row.sent_at is not None for row in rows)
    assert {(row.paper_id or None, row.message_id) for row in rows} == {
        (line["paper_id"], line["message_id"]) for line in lines
    }


async def test_concurrent_processes_post_each_digest_message_exactly_once(
    database_url: str, core: Core, fake_hf: FakeHF, publisher: RecordingPublisher, tmp_path: Path
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("several paperboy processes share a database only on PostgreSQL")
    fake_hf.set_day(DAY.isoformat(), sample_items(12, day=DAY))
    expected_ids = await prepare(core)
    out = tmp_path / "channel.jsonl"

    async with workers(database_url, fake_hf, tmp_path) as pool:
        # All four start post_digest together; each publish takes 50 ms, so the run overlaps.
        results = await pool.round(WORKERS, "0.05")
        lines = posted(out)
        assert_one_complete_digest(lines, expected_ids)
        # Whoever claims the header claims every paper with it, under a 5-minute lease: exactly
        # one process posts the whole digest, in rank order; the others post nothing at all.
        assert sum(r["posted"] for r in results) == 11
        (sender,) = [r for r in results if r["posted"]]
        assert sender["posted"] == 11 and {line["pid"] for line in lines} == {sender["pid"]}
        assert [line["paper_id"] for line in lines[1:]] == expected_ids
        # They really ran at the same time: every worker began before the sender was done.
        assert all(r["started"] < sender["finished"] for r in results), results
        await assert_ledger_matches(core, lines)

        before = out.read_bytes()
        again = await pool.round(WORKERS, "0.05")
        assert out.read_bytes() == before  # a repeat posts nothing, not even a header
        assert all(r["posted"] == 0 and "already posted" in r["note"] for r in again), again

    assert publisher.posts == []  # the in-process core only subscribed the channel


async def test_a_killed_process_leaves_the_rest_to_the_next_one_after_the_lease(
    database_url: str, core: Core, fake_hf: FakeHF, publisher: RecordingPublisher, tmp_path: Path
) -> None:
    fake_hf.set_day(DAY.isoformat(), sample_items(12, day=DAY))
    expected_ids = await prepare(core)
    out = tmp_path / "channel.jsonl"

    async with workers(database_url, fake_hf, tmp_path) as pool:
        pool.go_file.touch()  # one worker at a time here: no need to line them up
        # The first worker sends the header and three papers; its fifth publish never returns
        # (it holds that paper's claim, and the claims of the six after it) and it is killed.
        victim = await pool.start("0.01", "--hang-after", "4")
        await pool.wait_until(lambda: pool.hung_file(victim).exists(), "the fifth publish")
        killed = await pool.kill(victim)
        assert killed.returncode == -signal.SIGKILL
        first = posted(out)
        assert [line["kind"] for line in first] == ["header", "paper", "paper", "paper"]
        assert [line["paper_id"] for line in first[1:]] == expected_ids[:3]
        rows = await core.ledger.of_day(CHANNEL, DAY)
        assert len(rows) == 11 and sum(row.sent_at is not None for row in rows) == 4

        # Within the dead process's lease, another process posts nothing.
        early = (await pool.round(1, "0.01", WITHIN_LEASE))[0]
        assert early["posted"] == 0, early
        assert posted(out) == first

        # After the lease, the next process posts exactly the seven papers not yet in the channel,
        # in the thread of the header the dead process posted.
        late = (await pool.round(1, "0.01", AFTER_LEASE))[0]
        assert late["posted"] == 7, late
        lines = posted(out)
        header = assert_one_complete_digest(lines, expected_ids)
        assert lines[: len(first)] == first
        resumed = lines[len(first) :]
        assert {line["pid"] for line in resumed} == {late["pid"]}
        assert [line["paper_id"] for line in resumed] == expected_ids[3:]
        assert all(line["thread"] == header["message_id"] for line in resumed)
        await assert_ledger_matches(core, lines)

        # And a further run, concurrent or not, posts nothing.
        assert [r["posted"] for r in await pool.round(2, "0.01", AFTER_LEASE)] == [0, 0]
        assert posted(out) == lines

    assert publisher.posts == []


async def test_a_process_killed_while_planning_leaves_a_complete_digest_to_the_next_one(
    database_url: str, core: Core, fake_hf: FakeHF, tmp_path: Path
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("stopping a process at one exact claim needs PostgreSQL's row locks")
    fake_hf.set_day(DAY.isoformat(), sample_items(12, day=DAY))
    expected_ids = await prepare(core)
    out = tmp_path / "channel.jsonl"

    async with workers(database_url, fake_hf, tmp_path) as pool, core.engine.connect() as blocker:
        # An uncommitted row with the fourth paper's key: the worker's claim of it waits on this
        # transaction, so the worker stops in _plan with the header and three papers claimed.
        transaction = await blocker.begin()
        blocker_pid = (await blocker.execute(text("SELECT pg_backend_pid()"))).scalar_one()

        async def worker_waits_on_blocker() -> bool:
            async with core.engine.connect() as conn:
                waiting = await conn.execute(
                    text("SELECT count(*) FROM pg_stat_activity WHERE :pid = ANY(pg_blocking_pids(pid))"),
                    {"pid": blocker_pid},
                )
                return bool(waiting.scalar_one())

        await blocker.execute(
            postgresql.insert(DELIVERIES).values(
                platform=CHANNEL.platform,
                community=CHANNEL.community,
                channel=CHANNEL.channel,
                digest_day=DAY,
                kind="paper",
                paper_id=expected_ids[3],
                position=4,
                claimed_by="blocker",
                claimed_at=dt.datetime(2025, 11, 21, 12, tzinfo=dt.UTC),
            )
        )
        pool.go_file.touch()
        victim = await pool.start("0.01")
        await pool.wait_until(worker_waits_on_blocker, "the worker's claim of the fourth paper")
        assert (await pool.kill(victim)).returncode == -signal.SIGKILL
        await transaction.rollback()
        assert posted(out) == []

        late = (await pool.round(1, "0.01", AFTER_LEASE))[0]
        assert late["posted"] == 11, late  # today: 4, "Posted ... (3 papers)"
        assert_one_complete_digest(posted(out), expected_ids)
