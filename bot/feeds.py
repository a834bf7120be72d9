"""Atom feeds of digest channels: `/paper digest feed` gives a channel's feed URL, with an
unguessable token in it; the HTTP server (adapters/http.py) serves the channel's digest papers
of the last 30 days there; `/paper digest feed reset` replaces the token.

The token is kept as it is (not hashed) so that `/paper digest feed` can show the same URL again:
it guards a list of public papers, like a calendar's private address, and is never logged.
"""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import ColumnElement, and_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.atom import FeedEntry, atom_feed
from bot.deliveries import DELIVERIES, PAPER
from bot.dialect import insert_for
from bot.models import DigestFeedRow
from bot.ports import Clock
from bot.store import PaperStore
from bot.subscriptions import SubscriptionStore
from bot.types import ChannelRef, Command, Reply

FEEDS = DigestFeedRow.__table__  # type: ignore[attr-defined]
FEED_DAYS = 30
MAX_ENTRIES = 500  # 30 days of a 10-paper digest is about 220
FEED_PATH = "/feeds/"
FEED_USAGE = "digest feed [reset]"
NOT_SERVED = (
    "Feeds are served by paperboy's HTTP server, which this paperboy does not run: it runs with "
    "Slack or Discord, or when PAPERBOY_PUBLIC_URL is set (for this machine alone: "
    "PAPERBOY_PUBLIC_URL=http://localhost:3000)."
)


def _of(channel: ChannelRef) -> ColumnElement[bool]:
    return and_(
        FEEDS.c.platform == channel.platform,
        FEEDS.c.community == channel.community,
        FEEDS.c.channel == channel.channel,
    )


class DigestFeeds:
    def __init__(
        self, engine: AsyncEngine, *, store: PaperStore, subscriptions: SubscriptionStore, clock: Clock
    ) -> None:
        self.engine = engine
        self.store = store
        self.subscriptions = subscriptions
        self.clock = clock
        # Where the HTTP server is reachable (PAPERBOY_PUBLIC_URL, else its own address); set by
        # the composition root once the server listens. None: no server, no feeds.
        self.base_url: str | None = None

    def url(self, token: str) -> str:
        assert self.base_url is not None
        return f"{self.base_url.rstrip('/')}{FEED_PATH}{token}"

    # --- tokens -------------------------------------------------------------------------------

    async def token_for(self, channel: ChannelRef) -> str:
        """The channel's feed token, made on first use (one row per channel, whoever asks first)."""
        insert = insert_for(self.engine)(FEEDS).values(
            platform=channel.platform,
            community=channel.community,
            channel=channel.channel,
            token=secrets.token_urlsafe(32),
            created_at=self.clock.now(),
        )
        async with self.engine.begin() as conn:
            await conn.execute(insert.on_conflict_do_nothing())
            return str((await conn.execute(select(FEEDS.c.token).where(_of(channel)))).scalar_one())

    async def reset(self, channel: ChannelRef) -> str:
        """A new token for the channel: the old URL stops working at once."""
        await self.token_for(channel)
        token = secrets.token_urlsafe(32)
        async with self.engine.begin() as conn:
            await conn.execute(
                update(FEEDS).where(_of(channel)).values(token=token, created_at=self.clock.now())
            )
        return token

    async def channel_of(self, token: str) -> ChannelRef | None:
        if not token or len(token) > 64:
            return None
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(FEEDS.c.platform, FEEDS.c.community, FEEDS.c.channel).where(FEEDS.c.token == token)
                )
            ).first()
        return ChannelRef(row.platform, row.community, row.channel) if row else None

    # --- the feed -------------------------------------------------------------------------------

    async def entries(self, channel: ChannelRef) -> list[FeedEntry]:
        """The papers the channel's digest posted in the last FEED_DAYS days, newest first."""
        since = self.clock.now() - dt.timedelta(days=FEED_DAYS)
        stmt = (
            select(DELIVERIES.c.paper_id, DELIVERIES.c.digest_day, DELIVERIES.c.sent_at)
            .where(
                DELIVERIES.c.platform == channel.platform,
                DELIVERIES.c.community == channel.community,
                DELIVERIES.c.channel == channel.channel,
                DELIVERIES.c.kind == PAPER,
                DELIVERIES.c.message_id.is_not(None),  # not a message the platform refused
                DELIVERIES.c.sent_at >= since,
            )
            .order_by(DELIVERIES.c.sent_at.desc(), DELIVERIES.c.position)
            .limit(MAX_ENTRIES)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        papers = await self.store.get_papers([row.paper_id for row in rows])
        return [
            FeedEntry(papers[row.paper_id], row.sent_at, row.digest_day)
            for row in rows
            if row.paper_id in papers
        ]

    async def document(self, token: str) -> bytes | None:
        """The Atom document behind a feed URL's token; None for a token that is not (or no
        longer) a feed's."""
        channel = await self.channel_of(token)
        if channel is None or self.base_url is None:
            return None
        title = f"Hugging Face Daily Papers · paperboy digest of {channel.platform} channel {channel.channel}"
        return atom_feed(
            title=title, feed_url=self.url(token), entries=await self.entries(channel), now=self.clock.now()
        )

    # --- /paper digest feed ---------------------------------------------------------------------

    async def handle(self, command: Command, args: str) -> Reply:
        """`digest feed`: the URL, for anyone in the channel (the digest is theirs to read);
        `digest feed reset`: a new URL, for those who manage the digest."""
        action = args.strip().lower()
        if action not in {"", "reset"}:
            return Reply(f"Usage: /paper {FEED_USAGE}", ok=False)
        if self.base_url is None:
            return Reply(NOT_SERVED, ok=False)
        if await self.subscriptions.get(command.channel) is None:
            return Reply(
                "No digest in this channel, so no feed. A channel manager can start one with "
                "/paper digest here.",
                ok=False,
            )
        if action == "reset":
            url = self.url(await self.reset(command.channel))
            return Reply(
                f"New feed address for this channel's digest: {url}\nThe old address no longer works."
            )
        url = self.url(await self.token_for(command.channel))
        return Reply(
            f"This channel's digest as an Atom feed (the papers of the last {FEED_DAYS} days): {url}\n"
            "Anyone with the address can read it; /paper digest feed reset replaces it."
        )
