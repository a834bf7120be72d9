"""Named leases in the database, so that several processes on one PostgreSQL share the work:
one holds "leader" (the refresh, alerts and recaps run there), one holds each digest while it
sends it. A lease is a row with its owner and expiry: taking it is one upsert that succeeds when
the row is new, expired or already ours, so a process that dies loses its leases when they
expire, with no connection held open meanwhile. On SQLite (one process) they are always ours.
"""

from __future__ import annotations

import datetime as dt
import os
import socket

from sqlalchemy import ColumnElement, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.dialect import insert_for
from bot.models import LeaseRow, ProcessRow

LEASES = LeaseRow.__table__  # type: ignore[attr-defined]
PROCESSES = ProcessRow.__table__  # type: ignore[attr-defined]
LEADER = "leader"


class Leases:
    def __init__(self, engine: AsyncEngine, owner: str) -> None:
        self.engine = engine
        self.owner = owner
        self._insert = insert_for(engine)

    async def take(self, name: str, *, ttl: dt.timedelta, now: dt.datetime) -> bool:
        """Take or renew the lease `name` until now + ttl; False while another process holds it."""
        return await self._upsert(
            name, ttl, now, when=or_(LEASES.c.owner == self.owner, LEASES.c.expires_at < now)
        )

    async def take_turn(self, name: str, *, ttl: dt.timedelta, now: dt.datetime) -> bool:
        """Take `name` only once its last holder's turn has run out, whoever held it (ours
        too): one turn per `ttl` across every process."""
        return await self._upsert(name, ttl, now, when=LEASES.c.expires_at < now)

    async def _upsert(
        self, name: str, ttl: dt.timedelta, now: dt.datetime, *, when: ColumnElement[bool]
    ) -> bool:
        """One statement: the row is new, or taken over `when` the existing one allows it."""
        stmt = self._insert(LEASES).values(name=name, owner=self.owner, expires_at=now + ttl)
        stmt = stmt.on_conflict_do_update(
            index_elements=[LEASES.c.name], set_={"owner": self.owner, "expires_at": now + ttl}, where=when
        ).returning(LEASES.c.owner)
        async with self.engine.begin() as conn:
            return (await conn.execute(stmt)).scalar() == self.owner

    async def give_up(self, name: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(delete(LEASES).where(LEASES.c.name == name, LEASES.c.owner == self.owner))

    async def holder(self, name: str, *, now: dt.datetime) -> str | None:
        async with self.engine.connect() as conn:
            return (
                await conn.execute(
                    select(LEASES.c.owner).where(LEASES.c.name == name, LEASES.c.expires_at >= now)
                )
            ).scalar()

    # --- heartbeats -------------------------------------------------------------------------------

    async def beat(self, *, started: dt.datetime, now: dt.datetime) -> None:
        """Say this process is alive (`paperboy status`)."""
        stmt = self._insert(PROCESSES).values(
            id=self.owner, host=socket.gethostname()[:255], pid=os.getpid(), started_at=started, last_seen=now
        )
        stmt = stmt.on_conflict_do_update(index_elements=[PROCESSES.c.id], set_={"last_seen": now})
        async with self.engine.begin() as conn:
            await conn.execute(stmt)
            # Processes silent for a day are forgotten.
            await conn.execute(delete(PROCESSES).where(PROCESSES.c.last_seen < now - dt.timedelta(days=1)))

    async def stopped(self) -> None:
        """A clean stop: this process's row and leases go at once (no wait for expiry)."""
        async with self.engine.begin() as conn:
            await conn.execute(delete(PROCESSES).where(PROCESSES.c.id == self.owner))
            await conn.execute(delete(LEASES).where(LEASES.c.owner == self.owner))
