"""Discord fan-out benchmark: every channel's digest due at once, paced against unpaced.

    .venv/bin/python -m benchmarks.fanout              # 1,000 channels: paced at 45/s, then unpaced
    .venv/bin/python -m benchmarks.fanout --channels 300 --rate 50 --rate 48 --rate 45
    .venv/bin/python -m benchmarks.fanout --rate none --concurrency 200
    .venv/bin/python -m benchmarks.fanout --channels 100 --via catch-up --via one-by-one

Each run builds the whole bot (`adapters.app.build_core`, SQLite in a temporary directory) with
the real `DiscordAdapter` on discord.py, against tests/fake_discord.py enforcing Discord's limits
(50 bot requests in any sliding second; 5 messages per 5 s per channel or thread; headers and 429
bodies as Discord sends them) and tests/fake_hf.py serving one list of `--papers` papers. Every
channel subscribes with the defaults (09:00 UTC, top 10, in a thread), and all the digests are
started together, `asyncio.gather(*(bot.post_digest(channel) …))`, as the scheduler does at 09:00:
per channel a header, a thread and one card per paper. The fake and the bot share one event loop.
`--via catch-up` runs them as a restart after the post time does (`bot.catch_up()`), and
`--via one-by-one` one channel after another, as catch-up did before it ran them together.

Measured per run: elapsed time from the start of the digests to the last one's end; bot requests
that reached the fake, those answered and those refused with 429 (global, per route); digests
complete and messages in Discord; the busiest second at the fake; and the ratio of the elapsed
time to the global bound (answered requests / 50 per s), the least time the work can take. With
pacing, the busiest second of the pacer's own releases and the lag from release to arrival at the
fake (sorted releases against sorted arrivals). A table goes to stdout and a JSON file to
benchmarks/results/. See BENCHMARKS.md, "Discord fan-out".
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import os
import platform
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from adapters.app import build_core
from adapters.discord.adapter import GLOBAL_LIMIT, GLOBAL_RATE, DiscordAdapter, DiscordConfig
from adapters.pacing import Pacer
from bot.config import Settings
from bot.digest import DigestOutcome
from bot.subscriptions import Subscription
from bot.types import ChannelRef
from tests.fake_discord import GUILD_ID, DiscordLimits, FakeDiscord
from tests.fake_hf import FakeHF
from tests.fakes import FakeClock, sample_items

RESULTS_DIR = Path(__file__).with_name("results")
NOW = dt.datetime(2025, 11, 21, 12, 0, tzinfo=dt.UTC)  # a Friday; Thursday's list has closed
DAY = dt.date(2025, 11, 20)


@dataclass
class FanoutResult:
    rate: float | None  # the pacer's rate per second; None: no pacing (discord.py alone)
    via: str  # gather (the 09:00 jobs), catch-up (a restart), one-by-one (catch-up before)
    channels: int
    papers: int
    concurrency: int | None
    elapsed_s: float = 0.0
    requests: int = 0  # bot requests that reached the fake, 429'd ones included
    answered: int = 0  # not refused by a rate limit
    global_429: int = 0
    route_429: int = 0
    digests_complete: int = 0
    digests_failed: int = 0  # a run that raised (none expected: the core reports failures)
    messages_expected: int = 0
    messages_in_discord: int = 0
    peak_per_second: int = 0  # the most bot requests arriving at the fake in any one second
    global_bound_s: float = 0.0  # answered / 50
    ratio_to_bound: float = 0.0
    notes: list[str] = field(default_factory=list)
    release_lag_ms: dict[str, float] = field(default_factory=dict)  # pacer release -> arrival
    releases_peak_per_second: int = 0  # the most releases by the pacer in any one second
    pacer_longest_wait_s: float = 0.0
    pacer_stalls: int = 0  # releases over a quarter interval late (the event loop was held up)


class RecordingPacer:
    """Records when each paced request was let go (time.monotonic, the fake's clock too)."""

    def __init__(self, pacer: Pacer) -> None:
        self.releases: list[float] = []
        self._wait = pacer.wait
        pacer.wait = self.wait  # type: ignore[method-assign]  # the adapter's trace calls pacer.wait()

    async def wait(self) -> None:
        await self._wait()
        self.releases.append(time.monotonic())


def busiest_second(times: Sequence[float]) -> int:
    ordered, peak, start = sorted(times), 0, 0
    for end, at in enumerate(ordered):
        while at - ordered[start] >= 1.0:
            start += 1
        peak = max(peak, end - start + 1)
    return peak


def _percentiles(values: Sequence[float]) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {}

    def at(share: float) -> float:
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))]

    return {
        "p50": round(at(0.50) * 1000, 2),
        "p99": round(at(0.99) * 1000, 2),
        "max": round(ordered[-1] * 1000, 2),
    }


