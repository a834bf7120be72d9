"""Pacing a request budget proactively: evenly spaced slots, handed out first come, first served.

Platform-neutral. The Discord adapter paces every bot REST request under Discord's global limit
with one `Pacer`; the Slack adapter can pace a workspace's budget the same way.

A caller reserves the next free slot the moment it asks (so callers go in the order they asked)
and sleeps until that slot: no polling, no lock, O(1) per request. Slots are `1 / rate` seconds
apart and an idle pacer lets the next request through at once, so any window of one second holds
at most `ceil(rate)` slots. What a server counts is arrivals, which are later than the slots by a
variable delay (the event loop resuming the caller, then the network); pick `rate` with that
jitter in mind (see `adapters.discord.adapter.GLOBAL_RATE`).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable


class Pacer:
    """At most one slot per `1 / rate` seconds, in the order callers ask for them."""

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not rate > 0 or math.isinf(rate):
            raise ValueError(f"a pacing rate must be a positive number of requests per second, not {rate}")
        self.rate = rate
        self.interval = 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._next = -math.inf  # the earliest free slot
        self.waiting = 0
        """Callers asleep until their slot."""
        self.granted = 0
        """Slots used so far."""
        self.delayed = 0
        """Slots that had to be waited for (the rest went through at once)."""
        self.longest_wait = 0.0
        """The longest time a caller was told to wait for its slot, in seconds."""
        self.latest_start = 0.0
        """How long after its slot a caller resumed at worst (event-loop lag), in seconds."""

    def _now(self) -> float:
        return self._clock() if self._clock is not None else asyncio.get_running_loop().time()

    async def wait(self) -> None:
        """Return at this caller's slot. A cancelled caller gives its slot back if it was the last
        one handed out; otherwise the slot goes unused (later callers keep theirs)."""
        now = self._now()
        slot = max(now, self._next)
        self._next = slot + self.interval
        delay = slot - now
        if delay > 0:
            self.waiting += 1
            try:
                await self._sleep(delay)
            except BaseException:
                if self._next == slot + self.interval:
                    self._next = slot
                raise
            finally:
                self.waiting -= 1
            self.delayed += 1
            self.longest_wait = max(self.longest_wait, delay)
        self.granted += 1
        self.latest_start = max(self.latest_start, self._now() - slot)
