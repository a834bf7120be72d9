"""Which list each post carries, for zones and post times around the world, through clock changes."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from bot.post_calendar import MAX_WAIT, list_closes_at, next_weekday, planned_post
from bot.scheduling import wall_clock_to_utc

ZONES = [
    "UTC",
    "America/New_York",
    "America/Los_Angeles",
    "Pacific/Honolulu",
    "Pacific/Pago_Pago",
    "America/Sao_Paulo",
    "America/Santiago",
    "Europe/Berlin",
    "Africa/Cairo",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Chatham",
    "Pacific/Kiritimati",
    "Etc/GMT+12",
]
TIMES = ["00:00", "01:30", "02:30", "09:00", "13:30", "15:00", "15:30", "21:30", "22:30", "23:59"]


@pytest.mark.parametrize("zone_name", ZONES)
def test_every_weekday_list_is_posted_once_in_order_and_never_before_it_closes(zone_name: str) -> None:
    zone = ZoneInfo(zone_name)
    for text in TIMES:
        at = dt.time.fromisoformat(text)
        day = dt.date(2026, 1, 5)  # a Monday; two years, so every clock change of both
        previous = None
        while day < dt.date(2028, 1, 1):
            post = planned_post(at, zone, day)
            slot = wall_clock_to_utc(day, at, zone)
            where = f"{zone_name} {text} {day}"
            if previous is not None:
                assert post.list_day == next_weekday(previous), where  # no list skipped or repeated
            assert post.at >= list_closes_at(post.list_day) and post.at >= slot, where
            assert post.at - slot <= MAX_WAIT, where
            previous = post.list_day
            day = next_weekday(day)


@pytest.mark.parametrize(
    ("zone", "post_time", "local_day", "list_day", "local_time"),
    [
        ("Europe/Berlin", "09:00", dt.date(2025, 11, 25), dt.date(2025, 11, 24), "09:00"),
        ("America/New_York", "09:00", dt.date(2025, 11, 24), dt.date(2025, 11, 21), "09:00"),
        ("Asia/Tokyo", "09:00", dt.date(2025, 11, 25), dt.date(2025, 11, 24), "11:30"),
        ("Asia/Tokyo", "09:00", dt.date(2025, 7, 1), dt.date(2025, 6, 30), "10:30"),  # US summer time
        ("Pacific/Honolulu", "15:00", dt.date(2025, 11, 25), dt.date(2025, 11, 25), "16:30"),
    ],
)
def test_examples(zone: str, post_time: str, local_day: dt.date, list_day: dt.date, local_time: str) -> None:
    post = planned_post(dt.time.fromisoformat(post_time), ZoneInfo(zone), local_day)
    assert post.list_day == list_day
    assert f"{post.at.astimezone(ZoneInfo(zone)):%H:%M}" == local_time