async def run_fanout(
    *, rate: float | None, via: str, channels: int, papers: int, concurrency: int | None, scratch: Path
) -> FanoutResult:
    result = FanoutResult(rate, via, channels, papers, concurrency)
    hf = FakeHF(items=sample_items(papers, day=DAY))
    discord_fake = FakeDiscord(limits=DiscordLimits())
    await hf.start()
    await discord_fake.start()
    refs = [
        ChannelRef("discord", str(GUILD_ID), str(discord_fake.add_text_channel())) for _ in range(channels)
    ]
    database = scratch / f"fanout-{rate}-{via}-{channels}.db"
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        PAPERBOY_DATABASE_URL=f"sqlite:///{database}",
        PAPERBOY_HF_BASE_URL=hf.url,
    )
    try:
        async with build_core(settings, clock=FakeClock(NOW)) as core:
            for ref in refs:
                await core.subscriptions.save(Subscription(ref), now=NOW)
            await core.ingestor.fetch_days([DAY])
            config = DiscordConfig(
                token="fake-token",
                api_base_url=discord_fake.api_base,
                gateway_url=discord_fake.ws_url,
                sync_commands=False,
                guild_ready_timeout=0.05,
                global_rate=rate,
            )
            adapter = DiscordAdapter(core.bot, config)
            recorder = RecordingPacer(adapter.pacer) if adapter.pacer is not None else None
            core.bot.attach(adapter)
            await adapter.start()
            try:
                await asyncio.wait_for(adapter.wait_ready(), 60)
                first_request = len(discord_fake.global_arrivals)
                first_release = len(recorder.releases) if recorder else 0
                bound = asyncio.Semaphore(concurrency) if concurrency else None

                async def digest(ref: ChannelRef) -> DigestOutcome:
                    if bound is None:
                        return await core.bot.post_digest(ref)
                    async with bound:
                        return await core.bot.post_digest(ref)

                started = time.perf_counter()
                outcomes: list[DigestOutcome | BaseException]
                if via == "catch-up":
                    outcomes = list(await core.bot.catch_up())
                elif via == "one-by-one":
                    outcomes = [await digest(ref) for ref in refs]
                else:
                    outcomes = await asyncio.gather(*(digest(ref) for ref in refs), return_exceptions=True)
                result.elapsed_s = round(time.perf_counter() - started, 2)
            finally:
                await adapter.stop()
                await core.bot.stop()
    finally:
        await discord_fake.stop()
        await hf.stop()

    arrivals = discord_fake.global_arrivals[first_request:]
    result.requests = len(arrivals)
    result.global_429 = discord_fake.rate_limited_count("global")
    result.route_429 = discord_fake.rate_limited_count("user")
    result.answered = result.requests - result.global_429 - result.route_429
    result.peak_per_second = discord_fake.peak_global_window()
    result.global_bound_s = round(result.answered / GLOBAL_LIMIT, 2)
    result.ratio_to_bound = round(result.elapsed_s / result.global_bound_s, 3) if result.answered else 0.0
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            result.digests_failed += 1
            if len(result.notes) < 3:
                result.notes.append(f"{type(outcome).__name__}: {outcome}"[:200])
        elif outcome.complete:
            result.digests_complete += 1
        elif len(result.notes) < 3:
            result.notes.append(outcome.note[:200])
    result.messages_expected = channels * (1 + min(papers, 10))
    result.messages_in_discord = sum(len(messages) for messages in discord_fake.messages.values())
    if recorder is not None and adapter.pacer is not None:
        releases = sorted(recorder.releases[first_release:])
        lags = [arrived - let_go for let_go, arrived in zip(releases, sorted(arrivals), strict=False)]
        result.release_lag_ms = _percentiles(lags)
        result.releases_peak_per_second = busiest_second(releases)
        result.pacer_longest_wait_s = round(adapter.pacer.longest_wait, 2)
        result.pacer_stalls = adapter.pacer.stalls
    return result


