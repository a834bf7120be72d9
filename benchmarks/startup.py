"""Command-line start-up: the whole process, as a user waits for it.

    .venv/bin/python -m benchmarks.startup                       # this checkout
    .venv/bin/python -m benchmarks.startup --baseline /tmp/old   # side by side with another checkout

Times `paperboy --help` and `paperboy search reasoning` on a small store (the 60 sample papers,
SQLite, already migrated), each a fresh `python -m adapters.cli` process, `--runs` times, the
checkouts alternating run by run so that both see the same machine. The baseline is any other
checkout of paperboy (e.g. `git worktree add /tmp/old 0a20250`), run with this venv's Python.
Prints min / median / p90 in seconds per command and checkout. See BENCHMARKS.md, "Start-up".
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
COMMANDS = {"--help": ["--help"], "search": ["search", "reasoning"]}


STOCK = """
import asyncio, sys
from bot.db import create_engine, upgrade
from bot.hf_parse import parse_daily_items
from bot.store import PaperStore
from tests.conftest import NOW
from tests.fake_hf import load_sample

async def stock():
    engine = create_engine(sys.argv[1])
    await upgrade(engine)
    papers, _ = parse_daily_items(load_sample(), source="sample")
    await PaperStore(engine).upsert_papers(papers, now=NOW)
    await engine.dispose()

asyncio.run(stock())
"""


def _stock(checkout: Path, url: str) -> None:
    """The 60 sample papers in a database of the checkout's own schema, by its own code."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    subprocess.run([sys.executable, "-c", STOCK, url], env=env, cwd=checkout, check=True)


def _once(checkout: Path, args: Sequence[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(  # our own interpreter and module
        [sys.executable, "-m", "adapters.cli", *args],
        cwd=cwd,
        env={**env, "PYTHONPATH": str(checkout)},
        capture_output=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{checkout}: paperboy {' '.join(args)} failed:\n{done.stderr.decode()}")
    return elapsed


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.startup", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--baseline", type=Path, default=None, help="another checkout to compare with")
    args = parser.parse_args(argv)
    checkouts = {"this": HERE} | ({"baseline": args.baseline.resolve()} if args.baseline else {})
    times: dict[tuple[str, str], list[float]] = {(c, n): [] for c in checkouts for n in COMMANDS}
    with tempfile.TemporaryDirectory(prefix="paperboy-startup-") as scratch:
        work = Path(scratch)
        base = {key: value for key, value in os.environ.items() if not key.startswith("PAPERBOY_")}
        envs = {}
        for name, checkout in checkouts.items():
            url = f"sqlite:///{work / name}.db"
            _stock(checkout, url)
            envs[name] = base | {"PAPERBOY_DATABASE_URL": url}
            for command in COMMANDS.values():  # warm the file cache and .pyc files once
                _once(checkout, command, envs[name], work)
        for _ in range(args.runs):
            for name, checkout in checkouts.items():
                for command_name, command in COMMANDS.items():
                    times[(name, command_name)].append(_once(checkout, command, envs[name], work))
    print(f"{args.runs} runs each, load average {os.getloadavg()[0]:.2f}; seconds, whole process")
    print(f"{'command':<10} {'checkout':<10} {'min':>6} {'median':>7} {'p90':>6}")
    for (name, command_name), values in times.items():
        ordered = sorted(values)
        p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
        print(
            f"{command_name:<10} {name:<10} {ordered[0]:>6.3f} {statistics.median(ordered):>7.3f} {p90:>6.3f}"
        )


if __name__ == "__main__":
    main()
