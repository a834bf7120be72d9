"""Digest subscriptions: one per channel, stored in the database."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import and_, case, delete, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.models import SubscriptionRow
from bot.types import ChannelRef

SUBSCRIPTIONS = SubscriptionRow.__table__  # type: ignore[attr-defined]
DEFAULT_TIME = dt.time(9, 0)
DEFAULT_SIZE = 10
MAX_SIZE = 25


UPVOTES = "upvotes"
TASTE = "taste"


@dataclass(frozen=True, slots=True)
class Subscription:
    channel: ChannelRef
    post_time: dt.time = DEFAULT_TIME
    timezone: str = "UTC"
    size: int = DEFAULT_SIZE
    min_upvotes: int = 0
    include_keywords: tuple[str, ...] = ()
    exclude_keywords: tuple[str, ...] = ()
    threaded: bool = True
    ranking: str = UPVOTES  # or TASTE: the channel's votes order its list (bot.taste)
    paused_reason: str | None = None
    last_posted_day: dt.date | None = None
    last_posted_at: dt.datetime | None = None
    last_run_at: dt.datetime | None = None
    last_note: str | None = None
    awaited_days: tuple[dt.date, ...] = ()  # closed lists that were empty at their post time

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def resolve_timezone(name: str) -> str | None:
    """The IANA name for `name` (case-insensitive), or None when there is no such zone."""
    candidate = name.strip()
    if not candidate or len(candidate) > 64 or candidate.startswith(("/", ".")) or ".." in candidate:
        return None
    try:
        ZoneInfo(candidate)
        return candidate
    except (ZoneInfoNotFoundError, ValueError):
        pass
    lowered = candidate.lower()
    for zone in available_timezones():
        if zone.lower() == lowered:
            return zone
    return None


def _from_row(row: Any) -> Subscription:
    m = row._mapping
    hour, minute = (int(part) for part in m["post_time"].split(":"))
    return Subscription(
        channel=ChannelRef(m["platform"], m["community"], m["channel"]),
        post_time=dt.time(hour, minute),
        timezone=m["timezone"],
        size=m["size"],
        min_upvotes=m["min_upvotes"],
        include_keywords=tuple(m["include_keywords"] or ()),
        exclude_keywords=tuple(m["exclude_keywords"] or ()),
        threaded=m["threaded"],
        ranking=m["ranking"],
        paused_reason=m["paused_reason"],
        last_posted_day=m["last_posted_day"],
        last_posted_at=m["last_posted_at"],
        last_run_at=m["last_run_at"],
        last_note=m["last_note"],
        awaited_days=tuple(sorted(dt.date.fromisoformat(day) for day in m["awaited_days"] or ())),
    )


def _where(channel: ChannelRef) -> Any:
    return and_(
        SUBSCRIPTIONS.c.platform == channel.platform,
        SUBSCRIPTIONS.c.community == channel.community,
        SUBSCRIPTIONS.c.channel == channel.channel,
    )


class SubscriptionStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def get(self, channel: ChannelRef) -> Subscription | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(SUBSCRIPTIONS).where(_where(channel)))).first()
        return _from_row(row) if row else None

    async def find(self, platform: str, channel: str) -> list[Subscription]:
        """Subscriptions of a channel id on a platform, whatever its community."""
        stmt = select(SUBSCRIPTIONS).where(
            SUBSCRIPTIONS.c.platform == platform, SUBSCRIPTIONS.c.channel == channel
        )
        async with self.engine.connect() as conn:
            return [_from_row(row) for row in await conn.execute(stmt)]

    async def all(self, platform: str | None = None) -> list[Subscription]:
        stmt = select(SUBSCRIPTIONS).order_by(SUBSCRIPTIONS.c.id)
        if platform:
            stmt = stmt.where(SUBSCRIPTIONS.c.platform == platform)
        async with self.engine.connect() as conn:
            return [_from_row(row) for row in await conn.execute(stmt)]

    async def save(self, sub: Subscription, *, now: dt.datetime) -> Subscription:
        """Create or replace the channel's subscription; resumes a paused one."""
        values = {
            "post_time": sub.post_time.strftime("%H:%M"),
            "timezone": sub.timezone,
            "size": sub.size,
            "min_upvotes": sub.min_upvotes,
            "include_keywords": list(sub.include_keywords),
            "exclude_keywords": list(sub.exclude_keywords),
            "threaded": sub.threaded,
            "ranking": sub.ranking,
            "paused_reason": None,
        }
        async with self.engine.begin() as conn:
            changed = await conn.execute(update(SUBSCRIPTIONS).where(_where(sub.channel)).values(**values))
            if changed.rowcount == 0:
                await conn.execute(
                    SUBSCRIPTIONS.insert().values(
                        platform=sub.channel.platform,
                        community=sub.channel.community,
                        channel=sub.channel.channel,
                        created_at=now,
                        **values,
                    )
                )
        saved = await self.get(sub.channel)
        assert saved is not None
        return saved

    async def delete(self, channel: ChannelRef) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(delete(SUBSCRIPTIONS).where(_where(channel)))
        return bool(result.rowcount)

    async def pause(self, channel: ChannelRef, reason: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(update(SUBSCRIPTIONS).where(_where(channel)).values(paused_reason=reason))

    async def await_list(self, channel: ChannelRef, day: dt.date, *, waiting: bool) -> None:
        """Remember (`waiting`) or forget a list that was empty at its post time."""
        async with self.engine.begin() as conn:
            stored = (
                await conn.execute(select(SUBSCRIPTIONS.c.awaited_days).where(_where(channel)))
            ).scalar()
            days = set(stored or ())
            if waiting:
                days.add(day.isoformat())
            else:
                days.discard(day.isoformat())
            await conn.execute(update(SUBSCRIPTIONS).where(_where(channel)).values(awaited_days=sorted(days)))

    async def record_run(
        self,
        channel: ChannelRef,
        *,
        now: dt.datetime,
        note: str | None,
        posted_day: dt.date | None = None,
    ) -> None:
        values: dict[str, Any] = {"last_run_at": now, "last_note": note}
        if posted_day is not None:
            # Only forward: an older list posted by hand (`digest post --date`) must not make
            # `digest status` announce lists that were posted already.
            newer = or_(
                SUBSCRIPTIONS.c.last_posted_day.is_(None), SUBSCRIPTIONS.c.last_posted_day < posted_day
            )
            values |= {
                "last_posted_day": case(
                    (newer, literal(posted_day, SUBSCRIPTIONS.c.last_posted_day.type)),
                    else_=SUBSCRIPTIONS.c.last_posted_day,
                ),
                "last_posted_at": case(
                    (newer, literal(now, SUBSCRIPTIONS.c.last_posted_at.type)),
                    else_=SUBSCRIPTIONS.c.last_posted_at,
                ),
            }
        async with self.engine.begin() as conn:
            await conn.execute(update(SUBSCRIPTIONS).where(_where(channel)).values(**values))
