"""A thin wrapper around APScheduler 3.x: digests at local times, the refresh job, nothing else.

Every job gets an explicit timezone, `misfire_grace_time` of an hour (APScheduler's default of
one second would drop a digest after any hiccup), `coalesce`, `max_instances=1` and a stable id
with `replace_existing`, so rescheduling a channel replaces its job instead of adding a twin.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

MISFIRE_GRACE_SECONDS = 3600
WEEKDAYS = frozenset(range(5))

Job = Callable[[], Awaitable[Any]]


def wall_clock_to_utc(day: dt.date, at: dt.time, zone: ZoneInfo) -> dt.datetime:
    """`day` at local time `at` as a UTC instant.

    A time that does not exist on a spring-forward day (02:30 when clocks jump 02:00 → 03:00)
    falls after the jump (03:30); a time that occurs twice on a fall-back day is its first
    occurrence. So DST changes neither skip nor double a post.
    """
    return dt.datetime.combine(day, at, tzinfo=zone).astimezone(dt.UTC)


class LocalTimeTrigger(BaseTrigger):  # type: ignore[misc]
    """Fires once on each allowed weekday at a wall-clock time in a zone.

    APScheduler's CronTrigger can return the same fall-back time twice (a double post) and
    fires a non-existent spring-forward time at an odd instant; this trigger is the rule above.
    """

    def __init__(self, at: dt.time, zone: ZoneInfo, weekdays: frozenset[int] = WEEKDAYS) -> None:
        self.at = at
        self.timezone = zone
        self.weekdays = weekdays

    def get_next_fire_time(
        self, previous_fire_time: dt.datetime | None, now: dt.datetime
    ) -> dt.datetime | None:
        start = previous_fire_time + dt.timedelta(microseconds=1) if previous_fire_time else now
        day = start.astimezone(self.timezone).date() - dt.timedelta(days=1)
        for _ in range(9):
            if day.weekday() in self.weekdays:
                fire = wall_clock_to_utc(day, self.at, self.timezone)
                if fire >= start:
                    return fire.astimezone(self.timezone)
            day += dt.timedelta(days=1)
        return None

    def __str__(self) -> str:
        return f"local-time[{self.at:%H:%M} {self.timezone.key}]"


class Scheduler:
    """The bot's one scheduler."""

    def __init__(self, scheduler: AsyncIOScheduler | None = None) -> None:
        self._scheduler = scheduler or AsyncIOScheduler(timezone=dt.UTC)

    def start(self) -> None:
        if not self._scheduler.running:
            self._scheduler.start()

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    def _add(self, job_id: str, job: Job, trigger: BaseTrigger) -> None:
        # Before the scheduler starts, APScheduler queues a replacement next to the job it
        # replaces (and get_job finds the old one): remove it first.
        self.cancel(job_id)
        self._scheduler.add_job(
            job,
            trigger=trigger,
            id=job_id,
            name=job_id,
            replace_existing=True,
            misfire_grace_time=MISFIRE_GRACE_SECONDS,
            coalesce=True,
            max_instances=1,
        )

    def daily_at(self, job_id: str, job: Job, *, at: dt.time, zone: ZoneInfo) -> None:
        """Run `job` on weekdays at `at` local time in `zone`."""
        self._add(job_id, job, LocalTimeTrigger(at, zone))

    def once(self, job_id: str, job: Job, *, at: dt.datetime) -> None:
        """Run `job` once at `at` (a later call with the same id moves it)."""
        self._add(job_id, job, DateTrigger(run_date=at, timezone=dt.UTC))

    def every(self, job_id: str, job: Job, *, minutes: float) -> None:
        self._add(job_id, job, IntervalTrigger(minutes=minutes, timezone=dt.UTC))

    def cancel(self, job_id: str) -> None:
        if self._scheduler.get_job(job_id):
            self._scheduler.remove_job(job_id)

    def next_run(self, job_id: str) -> dt.datetime | None:
        job = self._scheduler.get_job(job_id)
        if job is None:
            return None
        when = getattr(job, "next_run_time", None)
        if when is None and hasattr(job, "trigger"):
            when = job.trigger.get_next_fire_time(None, dt.datetime.now(dt.UTC))
        return when if isinstance(when, dt.datetime) else None

    def daily_time(self, job_id: str) -> tuple[dt.time, ZoneInfo] | None:
        """The wall-clock time and zone of a `daily_at` job; None for no such job."""
        job = self._scheduler.get_job(job_id)
        trigger = getattr(job, "trigger", None)
        return (trigger.at, trigger.timezone) if isinstance(trigger, LocalTimeTrigger) else None

    def job_ids(self) -> list[str]:
        return [job.id for job in self._scheduler.get_jobs()]
