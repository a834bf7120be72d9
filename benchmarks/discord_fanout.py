"""Discord digest fan-out across processes: 1,000 channels' digests due at the same minute,
posted by 1 or 3 `paperboy run` processes of one three-shard bot sharing one PostgreSQL.

    .venv/bin/python -m benchmarks.discord_fanout --postgres postgresql://postgres@127.0.0.1:5432/test \\
        --processes 3 [--channels 1000] [--guilds 100]

The channels are spread over `--guilds` servers, which Discord's formula spreads over the three
shards. With one process it runs all three shards; with three, each runs one
(DISCORD_SHARD_IDS) and schedules only its servers' digests. Every channel subscribes with the
defaults (top 10, in a thread) at the next whole minute that leaves the processes time to start;
the newest closed list (10 papers) is stored beforehand and Hugging Face is unreachable. Measured at
tests/fake_discord.py, which enforces Discord's limits (50 bot requests in any sliding second,
5 messages per 5 s per channel): per channel the header and the 10 cards in its thread,
duplicates and order; overall the 429s, the busiest second, and the time from the first bot
request of the digests to the last against the bound set by the global limit (answered
requests / 50 per s). Target (issue 14): within 1.3× that bound, 0 duplicates, 0 missing, no 429.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from adapters.discord.adapter import GLOBAL_LIMIT
from benchmarks.fanout import busiest_second
from benchmarks.load import PROJECT_ROOT, RESULTS_DIR, new_schema, spawn_run
from benchmarks.search import machine
from bot.db import create_engine, upgrade
from bot.hf_parse import parse_daily_items
from bot.post_calendar import newest_closed_day
from bot.store import PaperStore
from bot.subscriptions import Subscription, SubscriptionStore
from bot.types import ChannelRef
from tests.fake_discord import DiscordLimits, FakeDiscord
from tests.fakes import sample_items

SHARDS = 3
CARDS = 10


async def prepare(url: str, channels: Sequence[tuple[int, int]], at: dt.time) -> dt.date:
    engine = create_engine(url)
    try:
        await upgrade(engine)
        now = dt.datetime.now(dt.UTC)
        day = newest_closed_day(now)
        papers, _ = parse_daily_items(sample_items(CARDS, day=day), source="benchmark")
        await PaperStore(engine).record_daily_list(day, papers, now=now)
        subscriptions = SubscriptionStore(engine)
        for guild, channel in channels:
            ref = ChannelRef("discord", str(guild), str(channel))
            await subscriptions.save(Subscription(channel=ref, post_time=at), now=now)
        return day
    finally:
        await engine.dispose()


def bot_env(database_url: str, fake: FakeDiscord) -> dict[str, str]:
    return {
        **os.environ,
        "PAPERBOY_DATABASE_URL": database_url,
        "PAPERBOY_HF_BASE_URL": "http://127.0.0.1:9",
        "PAPERBOY_HF_RETRY_BUDGET_SECONDS": "1",
        "PAPERBOY_SEMANTIC": "off",
        "PAPERBOY_HTTP_HOST": "127.0.0.1",
        "PAPERBOY_HTTP_PORT": "0",
        "DISCORD_TOKEN": "bench-token",
        "DISCORD_API_BASE_URL": fake.api_base,
        "DISCORD_GATEWAY_URL": fake.ws_url,
        "DISCORD_SHARD_COUNT": str(SHARDS),
        "PYTHONPATH": str(PROJECT_ROOT),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    fake = FakeDiscord(limits=DiscordLimits(), max_concurrency=SHARDS)
    channels: list[tuple[int, int]] = []
    per_guild = -(-args.channels // args.guilds)
    for number in range(args.guilds):
        guild, first = fake.add_guild(f"Lab {number}", shard=(number % SHARDS, SHARDS))
        channels.append((guild, first))
        for _ in range(per_guild - 1):
            if len(channels) < args.channels:
                channels.append((guild, fake.add_text_channel(guild_id=guild)))
    channels = channels[: args.channels]
    await fake.start()
    url = await new_schema(args.postgres, "dfanout")
    now = dt.datetime.now(dt.UTC)
    due = (now + dt.timedelta(seconds=60)).replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    day = await prepare(url, channels, due.time())
    scratch = Path(tempfile.mkdtemp(prefix="paperboy-dfanout-"))
    env = bot_env(url, fake)
    processes = []
    for number in range(args.processes):
        shard_ids = {"DISCORD_SHARD_IDS": str(number)} if args.processes == SHARDS else {}
        with (scratch / f"process-{number}.log").open("wb") as log:  # the child keeps its own copy
            processes.append(await spawn_run(env | shard_ids, scratch, log))
    try:
        print(
            f"{args.processes} processes starting; {len(channels)} digests due at {due:%H:%M:%S} UTC",
            flush=True,
        )
        expected = len(channels) * (1 + CARDS)
        deadline = time.monotonic() + (due - dt.datetime.now(dt.UTC)).total_seconds() + 900
        # A benchmark's own wait for the minute and the sends, not a test's.
        while _messages(fake) < expected and time.monotonic() < deadline:
            await asyncio.sleep(1)
            if any(process.returncode is not None for process in processes):
                raise RuntimeError(f"a paperboy process exited; see {scratch}")
        await asyncio.sleep(5)  # anything posted twice arrives within the processes' next sends
    finally:
        for process in processes:
            if process.returncode is None:
                process.terminate()
                await process.wait()
        await fake.stop()
    return report(args, fake, channels, day, due, scratch)


def _messages(fake: FakeDiscord) -> int:
    return sum(len(messages) for messages in fake.messages.values())


def report(
    args: argparse.Namespace,
    fake: FakeDiscord,
    channels: Sequence[tuple[int, int]],
    day: dt.date,
    due: dt.datetime,
    scratch: Path,
) -> dict[str, Any]:
    titles = [str(item["paper"]["title"]) for item in sample_items(CARDS, day=day)]
    duplicates = missing = out_of_order = 0
    for _guild, channel in channels:
        headers = [m for m in fake.messages[channel] if str(m.get("content", "")).startswith("Daily Papers")]
        duplicates += max(0, len(headers) - 1)
        threads = [t for t, thread in fake.threads.items() if int(thread["parent_id"]) == channel]
        cards = [m for thread in threads for m in fake.messages[thread]]
        shown = [next((t for t in titles if t in json.dumps(m, ensure_ascii=False)), "") for m in cards]
        duplicates += len(shown) - len(set(shown))
        missing += (not headers) + len(set(titles) - set(shown))
        out_of_order += shown != [t for t in titles if t in shown]
    # The digests' requests: everything from the due minute on (the start-up's command sync and
    # IDENTIFYs are earlier).
    start = time.monotonic() - (dt.datetime.now(dt.UTC) - due).total_seconds() - 1
    arrivals = [at for at in fake.global_arrivals if at >= start]
    global_429 = fake.rate_limited_count("global")
    route_429 = fake.rate_limited_count("user")
    answered = len(arrivals) - global_429 - route_429
    elapsed = arrivals[-1] - arrivals[0] if arrivals else 0.0
    bound = answered / GLOBAL_LIMIT
    result = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "processes": args.processes,
        "shards": SHARDS,
        "guilds": args.guilds,
        "channels": len(channels),
        "list_day": day.isoformat(),
        "messages": _messages(fake),
        "expected": len(channels) * (1 + CARDS),
        "duplicates": duplicates,
        "missing": missing,
        "channels_out_of_order": out_of_order,
        "bot_requests": len(arrivals),
        "global_429": global_429,
        "route_429": route_429,
        "busiest_second": busiest_second(arrivals),
        "elapsed_s": round(elapsed, 2),
        "bound_s": round(bound, 2),
        "ratio": round(elapsed / bound, 3) if bound else None,
        "logs": str(scratch),
    }
    print(json.dumps(result, indent=2))
    return result


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.discord_fanout")
    parser.add_argument("--postgres", required=True, metavar="URL")
    parser.add_argument("--processes", type=int, choices=(1, SHARDS), default=SHARDS)
    parser.add_argument("--channels", type=int, default=1000)
    parser.add_argument("--guilds", type=int, default=100)
    args = parser.parse_args(argv)
    result = asyncio.run(run(args))
    RESULTS_DIR.mkdir(exist_ok=True)
    name = f"discord-fanout-{args.processes}p-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}.json"
    (RESULTS_DIR / name).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
