"""Test doubles that satisfy the core's ports: a settable clock and a recording adapter."""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from bot.hf_parse import parse_daily_items, parse_paper
from bot.ports import ChannelUnavailable, Outgoing
from bot.types import ChannelRef, Notice, Paper, Post, PostRef, UserRef
from tests.fake_hf import load_sample


class MemorySource:
    """Daily lists from memory, in the API's JSON shape and read by the same parser as HF's: for
    tests that fetch hundreds of times (a simulated week of refreshes) and test no HTTP."""

    def __init__(self) -> None:
        self.days: dict[str, list[dict[str, Any]]] = {}
        self.requests: list[dt.date] = []

    def set_day(self, day: dt.date | str, items: list[dict[str, Any]]) -> None:
        self.days[str(day)] = items

    async def daily_papers(self, day: dt.date) -> tuple[list[Paper], int]:
        self.requests.append(day)
        return parse_daily_items(self.days.get(day.isoformat(), []), source=f"memory:{day}")

    async def paper(self, paper_id: str, *, budget: float | None = None) -> Paper | None:
        for items in self.days.values():
            for item in items:
                if item["paper"]["id"] == paper_id:
                    return parse_paper(item)
        return None


class FakeClock:
    def __init__(self, now: dt.datetime) -> None:
        self.current = now

    def now(self) -> dt.datetime:
        return self.current

    def set(self, now: dt.datetime) -> None:
        self.current = now

    def advance(self, **delta: float) -> None:
        self.current += dt.timedelta(**delta)


@dataclass
class Published:
    channel: ChannelRef
    message: Outgoing
    thread: PostRef | None
    ref: PostRef

    @property
    def text(self) -> str:
        return self.message.text if isinstance(self.message, Notice) else self.message.title

    @property
    def paper_id(self) -> str | None:
        return self.message.paper_id if isinstance(self.message, Post) else None


@dataclass
class RecordingPublisher:
    """Records every message; can fail or hang the Nth publish."""

    platform: str = "test"
    who_manages: str = "channel managers"
    posts: list[Published] = field(default_factory=list)
    dms: list[tuple[UserRef, Outgoing]] = field(default_factory=list)
    fail_at: dict[int, BaseException] = field(default_factory=dict)
    hang_at: set[int] = field(default_factory=set)  # never answers, like a stalled platform
    dm_failures: int = 0  # how many of the next direct messages fail
    attempts: int = 0
    abandoned: int = 0  # hung publishes that the caller cancelled
    edits: list[tuple[PostRef, Post]] = field(default_factory=list)
    edit_failures: list[BaseException] = field(default_factory=list)  # raised by the next edits

    async def publish(
        self, channel: ChannelRef, message: Outgoing, *, thread: PostRef | None = None
    ) -> PostRef:
        self.attempts += 1
        if self.attempts in self.fail_at:
            raise self.fail_at[self.attempts]
        if self.attempts in self.hang_at:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.abandoned += 1
                raise
        ref = PostRef(channel, f"{self.platform}-msg-{self.attempts}", thread.message_id if thread else None)
        self.posts.append(Published(channel, message, thread, ref))
        return ref

    async def send_dm(self, user: UserRef, message: Outgoing) -> None:
        if self.dm_failures:
            self.dm_failures -= 1
            raise ConnectionResetError("DM failed")
        self.dms.append((user, message))

    def serves(self, channel: ChannelRef) -> bool:
        return True

    async def edit(self, post: PostRef, message: Post) -> None:
        if self.edit_failures:
            raise self.edit_failures.pop(0)
        self.edits.append((post, message))

    def paper_posts(self) -> list[Published]:
        return [p for p in self.posts if p.paper_id]


def gone(reason: str = "channel_not_found") -> ChannelUnavailable:
    return ChannelUnavailable(reason)


def sample_items(count: int, *, day: dt.date, start: int = 0) -> list[dict[str, Any]]:
    """`count` sample items re-dated to `day`, with distinct upvotes (count, count-1, …)."""
    items = copy.deepcopy(load_sample()[start : start + count])
    for offset, item in enumerate(items):
        item["publishedAt"] = f"{day.isoformat()}T08:00:00.000Z"
        item["paper"]["upvotes"] = count - offset
    return items
