"""Pacing a request budget proactively: evenly spaced releases, first come, first served.

Platform-neutral. The Discord adapter paces every bot REST request under Discord's global limit
with one `Pacer`; the Slack adapter can pace a workspace's budget the same way.

Callers queue in the order they ask; one dispatcher task releases the head of the queue every
`1 / rate` seconds and sleeps in between (no polling, O(1) per request), and goes away when the
queue is empty. An idle pacer lets a request through at once. The spacing is kept on the clock as
the releases happen, not on a precomputed timetable: after the event loop stalls (a long
synchronous step, a garbage collection, a starved CPU) the requests that were due meanwhile go out
one interval apart, not together. Only a release late by at most `tolerance` keeps its place on
the timetable, so that ordinary scheduling lateness does not slow the pace down.

So any span of `t` seconds holds at most `(t + tolerance) * rate + 1` releases. What a server
counts is arrivals, later than the releases by a variable delay (the caller resuming, then the
network); pick `rate` with that jitter in mind (see `adapters.discord.adapter.GLOBAL_RATE`).

A budget several processes share (Discord's limit counts every process of a bot) is paced with
`share`: before releasing, the dispatcher reserves slots of the shared budget (a tenth of a
second's worth at most, bot.rate_budget) and releases only at the reserved times, so the
processes together keep to `rate`. A slot missed by more than `tolerance` (the event loop was
held up) is let go rather than used late, when it could land on another process's next slot.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import deque
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

Share = Callable[[int], Awaitable[float]]
"""Reserve n slots of a shared budget; seconds until the first of them."""


class Pacer:
    """At most one release per `1 / rate` seconds, in the order callers asked."""

    def __init__(
        self,
        rate: float,
        *,
        tolerance: float | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        share: Share | None = None,
    ) -> None:
        if not rate > 0 or math.isinf(rate):
            raise ValueError(f"a pacing rate must be a positive number of requests per second, not {rate}")
        self.rate = rate
        self.interval = 1.0 / rate
        self.tolerance = self.interval / 4 if tolerance is None else tolerance
        self._clock = clock
        self._sleep = sleep
        self._queue: deque[asyncio.Future[None]] = deque()
        self._dispatcher: asyncio.Task[None] | None = None
        self._slot = -math.inf  # the timetable time of the last release
        self._share = share
        self._batch = max(1, math.ceil(rate / 10))
        self._slots: deque[float] = deque()  # reserved slots of the shared budget, on our clock
        self._share_failing = False
        self.granted = 0
        """Requests released so far."""
        self.delayed = 0
        """Of those, the ones that had to queue (the rest went through at once)."""
        self.longest_wait = 0.0
        """The longest a released request queued, in seconds."""
        self.stalls = 0
        """Releases so late (over `tolerance`) that the timetable started again from them."""
        self.missed = 0
        """Reserved slots of the shared budget let go because they were missed."""

    @property
    def waiting(self) -> int:
        """Requests queued for their release."""
        return sum(1 for future in self._queue if not future.done())

    def _now(self) -> float:
        return self._clock() if self._clock is not None else asyncio.get_running_loop().time()

    async def wait(self) -> None:
        """Return when this caller may send. A caller cancelled while queued leaves the queue."""
        asked = self._now()
        if not self._queue and self._free_now(asked):
            self._slot = asked
            if self._share is not None:
                self._slots.popleft()
            self.granted += 1
            return
        release = asyncio.get_running_loop().create_future()
        self._queue.append(release)
        if self._dispatcher is None or self._dispatcher.done():
            self._dispatcher = asyncio.create_task(self._dispatch(), name="pacer")
        await release
        self.delayed += 1
        self.longest_wait = max(self.longest_wait, self._now() - asked)

    async def _dispatch(self) -> None:
        while True:
            while self._queue and self._queue[0].done():
                self._queue.popleft()  # cancelled while queued
            if not self._queue:
                return
            if self._share is not None and not self._reserved(self._now()):
                await self._reserve()
                continue
            due = self._slots[0] if self._share is not None else self._slot + self.interval
            ahead = due - self._now()
            if ahead > 0:
                await self._sleep(ahead)
                continue  # the head may have been cancelled meanwhile
            now = self._now()
            late = now - due > self.tolerance
            self.stalls += late
            if self._share is not None:
                self._slots.popleft()
                if late:
                    self.missed += 1
                    continue  # let go: the next slot may be another process's
                self._slot = now
            else:
                self._slot = max(due, now - self.tolerance)
            self._queue.popleft().set_result(None)
            self.granted += 1

    def _free_now(self, now: float) -> bool:
        """Whether a caller asking at `now` may go at once (nobody queued)."""
        if self._share is None:
            return now >= self._slot + self.interval
        return self._reserved(now) and self._slots[0] <= now

    def _reserved(self, now: float) -> bool:
        """Whether a reserved slot is still ahead or just due (the missed ones are let go)."""
        while self._slots and now - self._slots[0] > self.tolerance:
            self._slots.popleft()
            self.missed += 1
        return bool(self._slots)

    async def _reserve(self) -> None:
        """The next slots of the shared budget, for as many waiting callers as a batch holds."""
        assert self._share is not None
        slots = max(1, min(self.waiting, self._batch))
        asked = self._now()
        try:
            wait = await self._share(slots)
            self._share_failing = False
        except Exception:
            # The pace goes on locally: 429s (which discord.py retries) beat a bot gone silent.
            if not self._share_failing:
                log.warning(
                    "the shared request budget is unavailable; pacing this process alone", exc_info=True
                )
            self._share_failing = True
            wait = 0.0
        # The database measured `wait` somewhere within the round trip: from its middle, the
        # slots are off by at most half of it, early or late.
        first = max((asked + self._now()) / 2 + wait, self._slot + self.interval)
        self._slots.extend(first + n * self.interval for n in range(slots))
