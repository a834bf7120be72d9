"""A fake Hugging Face Papers API: a real HTTP server on 127.0.0.1 with a random port.

It serves ../shared/data/daily_papers_sample.json by day (each item's top-level `publishedAt`
is the UTC day it went onto Daily Papers), records every request, and can be told to answer
the next requests with 429 (Retry-After / RateLimit), 5xx, malformed JSON or a slow response.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.local_server import serve

# A copy of ../shared/data/daily_papers_sample.json, so the suite runs from any clone.
SAMPLE = Path(__file__).with_name("fixtures") / "daily_papers_sample.json"


def load_sample() -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads(SAMPLE.read_text(encoding="utf-8"))
    return items


@dataclass
class Fault:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None  # raw body to send instead of the real answer
    delay: float = 0.0  # seconds to wait before answering


@dataclass
class Recorded:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)


class FakeHF:
    def __init__(self, items: list[dict[str, Any]] | None = None) -> None:
        self.days: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for item in items if items is not None else load_sample():
            self.days[item["publishedAt"][:10]].append(item)
        for day_items in self.days.values():
            day_items.sort(key=lambda item: -int(item["paper"].get("upvotes") or 0))
        self.faults: list[Fault] = []
        self.requests: list[Recorded] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    # --- control -------------------------------------------------------------------------
    def fail_next(self, *faults: Fault) -> None:
        self.faults.extend(faults)

    def set_day(self, day: dt.date | str, items: list[dict[str, Any]]) -> None:
        self.days[str(day)] = items

    def move_day(self, old: str, new: dt.date) -> list[dict[str, Any]]:
        """Serve `old`'s items on `new` instead (lets tests put sample papers on recent days)."""
        items = [copy.deepcopy(item) for item in self.days.pop(old)]
        for item in items:
            item["publishedAt"] = f"{new.isoformat()}T08:00:00.000Z"
        self.days[new.isoformat()] = items
        return items

    def all_items(self) -> list[dict[str, Any]]:
        return [item for items in self.days.values() for item in items]

    def requests_to(self, prefix: str) -> list[Recorded]:
        return [r for r in self.requests if r.path.startswith(prefix)]

    # --- server --------------------------------------------------------------------------
    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/api/daily_papers", self._daily)
        app.router.add_get("/api/papers/{paper_id}", self._paper)
        self._runner, port = await serve(app)
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner:
            await self._runner.cleanup()

    async def _fault(self) -> web.Response | None:
        if not self.faults:
            return None
        fault = self.faults.pop(0)
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.status == 200 and fault.body is None:
            return None
        return web.Response(
            status=fault.status,
            text=fault.body if fault.body is not None else json.dumps({"error": "injected"}),
            headers=fault.headers,
            content_type="application/json",
        )

    def _record(self, request: web.Request) -> None:
        self.requests.append(Recorded(request.path, dict(request.query), dict(request.headers)))

    async def _daily(self, request: web.Request) -> web.Response:
        self._record(request)
        injected = await self._fault()
        if injected is not None:
            return injected
        day = request.query.get("date", "")
        try:
            dt.date.fromisoformat(day)
        except ValueError:
            return web.json_response({"error": "Invalid date"}, status=400)
        if day > dt.datetime.now(dt.UTC).date().isoformat():
            return web.json_response({"error": "date is in the future"}, status=400)
        limit = int(request.query.get("limit", "50"))
        if not 1 <= limit <= 100:
            return web.json_response({"error": "limit must be 1..100"}, status=400)
        page = int(request.query.get("p", "0"))
        items = self.days.get(day, [])
        return web.json_response(items[page * limit : (page + 1) * limit])

    async def _paper(self, request: web.Request) -> web.Response:
        self._record(request)
        injected = await self._fault()
        if injected is not None:
            return injected
        paper_id = request.match_info["paper_id"]
        for item in self.all_items():
            if item["paper"]["id"] == paper_id:
                flat = dict(item["paper"])
                flat.pop("numComments", None)
                flat["linkedModels"] = []
                return web.json_response(flat)
        return web.json_response({"error": "Paper not found"}, status=404)
