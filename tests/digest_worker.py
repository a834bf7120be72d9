"""One paperboy process posting one digest, for the multi-process exactly-once tests.

    python -m tests.digest_worker DB_URL HF_URL OUT_FILE PLATFORM COMMUNITY CHANNEL DAY
        [DELAY] [CLOCK_ISO] [--hang-after N]

It builds the whole core (as `paperboy run` would) with a fixed clock (default 2025-11-21 12:00
UTC, or CLOCK_ISO), attaches a publisher for PLATFORM that appends one JSON line per message to
OUT_FILE, writes `OUT_FILE.ready.<pid>` and waits until `OUT_FILE.go` exists, so that every
worker of a test starts posting at the same moment. Then it posts DAY's digest to
PLATFORM/COMMUNITY/CHANNEL and writes the outcome as one JSON line on stdout.

Each publish waits DELAY seconds (the platform's round trip) and then appends its line: the
message exists on the "platform" once its line is in OUT_FILE. With --hang-after N the (N+1)th
publish writes `OUT_FILE.hung.<pid>` and never returns, so a test can kill the process while it
holds a claim whose message was not sent.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import itertools
import json
import logging
import os
import sys
import time
from pathlib import Path

from adapters.app import build_core
from bot.config import Settings
from bot.ports import Outgoing, Publisher
from bot.types import ChannelRef, Notice, Post, PostRef, UserRef

DEFAULT_NOW = dt.datetime(2025, 11, 21, 12, 0, tzinfo=dt.UTC)
DEFAULT_DELAY = 0.02
POLL_SECONDS = 0.002
GO_TIMEOUT_SECONDS = 60.0


class FixedClock:
    """The time stands still: every claim of a run is taken at the same instant."""

    def __init__(self, now: dt.datetime) -> None:
        self.current = now

    def now(self) -> dt.datetime:
        return self.current


class FilePublisher:
    """A Publisher whose "platform" is a file: one JSON line per message, appended atomically."""

    def __init__(self, platform: str, out_file: Path, *, delay: float, hang_after: int | None) -> None:
        self.platform = platform
        self.who_manages = "anyone"
        self.out_file = out_file
        self.delay = delay
        self.hang_after = hang_after
        self.pid = os.getpid()
        self._numbers = itertools.count(1)
        # O_APPEND: each os.write of one whole line lands at the end, whatever other workers write.
        self._fd = os.open(out_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def close(self) -> None:
        os.close(self._fd)

    async def publish(
        self, channel: ChannelRef, message: Outgoing, *, thread: PostRef | None = None
    ) -> PostRef:
        number = next(self._numbers)
        if self.hang_after is not None and number > self.hang_after:
            signal_file(self.out_file, f"hung.{self.pid}").touch()
            await asyncio.Event().wait()  # a request that never completes; the test kills us
        await asyncio.sleep(self.delay)
        message_id = f"{self.platform}-{self.pid}-{number}"
        line = {
            "pid": self.pid,
            "kind": "paper" if isinstance(message, Post) else "header",
            "paper_id": message.paper_id if isinstance(message, Post) else None,
            "text": message.text if isinstance(message, Notice) else message.title,
            "channel": [channel.platform, channel.community, channel.channel],
            "thread": thread.message_id if thread else None,
            "message_id": message_id,
        }
        os.write(self._fd, (json.dumps(line) + "\n").encode())
        return PostRef(channel, message_id, thread.message_id if thread else None)

    async def send_dm(self, user: UserRef, message: Outgoing) -> None:
        raise AssertionError("a digest worker sends no direct messages")

    def serves(self, channel: ChannelRef) -> bool:
        return True

    async def edit(self, post: PostRef, message: Post) -> None:
        raise AssertionError("a digest worker edits no cards")


def _check_protocol(publisher: FilePublisher) -> Publisher:
    return publisher  # mypy checks that FilePublisher satisfies bot.ports.Publisher


def signal_file(out_file: Path, suffix: str) -> Path:
    """`OUT_FILE.<suffix>`: how workers and the test tell each other where they are."""
    return Path(f"{out_file}.{suffix}")


def exists(path: Path) -> bool:
    return path.exists()


async def wait_for_file(path: Path) -> None:
    async with asyncio.timeout(GO_TIMEOUT_SECONDS):
        while True:  # another process creates it: polling is all there is
            if exists(path):
                return
            await asyncio.sleep(POLL_SECONDS)


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.digest_worker")
    for name in ("db_url", "hf_url", "out_file", "platform", "community", "channel", "day"):
        parser.add_argument(name)
    parser.add_argument("delay", nargs="?", type=float, default=DEFAULT_DELAY)
    parser.add_argument("clock", nargs="?", type=dt.datetime.fromisoformat, default=DEFAULT_NOW)
    parser.add_argument("--hang-after", type=int, default=None)
    args = parser.parse_args(argv)
    if args.clock.tzinfo is None:
        parser.error("CLOCK_ISO needs a UTC offset, e.g. 2025-11-21T12:06:00+00:00")
    out_file = Path(args.out_file)
    channel = ChannelRef(args.platform, args.community, args.channel)
    # _env_file=None: nothing from a developer's .env in the working directory (pydantic-settings
    # takes the argument, but mypy only sees the fields in the generated signature).
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        PAPERBOY_DATABASE_URL=args.db_url,
        PAPERBOY_HF_BASE_URL=args.hf_url,
    )
    publisher = FilePublisher(args.platform, out_file, delay=args.delay, hang_after=args.hang_after)
    try:
        async with build_core(settings, clock=FixedClock(args.clock)) as core:
            core.bot.attach(_check_protocol(publisher))
            try:
                signal_file(out_file, f"ready.{os.getpid()}").touch()
                await wait_for_file(signal_file(out_file, "go"))
                started = time.monotonic()
                outcome = await core.bot.post_digest(channel, day=dt.date.fromisoformat(args.day))
                finished = time.monotonic()
            finally:
                await core.bot.stop()
    finally:
        publisher.close()
    result = {
        "pid": os.getpid(),
        "day": outcome.day.isoformat() if outcome.day else None,
        "posted": outcome.posted,
        "note": outcome.note,
        "started": started,
        "finished": finished,
    }
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    logging.basicConfig(
        level=logging.WARNING, format=f"worker {os.getpid()} %(levelname)s %(name)s: %(message)s"
    )
    sys.exit(asyncio.run(main(sys.argv[1:])))
