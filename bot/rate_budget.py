"""A request budget shared by every process of a deployment, in the database.

Discord allows a bot 50 requests a second whichever process sends them; each process paces
its own requests (adapters.pacing.Pacer) and, with several processes, reserves its slots here
first. A reservation is one upsert that moves the budget's next free slot on by `slots`
intervals and answers how long to wait for the first of them, all in the database's clock so
that processes on hosts whose clocks differ still take turns.
"""

from __future__ import annotations

from sqlalchemy import Float, bindparam, func, literal_column
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.dialect import insert_for
from bot.models import RateBudgetRow

RATE_BUDGETS = RateBudgetRow.__table__  # type: ignore[attr-defined]


class RateBudget:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._insert = insert_for(engine)
        if engine.dialect.name == "postgresql":
            self._now = literal_column("extract(epoch from clock_timestamp())", Float)
        else:
            self._now = literal_column("((julianday('now') - 2440587.5) * 86400.0)", Float)
        # SQLite's max of two values is PostgreSQL's greatest.
        self._later = func.greatest if engine.dialect.name == "postgresql" else func.max

    async def reserve(self, name: str, slots: int, *, interval: float) -> float:
        """Reserve the next `slots` slots, `interval` seconds apart, of budget `name`: seconds
        until the first of them (0 when the budget is idle)."""
        span = bindparam("span", slots * interval, type_=Float)
        stmt = self._insert(RATE_BUDGETS).values(name=name, next_at=self._now + span)
        stmt = stmt.on_conflict_do_update(
            index_elements=[RATE_BUDGETS.c.name],
            set_={"next_at": self._later(RATE_BUDGETS.c.next_at, self._now) + span},
        )
        stmt = stmt.returning(RATE_BUDGETS.c.next_at - span - self._now)
        async with self.engine.begin() as conn:
            wait = (await conn.execute(stmt)).scalar_one()
        return max(0.0, float(wait))
