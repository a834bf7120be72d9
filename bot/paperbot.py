"""PaperBot: what adapters and the scheduler call. Commands, reactions, digests, refreshes.

It only dispatches: every collaborator comes ready-made from the composition root
(adapters/app.py), and none of them calls back into it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Coroutine
from typing import Any

from bot.alerts import AlertSender
from bot.commands import CommandRouter
from bot.digest import Digester, DigestOutcome
from bot.digest_jobs import DigestSchedule
from bot.embedding import EmbeddingUnavailable
from bot.leadership import Leadership
from bot.lists import DailyLists
from bot.live_counts import LiveCounts
from bot.metrics import Metrics
from bot.ports import Publisher
from bot.publishers import Publishers
from bot.scheduling import Scheduler
from bot.semantic import SemanticIndex
from bot.store import PaperStore
from bot.subscriptions import Subscription
from bot.types import ChannelRef, Command, FetchReport, Post, Reaction, Reply, Vote
from bot.unfurls import LinkCards
from bot.votes import ReactionCounter, Tally

log = logging.getLogger(__name__)

REFRESH_JOB = "refresh"
HEARTBEAT_JOB = "heartbeat"
SORRY = "Sorry, something went wrong answering that. It has been logged."
# Commands worked on at once in a process; the rest wait their turn (the platform has had its
# ack). Unbounded, 50 at once kept the event loop and the database so busy that acks took 220
# ms and answers 400 ms at p99; eight at a time, 115 and 320 ms (BENCHMARKS.md, issue 14).
MAX_CONCURRENT_COMMANDS = 8


class PaperBot:
    def __init__(
        self,
        *,
        commands: CommandRouter,
        reactions: ReactionCounter,
        digester: Digester,
        digests: DigestSchedule,
        lists: DailyLists,
        alerts: AlertSender,
        publishers: Publishers,
        scheduler: Scheduler,
        store: PaperStore,
        link_cards: LinkCards,
        live_counts: LiveCounts,
        leadership: Leadership,
        metrics: Metrics,
        semantic: SemanticIndex | None = None,
        refresh_minutes: float = 30,
        max_concurrent_commands: int = MAX_CONCURRENT_COMMANDS,
    ) -> None:
        self.commands = commands
        self.reactions = reactions
        self.digester = digester
        self.digests = digests
        self.lists = lists
        self.alerts = alerts
        self.publishers = publishers
        self.scheduler = scheduler
        self.store = store
        self.link_cards = link_cards
        self.live_counts = live_counts
        self.leadership = leadership
        self.metrics = metrics
        self.semantic = semantic
        self.refresh_minutes = refresh_minutes
        self._background: set[asyncio.Task[object]] = set()
        self._first_start_over = asyncio.Event()
        self._command_turns = asyncio.Semaphore(max_concurrent_commands)

    def attach(self, publisher: Publisher) -> None:
        """A platform this process is connected to (its adapter's publisher)."""
        self.publishers.attach(publisher)

    # --- what adapters call ---------------------------------------------------------------

    async def handle_command(self, command: Command) -> Reply:
        started = time.monotonic()
        answered = False
        try:
            async with self._command_turns:
                reply = await self.commands.handle(command)
            answered = True
            return reply
        except Exception:
            log.exception("command %r failed", command.name)
            return Reply(SORRY, ok=False)
        finally:
            self.metrics.command(command.name.lower(), time.monotonic() - started, ok=answered)

    async def handle_reaction(self, reaction: Reaction) -> Vote | None:
        """Count a reaction on a paper message this bot posted; ignore everything else."""
        return await self.reactions.handle(reaction)

    async def link_previews(self, urls: list[str]) -> dict[str, Post]:
        """The card of each paper link among `urls` (a preview, not an answer: nothing when a
        paper cannot be found or Hugging Face is down)."""
        try:
            return await self.link_cards.cards(urls)
        except Exception:
            log.exception("link previews failed")
            return {}

    async def first_delivery(self, platform: str, event_id: str) -> bool:
        """False for a platform's retry of an event already handled (by any process)."""
        return await self.reactions.events.first_time(platform, event_id, now=self.reactions.clock.now())

    async def tally(self, platform: str, community: str, paper_id: str) -> Tally:
        """A paper's 👍 and 👎 count in one community."""
        return await self.reactions.tally(platform, community, paper_id)

    async def post_digest(self, channel: ChannelRef, *, day: dt.date | None = None) -> DigestOutcome:
        """A channel's digest now (`paperboy digest post`): `day`'s list, default the newest."""
        return await self.digester.run(channel, day=day)

    async def subscriptions_named(self, platform: str, channel: str) -> list[Subscription]:
        """The subscriptions of a channel id, whatever its community (the CLI knows only ids)."""
        return await self.digests.channels_named(platform, channel)

    # --- the schedule ---------------------------------------------------------------------

    async def catch_up(self) -> list[DigestOutcome]:
        return await self.digests.catch_up()

    async def send_alerts(self) -> int:
        return await self.alerts.send()

    async def refresh(self) -> FetchReport | None:
        """Fetch yesterday's and today's lists, alert saved searches, post digests that wait.

        Digests are caught up even when Hugging Face is down: a list fetched after it closed is
        complete, and a digest whose list is missing says so and waits for the next refresh.
        """
        report = await self.lists.refresh_recent()
        if report is not None:
            await self.embed_new()
            await self.alerts.send()
        await self.digests.catch_up()
        await self.update_live_counts()
        return report

    async def update_live_counts(self) -> int:
        """Refresh the counts on the digest cards of the last two days (after a refresh has read
        the upvotes again); how many cards were edited."""
        try:
            return await self.live_counts.update()
        except Exception:  # the digests and the next refresh go on
            log.exception("refreshing the counts on digest cards failed")
            return 0

    async def first_start(self) -> FetchReport | None:
        """With an empty store, fetch the last week so that search has something to find."""
        report = await self.lists.first_start()
        if report is not None:
            await self.embed_new()
            await self.alerts.send()
        return report

    async def embed_new(self) -> int:
        """Embed the papers stored without a vector (at once unless a backfill is running,
        which embeds them too); how many."""
        if self.semantic is None:
            return 0
        try:
            return await self.semantic.embed_missing(wait=False)
        except EmbeddingUnavailable:
            return 0  # said once by the start's backfill and by search
        except Exception:  # search by words goes on; the next refresh tries again
            log.exception("embedding new papers failed")
            return 0

    async def backfill_embeddings(self) -> None:
        """Load the model and the vectors, and embed every stored paper without a vector, in
        the background of `run`."""
        assert self.semantic is not None
        try:
            # The model and the stored vectors are loaded now, not at the first question.
            await self.semantic.warm_up()
            await self.semantic.load_new(force=True)
            missing = await self.semantic.missing()
            if not missing:
                return
            log.info("Search by meaning: embedding %d stored papers in the background", missing)
            done = await self.semantic.embed_missing()
        except EmbeddingUnavailable as exc:
            log.error("search by meaning is unavailable: %s; search by words goes on", exc)
            return
        except Exception:
            log.exception("embedding stored papers failed; search by words goes on")
            return
        log.info("Search by meaning: embedded %d papers", done)

    async def start(self) -> None:
        """Schedule every stored subscription of an attached platform and the refresh job; the
        first refresh (or first start) runs at once, in the background."""
        await self.leadership.beat()
        self.metrics.leader.set(1 if self.leadership.is_leader else 0)
        await self.digests.schedule_all()
        self.scheduler.every(REFRESH_JOB, self._scheduled_refresh, minutes=self.refresh_minutes)
        self.scheduler.every(HEARTBEAT_JOB, self._heartbeat, minutes=self.leadership.beat_minutes)
        self.scheduler.start()
        self._spawn(self._startup())
        if self.semantic is not None:
            self._spawn(self.backfill_embeddings())

    async def _scheduled_refresh(self) -> None:
        if self.leadership.is_leader:  # the others wait to take over if it dies
            await self.refresh()

    async def _heartbeat(self) -> None:
        try:
            became_leader = await self.leadership.beat()
        except Exception:  # the database is down: the next beat tries again
            log.exception("heartbeat failed")
            return
        self.metrics.leader.set(1 if self.leadership.is_leader else 0)
        try:
            await self.digests.schedule_all()
        except Exception:
            log.exception("comparing the digest schedule with the subscriptions failed")
        self.metrics.scheduled_jobs.set(len(self.scheduler.job_ids()))
        if became_leader:  # the leader before it died or stopped: repair what it missed now
            self._spawn(self.refresh())

    async def _startup(self) -> None:
        """In the background, so that the bot answers at once: an empty store gets the last
        week; otherwise the lists are refreshed now, not only after the first refresh interval.
        Only the leader does this; the other processes answer from what it stores."""
        if not self.leadership.is_leader:
            self._first_start_over.set()
            return
        if await self.store.count_papers():
            self._first_start_over.set()
            await self.refresh()
        else:
            try:
                await self.first_start()
            finally:
                self._first_start_over.set()
            await self.digests.catch_up()

    async def first_start_over(self) -> None:
        """Wait until the first start's fetch (an empty store gets the last week) has ended,
        fetched or not; at once when the store had papers. Commands piped in wait for it, so a
        script's `/paper today` sees the lists."""
        await self._first_start_over.wait()

    def _spawn(self, coroutine: Coroutine[Any, Any, object]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def stop(self) -> None:
        self.scheduler.shutdown()
        try:
            await self.leadership.stop()
        except Exception:  # the database is down: the leases expire by themselves
            log.warning("could not hand over this process's leases; they expire by themselves")
        running = list(self._background)
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        await self.lists.stop()
