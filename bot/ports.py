"""The seams: what the core needs from adapters and from the clock. Fakes satisfy them in tests."""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from bot.types import ChannelRef, Notice, Paper, Post, PostRef, UserRef

Outgoing = Post | Notice


class ChannelUnavailable(Exception):
    """Posting to a channel failed for good (deleted, archived, bot removed, token revoked).

    The core pauses that channel's subscription instead of retrying: retrying such errors gets a
    bot rate-limited or banned (Discord bans IPs after 10,000 invalid requests in 10 minutes).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PublishFailed(Exception):
    """A send the platform refused or failed for now (an internal error, a 5xx): worth retrying.

    Adapters raise it with the platform's own short reason ("Slack said internal_error"), so the
    core can report a failure in one line; any other exception counts as transient too.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MessageRejected(Exception):
    """The platform will never take this message as it is (too long, malformed, even after the
    adapter's plainer fallbacks): trying again cannot help. The core leaves it out of the digest
    and says so, instead of retrying it at every run."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Publisher(Protocol):
    """The whole adapter contract; everything else is decided in the core."""

    platform: str
    who_manages: str  # who may change a digest, as the platform's users know them

    async def publish(
        self, channel: ChannelRef, message: Outgoing, *, thread: PostRef | None = None
    ) -> PostRef:
        """Post `message` in `channel` (in `thread`'s thread when given) and say where it went."""
        ...

    async def send_dm(self, user: UserRef, message: Outgoing) -> None: ...

    def serves(self, channel: ChannelRef) -> bool:
        """Whether this process schedules the channel's digest: a Discord cluster schedules only
        its shards' servers (any process can post anywhere, over REST)."""
        ...

    async def edit(self, post: PostRef, message: Post) -> None:
        """Replace a card this bot posted with `message` (its counts refreshed), in place: no
        new message, no notification. Raises ChannelUnavailable when the message is gone."""
        ...


class PaperSource(Protocol):
    """Where papers come from: Hugging Face (bot.source), or a fake in tests."""

    async def daily_papers(self, day: dt.date) -> tuple[list[Paper], int]:
        """`day`'s list in its order, and how many of its items could not be read."""
        ...

    async def paper(self, paper_id: str, *, budget: float | None = None) -> Paper | None:
        """One paper by id (None: unknown), within `budget` seconds when someone waits for it."""
        ...


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """The current time, timezone-aware."""
        ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)
