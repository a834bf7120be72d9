"""The Hugging Face Papers API over httpx: the only code in the core that speaks HTTP."""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import json
import logging
import math
import random
import re
import time
from collections.abc import Awaitable, Callable

import httpx

from bot.hf_parse import UnparseablePaper, parse_daily_items, parse_paper
from bot.types import Paper

log = logging.getLogger(__name__)

PAGE_SIZE = 100
MAX_PAGES = 50  # a day holds ~25 papers; this only stops a server that ignores `p`
_RATELIMIT_T = re.compile(r"(?:^|;)\s*t=(\d+)")
_RATELIMIT_R = re.compile(r"(?:^|;)\s*r=(\d+)")

Sleep = Callable[[float], Awaitable[None]]


class HFUnavailable(RuntimeError):
    """Hugging Face could not be reached or kept failing for the whole retry budget."""


class FutureDate(ValueError):
    """A day whose list does not exist yet (HF answers 400 for it)."""


def utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds the server asked us to wait, from Retry-After or HF's RateLimit header."""
    header = response.headers.get("retry-after")
    if header:
        seconds: float | None
        try:
            seconds = float(header)
        except ValueError:
            seconds = _seconds_until(header)
        if seconds is not None and math.isfinite(seconds):  # "nan" would never wake up
            return max(seconds, 0.0)
    ratelimit = response.headers.get("ratelimit")
    if ratelimit:
        match = _RATELIMIT_T.search(ratelimit)
        if match:
            return float(match.group(1))
    return None


def _seconds_until(http_date: str) -> float | None:
    """Seconds until an HTTP date (Retry-After's other form); None when it is not one."""
    try:
        when = email.utils.parsedate_to_datetime(http_date)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000" means UTC, with no zone
        when = when.replace(tzinfo=dt.UTC)
    return (when - dt.datetime.now(dt.UTC)).total_seconds()


def _quota_pause(response: httpx.Response) -> float:
    """When the RateLimit header says the window is nearly spent, wait for it to reset."""
    ratelimit = response.headers.get("ratelimit")
    if not ratelimit:
        return 0.0
    remaining, reset = _RATELIMIT_R.search(ratelimit), _RATELIMIT_T.search(ratelimit)
    if remaining and reset and int(remaining.group(1)) <= 2:
        return float(reset.group(1))
    return 0.0


class HFSource:
    """Fetches daily lists and single papers, retrying within a bounded budget."""

    def __init__(
        self,
        *,
        base_url: str,
        token: str | None = None,
        timeout: float = 15.0,
        retry_budget: float = 60.0,
        client: httpx.AsyncClient | None = None,
        sleep: Sleep = asyncio.sleep,
        today: Callable[[], dt.date] = utc_today,
    ) -> None:
        headers = {"User-Agent": "paperboy (+https://github.com/paperboy)", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._base = base_url.rstrip("/")
        self._timeout = timeout
        # Told of each retry ("status 503; retrying in 2 s"), e.g. for `paperboy fetch`'s progress line.
        self.on_retry: Callable[[str], None] | None = None
        # Each request's status (None: no answer) and seconds, for metrics.
        self.on_request: Callable[[int | None, float], None] | None = None
        self._client = client or httpx.AsyncClient(
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            follow_redirects=True,
        )
        self._retry_budget = retry_budget
        self._sleep = sleep
        self._today = today

    async def aclose(self) -> None:
        await self._client.aclose()

    async def daily_papers(self, day: dt.date) -> tuple[list[Paper], int]:
        """All papers on `day`'s list in HF's order, and how many items were unparseable.

        Weekends and holidays give an empty list, which is an answer, not an error.
        """
        if day > self._today():
            raise FutureDate(f"{day.isoformat()} is in the future (UTC); its list does not exist yet")
        url = f"{self._base}/api/daily_papers"
        papers: list[Paper] = []
        seen: set[str] = set()
        skipped = 0
        for page in range(MAX_PAGES):
            params = {"date": day.isoformat(), "limit": str(PAGE_SIZE), "p": str(page)}
            payload = await self._get_json(url, params)
            try:
                batch, bad = parse_daily_items(payload, source=f"{url}?date={day.isoformat()}&p={page}")
            except UnparseablePaper as exc:  # a whole page that is not a list of papers
                raise HFUnavailable(f"GET {url} for {day.isoformat()}: {exc}") from exc
            skipped += bad
            fresh = [paper for paper in batch if paper.id not in seen]
            seen.update(paper.id for paper in fresh)
            papers.extend(fresh)
            page_len = len(payload) if isinstance(payload, list) else 0
            if page_len < PAGE_SIZE or not fresh:
                break
        return papers, skipped

    async def paper(self, paper_id: str, *, budget: float | None = None) -> Paper | None:
        """One paper by bare arXiv id; None when HF does not know it. `budget` bounds the whole
        lookup, retries included, when someone is waiting for the answer."""
        url = f"{self._base}/api/papers/{paper_id}"
        payload = await self._get_json(url, None, not_found_ok=True, budget=budget)
        if payload is None:
            return None
        try:
            return parse_paper(payload)
        except UnparseablePaper as exc:
            raise HFUnavailable(f"GET {url} returned a paper that could not be read: {exc}") from exc

    async def _get_json(
        self,
        url: str,
        params: dict[str, str] | None,
        *,
        not_found_ok: bool = False,
        budget: float | None = None,
    ) -> object:
        # Time spent is counted as request time plus requested waits, so an injected sleep
        # (tests) and a real one use the budget alike.
        budget = budget or self._retry_budget
        spent = 0.0
        attempt = 0
        last = "no response"
        while True:
            attempt += 1
            wait: float | None = None
            started = time.monotonic()
            response: httpx.Response | None = None
            # One request never outlasts what is left of the budget.
            timeout = max(0.1, min(self._timeout, budget - spent))
            try:
                response = await self._client.get(
                    url, params=params, timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0))
                )
            except (httpx.TransportError, httpx.TimeoutException) as exc:
                last = type(exc).__name__
            spent += time.monotonic() - started
            if self.on_request is not None:
                self.on_request(
                    response.status_code if response is not None else None, time.monotonic() - started
                )
            if response is not None:
                status = response.status_code
                if status == 200:
                    try:
                        payload: object = response.json()
                    except (json.JSONDecodeError, UnicodeDecodeError):
                        last = "status 200 with malformed JSON"
                    else:
                        pause = _quota_pause(response)
                        if pause:
                            log.info("Hugging Face rate window nearly spent; pausing %.0fs", pause)
                            await self._sleep(min(pause, budget))
                        return payload
                elif status == 404 and not_found_ok:
                    return None
                elif status == 400 and params and "date" in params:
                    raise FutureDate(f"Hugging Face has no list for {params['date']} (status 400)")
                elif status == 429 or status >= 500:
                    last = f"status {status}"
                    wait = _retry_after(response)
                else:
                    raise HFUnavailable(f"GET {url} failed with status {status}")
            backoff = min(30.0, 0.5 * 2 ** (attempt - 1))
            delay = max(wait or 0.0, random.uniform(0.5 * backoff, backoff))  # noqa: S311
            if spent + delay > budget:
                raise HFUnavailable(
                    f"GET {url} failed after {attempt} attempt{'s' if attempt > 1 else ''} "
                    f"(last: {last}); giving up within the {budget:g} s retry budget"
                )
            log.info("GET %s: %s; retrying in %.1fs", url, last, delay)
            if self.on_retry is not None:
                self.on_retry(f"Hugging Face: {last}; retrying in {delay:.0f} s (attempt {attempt + 1})")
            spent += delay
            await self._sleep(delay)
