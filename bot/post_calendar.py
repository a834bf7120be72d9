"""Which Daily Papers list a channel's post carries, and when it goes out (pure functions).

The list for UTC day D keeps filling until about 21:30 New York time on D. A channel posts on
its local weekdays at its post time, each post carrying the list a fixed number of weekdays
before the local date: Tuesday 09:00 in Berlin carries Monday's list. A fixed lag means each
weekday list is posted exactly once, none skipped, whatever clock changes happen on either side.

The lag is the smallest that has the list closed by the post time, or at most MAX_WAIT after it,
all year round: Tokyo at 09:00 (19:00 in New York the day before) carries the previous weekday's
list and posts it when it closes (11:30, or 10:30 in US summer time), rather than a list a day
older at 09:00; New York at 09:00 never waits until 21:30 for the same day's list.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from bot.scheduling import wall_clock_to_utc

NEW_YORK = ZoneInfo("America/New_York")
LIST_CLOSES = dt.time(21, 30)
# The longest a post may wait past its post time for its list to close.
MAX_WAIT = dt.timedelta(hours=6)
# Reference days for the lag: every Tuesday to Friday of a year (a Monday post carries Friday's
# list, closed long before). Clock changes in the channel's zone and in New York move the closing
# time by an hour against the post time, in either direction, on their own dates.
_REFERENCE_DAYS = tuple(
    day for day in (dt.date(2026, 1, 1) + dt.timedelta(days=n) for n in range(365)) if 1 <= day.weekday() <= 4
)


def list_closes_at(day: dt.date) -> dt.datetime:
    """When Hugging Face's list for UTC day `day` stops filling (about 21:30 New York time)."""
    return dt.datetime.combine(day, LIST_CLOSES, tzinfo=NEW_YORK)


def newest_closed_day(now: dt.datetime) -> dt.date:
    """The newest weekday whose list has closed at `now`."""
    day = now.astimezone(NEW_YORK).date()
    while day.weekday() >= 5 or list_closes_at(day) > now:
        day -= dt.timedelta(days=1)
    return day


def next_weekday(day: dt.date) -> dt.date:
    day += dt.timedelta(days=1)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def previous_weekday(day: dt.date) -> dt.date:
    day -= dt.timedelta(days=1)
    while day.weekday() >= 5:
        day -= dt.timedelta(days=1)
    return day


@dataclass(frozen=True, slots=True)
class PlannedPost:
    local_day: dt.date  # the channel's local weekday
    list_day: dt.date  # the UTC day of the list it carries
    slot: dt.datetime  # the channel's post time that day
    at: dt.datetime  # when it goes out: the post time, or later when the list closes after it


def weekdays_before(day: dt.date, count: int) -> dt.date:
    for _ in range(count):
        day = previous_weekday(day)
    return day


def weekdays_after(day: dt.date, count: int) -> dt.date:
    for _ in range(count):
        day = next_weekday(day)
    return day


@functools.cache
def lag_weekdays(post_time: dt.time, zone: ZoneInfo) -> int:
    """How many weekdays before its local date a post's list is: the least that has the list
    closed by the post time plus MAX_WAIT on every reference day."""

    def lag_on(day: dt.date) -> int:
        latest = wall_clock_to_utc(day, post_time, zone) + MAX_WAIT
        lag = 0
        while list_closes_at(weekdays_before(day, lag)) > latest:
            lag += 1
        return lag

    return max(lag_on(day) for day in _REFERENCE_DAYS)


def planned_post(post_time: dt.time, zone: ZoneInfo, local_day: dt.date) -> PlannedPost:
    """The post of local weekday `local_day`: its list, and when it goes out (the post time, or
    later when its list closes after it)."""
    list_day = weekdays_before(local_day, lag_weekdays(post_time, zone))
    slot = wall_clock_to_utc(local_day, post_time, zone)
    return PlannedPost(local_day, list_day, slot, max(slot, list_closes_at(list_day).astimezone(dt.UTC)))


def todays_post(post_time: dt.time, zone: ZoneInfo, now: dt.datetime) -> PlannedPost | None:
    """Today's post (channel's zone), or None on a local weekend."""
    local_day = now.astimezone(zone).date()
    return None if local_day.weekday() >= 5 else planned_post(post_time, zone, local_day)


def next_post(
    post_time: dt.time, zone: ZoneInfo, now: dt.datetime, *, last_posted_day: dt.date | None
) -> PlannedPost:
    """The next post that has not gone out: today's if its list is newer than the last one
    posted (it may be due already), else the following weekday's."""
    local_day = now.astimezone(zone).date()
    if local_day.weekday() >= 5:
        local_day = next_weekday(local_day)
    while True:
        post = planned_post(post_time, zone, local_day)
        if last_posted_day is None or post.list_day > last_posted_day:
            return post
        local_day = next_weekday(local_day)