def _rate_name(rate: float | None) -> str:
    return "unpaced" if rate is None else f"{rate:g}/s"


def table(results: Sequence[FanoutResult]) -> str:
    rows: list[tuple[str, ...]] = [("", *(f"{_rate_name(r.rate)}, {r.via}" for r in results))]

    def row(name: str, values: Sequence[object]) -> None:
        rows.append((name, *(str(v) for v in values)))

    row("channels × papers", [f"{r.channels} × {r.papers}" for r in results])
    row("concurrency bound (benchmark)", [r.concurrency or "none" for r in results])
    row("elapsed, s", [r.elapsed_s for r in results])
    row(
        "bot requests (answered + 429)",
        [f"{r.requests} ({r.answered} + {r.requests - r.answered})" for r in results],
    )
    row("429 global / per route", [f"{r.global_429} / {r.route_429}" for r in results])
    row("digests complete", [f"{r.digests_complete} of {r.channels}" for r in results])
    row("messages in Discord", [f"{r.messages_in_discord} of {r.messages_expected}" for r in results])
    row("busiest second at the fake", [r.peak_per_second for r in results])
    row("global bound (answered / 50), s", [r.global_bound_s for r in results])
    row("elapsed / bound", [f"{r.ratio_to_bound:.3f}×" for r in results])
    row("busiest second of the pacer's releases", [r.releases_peak_per_second or "-" for r in results])
    row(
        "release → arrival lag p50/p99/max, ms",
        ["/".join(str(v) for v in r.release_lag_ms.values()) or "-" for r in results],
    )
    row("pacer: longest queueing, s", [r.pacer_longest_wait_s if r.rate else "-" for r in results])
    row("pacer: stalls (late > 1/4 interval)", [r.pacer_stalls if r.rate else "-" for r in results])
    widths = [max(len(line[i]) for line in rows) for i in range(len(rows[0]))]
    lines = [" | ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)) for line in rows]
    lines.insert(1, "-+-".join("-" * width for width in widths))
    return "\n".join(lines)


def parse_rate(text: str) -> float | None:
    return None if text.lower() in ("none", "off", "unpaced") else float(text)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fanout", description=__doc__.split("\n")[0])
    parser.add_argument("--channels", type=int, default=1000)
    parser.add_argument("--papers", type=int, default=10, help="papers on the list (a digest posts up to 10)")
    parser.add_argument(
        "--rate",
        type=parse_rate,
        action="append",
        help=f"pacing rate per second, or 'none' (repeatable; default {GLOBAL_RATE:g} then none)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="digests at once (default: all; the core may bound them)",
    )
    parser.add_argument(
        "--via",
        choices=("gather", "catch-up", "one-by-one"),
        action="append",
        help="how the digests are started (repeatable; default gather)",
    )
    parser.add_argument("--output", type=Path, default=None)
    return parser.parse_args(argv)


async def main_async(args: argparse.Namespace) -> list[FanoutResult]:
    rates: list[float | None] = args.rate or ([GLOBAL_RATE, None] if not args.via else [GLOBAL_RATE])
    results = []
    with tempfile.TemporaryDirectory(prefix="paperboy-fanout-") as scratch:
        for via in args.via or ["gather"]:
            for rate in rates:
                print(f"{_rate_name(rate)}, {via}: {args.channels} channels …", flush=True)
                result = await run_fanout(
                    rate=rate,
                    via=via,
                    channels=args.channels,
                    papers=args.papers,
                    concurrency=args.concurrency,
                    scratch=Path(scratch),
                )
                print(f"  {result.elapsed_s} s, {result.global_429 + result.route_429} × 429", flush=True)
                results.append(result)
    return results


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    # discord.py logs every 429 at WARNING, and the core every failed digest: counted, not printed.
    logging.basicConfig(level=logging.ERROR)
    results = asyncio.run(main_async(args))
    print()
    print(table(results))
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H%M%SZ")
    output: Path = args.output or RESULTS_DIR / f"fanout-{stamp}-{args.channels}.json"
    output.parent.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "when": stamp,
        "host": {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count()},
        "load_average": os.getloadavg(),
        "global_limit": GLOBAL_LIMIT,
        "runs": [asdict(result) for result in results],
    }
    output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\n{output}")


if __name__ == "__main__":
    main()
