"""Each user's reading list: the papers they saved (`/paper save`, a card's Save button)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, and_, delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.dialect import insert_for
from bot.models import ReadingListRow
from bot.types import UserRef

READING_LIST = ReadingListRow.__table__  # type: ignore[attr-defined]
MAX_SAVED = 1_000  # per user: a list, not an archive; BibTeX exports stay a reasonable size


class ReadingListFull(Exception):
    pass


def _of(user: UserRef) -> ColumnElement[bool]:
    return and_(
        READING_LIST.c.platform == user.platform,
        READING_LIST.c.community == user.community,
        READING_LIST.c.user_id == user.user,
    )


class ReadingLists:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def toggle(self, user: UserRef, paper_id: str, *, now: dt.datetime) -> bool:
        """Save the paper, or take it out if it was saved; True when it is saved now. One
        transaction, so two presses arriving together leave it saved or not, never both."""
        async with self.engine.begin() as conn:
            removed = await conn.execute(
                delete(READING_LIST).where(_of(user), READING_LIST.c.paper_id == paper_id)
            )
            if removed.rowcount:
                return False
            count = (await conn.execute(select(func.count()).where(_of(user)))).scalar_one()
            if count >= MAX_SAVED:
                raise ReadingListFull
            insert = insert_for(self.engine)(READING_LIST).values(
                platform=user.platform,
                community=user.community,
                user_id=user.user,
                paper_id=paper_id,
                saved_at=now,
            )
            await conn.execute(insert.on_conflict_do_nothing())
            return True

    async def remove(self, user: UserRef, paper_id: str) -> bool:
        async with self.engine.begin() as conn:
            removed = await conn.execute(
                delete(READING_LIST).where(_of(user), READING_LIST.c.paper_id == paper_id)
            )
        return bool(removed.rowcount)

    async def of_user(self, user: UserRef) -> list[str]:
        """The user's saved paper ids, latest saved first."""
        stmt = (
            select(READING_LIST.c.paper_id)
            .where(_of(user))
            .order_by(READING_LIST.c.saved_at.desc(), READING_LIST.c.paper_id)
        )
        async with self.engine.connect() as conn:
            return list((await conn.execute(stmt)).scalars())
