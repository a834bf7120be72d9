"""PaperBot: what adapters and the scheduler call. Commands, reactions, digests, refreshes."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Coroutine
from functools import partial
from typing import Any

from bot.cards import alert_messages, day_label
from bot.commands import CommandRouter
from bot.deliveries import DeliveryLedger
from bot.digest import Digester, DigestOutcome, awaited_until
from bot.events import EventLog
from bot.follows import SavedSearches
from bot.ingest import Ingestor, days_in_range
from bot.ports import Clock, PaperSource, Publisher
from bot.post_calendar import list_closes_at, todays_post
from bot.reactions import normalize_emoji
from bot.scheduling import Scheduler
from bot.search import PaperSearch
from bot.source import HFUnavailable
from bot.store import PaperStore
from bot.subscriptions import Subscription, SubscriptionStore
from bot.types import ChannelRef, Command, FetchReport, Notice, Paper, Reaction, Reply, Vote
from bot.votes import DOWN, UP, Tally, VoteBook

log = logging.getLogger(__name__)

FIRST_START_DAYS = 7
REFRESH_JOB = "refresh"
DIGEST_FRESHNESS = dt.timedelta(minutes=10)
# Papers first listed this recently are "new" for saved-search alerts (covers a bot down a day).
ALERT_WINDOW = dt.timedelta(days=2)
SORRY = "Sorry, something went wrong answering that. It has been logged."


def digest_job_id(channel: ChannelRef) -> str:
    return f"digest:{channel.platform}:{channel.community}:{channel.channel}"


def waiting_post_job_id(channel: ChannelRef) -> str:
    """Today's post that waits for its list to close (bot.post_calendar), run when it does."""
    return f"digest-wait:{channel.platform}:{channel.community}:{channel.channel}"


