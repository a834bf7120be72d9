"""Live counts: a digest card's Hugging Face upvotes and comments and this community's 👍 count,
refreshed in place for two days after it was posted (Slack chat.update, a Discord message edit),
never as a new message.

It runs after each refresh of the lists, when the upvotes have just been read again. Only cards
whose counts changed are edited, each by one process: the new counts are claimed in the ledger
(a conditional UPDATE) before the edit, and given back if the edit failed, so that the next run
tries again. The platforms' pacing in the adapters keeps the edits within their rate limits.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

from sqlalchemy import and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.cards import counts_key, paper_card, shown_counts
from bot.deliveries import DELIVERIES, PAPER
from bot.ports import ChannelUnavailable, Clock
from bot.publishers import Publishers
from bot.store import PAPERS, PaperStore
from bot.types import ChannelRef, PostRef
from bot.votes import REACTIONS, UP

log = logging.getLogger(__name__)

LIVE_FOR = dt.timedelta(days=2)
MAX_EDITS = 1_000  # per run: a run stays bounded; what is left waits for the next refresh


class LiveCounts:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        store: PaperStore,
        publishers: Publishers,
        clock: Clock,
    ) -> None:
        self.engine = engine
        self.store = store
        self.publishers = publishers
        self.clock = clock

    async def update(self) -> int:
        """Edit every card of the last two days whose counts changed; how many were edited.
        One query when nothing changed (it runs after every refresh)."""
        platforms = sorted(p for p in self.publishers.platforms() if self.publishers.get(p) is not None)
        if not platforms:
            return 0
        ups = (
            select(func.count(func.distinct(REACTIONS.c.user_hash)))
            .where(
                REACTIONS.c.platform == DELIVERIES.c.platform,
                REACTIONS.c.community == DELIVERIES.c.community,
                REACTIONS.c.paper_id == DELIVERIES.c.paper_id,
                REACTIONS.c.kind == UP,
            )
            .scalar_subquery()
        )
        stmt = (
            select(
                DELIVERIES.c.id,
                DELIVERIES.c.platform,
                DELIVERIES.c.community,
                DELIVERIES.c.channel,
                DELIVERIES.c.message_id,
                DELIVERIES.c.thread_id,
                DELIVERIES.c.paper_id,
                DELIVERIES.c.shown_counts,
                PAPERS.c.upvotes,
                PAPERS.c.comments,
                ups.label("votes"),
            )
            .join(PAPERS, PAPERS.c.id == DELIVERIES.c.paper_id)
            .where(
                DELIVERIES.c.kind == PAPER,
                DELIVERIES.c.sent_at >= self.clock.now() - LIVE_FOR,
                DELIVERIES.c.message_id.is_not(None),
                DELIVERIES.c.platform.in_(platforms),
            )
            .order_by(DELIVERIES.c.sent_at, DELIVERIES.c.id)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        changed = [
            row for row in rows if counts_key(row.upvotes, row.comments, row.votes) != row.shown_counts
        ][:MAX_EDITS]
        papers = await self.store.get_papers(sorted({row.paper_id for row in changed}))
        edited = 0
        for row in changed:
            paper = papers.get(row.paper_id)
            if paper is None:
                continue
            card = dataclasses.replace(paper_card(paper), votes=int(row.votes))
            counts = shown_counts(card)
            if counts == row.shown_counts or not await self._swap(row.id, row.shown_counts, counts):
                continue  # unchanged after all, or another process is editing it
            publisher = self.publishers.get(row.platform)
            assert publisher is not None
            channel = ChannelRef(row.platform, row.community, row.channel)
            try:
                await publisher.edit(PostRef(channel, row.message_id, row.thread_id), card)
            except ChannelUnavailable as exc:
                log.info("card of %s in %s is gone (%s); its counts stay", paper.id, row.channel, exc.reason)
                continue
            except Exception as exc:
                log.warning("refreshing the counts of %s in %s failed: %s", paper.id, row.channel, exc)
                await self._swap(row.id, counts, row.shown_counts)  # the next run tries again
                continue
            edited += 1
        return edited

    async def _swap(self, delivery: int, old: str | None, new: str | None) -> bool:
        """Set a card's shown counts from `old` to `new`; False when they are no longer `old`."""
        was = DELIVERIES.c.shown_counts.is_(None) if old is None else DELIVERIES.c.shown_counts == old
        async with self.engine.begin() as conn:
            swapped = await conn.execute(
                update(DELIVERIES).where(and_(DELIVERIES.c.id == delivery, was)).values(shown_counts=new)
            )
        return bool(swapped.rowcount)
