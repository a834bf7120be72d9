"""The scheduler wrapper: local-time weekday triggers across DST, and the job options."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.scheduling import MISFIRE_GRACE_SECONDS, LocalTimeTrigger, Scheduler

UTC = dt.UTC


def fire_times(trigger: LocalTimeTrigger, start: dt.datetime, count: int) -> list[dt.datetime]:
    times: list[dt.datetime] = []
    previous = None
    now = start
    for _ in range(count):
        fire = trigger.get_next_fire_time(previous, now)
        assert fire is not None
        times.append(fire)
        previous = now = fire
    return times


@pytest.mark.parametrize(
    ("zone", "week_start", "switch_monday_utc_hour"),
    [
        ("Europe/Berlin", dt.datetime(2025, 3, 24, tzinfo=UTC), 7),  # CET→CEST on Sun 30 Mar
        ("Europe/Berlin", dt.datetime(2025, 10, 20, tzinfo=UTC), 8),  # CEST→CET on Sun 26 Oct
        ("America/New_York", dt.datetime(2025, 3, 3, tzinfo=UTC), 13),  # EST→EDT on Sun 9 Mar
        ("America/New_York", dt.datetime(2025, 10, 27, tzinfo=UTC), 14),  # EDT→EST on Sun 2 Nov
    ],
)
def test_one_post_per_weekday_at_local_nine_across_dst(
    zone: str, week_start: dt.datetime, switch_monday_utc_hour: int
) -> None:
    trigger = LocalTimeTrigger(dt.time(9, 0), ZoneInfo(zone))
    times = fire_times(trigger, week_start, 10)
    local = [t.astimezone(ZoneInfo(zone)) for t in times]
    assert all((t.hour, t.minute) == (9, 0) for t in local)
    assert all(t.weekday() < 5 for t in local)
    assert len({t.date() for t in local}) == 10  # ten distinct weekdays: no skip, no double
    assert times[5].astimezone(UTC).hour == switch_monday_utc_hour  # the Monday after the change


@pytest.mark.parametrize(
    ("zone", "day", "at", "expected_utc"),
    [
        # Spring forward: 02:30 does not exist; the post goes out right after the jump (03:30 local).
        ("Europe/Berlin", dt.date(2025, 3, 30), dt.time(2, 30), dt.datetime(2025, 3, 30, 1, 30, tzinfo=UTC)),
        ("America/New_York", dt.date(2025, 3, 9), dt.time(2, 30), dt.datetime(2025, 3, 9, 7, 30, tzinfo=UTC)),
        # Fall back: 02:30 happens twice; the post goes out once, at the first.
        (
            "Europe/Berlin",
            dt.date(2025, 10, 26),
            dt.time(2, 30),
            dt.datetime(2025, 10, 26, 0, 30, tzinfo=UTC),
        ),
        (
            "America/New_York",
            dt.date(2025, 11, 2),
            dt.time(1, 30),
            dt.datetime(2025, 11, 2, 5, 30, tzinfo=UTC),
        ),
    ],
)
def test_dst_day_times_neither_skip_nor_double(
    zone: str, day: dt.date, at: dt.time, expected_utc: dt.datetime
) -> None:
    every_day = frozenset(range(7))
    trigger = LocalTimeTrigger(at, ZoneInfo(zone), every_day)
    start = dt.datetime.combine(day - dt.timedelta(days=1), dt.time(12), tzinfo=UTC)
    times = fire_times(trigger, start, 3)
    assert times[0].astimezone(UTC) == expected_utc
    assert len({t.astimezone(ZoneInfo(zone)).date() for t in times}) == 3


async def test_jobs_have_grace_coalesce_single_instance_and_stable_ids() -> None:
    raw = AsyncIOScheduler(timezone=UTC)
    scheduler = Scheduler(raw)
    calls: list[str] = []

    async def job() -> None:
        calls.append("x")

    zone = ZoneInfo("Europe/Berlin")
    scheduler.daily_at("digest:a", job, at=dt.time(9), zone=zone)
    scheduler.daily_at("digest:a", job, at=dt.time(10), zone=zone)  # replaces, no twin
    scheduler.every("refresh", job, minutes=30)
    scheduler.start()
    try:
        assert sorted(scheduler.job_ids()) == ["digest:a", "refresh"]
        digest = raw.get_job("digest:a")
        assert digest.misfire_grace_time == MISFIRE_GRACE_SECONDS >= 3600
        assert digest.coalesce is True and digest.max_instances == 1
        assert str(digest.trigger) == "local-time[10:00 Europe/Berlin]"
        next_run = scheduler.next_run("digest:a")
        assert next_run is not None and next_run.astimezone(zone).hour == 10
        scheduler.cancel("digest:a")
        assert scheduler.job_ids() == ["refresh"]
    finally:
        scheduler.shutdown()
