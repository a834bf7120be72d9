"""Keeping the stored Daily Papers lists fresh: the refresh job's fetch, the first start's week,
and a digest's fresh copy of its list, fetched once for all the channels posting it."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bot.ingest import Ingestor, days_in_range
from bot.ports import Clock
from bot.post_calendar import list_closes_at
from bot.publishers import Announcer
from bot.source import HFUnavailable
from bot.store import PaperStore
from bot.types import FetchReport

log = logging.getLogger(__name__)

FIRST_START_DAYS = 7
# A digest reuses its list's fetch made after the list closed and at most this long ago.
DIGEST_FRESHNESS = dt.timedelta(minutes=10)

AfterFetch = Callable[[], Awaitable[Any]]


class DailyLists:
    def __init__(
        self,
        *,
        ingestor: Ingestor,
        store: PaperStore,
        clock: Clock,
        announce: Announcer,
        after_fetch: AfterFetch,
    ) -> None:
        self.ingestor = ingestor
        self.store = store
        self.clock = clock
        self.announce = announce
        # Run after a digest fetched its list itself: papers it listed first still get alerts.
        self.after_fetch = after_fetch
        self._hf_down = False
        self._day_fetches: dict[dt.date, asyncio.Future[FetchReport]] = {}

    async def refresh_recent(self) -> FetchReport | None:
        """Yesterday's and today's lists; None when Hugging Face is down (said once an outage)."""
        try:
            report = await self.ingestor.fetch_recent()
        except HFUnavailable as exc:
            self._report_outage(exc)
            return None
        self._hf_down = False
        return report

    async def first_start(self) -> FetchReport | None:
        """With an empty store, fetch the last week so that search has something to find."""
        if await self.store.count_papers():
            return None
        today = self.ingestor.today()
        self.announce(
            f"First start: fetching the last {FIRST_START_DAYS} days of Daily Papers from Hugging Face…"
        )
        try:
            report = await self.ingestor.fetch_days(
                days_in_range(today - dt.timedelta(days=FIRST_START_DAYS - 1), today)
            )
        except HFUnavailable as exc:
            self._report_outage(exc)
            return None
        self.announce(
            f"First start: fetched {report.new_papers} papers from the last {FIRST_START_DAYS} days. "
            "Try /paper today or /paper search QUERY."
        )
        return report

    async def for_digest(self, day: dt.date) -> None:
        """Fresh upvotes for a digest's list, fetched once for all the channels posting it.

        Hundreds of channels at 09:00 would otherwise each ask HF for the same list (500 calls
        per 5 minutes is the anonymous limit): a fetch made after the list closed and within
        DIGEST_FRESHNESS is reused, and concurrent digests share one fetch in flight.
        """
        fetched = await self.store.fetched_at(day)
        if (
            fetched is not None
            and fetched >= list_closes_at(day)
            and self.clock.now() - fetched < DIGEST_FRESHNESS
        ):
            return
        fetch = self._day_fetches.get(day)
        if fetch is None:
            fetch = asyncio.ensure_future(self._fetch(day))
            self._day_fetches[day] = fetch
            fetch.add_done_callback(lambda _: self._day_fetches.pop(day, None))
        await asyncio.shield(fetch)  # one digest giving up must not cancel the others' fetch

    async def _fetch(self, day: dt.date) -> FetchReport:
        report = await self.ingestor.fetch_days([day])
        await self.after_fetch()
        return report

    def _report_outage(self, exc: Exception) -> None:
        # Said once per outage, in one line; the refresh job keeps trying.
        if self._hf_down:
            log.info("Hugging Face still unreachable: %s", exc)
        else:
            self.announce(f"Hugging Face is unreachable ({exc}); paperboy keeps running and retries later.")
        self._hf_down = True

    async def stop(self) -> None:
        """Stop the fetches in flight (they run shielded from the digests waiting on them)."""
        running = list(self._day_fetches.values())
        for fetch in running:
            fetch.cancel()
        await asyncio.gather(*running, return_exceptions=True)
