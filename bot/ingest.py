"""Ingest: fetch daily lists from the source and upsert them into the store, idempotently."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from bot.ports import PaperSource
from bot.types import FetchReport, Paper

# Hugging Face Daily Papers started in May 2023; nothing before it exists to fetch.
DAILY_PAPERS_START = dt.date(2023, 5, 1)
RANGE_CONCURRENCY = 4


class DailyListStore(Protocol):
    async def record_daily_list(
        self, day: dt.date, papers: Sequence[Paper], *, now: dt.datetime
    ) -> list[str]: ...

    async def update_statistics(self) -> None: ...


Now = Callable[[], dt.datetime]
Progress = Callable[[dt.date, int], None]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def days_in_range(since: dt.date, until: dt.date) -> list[dt.date]:
    return [since + dt.timedelta(days=offset) for offset in range((until - since).days + 1)]


@dataclass
class _Tally:
    papers: int = 0
    new: list[str] = field(default_factory=list)
    skipped: int = 0
    empty: list[dt.date] = field(default_factory=list)


class Ingestor:
    def __init__(self, *, source: PaperSource, store: DailyListStore, now: Now = utc_now) -> None:
        self._source = source
        self._store = store
        self._now = now

    def now(self) -> dt.datetime:
        return self._now()

    def today(self) -> dt.date:
        return self._now().astimezone(dt.UTC).date()

    def clamp(self, since: dt.date, until: dt.date | None) -> tuple[dt.date, dt.date]:
        """The part of [since, until] that can have a list: from May 2023 to today (UTC)."""
        today = self.today()
        end = min(until or today, today)
        return max(since, DAILY_PAPERS_START), end

    async def fetch_days(self, days: Sequence[dt.date], *, progress: Progress | None = None) -> FetchReport:
        """Fetch and store each day's list; safe to re-run after a crash or an outage."""
        tally = _Tally()
        gate = asyncio.Semaphore(RANGE_CONCURRENCY)

        async def one(day: dt.date) -> None:
            async with gate:
                papers, skipped = await self._source.daily_papers(day)
                new = await self._store.record_daily_list(day, papers, now=self._now())
            tally.new += new  # added after the await: `x += await f()` would lose updates
            tally.papers += len(papers)
            tally.skipped += skipped
            if not papers:
                tally.empty.append(day)
            if progress:
                progress(day, len(papers))

        tasks = [asyncio.create_task(one(day)) for day in days]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if tally.new:
            await self._store.update_statistics()
        return FetchReport(
            days=len(days),
            papers=tally.papers,
            new_papers=len(tally.new),
            empty_days=tuple(sorted(tally.empty)),
            skipped_items=tally.skipped,
        )

    async def fetch_recent(self, *, progress: Progress | None = None) -> FetchReport:
        """Yesterday's and today's UTC lists: today's is still filling, yesterday's just closed."""
        today = self.today()
        return await self.fetch_days([today - dt.timedelta(days=1), today], progress=progress)
