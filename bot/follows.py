"""Saved searches (`/paper follow`) and the alerts they raise when new papers land."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.models import SavedSearchHitRow, SavedSearchRow
from bot.query import QueryError, parse_query
from bot.search import PaperSearch
from bot.types import Paper, UserRef

SAVED = SavedSearchRow.__table__  # type: ignore[attr-defined]
HITS = SavedSearchHitRow.__table__  # type: ignore[attr-defined]
MAX_PER_USER = 20
MAX_ALERT_PAPERS = 20


@dataclass(frozen=True, slots=True)
class SavedSearch:
    id: int
    user: UserRef
    query: str


class TooManySavedSearches(Exception):
    pass


def _user(user: UserRef) -> ColumnElement[bool]:
    return and_(
        SAVED.c.platform == user.platform, SAVED.c.community == user.community, SAVED.c.user_id == user.user
    )


class SavedSearches:
    def __init__(self, engine: AsyncEngine, search: PaperSearch) -> None:
        self.engine = engine
        self.search = search
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    async def add(self, user: UserRef, query: str, *, now: dt.datetime) -> int:
        """Save `query` (already validated) for `user`; returns its number in `following`."""
        async with self.engine.begin() as conn:
            count = (await conn.execute(select(func.count()).select_from(SAVED).where(_user(user)))).scalar()
            if int(count or 0) >= MAX_PER_USER:
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
        return int(count or 0) + 1

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
            await conn.execute(delete(HITS).where(HITS.c.saved_search_id == target.id))
            await conn.execute(delete(SAVED).where(SAVED.c.id == target.id))
        return target.query

    async def alerts(
        self, listed: Mapping[str, dt.datetime], *, now: dt.datetime, platforms: Set[str]
    ) -> dict[UserRef, list[Paper]]:
        """Papers among `listed` (first listed at the time given) that match each user's saved
        searches, were listed once the search was saved, and were not sent yet.

        Each (search, paper) pair is claimed before it is returned, so a paper is alerted at
        most once even when two bot processes run the same refresh.
        """
        if not listed:
            return {}
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(select(SAVED).where(SAVED.c.platform.in_(platforms)).order_by(SAVED.c.id))
            ).all()
        found: dict[UserRef, dict[str, Paper]] = defaultdict(dict)
        for row in rows:
            try:
                query = parse_query(row.query)
            except QueryError:
                continue  # saved before a grammar change; `following` still shows it
            among = [paper_id for paper_id, when in listed.items() if when >= row.created_at]
            if not among:
                continue
            results = await self.search.search(query, limit=MAX_ALERT_PAPERS, among=among)
            user = UserRef(row.platform, row.community, row.user_id)
            for paper in results.papers:
                # Claimed for every search it matches, so no later run offers it again; listed once.
                if await self._claim(row.id, paper.id, now) and paper.id not in found[user]:
                    found[user][paper.id] = paper
        return {user: list(papers.values()) for user, papers in found.items() if papers}

    async def release(self, user: UserRef, paper_ids: Sequence[str]) -> None:
        """Give back the claims of an alert that could not be delivered, for the next refresh."""
        searches = select(SAVED.c.id).where(_user(user)).scalar_subquery()
        async with self.engine.begin() as conn:
            await conn.execute(
                delete(HITS).where(HITS.c.saved_search_id.in_(searches), HITS.c.paper_id.in_(list(paper_ids)))
            )

    async def _claim(self, saved_search_id: int, paper_id: str, now: dt.datetime) -> bool:
        stmt = (
            self._insert(HITS)
            .values(saved_search_id=saved_search_id, paper_id=paper_id, notified_at=now)
            .on_conflict_do_nothing()
            .returning(HITS.c.paper_id)
        )
        async with self.engine.begin() as conn:
            return (await conn.execute(stmt)).scalar() is not None
