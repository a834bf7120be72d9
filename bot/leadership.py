"""One leader among the processes sharing a database: the refresh from Hugging Face, the alerts,
the catch-up and live counts run there, once, instead of in every process.

Every process beats every quarter of the refresh interval: the leader renews its lease (half an
interval long), the others try to take it. A leader that dies is replaced within
lease + beat < one refresh interval, and the new leader refreshes at once (its catch-up repairs
what was missed). Digests still run in every process at their time, one sender each by their own
lease (bot.digest). On SQLite there is one process, which is always the leader.
"""

from __future__ import annotations

import datetime as dt
import logging

from bot.leases import LEADER, Leases
from bot.ports import Clock

log = logging.getLogger(__name__)


class Leadership:
    def __init__(self, leases: Leases, clock: Clock, *, refresh_minutes: float) -> None:
        self.leases = leases
        self.clock = clock
        self.interval = dt.timedelta(minutes=refresh_minutes)
        self.is_leader = False
        self.started = clock.now()

    @property
    def beat_minutes(self) -> float:
        return self.interval.total_seconds() / 60 / 4

    async def beat(self) -> bool:
        """Renew or try to take the lead; True when this process has just become the leader."""
        now = self.clock.now()
        was = self.is_leader
        self.is_leader = await self.leases.take(LEADER, ttl=self.interval / 2, now=now)
        await self.leases.beat(started=self.started, now=now)
        if self.is_leader != was:
            log.info("this process is %s", "the leader now" if self.is_leader else "no longer the leader")
        return self.is_leader and not was

    async def stop(self) -> None:
        """Hand over at once: the next beat elsewhere takes the lead."""
        await self.leases.stopped()
        self.is_leader = False
