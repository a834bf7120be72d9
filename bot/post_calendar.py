"""Which Daily Papers list a channel's post carries, and when it goes out (pure functions).

The list for UTC day D keeps filling until about 21:30 New York time on D. A channel posts on
its local weekdays at its post time. West of New York (and in Europe) the newest list closed
by the post time is always new: Tuesday 09:00 in Berlin carries Monday's list. East of it (Tokyo
at 09:00 is 19:00 in New York the day before) the newest closed list at the post time is often
the one posted the day before; that day's post then carries the next list and goes out when it
closes (11:30 in Tokyo). So every weekday list is posted once, none is skipped, and no post
goes out in the evening before the next post time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from bot.scheduling import wall_clock_to_utc

NEW_YORK = ZoneInfo("America/New_York")
LIST_CLOSES = dt.time(21, 30)
# How many local weekdays back the carried-list chain starts; any steady state is reached in two.
_CHAIN_START = 7


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
    at: dt.datetime  # when it goes out: the post time, or later when the list closes after it


def planned_post(post_time: dt.time, zone: ZoneInfo, local_day: dt.date) -> PlannedPost:
    """The post of local weekday `local_day`: each post carries the newest list closed by its
    post time, or, when that one went out the weekday before, the next list once it closes."""
    days = [local_day]
    while len(days) < _CHAIN_START:
        days.append(previous_weekday(days[-1]))
    carried: dt.date | None = None
    for day in reversed(days):
        newest = newest_closed_day(wall_clock_to_utc(day, post_time, zone))
        carried = newest if carried is None or newest > carried else next_weekday(carried)
    assert carried is not None
    slot = wall_clock_to_utc(local_day, post_time, zone)
    return PlannedPost(local_day, carried, max(slot, list_closes_at(carried).astimezone(dt.UTC)))


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