class PaperBot:
    def __init__(
        self,
        *,
        store: PaperStore,
        search: PaperSearch,
        source: PaperSource,
        ingestor: Ingestor,
        subscriptions: SubscriptionStore,
        ledger: DeliveryLedger,
        votes: VoteBook,
        follows: SavedSearches,
        events: EventLog,
        clock: Clock,
        scheduler: Scheduler,
        vote_emoji: frozenset[str],
        down_emoji: frozenset[str],
        refresh_minutes: float = 30,
        interactive_budget: float = 5.0,
    ) -> None:
        self.store = store
        self.source = source
        self.ingestor = ingestor
        self.subscriptions = subscriptions
        self.ledger = ledger
        self.votes = votes
        self.follows = follows
        self.events = events
        self.clock = clock
        self.scheduler = scheduler
        self.vote_emoji = frozenset(normalize_emoji(e) for e in vote_emoji)
        self.down_emoji = frozenset(normalize_emoji(e) for e in down_emoji)
        self.refresh_minutes = refresh_minutes
        self.interactive_budget = interactive_budget
        self.publishers: dict[str, Publisher] = {}
        self.digester = Digester(
            store=store,
            subscriptions=subscriptions,
            ledger=ledger,
            votes=votes,
            publishers=self.publishers,
            clock=clock,
            refresh_day=self._refresh_day,
        )
        self.router = CommandRouter(
            store=store,
            search=search,
            subscriptions=subscriptions,
            votes=votes,
            follows=follows,
            clock=clock,
            fetch_paper=self.fetch_paper,
            subscription_changed=self._subscription_changed,
        )
        self._hf_down = False
        self._day_fetches: dict[dt.date, asyncio.Future[FetchReport]] = {}
        # Operator-facing status lines (the console prints them; servers log them).
        self.announce: Callable[[str], None] = lambda text: log.warning("%s", text)
        self._background: set[asyncio.Task[object]] = set()
        self._first_start_over = asyncio.Event()

    def attach(self, publisher: Publisher) -> None:
        self.publishers[publisher.platform] = publisher

    # --- what adapters call ---------------------------------------------------------------

    async def handle_command(self, command: Command) -> Reply:
        publisher = self.publishers[command.channel.platform]
        try:
            return await self.router.handle(command, publisher)
        except Exception:
            log.exception("command %r failed", command.name)
            return Reply(SORRY, ok=False)

    async def handle_reaction(self, reaction: Reaction) -> Vote | None:
        """Count a reaction on a paper message this bot posted; ignore everything else."""
        if reaction.by_bot:
            return None
        platform = reaction.post.channel.platform
        if reaction.event_id and not await self.events.first_time(
            platform, reaction.event_id, now=self.clock.now()
        ):
            return None  # a retried delivery of an event already handled
        emoji = normalize_emoji(reaction.emoji)
        kind = UP if emoji in self.vote_emoji else DOWN if emoji in self.down_emoji else None
        if kind is None:
            return None
        post = reaction.post
        posted = await self.ledger.posted_paper(post.channel.platform, post.channel.channel, post.message_id)
        if posted is None:
            return None
        changed = await self.votes.record(
            post=post,
            posted=posted,
            user=reaction.user,
            kind=kind,
            emoji=reaction.emoji.strip(),
            added=reaction.added,
            now=self.clock.now(),
        )
        return Vote(
            paper_id=posted.paper_id,
            community=posted.community,
            kind=kind,
            added=reaction.added,
            changed=changed,
        )

    async def tally(self, platform: str, community: str, paper_id: str) -> Tally:
        """A paper's 👍 and 👎 count in one community."""
        return await self.votes.tally(platform, community, paper_id)

    async def fetch_paper(self, paper_id: str) -> Paper | None:
        """A paper someone asked for by id: fetched and stored, within the short interactive
        budget (HFUnavailable when Hugging Face does not answer in time)."""
        paper = await self.source.paper(paper_id, budget=self.interactive_budget)
        if paper is None:
            return None
        await self.store.upsert_papers([paper], now=self.clock.now())
        return await self.store.get_paper(paper_id)

    # --- digests, refreshes and the schedule ----------------------------------------------

    async def post_digest(self, channel: ChannelRef, *, day: dt.date | None = None) -> DigestOutcome:
        return await self.digester.run(channel, day=day)

    async def _digest_job(self, channel: ChannelRef) -> DigestOutcome | None:
        """Today's post (bot.post_calendar) once it is due, then on Mondays the weekly recap.

        Run by the channel's own job at its post time and by every catch-up; it re-reads the
        subscription, so a job another process scheduled for an older post time posts nothing
        early. Never raises.
        """
        try:
            sub = await self.subscriptions.get(channel)
            if sub is None or sub.paused_reason:
                return None
            now = self.clock.now()
            for awaited in sub.awaited_days:
                await self._post_awaited(sub, awaited, now)
            post = todays_post(sub.post_time, sub.zone, now)
            if post is None:
                return None
            if post.at > now:
                # The list closes after the post time: post when it closes, not at the next refresh.
                if now >= post.slot:
                    self.scheduler.once(
                        waiting_post_job_id(channel), partial(self._digest_job, channel), at=post.at
                    )
                return None
            outcome = await self.digester.run(channel, day=post.list_day)
            # The recap follows a complete Monday post, whoever posted it, and counts the votes
            # cast before that post's time: a catch-up retries a recap that failed to send, but
            # a vote at noon cannot bring one at 12:30. The ledger keeps it to one.
            if outcome.complete and post.local_day.weekday() == 0:
                await self.digester.recap(channel, votes_before=post.at)
            return outcome
        except Exception:
            log.exception("digest for %s/%s failed", channel.platform, channel.channel)
            return None

    async def _post_awaited(self, sub: Subscription, day: dt.date, now: dt.datetime) -> None:
        """An earlier list that was empty at its post time: posted once papers appear, later
        than planned but once; forgotten when it stays empty for AWAIT_EMPTY_WEEKDAYS more."""
        channel = sub.channel
        if now > awaited_until(day):
            await self.subscriptions.await_list(channel, day, waiting=False)
            note = f"Hugging Face's list for {day_label(day)} stayed empty; there is no digest for that day."
            await self.subscriptions.record_run(channel, now=now, note=note)
            return
        todays = todays_post(sub.post_time, sub.zone, now)
        if todays is not None and todays.list_day == day:
            return  # still today's own post: the caller runs it
        await self.digester.run(channel, day=day)  # which forgets the day once it is posted

    async def _refresh_day(self, day: dt.date) -> None:
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
            fetch = asyncio.ensure_future(self._fetch_and_alert(day))
            self._day_fetches[day] = fetch
            fetch.add_done_callback(lambda _: self._day_fetches.pop(day, None))
        await asyncio.shield(fetch)  # one digest giving up must not cancel the others' fetch

    async def _fetch_and_alert(self, day: dt.date) -> FetchReport:
        # Papers that reach a list here, before the refresh job sees them, still get alerts.
        report = await self.ingestor.fetch_days([day])
        await self.send_alerts()
        return report

    async def refresh(self) -> FetchReport | None:
        """Fetch yesterday's and today's lists, alert saved searches, post digests that wait.

        Digests are caught up even when Hugging Face is down: a list fetched after it closed is
        complete, and a digest whose list is missing says so and waits for the next refresh.
        """
        report: FetchReport | None = None
        try:
            report = await self.ingestor.fetch_recent()
        except HFUnavailable as exc:
            self._report_outage(exc)
        else:
            self._hf_down = False
            await self.send_alerts()
        await self.catch_up()
        return report

    def _report_outage(self, exc: Exception) -> None:
        # Said once per outage, in one line; the refresh job keeps trying.
        if self._hf_down:
            log.info("Hugging Face still unreachable: %s", exc)
        else:
            self.announce(f"Hugging Face is unreachable ({exc}); paperboy keeps running and retries later.")
        self._hf_down = True

    async def send_alerts(self) -> int:
        """Direct messages listing new papers that match users' saved searches, each under the
        search that found it, ten papers a message; returns how many messages went out.

        "New" is first listed in the last ALERT_WINDOW, as the database says, so papers listed by
        any process (a digest's fetch, `paperboy fetch`) are covered. Only users on platforms
        this process is connected to are considered; another instance alerts the others.
        """
        sent = 0
        now = self.clock.now()
        listed = await self.store.first_listed_since(now - ALERT_WINDOW)
        alerts = await self.follows.alerts(listed, now=now, platforms=set(self.publishers))
        for user, found in alerts.items():
            publisher = self.publishers[user.platform]  # alerts cover connected platforms only
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
        await self.send_alerts()
        return report

    async def catch_up(self) -> list[DigestOutcome]:
        """Post what is due today but did not go out: a post missed while the bot was down, or
        one whose list closed after the post time (bot.post_calendar). Idempotent."""
        due = [
            sub.channel
            for sub in await self.subscriptions.all()
            if sub.channel.platform in self.publishers and not sub.paused_reason
        ]
        # Together, not one channel after another: after a restart at 09:05 a hundred channels'
        # digests go out at the pace of the platforms' limits (the digester bounds how many run).
        outcomes = await asyncio.gather(*(self._digest_job(channel) for channel in due))
        return [outcome for outcome in outcomes if outcome is not None]

    async def _subscription_changed(self, channel: ChannelRef, sub: Subscription | None) -> None:
        if sub is None or sub.paused_reason:
            self.scheduler.cancel(digest_job_id(channel))
            self.scheduler.cancel(waiting_post_job_id(channel))
        else:
            self._schedule(sub)

    def _schedule(self, sub: Subscription) -> None:
        channel = sub.channel

        async def job() -> None:
            await self._digest_job(channel)

        self.scheduler.daily_at(digest_job_id(channel), job, at=sub.post_time, zone=sub.zone)

    async def start(self) -> None:
        """Schedule every stored subscription of an attached platform, then catch up."""
        for sub in await self.subscriptions.all():
            if sub.channel.platform in self.publishers and not sub.paused_reason:
                self._schedule(sub)
        self.scheduler.every(REFRESH_JOB, self.refresh, minutes=self.refresh_minutes)
        self.scheduler.start()
        self._spawn(self._startup())

    async def _startup(self) -> None:
        """In the background, so that the bot answers at once: an empty store gets the last
        week; otherwise the lists are refreshed now, not only after the first refresh interval."""
        if await self.store.count_papers():
            self._first_start_over.set()
            await self.refresh()
        else:
            try:
                await self.first_start()
            finally:
                self._first_start_over.set()
            await self.catch_up()

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
        # Shared day fetches run shielded from the digests waiting on them: stopped here too, so
        # that nothing outlives the engine.
        running: list[asyncio.Future[Any]] = [*self._background, *self._day_fetches.values()]
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
