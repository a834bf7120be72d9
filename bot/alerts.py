"""Saved-search alerts: direct messages about papers that first appeared on a list."""

from __future__ import annotations

import datetime as dt
import logging

from bot.cards import alert_messages
from bot.follows import SavedSearches
from bot.ports import Clock
from bot.publishers import Publishers
from bot.store import PaperStore
from bot.types import Notice

log = logging.getLogger(__name__)

# Papers first listed this recently are "new" for saved-search alerts (covers a bot down a day).
ALERT_WINDOW = dt.timedelta(days=2)


class AlertSender:
    def __init__(
        self, *, store: PaperStore, follows: SavedSearches, publishers: Publishers, clock: Clock
    ) -> None:
        self.store = store
        self.follows = follows
        self.publishers = publishers
        self.clock = clock

    async def send(self) -> int:
        """Direct messages listing new papers that match users' saved searches, each under the
        search that found it, ten papers a message; returns how many messages went out.

        "New" is first listed in the last ALERT_WINDOW, as the database says, so papers listed by
        any process (a digest's fetch, `paperboy fetch`) are covered. Only users on platforms
        this process is connected to are considered; another instance alerts the others.
        """
        sent = 0
        now = self.clock.now()
        listed = await self.store.first_listed_since(now - ALERT_WINDOW)
        alerts = await self.follows.alerts(listed, now=now, platforms=self.publishers.platforms())
        for user, found in alerts.items():
            publisher = self.publishers.get(user.platform)
            if publisher is None:
                continue  # alerts cover connected platforms only
            for text, paper_ids in alert_messages(found):
                try:
                    await publisher.send_dm(user, Notice(text))
                    sent += 1
                except Exception:
                    log.exception(
                        "saved-search alert to a %s user failed; retried at the next refresh", user.platform
                    )
                    await self.follows.release(user, paper_ids)
        return sent
