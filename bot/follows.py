"""Saved searches (`/paper follow`) and the alerts they raise when new papers land."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, delete, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.dialect import insert_for
from bot.hybrid import query_text
from bot.models import AlertClaimRow, SavedSearchRow
from bot.query import QueryError, SearchQuery, parse_query
from bot.search import MAX_LIMIT, PaperSearch
from bot.semantic import SemanticIndex
from bot.types import Alert, Paper, UserRef

SAVED = SavedSearchRow.__table__  # type: ignore[attr-defined]
CLAIMS = AlertClaimRow.__table__  # type: ignore[attr-defined]
MAX_PER_USER = 20


@dataclass(frozen=True, slots=True)
class SavedSearch:
    id: int
    user: UserRef
    query: str


class TooManySavedSearches(Exception):
    pass


class DuplicateSavedSearch(Exception):
    def __init__(self, number: int) -> None:
        super().__init__(number)
        self.number = number  # the existing search's number in `following`


def _user(user: UserRef) -> ColumnElement[bool]:
    return and_(
        SAVED.c.platform == user.platform, SAVED.c.community == user.community, SAVED.c.user_id == user.user
    )


def _claims_of(user: UserRef) -> ColumnElement[bool]:
    return and_(
        CLAIMS.c.platform == user.platform,
        CLAIMS.c.community == user.community,
        CLAIMS.c.user_id == user.user,
    )


def same_query(a: str, b: str) -> bool:
    """Two saved searches that find the same papers: `quantum -x` and `-x "Quantum"` alike."""
    try:
        return _meaning(parse_query(a)) == _meaning(parse_query(b))
    except QueryError:
        return a.casefold().split() == b.casefold().split()


def _meaning(query: SearchQuery) -> tuple[object, ...]:
    return (
        sorted(query.terms),
        sorted(query.excluded),
        sorted(query.authors),
        sorted(query.orgs),
        query.since,
        query.until,
        query.has_code,
    )


# A paper is sent for its meaning alone when it is at least this close to the search's words.
# A saved search is a few words, and few words reach lower cosines than a question: with the
# shipped model "picture editing" comes to a style-transfer paper at 0.24, while unrelated
# papers sit at 0.1-0.2. Such papers are marked "(related by meaning)" in the alert.
ALERT_MIN_COSINE = 0.22


class SavedSearches:
    def __init__(
        self, engine: AsyncEngine, search: PaperSearch, semantic: SemanticIndex | None = None
    ) -> None:
        self.engine = engine
        self.search = search
        self.semantic = semantic  # None: saved searches match by their words only
        self._insert = insert_for(engine)

    async def add(self, user: UserRef, query: str, *, now: dt.datetime) -> int:
        """Save `query` (already validated) for `user`; returns its number in `following`."""
        async with self.engine.begin() as conn:
            await self._lock_user(conn, user)
            existing = [
                row.query
                for row in await conn.execute(select(SAVED.c.query).where(_user(user)).order_by(SAVED.c.id))
            ]
            for number, saved in enumerate(existing, 1):
                if same_query(saved, query):
                    raise DuplicateSavedSearch(number)
            if len(existing) >= MAX_PER_USER:
                raise TooManySavedSearches
            await conn.execute(
                SAVED.insert().values(
                    platform=user.platform,
                    community=user.community,
                    user_id=user.user,
                    query=query,
                    created_at=now,
                )
            )
        return len(existing) + 1

    async def _lock_user(self, conn: AsyncConnection, user: UserRef) -> None:
        """Serialise one user's changes (a double-submitted `follow` must not save twice): the
        write lock on SQLite, a lock on the user's key until commit on PostgreSQL."""
        if self.engine.dialect.name == "sqlite":
            await conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            key = f"saved-searches\x1f{user.platform}\x1f{user.community}\x1f{user.user}"
            await conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key})

    async def of_user(self, user: UserRef) -> list[SavedSearch]:
        stmt = select(SAVED.c.id, SAVED.c.query).where(_user(user)).order_by(SAVED.c.id)
        async with self.engine.connect() as conn:
            return [SavedSearch(row.id, user, row.query) for row in await conn.execute(stmt)]

    async def remove(self, user: UserRef, number: int) -> str | None:
        """Remove the user's `number`th saved search (as `following` lists them)."""
        saved = await self.of_user(user)
        if not 1 <= number <= len(saved):
            return None
        target = saved[number - 1]
        async with self.engine.begin() as conn:
            await conn.execute(delete(SAVED).where(SAVED.c.id == target.id))
        return target.query

    async def alerts(
        self, listed: Mapping[str, dt.datetime], *, now: dt.datetime, platforms: Set[str]
    ) -> dict[UserRef, list[Alert]]:
        """Papers among `listed` (first listed at the time given) that match each user's saved
        searches, were listed once the search was saved, and were not sent to that user yet.

        Every match is returned, however many. Each (user, paper) is claimed before it is
        returned, so a user gets a paper at most once, whichever searches match and however many
        processes run the same refresh; it is listed under the first of the user's searches.
        """
        if not listed:
            return {}
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(select(SAVED).where(SAVED.c.platform.in_(platforms)).order_by(SAVED.c.id))
            ).all()
        wanted: dict[UserRef, dict[str, list[Paper]]] = defaultdict(dict)
        related: dict[tuple[UserRef, str], frozenset[str]] = {}  # found by meaning, per search
        for row in rows:
            try:
                query = parse_query(row.query)
            except QueryError:
                continue  # saved before a grammar change; `following` still shows it
            among = [paper_id for paper_id, when in listed.items() if when >= row.created_at]
            matches = await self._all_matches(query, among)
            matched = {paper.id for paper in matches}
            by_meaning = [p for p in await self._meaning_matches(query, among) if p.id not in matched]
            if matches or by_meaning:
                user = UserRef(row.platform, row.community, row.user_id)
                wanted[user][row.query] = matches + by_meaning
                related[(user, row.query)] = frozenset(p.id for p in by_meaning)
        found: dict[UserRef, list[Alert]] = {}
        for user, by_query in wanted.items():
            candidates = {paper.id for papers in by_query.values() for paper in papers}
            won = await self._claim(user, candidates, now)
            alerts = []
            for saved, papers in by_query.items():
                # Most upvoted first, as a digest lists them.
                ranked = sorted(papers, key=lambda paper: -(paper.upvotes or 0))
                mine = tuple(paper for paper in ranked if paper.id in won)
                won -= {paper.id for paper in mine}
                if mine:
                    meaning = related[(user, saved)] & {p.id for p in mine}
                    alerts.append(Alert(saved, mine, by_meaning=meaning))
            if alerts:
                found[user] = alerts
        return found

    async def _all_matches(self, query: SearchQuery, among: Sequence[str]) -> list[Paper]:
        """Every paper of `among` that matches, best first within each search's page."""
        papers: list[Paper] = []
        for start in range(0, len(among), MAX_LIMIT):
            chunk = among[start : start + MAX_LIMIT]
            results = await self.search.search(query, limit=MAX_LIMIT, among=chunk)
            papers += results.papers
        return papers

    async def _meaning_matches(self, query: SearchQuery, among: Sequence[str]) -> list[Paper]:
        """Papers of `among` close in meaning to the search's words (cosine ≥ ALERT_MIN_COSINE,
        stricter than search's: an alert interrupts), its filters applied exactly."""
        if self.semantic is None or not query.terms or not among:
            return []
        close = await self.semantic.close_to(query_text(query), among, minimum=ALERT_MIN_COSINE)
        return await self.search.filtered(query, close) if close else []

    async def release(self, user: UserRef, paper_ids: Sequence[str]) -> None:
        """Give back the claims of an alert that could not be delivered, for the next refresh."""
        async with self.engine.begin() as conn:
            await conn.execute(delete(CLAIMS).where(_claims_of(user), CLAIMS.c.paper_id.in_(list(paper_ids))))

    async def _claim(self, user: UserRef, paper_ids: set[str], now: dt.datetime) -> set[str]:
        """The papers of `paper_ids` this caller may send to `user` (claimed by no one before)."""
        if not paper_ids:
            return set()
        rows = [
            {
                "platform": user.platform,
                "community": user.community,
                "user_id": user.user,
                "paper_id": paper_id,
                "notified_at": now,
            }
            for paper_id in sorted(paper_ids)
        ]
        stmt = self._insert(CLAIMS).values(rows).on_conflict_do_nothing().returning(CLAIMS.c.paper_id)
        async with self.engine.begin() as conn:
            return set((await conn.execute(stmt)).scalars())
