"""`paperboy status`: what a deployment is doing, from the database every process shares:
the processes alive and which one leads, each channel's digest (next post, paused and why, the
last run's note), and today's digests posted and failed."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.commands import describe, next_post_line
from bot.deliveries import DELIVERIES, HEADER
from bot.digest import run_failed
from bot.leases import LEADER, PROCESSES, Leases
from bot.subscriptions import Subscription, SubscriptionStore


@dataclass(frozen=True, slots=True)
class ProcessInfo:
    host: str
    pid: int
    started_at: dt.datetime
    last_seen: dt.datetime
    alive: bool
    leader: bool


@dataclass(frozen=True, slots=True)
class Status:
    now: dt.datetime
    processes: tuple[ProcessInfo, ...]
    digests: tuple[Subscription, ...]
    posted_today: int
    failed_today: int


async def deployment_status(
    engine: AsyncEngine,
    subscriptions: SubscriptionStore,
    leases: Leases,
    *,
    now: dt.datetime,
    refresh_minutes: float,
) -> Status:
    # A process beats every quarter refresh interval: one unseen for a whole interval is gone.
    seen_since = now - dt.timedelta(minutes=refresh_minutes)
    today = dt.datetime.combine(now.date(), dt.time(), tzinfo=dt.UTC)
    leader = await leases.holder(LEADER, now=now)
    async with engine.connect() as conn:
        rows = (await conn.execute(select(PROCESSES).order_by(PROCESSES.c.started_at))).all()
        posted = (
            await conn.execute(
                select(func.count()).where(DELIVERIES.c.kind == HEADER, DELIVERIES.c.sent_at >= today)
            )
        ).scalar_one()
    digests = tuple(await subscriptions.all())
    failed = sum(
        1
        for sub in digests
        if sub.last_run_at and sub.last_run_at >= today and run_failed(sub.last_note or "")
    )
    processes = tuple(
        ProcessInfo(
            host=row.host,
            pid=row.pid,
            started_at=row.started_at,
            last_seen=row.last_seen,
            alive=row.last_seen >= seen_since,
            leader=row.id == leader,
        )
        for row in rows
    )
    return Status(now, processes, digests, int(posted), failed)


def _ago(now: dt.datetime, then: dt.datetime) -> str:
    seconds = max(0, int((now - then).total_seconds()))
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h ago"


def status_lines(status: Status) -> list[str]:
    """The status as text, for a terminal."""
    alive = [p for p in status.processes if p.alive]
    lines = [f"Processes: {len(alive)} running"]
    for process in status.processes:
        role = "leader" if process.leader else ("running" if process.alive else "not seen lately")
        lines.append(
            f"  {process.host} pid {process.pid}: {role}, started {_ago(status.now, process.started_at)}, "
            f"last seen {_ago(status.now, process.last_seen)}"
        )
    if not any(p.leader for p in alive):
        lines.append("  no leader: the next process to beat takes the lead (refresh, alerts, catch-up)")
    lines.append(f"Digests today: {status.posted_today} posted, {status.failed_today} failed or paused")
    lines.append(f"Channels with a digest: {len(status.digests)}")
    for sub in status.digests:
        where = f"{sub.channel.platform} {sub.channel.community}/{sub.channel.channel}"
        state = f"paused: {sub.paused_reason}" if sub.paused_reason else next_post_line(sub, status.now)
        lines.append(f"  {where}: {describe(sub)}; {state}")
        if sub.last_note:
            lines.append(f"    last run: {sub.last_note}")
    return lines
