"""Exactly-once posting: each digest message is claimed under a unique key before it is sent.

Claim = INSERT … ON CONFLICT DO NOTHING RETURNING: only one process gets the row. After sending,
the row is marked sent with the platform's message id. A claim whose sender died (never marked
sent) can be taken over once its lease has run out. A failed send releases its claim at once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.dialect import insert_for
from bot.models import DeliveryRow
from bot.types import ChannelRef, PostRef

DELIVERIES = DeliveryRow.__table__  # type: ignore[attr-defined]
CLAIM_LEASE = dt.timedelta(minutes=5)  # the default of PAPERBOY_CLAIM_LEASE_SECONDS
RELEASED = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)  # a released claim is stale for everyone

HEADER = "header"
PAPER = "paper"
RECAP = "recap"


@dataclass(frozen=True, slots=True)
class Delivery:
    kind: str
    paper_id: str
    position: int
    message_id: str | None
    thread_id: str | None
    claimed_at: dt.datetime
    sent_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class PostedPaper:
    """What a message the bot posted was about."""

    community: str
    paper_id: str
    digest_day: dt.date


def _key(channel: ChannelRef, day: dt.date, kind: str, paper_id: str) -> Any:
    return and_(
        DELIVERIES.c.platform == channel.platform,
        DELIVERIES.c.community == channel.community,
        DELIVERIES.c.channel == channel.channel,
        DELIVERIES.c.digest_day == day,
        DELIVERIES.c.kind == kind,
        DELIVERIES.c.paper_id == paper_id,
    )


class DeliveryLedger:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        lease: dt.timedelta = CLAIM_LEASE,
        publish_timeout: dt.timedelta | None = None,
    ) -> None:
        self.engine = engine
        self.lease = lease
        self.publish_timeout = publish_timeout if publish_timeout is not None else lease / 2
        self._insert = insert_for(engine)

    async def claim(
        self,
        channel: ChannelRef,
        day: dt.date,
        kind: str,
        paper_id: str = "",
        *,
        position: int = 0,
        owner: str,
        now: dt.datetime,
    ) -> int | None:
        """The claim's id when this caller may send the message, None when someone else has it."""
        values = {
            "platform": channel.platform,
            "community": channel.community,
            "channel": channel.channel,
            "digest_day": day,
            "kind": kind,
            "paper_id": paper_id,
            "position": position,
            "claimed_by": owner,
            "claimed_at": now,
        }
        stmt = self._insert(DELIVERIES).values(**values).on_conflict_do_nothing().returning(DELIVERIES.c.id)
        takeover = (
            update(DELIVERIES)
            .where(
                _key(channel, day, kind, paper_id),
                DELIVERIES.c.sent_at.is_(None),
                or_(DELIVERIES.c.claimed_by == owner, DELIVERIES.c.claimed_at < now - self.lease),
            )
            .values(claimed_by=owner, claimed_at=now)
            .returning(DELIVERIES.c.id)
        )
        async with self.engine.begin() as conn:
            claimed = (await conn.execute(stmt)).scalar()
            if claimed is None:
                claimed = (await conn.execute(takeover)).scalar()
        return int(claimed) if claimed is not None else None

    async def claim_plan(
        self,
        channel: ChannelRef,
        day: dt.date,
        paper_ids: list[str],
        *,
        owner: str,
        now: dt.datetime,
    ) -> bool:
        """Claim a digest's header and all its papers in one transaction, or nothing at all.

        One transaction, so that a crash can never leave a header whose papers were never
        planned: a later run resumes exactly this plan.
        """
        base = {
            "platform": channel.platform,
            "community": channel.community,
            "channel": channel.channel,
            "digest_day": day,
            "claimed_by": owner,
            "claimed_at": now,
        }
        header = (
            self._insert(DELIVERIES)
            .values(**base, kind=HEADER, paper_id="", position=0)
            .on_conflict_do_nothing()
            .returning(DELIVERIES.c.id)
        )
        async with self.engine.begin() as conn:
            if (await conn.execute(header)).scalar() is None:
                return False
            if paper_ids:
                rows = [
                    {**base, "kind": PAPER, "paper_id": paper_id, "position": position}
                    for position, paper_id in enumerate(paper_ids, 1)
                ]
                await conn.execute(self._insert(DELIVERIES).on_conflict_do_nothing(), rows)
        return True

    async def mark_sent(
        self, claim: int, ref: PostRef, *, owner: str, now: dt.datetime, counts: str | None = None
    ) -> bool:
        """Record the sent message (and a card's counts as shown, for live counts); False when
        the claim is no longer `owner`'s (taken over)."""
        async with self.engine.begin() as conn:
            marked = (
                await conn.execute(
                    update(DELIVERIES)
                    .where(DELIVERIES.c.id == claim, DELIVERIES.c.claimed_by == owner)
                    .values(message_id=ref.message_id, thread_id=ref.thread, sent_at=now, shown_counts=counts)
                    .returning(DELIVERIES.c.id)
                )
            ).scalar()
        return marked is not None

    async def mark_skipped(self, claim: int, *, owner: str, now: dt.datetime) -> None:
        """Record a message the platform refused for good as done, without a message id."""
        async with self.engine.begin() as conn:
            await conn.execute(
                update(DELIVERIES)
                .where(DELIVERIES.c.id == claim, DELIVERIES.c.claimed_by == owner)
                .values(sent_at=now)
            )

    async def release(self, claim: int) -> None:
        """Give up an unsent claim so that the next run, in any process, sends it."""
        async with self.engine.begin() as conn:
            await conn.execute(
                update(DELIVERIES)
                .where(DELIVERIES.c.id == claim, DELIVERIES.c.sent_at.is_(None))
                .values(claimed_by="", claimed_at=RELEASED)
            )

    async def release_unsent(self, channel: ChannelRef, day: dt.date, *, owner: str) -> None:
        """Give up every unsent claim `owner` holds on a channel's day: a run that stops early
        (a failed send, a paused channel) lets the next run, in any process, resume at once
        instead of after the lease."""
        async with self.engine.begin() as conn:
            await conn.execute(
                update(DELIVERIES)
                .where(
                    DELIVERIES.c.platform == channel.platform,
                    DELIVERIES.c.community == channel.community,
                    DELIVERIES.c.channel == channel.channel,
                    DELIVERIES.c.digest_day == day,
                    DELIVERIES.c.sent_at.is_(None),
                    DELIVERIES.c.claimed_by == owner,
                )
                .values(claimed_by="", claimed_at=RELEASED)
            )

    async def of_day(self, channel: ChannelRef, day: dt.date) -> list[Delivery]:
        stmt = select(DELIVERIES).where(
            DELIVERIES.c.platform == channel.platform,
            DELIVERIES.c.community == channel.community,
            DELIVERIES.c.channel == channel.channel,
            DELIVERIES.c.digest_day == day,
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [
            Delivery(
                kind=r.kind,
                paper_id=r.paper_id,
                position=r.position,
                message_id=r.message_id,
                thread_id=r.thread_id,
                claimed_at=r.claimed_at,
                sent_at=r.sent_at,
            )
            for r in rows
        ]

    async def posted_paper(self, platform: str, channel: str, message_id: str) -> PostedPaper | None:
        """The paper behind a message this bot posted, or None for any other message."""
        # A reaction in a thread names the thread as its channel (on Discord the thread's id is
        # the header message's id), so a post matches by its channel or by its thread.
        stmt = select(DELIVERIES.c.community, DELIVERIES.c.paper_id, DELIVERIES.c.digest_day).where(
            DELIVERIES.c.platform == platform,
            or_(DELIVERIES.c.channel == channel, DELIVERIES.c.thread_id == channel),
            DELIVERIES.c.message_id == message_id,
            DELIVERIES.c.kind == PAPER,
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(stmt)).first()
        return PostedPaper(row.community, row.paper_id, row.digest_day) if row else None
