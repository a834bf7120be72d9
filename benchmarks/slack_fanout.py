"""Slack digest fan-out across processes: 100 channels' digests due at the same minute, posted
by 1 or 3 `paperboy run` processes sharing one PostgreSQL.

    .venv/bin/python -m benchmarks.slack_fanout --postgres postgresql://postgres@127.0.0.1:5432/test \\
        --processes 3 [--channels 100]

Every channel subscribes with the defaults (top 10, in a thread) at the next whole minute that
leaves the processes time to start; the newest closed list (10 papers) is stored beforehand and
Hugging Face is unreachable, so the digests post from the store. Each process schedules every
channel; at the minute each runs every job, and the channel leases decide who sends. Measured at
tests/fake_slack.py: per channel the messages (a header and 10 cards), duplicates, order and the
smallest gap between two of its messages; overall the time from the first message to the last,
against the bound set by one message per second per channel (11 messages: 10 s). Target (issue
14): within 1.3× the bound, 0 duplicates, 0 missing, no channel above its rate.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import itertools
import json
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import text

from benchmarks.load import RESULTS_DIR, new_schema, schema_of, slack_bot_env, start_process
from benchmarks.search import machine
from bot.db import create_engine, upgrade
from bot.hf_parse import parse_daily_items
from bot.post_calendar import newest_closed_day
from bot.store import PaperStore
from bot.subscriptions import Subscription, SubscriptionStore
from bot.types import ChannelRef
from tests.fake_hf import FakeHF
from tests.fake_slack import FakeSlack
from tests.fakes import sample_items

TEAM = "T1"
MESSAGES = 11  # a header and 10 cards
PER_CHANNEL_INTERVAL = 1.0


async def prepare(url: str, channels: int, at: dt.time) -> dt.date:
    engine = create_engine(url)
    try:
        await upgrade(engine)
        now = dt.datetime.now(dt.UTC)
        day = newest_closed_day(now)
        papers, _ = parse_daily_items(sample_items(10, day=day), source="benchmark")
        await PaperStore(engine).record_daily_list(day, papers, now=now)
        subscriptions = SubscriptionStore(engine)
        for number in range(channels):
            channel = ChannelRef("slack", TEAM, f"C{number:04d}")
            await subscriptions.save(Subscription(channel=channel, post_time=at), now=now)
        return day
    finally:
        await engine.dispose()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    url = await new_schema(args.postgres, "fanout")
    now = dt.datetime.now(dt.UTC)
    due = (now + dt.timedelta(seconds=90)).replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    day = await prepare(url, args.channels, due.time())
    fake = FakeSlack()
    await fake.start()
    hf = FakeHF(items=[])  # empty lists: the refreshes are counted, the digests use the store
    await hf.start()
    scratch = Path(tempfile.mkdtemp(prefix="paperboy-fanout-"))
    env = slack_bot_env(url, fake) | {"PAPERBOY_HF_BASE_URL": hf.url}
    if args.kill_leader_after:
        # Short leases, so that a killed sender's digests are resumed within the run.
        env |= {"PAPERBOY_CLAIM_LEASE_SECONDS": "20", "PAPERBOY_REFRESH_MINUTES": "0.5"}
    baseline = contextlib.nullcontext() if args.baseline is None else schema_of(url, args.baseline)
    if args.baseline is not None:
        env |= {"PYTHONPATH": str(args.baseline.resolve())}
    await baseline.__aenter__()
    processes = await asyncio.gather(*(start_process(env, scratch) for _ in range(args.processes)))
    killed: dict[str, Any] = {}
    try:
        print(f"{args.processes} processes up; {args.channels} digests due at {due:%H:%M:%S} UTC", flush=True)
        expected = args.channels * MESSAGES
        deadline = (due - dt.datetime.now(dt.UTC)).total_seconds() + 300
        started = time.monotonic()
        # A benchmark's own wait for the minute and the sends, not a test's.
        while len(fake.calls_to("chat.postMessage")) < expected and time.monotonic() - started < deadline:
            await asyncio.sleep(0.5)
            if (
                args.kill_leader_after
                and not killed
                and len(fake.calls_to("chat.postMessage")) >= args.kill_leader_after
            ):
                killed = await kill_leader(url, processes)
        await asyncio.sleep(5)  # anything posted twice arrives within the processes' next sends
        if killed:
            refreshed = [r for r in hf.requests if r.at > killed["at"]]
            killed["first_refresh_after_s"] = round(refreshed[0].at - killed["at"], 1) if refreshed else None
    finally:
        for process, _ in processes:
            if process.returncode is None:
                process.terminate()
                await process.wait()
        await fake.stop()
        await hf.stop()
        await baseline.__aexit__(None, None, None)
    posts = fake.calls_to("chat.postMessage")
    by_channel: dict[str, list[Any]] = defaultdict(list)
    for call in sorted(posts, key=lambda c: c.at):
        by_channel[str(call.params["channel"])].append(call)
    duplicates = missing = out_of_order = 0
    gaps: list[float] = []
    for calls in by_channel.values():
        texts = [str(c.params["text"]) for c in calls]
        duplicates += len(texts) - len(set(texts))
        missing += max(0, MESSAGES - len(set(texts)))
        out_of_order += not texts[0].startswith("Daily Papers")
        gaps += [later.at - earlier.at for earlier, later in itertools.pairwise(calls)]
    missing += MESSAGES * (args.channels - len(by_channel))
    firsts = [calls[0].at for calls in by_channel.values()]
    spans = [calls[-1].at - calls[0].at for calls in by_channel.values()]
    elapsed = max(c.at for c in posts) - min(c.at for c in posts) if posts else 0.0
    bound = (MESSAGES - 1) * PER_CHANNEL_INTERVAL
    expected_titles = [str(item["paper"]["title"]) for item in sample_items(10, day=day)]
    cards_out_of_order = sum(
        1
        for calls in by_channel.values()
        if [t for t in expected_titles if any(t in str(c.params["text"]) for c in calls)]
        != [next((t for t in expected_titles if t in str(c.params["text"])), "") for c in calls[1:]]
    )
    report = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "processes": args.processes,
        "code": str(args.baseline) if args.baseline else "this checkout",
        "channels": args.channels,
        "list_day": day.isoformat(),
        "messages": len(posts),
        "expected": expected,
        "duplicates": duplicates,
        "missing": missing,
        "headers_not_first": out_of_order,
        "channels_with_cards_out_of_order": cards_out_of_order,
        "leader_killed": killed or None,
        "min_gap_s": round(min(gaps), 3) if gaps else None,
        "mean_gap_s": round(sum(gaps) / len(gaps), 3) if gaps else None,
        # How the channels' first messages spread, and the longest one channel took.
        "first_messages_spread_s": round(max(firsts) - min(firsts), 2) if firsts else None,
        "longest_channel_s": round(max(spans), 2) if spans else None,
        "elapsed_s": round(elapsed, 2),
        "bound_s": bound,
        "ratio": round(elapsed / bound, 2) if bound else None,
    }
    print(json.dumps(report, indent=2))
    return report


async def kill_leader(
    url: str, processes: Sequence[tuple[asyncio.subprocess.Process, int]]
) -> dict[str, Any]:
    """kill -9 the process holding the leader lease, mid-fan-out."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            pid = (
                await conn.execute(
                    text(
                        "SELECT p.pid FROM processes p JOIN leases l ON l.owner = p.id "
                        "WHERE l.name = 'leader'"
                    )
                )
            ).scalar()
    finally:
        await engine.dispose()
    victim = next(process for process, _ in processes if process.pid == pid)
    victim.kill()
    await victim.wait()
    print(f"killed the leader (pid {pid})", flush=True)
    return {"pid": pid, "at": time.monotonic()}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.slack_fanout")
    parser.add_argument("--postgres", required=True, metavar="URL")
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--channels", type=int, default=100)
    parser.add_argument(
        "--kill-leader-after", type=int, default=0, metavar="N", help="kill -9 the leader after N messages"
    )
    parser.add_argument("--baseline", type=Path, metavar="DIR", help="run the bot from this checkout instead")
    args = parser.parse_args(argv)
    report = asyncio.run(run(args))
    RESULTS_DIR.mkdir(exist_ok=True)
    killed = "-failover" if args.kill_leader_after else ""
    killed += "-baseline" if args.baseline else ""
    name = f"slack-fanout-{args.processes}p{killed}-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}.json"
    (RESULTS_DIR / name).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
