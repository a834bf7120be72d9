"""Slash commands under load: bursts of concurrent signed `/paper search`, `top` and `today`
requests to `paperboy run` in Slack HTTP mode over a 10^5-paper archive.

    .venv/bin/python -m benchmarks.load                           # SQLite, one process
    .venv/bin/python -m benchmarks.load --postgres postgresql://postgres@127.0.0.1:5432/test \\
        --processes 2                                             # PostgreSQL, two behind a balancer
    .venv/bin/python -m benchmarks.load --baseline /tmp/baseline --rounds 2   # side by side with a checkout

The archive is benchmarks/search.py's synthetic corpus (deterministic), plus one day's list of 50
papers (`today`) and 2,000 votes over 200 papers in the workspace (`top`). Search by meaning is
off (PAPERBOY_SEMANTIC=off): this measures the commands' path through Bolt, the core and the
database. Each burst sends N requests at once, each signed as Slack signs them, through a
round-robin TCP balancer when there are several processes. Measured per request: the ack (the
HTTP answer Slack waits 3 s for) and the answer (the POST to the request's response_url, at
tests/fake_slack.py), both from the moment the request was sent. Targets (issue 14): ack p99 ≤
150 ms and answer p99 ≤ 500 ms at 50 concurrent, no errors. A table goes to stdout and a JSON
file to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import random
import re
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import text

from benchmarks.search import Corpus, machine, percentile, postgres_schema_url
from bot.db import create_engine, upgrade
from bot.models import ReactionRow
from bot.store import PaperStore
from tests.fake_slack import FakeSlack, command_body, sign

RESULTS_DIR = Path(__file__).with_name("results")
SECRET = "load-secret"
TEAM = "T1"
CHANNEL = "CLOAD"
DAY = dt.date(2025, 11, 20)
NOW = dt.datetime(2025, 11, 21, 12, tzinfo=dt.UTC)
ACK_TARGET_MS = 150.0
ANSWER_TARGET_MS = 500.0
COMMANDS = ("search", "top", "today")
PROJECT_ROOT = Path(__file__).resolve().parents[1]
DRAINS: set[asyncio.Future[None]] = set()


async def stock(url: str, papers: int, scratch: Path) -> str:
    """The archive, a day's list and the workspace's votes; a search that finds papers (two
    frequent words of the synthetic vocabulary, from the first paper's title)."""
    corpus = Corpus(papers, seed=20261125, vocabulary=50_000, exponent=1.1)
    corpus.generate(scratch, os.cpu_count() or 1)
    engine = create_engine(url)
    try:
        await upgrade(engine)
        store = PaperStore(engine)
        ids: list[str] = []
        for batch in corpus.batches(1_000):
            await store.upsert_papers(batch, now=NOW)
            ids += [paper.id for paper in batch]
        listed = [paper for batch in corpus.batches(1_000) for paper in batch][-50:]
        await store.record_daily_list(DAY, listed, now=NOW)
        rng = random.Random(7)
        voted = rng.sample(ids, 200)
        rows = [
            {
                "platform": "slack",
                "community": TEAM,
                "channel": CHANNEL,
                "message_id": f"1700000000.{n:06d}",
                "paper_id": voted[n % 200],
                "user_hash": f"user{n}",
                "kind": "up",
                "emoji": "👍",
                "digest_day": DAY,
                # Cast in the last days by the clock `paperboy run` reads: `top week` counts them.
                "created_at": dt.datetime.now(dt.UTC) - dt.timedelta(hours=n % 100),
            }
            for n in range(2_000)
        ]
        async with engine.begin() as conn:
            await conn.execute(ReactionRow.__table__.insert(), rows)  # type: ignore[attr-defined]
        await store.update_statistics()
        first = next(corpus.batches(1))[0]
        return " ".join(first.title.split()[:2]).lower()
    finally:
        await engine.dispose()


async def balancer(ports: Sequence[int]) -> tuple[asyncio.Server, int]:
    """A round-robin TCP balancer in front of the processes (each connection to the next one)."""
    turn = 0

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal turn
        port = ports[turn % len(ports)]
        turn += 1
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def new_schema(postgres_url: str, prefix: str) -> str:
    """A fresh schema for one benchmark run, and the URL that puts it on the search path."""
    schema = f"{prefix}_{int(time.time())}"
    admin = create_engine(postgres_url)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    await admin.dispose()
    return postgres_schema_url(postgres_url, schema)


def slack_bot_env(database_url: str, fake: FakeSlack) -> dict[str, str]:
    """`paperboy run` serving Slack over HTTP on a free port, search by meaning off, and no
    refresh traffic (Hugging Face is not the subject)."""
    return {
        **os.environ,
        "PAPERBOY_DATABASE_URL": database_url,
        "PAPERBOY_HF_BASE_URL": "http://127.0.0.1:9",
        "PAPERBOY_HF_RETRY_BUDGET_SECONDS": "1",
        "PAPERBOY_SEMANTIC": "off",
        "SLACK_BOT_TOKEN": "xoxb-bench",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_BASE_URL": fake.url + "/api/",
        "PAPERBOY_HTTP_HOST": "127.0.0.1",
        "PAPERBOY_HTTP_PORT": "0",
        "PYTHONPATH": str(PROJECT_ROOT),
    }


async def spawn_run(env: dict[str, str], cwd: Path, stdout: Any) -> asyncio.subprocess.Process:
    """`paperboy run` as a child process, its output and errors to `stdout`."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "adapters.cli",
        "run",
        env=env,
        cwd=cwd,
        stdout=stdout,
        stderr=asyncio.subprocess.STDOUT,
    )


async def start_process(env: dict[str, str], cwd: Path) -> tuple[asyncio.subprocess.Process, int]:
    process = await spawn_run(env, cwd, asyncio.subprocess.PIPE)
    assert process.stdout
    while True:
        line = (await asyncio.wait_for(process.stdout.readline(), 120)).decode()
        if not line:
            raise RuntimeError("paperboy run exited")
        if match := re.search(r"serving HTTP on 127\.0\.0\.1:(\d+)/slack/events", line):
            DRAINS.add(asyncio.ensure_future(_drain(process)))  # its log, read so it never blocks
            return process, int(match.group(1))


async def _drain(process: asyncio.subprocess.Process) -> None:
    assert process.stdout
    while await process.stdout.readline():
        pass


async def burst(
    http: aiohttp.ClientSession, fake: FakeSlack, url: str, command: str, size: int, round_: int, query: str
) -> dict[str, Any]:
    texts = {"search": f"search {query}", "top": "top week", "today": "today"}

    async def one(n: int) -> tuple[float, float | None, int]:
        key, response_url = fake.new_response_url()
        body = command_body(
            texts[command], user=f"U{n}", channel=CHANNEL, response_url=response_url, team=TEAM
        )
        headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(SECRET, body)}
        sent = time.monotonic()
        async with http.post(url, data=body, headers=headers) as response:
            await response.read()
            acked = time.monotonic()
            status = response.status
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(fake.answered.setdefault(key, asyncio.Event()).wait(), 30)
        answered = fake.response_times.get(key)
        return (acked - sent) * 1000, (answered - sent) * 1000 if answered else None, status

    results = await asyncio.gather(*(one(round_ * 1000 + n) for n in range(size)))
    acks = [ack for ack, _, _ in results]
    answers = [answer for _, answer, _ in results if answer is not None]
    errors = sum(1 for _, answer, status in results if status != 200 or answer is None)
    return {
        "command": command,
        "concurrent": size,
        "ack_p50_ms": round(percentile(acks, 0.5), 1),
        "ack_p99_ms": round(percentile(acks, 0.99), 1),
        "answer_p50_ms": round(percentile(answers, 0.5), 1) if answers else None,
        "answer_p99_ms": round(percentile(answers, 0.99), 1) if answers else None,
        "errors": errors,
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    scratch = Path(tempfile.mkdtemp(prefix="paperboy-load-"))
    if args.archive:
        url, query = args.archive, args.query
    else:
        if args.postgres:
            url = await new_schema(args.postgres, "load")
        else:
            url = f"sqlite:///{scratch / 'paperboy.db'}"
        started = time.monotonic()
        query = await stock(url, args.papers, scratch / "corpus")
        print(f"stocked {args.papers:,} papers in {time.monotonic() - started:.0f} s: {url}", flush=True)
    fake = FakeSlack()
    await fake.start()
    env = slack_bot_env(url, fake) | {"PAPERBOY_LOG_LEVEL": "INFO"}
    runs: dict[str, list[dict[str, Any]]] = {}
    try:
        for round_ in range(args.rounds):
            print(f"this checkout ({round_ + 1} of {args.rounds})", flush=True)
            runs.setdefault("now", []).extend(await measure(args, env, scratch, fake, query))
            if args.baseline:
                print(f"baseline {args.baseline} ({round_ + 1} of {args.rounds})", flush=True)
                async with schema_of(url, args.baseline):
                    baseline_env = env | {"PYTHONPATH": str(args.baseline.resolve())}
                    runs.setdefault("baseline", []).extend(
                        await measure(args, baseline_env, scratch, fake, query)
                    )
    finally:
        await fake.stop()
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "backend": "postgresql" if (args.archive or args.postgres or "").startswith("postgres") else "sqlite",
        "processes": args.processes,
        "papers": args.papers,
        "search": query,
        "targets": {"ack_p99_ms": ACK_TARGET_MS, "answer_p99_ms": ANSWER_TARGET_MS, "at": 50},
        "baseline": str(args.baseline) if args.baseline else None,
        "rows": runs["now"],
        "baseline_rows": runs.get("baseline", []),
    }


async def measure(
    args: argparse.Namespace, env: dict[str, str], scratch: Path, fake: FakeSlack, query: str
) -> list[dict[str, Any]]:
    """Start the processes, send the bursts, stop them: one row per command and burst size."""
    processes = [await start_process(env, scratch) for _ in range(args.processes)]
    server = None
    rows = []
    try:
        ports = [port for _, port in processes]
        if len(ports) > 1:
            server, port = await balancer(ports)
        else:
            port = ports[0]
        url_events = f"http://127.0.0.1:{port}/slack/events"
        connector = aiohttp.TCPConnector(limit=0, force_close=True)
        async with aiohttp.ClientSession(connector=connector) as http:
            # Warm-up, not reported: as many at once as the largest burst, so that connections
            # and caches are open as in a bot that has run a while.
            await burst(http, fake, url_events, "search", max(args.concurrent), 0, query)
            for round_, size in enumerate(args.concurrent, 1):
                for command in COMMANDS:
                    number = round_ * 10 + COMMANDS.index(command)
                    row = await burst(http, fake, url_events, command, size, number, query)
                    rows.append(row)
                    print(
                        f"{command:>7} ×{size:<4} ack p50 {row['ack_p50_ms']} p99 {row['ack_p99_ms']} · "
                        f"answer p50 {row['answer_p50_ms']} p99 {row['answer_p99_ms']} ms · "
                        f"errors {row['errors']}",
                        flush=True,
                    )
    finally:
        if server is not None:
            server.close()
        for process, _ in processes:
            process.terminate()
            await process.wait()
    return rows


@contextlib.asynccontextmanager
async def schema_of(url: str, checkout: Path) -> AsyncIterator[None]:
    """The archive marked at `checkout`'s newest migration while it runs (an older paperboy
    refuses a database from the future; the tables it does not know are left alone)."""
    from alembic.script import ScriptDirectory

    theirs = ScriptDirectory(str(checkout / "bot" / "migrations")).get_current_head()
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            ours = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar_one()
            await conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": theirs})
        try:
            yield
        finally:
            async with engine.begin() as conn:
                await conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": ours})
    finally:
        await engine.dispose()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__.split("\n")[0])
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--postgres", metavar="URL", help="PostgreSQL, in a throwaway schema")
    parser.add_argument("--processes", type=int, default=1, help="paperboy run processes behind a balancer")
    parser.add_argument("--concurrent", type=int, action="append", help="burst sizes (default 10, 50, 100)")
    parser.add_argument(
        "--baseline",
        type=Path,
        metavar="DIR",
        help="also run the bot from this checkout (git worktree add DIR REV)",
    )
    parser.add_argument("--rounds", type=int, default=1, help="this checkout then the baseline, N times")
    parser.add_argument(
        "--archive", metavar="URL", help="an archive an earlier run stocked (its URL is printed)"
    )
    parser.add_argument("--query", default="bazo ludo", help="the search, with --archive")
    args = parser.parse_args(argv)
    args.concurrent = args.concurrent or [10, 50, 100]
    report = asyncio.run(run(args))
    RESULTS_DIR.mkdir(exist_ok=True)
    name = f"load-{report['backend']}-{args.processes}p-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}.json"
    (RESULTS_DIR / name).write_text(json.dumps(report, indent=2))
    print(f"wrote benchmarks/results/{name}")


if __name__ == "__main__":
    main()
