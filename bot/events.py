"""Deduplication of platform events by id: a retried delivery is recognised and ignored."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.dialect import insert_for
from bot.models import ProcessedEventRow

EVENTS = ProcessedEventRow.__table__  # type: ignore[attr-defined]
# Slack retries for about five minutes; a day is plenty, and bounds the table.
KEEP = dt.timedelta(days=1)


class EventLog:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._insert = insert_for(engine)
        self._last_prune: dt.datetime | None = None

    async def first_time(self, platform: str, event_id: str, *, now: dt.datetime) -> bool:
        """True the first time an event id is seen (in any process sharing the database)."""
        stmt = (
            self._insert(EVENTS)
            .values(platform=platform, event_id=event_id[:128], received_at=now)
            .on_conflict_do_nothing()
            .returning(EVENTS.c.event_id)
        )
        async with self.engine.begin() as conn:
            fresh = (await conn.execute(stmt)).scalar() is not None
            if self._last_prune is None or now - self._last_prune > dt.timedelta(hours=1):
                await conn.execute(delete(EVENTS).where(EVENTS.c.received_at < now - KEEP))
                self._last_prune = now
        return fresh
