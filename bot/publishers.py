"""Where the core's messages go: the platforms this process is connected to, and the operator's
status lines. Adapters attach themselves when the composition root builds them."""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.ports import Publisher

log = logging.getLogger(__name__)


class Publishers:
    """The connected platforms' publishers, by platform name."""

    def __init__(self) -> None:
        self._by_platform: dict[str, Publisher] = {}

    def attach(self, publisher: Publisher) -> None:
        self._by_platform[publisher.platform] = publisher

    def get(self, platform: str) -> Publisher | None:
        return self._by_platform.get(platform)

    def __contains__(self, platform: object) -> bool:
        return platform in self._by_platform

    def platforms(self) -> frozenset[str]:
        return frozenset(self._by_platform)


class Announcer:
    """Operator-facing status lines ("First start: fetching…"): to whoever listens (the
    console prints them), else to the log."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[str], None]] = []

    def listen(self, listener: Callable[[str], None]) -> None:
        self._listeners.append(listener)

    def __call__(self, text: str) -> None:
        if not self._listeners:
            log.warning("%s", text)
        for listener in self._listeners:
            listener(text)
