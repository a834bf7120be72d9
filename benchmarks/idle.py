"""Idle cost: RSS and CPU of an idle `paperboy run` (Slack over HTTP, search by meaning off) on an
existing archive, after its start-up refresh has settled.

    .venv/bin/python -m benchmarks.idle --database sqlite:////tmp/archive.db [--seconds 60]

Reads /proc/<pid>/status (VmRSS) and /proc/<pid>/stat (utime + stime) of the process: CPU is the
share of one core over the window. Targets (issue 14): ≤ 250 MB RSS, ≤ 1% of one core.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

from benchmarks.load import slack_bot_env, start_process
from tests.fake_slack import FakeSlack

TICKS = os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


async def main(database: str, settle: float, seconds: float) -> None:
    fake = FakeSlack()
    await fake.start()
    # Up once it serves Slack's endpoints; its log is read away so that it never blocks.
    process, _port = await start_process(slack_bot_env(database, fake), Path.cwd())
    try:
        await asyncio.sleep(settle)  # the start-up refresh (HF unreachable here) settles
        before, rss_before = cpu_seconds(process.pid), rss_mib(process.pid)
        await asyncio.sleep(seconds)
        used, rss_after = cpu_seconds(process.pid) - before, rss_mib(process.pid)
        print(
            f"idle paperboy run: RSS {rss_before:.0f} → {rss_after:.0f} MiB (target ≤ 250); "
            f"CPU {100 * used / seconds:.2f}% of one core over {seconds:.0f} s (target ≤ 1%)"
        )
    finally:
        process.terminate()
        await process.wait()
        await fake.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks.idle")
    parser.add_argument("--database", required=True)
    parser.add_argument("--settle", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.database, arguments.settle, arguments.seconds))
