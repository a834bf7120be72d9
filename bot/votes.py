"""Votes: reactions on paper messages the bot posted, per community, with hashed user ids."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import and_, delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.deliveries import DeliveryLedger, PostedPaper
from bot.dialect import insert_for
from bot.events import EventLog
from bot.models import AppSecretRow, ReactionRow
from bot.ports import Clock
from bot.reactions import normalize_emoji
from bot.types import PostRef, Reaction, UserRef, Vote

REACTIONS = ReactionRow.__table__  # type: ignore[attr-defined]
SECRETS = AppSecretRow.__table__  # type: ignore[attr-defined]
UP = "up"
DOWN = "down"
VOTE_KEY_NAME = "vote_hmac_key"


async def load_vote_key(engine: AsyncEngine, configured: str | None) -> bytes:
    """The HMAC key for user ids: from the settings, else generated once into the database."""
    if configured:
        return configured.encode()
    insert = insert_for(engine)
    async with engine.begin() as conn:
        await conn.execute(
            insert(SECRETS).values(name=VOTE_KEY_NAME, value=secrets.token_hex(32)).on_conflict_do_nothing()
        )
        value = (await conn.execute(select(SECRETS.c.value).where(SECRETS.c.name == VOTE_KEY_NAME))).scalar()
    assert isinstance(value, str)
    return value.encode()


# /paper top and its BibTeX export: the votes cast in the last 7 or 30 days, or ever.
PERIODS: dict[str, int | None] = {"week": 7, "month": 30, "all": None}


@dataclass(frozen=True, slots=True)
class Tally:
    paper_id: str
    up: int
    down: int


class VoteBook:
    def __init__(self, engine: AsyncEngine, *, key: bytes) -> None:
        self.engine = engine
        self._key = key
        self._insert = insert_for(engine)

    def user_hash(self, user: UserRef) -> str:
        message = f"{user.platform}\x1f{user.community}\x1f{user.user}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    async def record(
        self,
        *,
        post: PostRef,
        posted: PostedPaper,
        user: UserRef,
        kind: str,
        emoji: str,
        added: bool,
        now: dt.datetime,
    ) -> bool:
        """Add or remove one user's reaction; duplicates and unknown removals change nothing
        (False).

        The reaction is kept by its emoji as reacted (`emoji`), so that removing 👍🏽 leaves the
        vote a 👍 by the same user still makes.
        """
        emoji = emoji[:64]
        user_hash = self.user_hash(user)
        async with self.engine.begin() as conn:
            if added:
                result = await conn.execute(
                    self._insert(REACTIONS)
                    .values(
                        platform=post.channel.platform,
                        community=posted.community,
                        channel=post.channel.channel,
                        message_id=post.message_id,
                        paper_id=posted.paper_id,
                        digest_day=posted.digest_day,
                        user_hash=user_hash,
                        kind=kind,
                        emoji=emoji,
                        created_at=now,
                    )
                    .on_conflict_do_nothing()
                    .returning(REACTIONS.c.id)
                )
                return result.scalar() is not None
            else:
                result = await conn.execute(
                    delete(REACTIONS).where(
                        REACTIONS.c.platform == post.channel.platform,
                        REACTIONS.c.channel == post.channel.channel,
                        REACTIONS.c.message_id == post.message_id,
                        REACTIONS.c.user_hash == user_hash,
                        REACTIONS.c.kind == kind,
                        REACTIONS.c.emoji.in_([emoji, ""]),  # "": rows from before revision 0006
                    )
                )
        return bool(result.rowcount)

    async def top(
        self,
        platform: str,
        community: str,
        *,
        since: dt.date | None = None,
        limit: int,
        cast_since: dt.datetime | None = None,
        cast_before: dt.datetime | None = None,
    ) -> list[Tally]:
        """Papers this community voted for, most 👍 first (a user counts once per paper):
        papers of digests since `since`, and/or votes cast since `cast_since`."""
        voters = func.count(func.distinct(REACTIONS.c.user_hash))
        conditions = [REACTIONS.c.platform == platform, REACTIONS.c.community == community]
        if since:
            conditions.append(REACTIONS.c.digest_day >= since)
        if cast_since:
            conditions.append(REACTIONS.c.created_at >= cast_since)
        if cast_before:
            conditions.append(REACTIONS.c.created_at < cast_before)
        stmt = (
            select(REACTIONS.c.paper_id, voters.label("up"))
            .where(and_(*conditions, REACTIONS.c.kind == UP))
            .group_by(REACTIONS.c.paper_id)
            .order_by(voters.desc(), REACTIONS.c.paper_id.desc())
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            ups = [(row.paper_id, int(row.up)) for row in await conn.execute(stmt)]
            if not ups:
                return []
            downs_stmt = (
                select(REACTIONS.c.paper_id, voters.label("down"))
                .where(
                    and_(*conditions, REACTIONS.c.kind == DOWN),
                    REACTIONS.c.paper_id.in_([paper for paper, _ in ups]),
                )
                .group_by(REACTIONS.c.paper_id)
            )
            downs = {row.paper_id: int(row.down) for row in await conn.execute(downs_stmt)}
        return [Tally(paper, up, downs.get(paper, 0)) for paper, up in ups]

    async def leanings(self, platform: str, community: str) -> list[Tally]:
        """Every paper this community voted on, with its 👍 and 👎 voters: what it likes."""
        voters = func.count(func.distinct(REACTIONS.c.user_hash))
        stmt = (
            select(REACTIONS.c.paper_id, REACTIONS.c.kind, voters.label("n"))
            .where(REACTIONS.c.platform == platform, REACTIONS.c.community == community)
            .group_by(REACTIONS.c.paper_id, REACTIONS.c.kind)
        )
        counts: dict[str, dict[str, int]] = {}
        async with self.engine.connect() as conn:
            for row in await conn.execute(stmt):
                counts.setdefault(row.paper_id, {})[row.kind] = int(row.n)
        return [Tally(paper, kinds.get(UP, 0), kinds.get(DOWN, 0)) for paper, kinds in sorted(counts.items())]

    async def tally(self, platform: str, community: str, paper_id: str) -> Tally:
        voters = func.count(func.distinct(REACTIONS.c.user_hash))
        stmt = (
            select(REACTIONS.c.kind, voters.label("n"))
            .where(
                REACTIONS.c.platform == platform,
                REACTIONS.c.community == community,
                REACTIONS.c.paper_id == paper_id,
            )
            .group_by(REACTIONS.c.kind)
        )
        async with self.engine.connect() as conn:
            counts = {row.kind: int(row.n) for row in await conn.execute(stmt)}
        return Tally(paper_id, counts.get(UP, 0), counts.get(DOWN, 0))


class ReactionCounter:
    """Reactions on the bot's paper messages, counted as votes; everything else ignored."""

    def __init__(
        self,
        *,
        ledger: DeliveryLedger,
        votes: VoteBook,
        events: EventLog,
        clock: Clock,
        vote_emoji: frozenset[str],
        down_emoji: frozenset[str],
    ) -> None:
        self.ledger = ledger
        self.votes = votes
        self.events = events
        self.clock = clock
        self.vote_emoji = frozenset(normalize_emoji(e) for e in vote_emoji)
        self.down_emoji = frozenset(normalize_emoji(e) for e in down_emoji)

    async def handle(self, reaction: Reaction) -> Vote | None:
        """Count a reaction on a paper message this bot posted; None for anything else."""
        if reaction.by_bot:
            return None
        platform = reaction.post.channel.platform
        if reaction.event_id and not await self.events.first_time(
            platform, reaction.event_id, now=self.clock.now()
        ):
            return None  # a retried delivery of an event already handled
        emoji = normalize_emoji(reaction.emoji)
        kind = UP if emoji in self.vote_emoji else DOWN if emoji in self.down_emoji else None
        if kind is None:
            return None
        post = reaction.post
        posted = await self.ledger.posted_paper(post.channel.platform, post.channel.channel, post.message_id)
        if posted is None:
            return None
        changed = await self.votes.record(
            post=post,
            posted=posted,
            user=reaction.user,
            kind=kind,
            emoji=reaction.emoji.strip(),
            added=reaction.added,
            now=self.clock.now(),
        )
        return Vote(
            paper_id=posted.paper_id,
            community=posted.community,
            kind=kind,
            added=reaction.added,
            changed=changed,
        )

    async def tally(self, platform: str, community: str, paper_id: str) -> Tally:
        """A paper's 👍 and 👎 count in one community."""
        return await self.votes.tally(platform, community, paper_id)
