"""Daily digests: which list a channel gets, and posting it exactly once.

The list for UTC day D fills until about 21:30 US Eastern on D. A digest posts the newest list
that has closed, on weekdays at the channel's local time, so a Monday morning post carries
Friday's list. Before each message is sent its delivery row is claimed (bot.deliveries); a run
that crashed midway is resumed from the rows it left, posting only what was not sent.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from bot.cards import cut_at_word, day_label, digest_header, paper_card, shown_counts
from bot.deliveries import HEADER, PAPER, RECAP, RELEASED, Delivery, DeliveryLedger
from bot.ingest import DAILY_PAPERS_START
from bot.leases import Leases
from bot.metrics import Metrics
from bot.ports import ChannelUnavailable, Clock, MessageRejected, Outgoing, Publisher, PublishFailed
from bot.post_calendar import list_closes_at, newest_closed_day, weekdays_after
from bot.publishers import Publishers
from bot.query import tokens
from bot.source import HFUnavailable
from bot.store import PaperStore
from bot.subscriptions import TASTE, Subscription, SubscriptionStore
from bot.taste import Taste, Tastes
from bot.types import ChannelRef, Notice, Paper, Post, PostRef, channel_key
from bot.votes import VoteBook

log = logging.getLogger(__name__)

RECAP_SIZE = 10
# A list that Hugging Face answered empty is awaited until the list this many weekdays later has
# closed too (a weekend does not count): incidents are fixed within hours, holidays stay empty.
AWAIT_EMPTY_WEEKDAYS = 2
# The waits before the second and third try of one message (Slack's internal_error, a 5xx, a
# dropped connection, a send past its timeout), as shares of the claim lease: 2 and 10 seconds
# with the default five minutes, well within the lease. Then the run gives up and says so.
SEND_RETRY_SHARES = (1 / 150, 1 / 30)
MAX_CONCURRENT_DIGESTS = 100

Refresh = Callable[[dt.date], Awaitable[None]]
Sleep = Callable[[float], Awaitable[None]]


@dataclass
class _Sent:
    """Messages a run has sent so far: counted as they go, so a run that stops early knows; and
    why any it had to leave out were refused."""

    count: int = 0
    refused: list[str] = field(default_factory=list)
    finished: bool = True  # no message was held by another process


@dataclass(frozen=True, slots=True)
class _Plan:
    """A digest just planned: its rows as claimed, and how many papers its day's list had."""

    rows: list[Delivery]
    listed: int


def _minutes(span: dt.timedelta) -> str:
    seconds = int(span.total_seconds())
    if seconds % 60 == 0:
        minutes = seconds // 60
        return f"{minutes}-minute" if minutes != 1 else "1-minute"
    return f"{seconds}-second"


def select_papers(
    papers: Sequence[Paper], sub: Subscription, *, order: Sequence[str] | None = None
) -> list[Paper]:
    """The channel's share of a list: by HF upvotes (or in `order`, ids best first), filtered,
    at most `size`."""
    include = [tokens(word) for word in sub.include_keywords]
    exclude = [tokens(word) for word in sub.exclude_keywords]

    def words(paper: Paper) -> str:
        text = " ".join((paper.title, paper.abstract, " ".join(paper.ai_keywords)))
        return " " + " ".join(tokens(text)) + " "

    def has(text: str, term: tuple[str, ...]) -> bool:
        return bool(term) and f" {' '.join(term)} " in text

    chosen = []
    if order is not None:
        position = {paper_id: index for index, paper_id in enumerate(order)}
        ranked = sorted(papers, key=lambda p: position.get(p.id, len(position)))
    else:
        ranked = sorted(papers, key=lambda p: -(p.upvotes or 0))  # stable: ties keep HF's order
    for paper in ranked:
        if (paper.upvotes or 0) < sub.min_upvotes:
            continue
        text = words(paper)
        if include and not any(has(text, term) for term in include):
            continue
        if any(has(text, term) for term in exclude):
            continue
        chosen.append(paper)
    return chosen[: sub.size]


@dataclass(frozen=True, slots=True)
class DigestOutcome:
    day: dt.date | None
    posted: int  # messages sent by this run (header included)
    note: str
    complete: bool = False  # every message of that day's digest is in the channel
    empty_list: bool = False  # Hugging Face's list for the day is empty so far: nothing posted


class DeliveryFailed(Exception):
    """One message could not be sent after every retry; `reason` says why, in one line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def failure_reason(exc: BaseException, timeout: float) -> str:
    """A failed send in a few words, for a log line and the channel's digest status."""
    if isinstance(exc, PublishFailed):
        return exc.reason
    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout:.0f} s"
    first_line = next(iter(str(exc).splitlines()), "")
    return f"{type(exc).__name__}: {cut_at_word(first_line, 120)}" if first_line else type(exc).__name__


def awaited_until(day: dt.date) -> dt.datetime:
    """Until when an empty list for `day` is checked again for papers."""
    return list_closes_at(weekdays_after(day, AWAIT_EMPTY_WEEKDAYS))


def run_failed(note: str) -> bool:
    """Whether a run's note says it did not post the whole digest (paused, or incomplete)."""
    return note.startswith("Paused") or "incomplete" in note


def outcome_label(outcome: DigestOutcome) -> str:
    """A run's outcome for metrics: posted, failed (incomplete or paused), or nothing to do."""
    if run_failed(outcome.note):
        return "failed"
    return "posted" if outcome.posted and outcome.complete else "nothing"


def digest_lease(channel: ChannelRef) -> str:
    return f"digest:{channel_key(channel)}"


class Digester:
    """Posts digests and recaps through the publisher of the subscription's platform."""

    def __init__(
        self,
        *,
        store: PaperStore,
        subscriptions: SubscriptionStore,
        ledger: DeliveryLedger,
        votes: VoteBook,
        publishers: Publishers,
        clock: Clock,
        refresh_day: Refresh,
        retry_delays: Sequence[float] | None = None,
        max_concurrent: int = MAX_CONCURRENT_DIGESTS,
        leases: Leases,
        metrics: Metrics,
        tastes: Tastes | None = None,
    ) -> None:
        self.metrics = metrics
        self.store = store
        self.leases = leases  # one process sends a channel's digest at a time
        self.tastes = tastes  # None: search by meaning is off, `rank taste` falls back to upvotes
        self.subscriptions = subscriptions
        self.ledger = ledger
        self.votes = votes
        self.publishers = publishers
        self.clock = clock
        self.refresh_day = refresh_day
        lease = ledger.lease.total_seconds()
        self.retry_delays = tuple(retry_delays or (lease * share for share in SEND_RETRY_SHARES))
        self.sleep: Sleep = asyncio.sleep  # waits between tries of one message; tests replace it
        self.owner = leases.owner  # this process, in claim rows and leases
        self._locks: dict[str, asyncio.Lock] = {}
        self._lease_renewed: dict[str, dt.datetime] = {}  # when this run last took its lease
        # Due digests run together (a restart at 09:05, every channel at the default 09:00), as
        # many at once as keeps the platforms' global limits busy without a task per channel
        # queueing on the database.
        self._slots = asyncio.Semaphore(max_concurrent)

    async def run(self, channel: ChannelRef, *, day: dt.date | None = None) -> DigestOutcome:
        """Post `day`'s digest (default: the newest closed list) unless it was posted already."""
        lock = self._locks.setdefault(channel_key(channel), asyncio.Lock())
        async with self._slots, lock:
            # One sender per channel across processes: the papers go out in order and paced by
            # one process; the claims stay the safety net (a lease can run out mid-send).
            lease = digest_lease(channel)
            taken_at = self.clock.now()
            if not await self.leases.take(lease, ttl=self.ledger.lease, now=taken_at):
                outcome = await self._sent_elsewhere(channel, day)
            else:
                self._lease_renewed[lease] = taken_at
                try:
                    outcome = await self._run(channel, day)
                finally:
                    self._lease_renewed.pop(lease, None)
                    await self.leases.give_up(lease)
        log.info("digest %s/%s: %s", channel.platform, channel.channel, outcome.note)
        self.metrics.digests.labels(outcome_label(outcome)).inc()
        return outcome

    async def _sent_elsewhere(self, channel: ChannelRef, day: dt.date | None) -> DigestOutcome:
        """What a run says when another process holds the channel's digest lease."""
        target = day or newest_closed_day(self.clock.now())
        rows = await self.ledger.of_day(channel, target)
        if rows and all(row.sent_at for row in rows):
            return DigestOutcome(
                target, 0, f"{day_label(target)}'s list was already posted here.", complete=True
            )
        return DigestOutcome(target, 0, self._elsewhere_note(target))

    def _elsewhere_note(self, day: dt.date) -> str:
        return (
            f"{day_label(day)}'s digest is being posted by another process; if that one "
            f"stopped, the rest goes out after its {_minutes(self.ledger.lease)} lease."
        )

    async def _run(self, channel: ChannelRef, day: dt.date | None) -> DigestOutcome:
        sub = await self.subscriptions.get(channel)
        now = self.clock.now()
        if sub is None:
            return DigestOutcome(day, 0, "This channel has no digest.")
        if sub.paused_reason:
            return DigestOutcome(day, 0, f"Paused: {sub.paused_reason}")
        publisher = self.publishers.get(channel.platform)
        if publisher is None:
            note = f"No {channel.platform} connection is running, so nothing was posted."
            await self.subscriptions.record_run(channel, now=now, note=note)
            return DigestOutcome(day, 0, note)
        target = day or newest_closed_day(now)
        rows = await self.ledger.of_day(channel, target)
        if target.weekday() >= 5:
            return DigestOutcome(target, 0, f"{day_label(target)} is a weekend day: it has no list.")
        if target < DAILY_PAPERS_START:
            note = f"Daily Papers began in May 2023: {day_label(target)} has no list."
            return DigestOutcome(target, 0, note)
        listed: int | None = None  # papers on the day's list, when this run read it
        if not any(row.kind == HEADER for row in rows):
            plan = await self._plan(sub, target, now)
            if isinstance(plan, _Plan):
                rows, listed = plan.rows, plan.listed
            else:
                note, empty = plan
                if empty and now <= awaited_until(target):
                    # Checked again at every refresh (bot.paperbot), whoever asked for this run.
                    await self.subscriptions.await_list(channel, target, waiting=True)
                    until = day_label(awaited_until(target).date())
                    note += f" paperboy checks it at every refresh until {until} and posts it then."
                elif empty:
                    note = f"Hugging Face's list for {day_label(target)} has no papers; nothing was posted."
                await self.subscriptions.record_run(channel, now=now, note=note)
                return DigestOutcome(target, 0, note, empty_list=empty)
        sent = _Sent()
        try:
            await self._send(sub, publisher, target, rows, sent, listed)
        except ChannelUnavailable as exc:
            await self.ledger.release_unsent(channel, target, owner=self.owner)
            reason = f"{exc.reason} (since {now:%Y-%m-%d %H:%M} UTC). Run /paper digest here to resume."
            await self.subscriptions.pause(channel, reason)
            await self.subscriptions.record_run(channel, now=now, note=f"Paused: {reason}")
            log.warning("digest %s/%s paused: %s", channel.platform, channel.channel, exc.reason)
            return DigestOutcome(target, sent.count, f"Paused: {reason}")
        except DeliveryFailed as exc:
            # Every claim this run still holds goes back, so that the next run (the next
            # refresh, or `paperboy digest post` at once) sends the rest without a lease to wait.
            await self.ledger.release_unsent(channel, target, owner=self.owner)
            after = await self.ledger.of_day(channel, target)
            missing = sum(1 for row in after if row.sent_at is None)
            note = (
                f"{day_label(target)}'s digest is incomplete: {missing} of {len(after)} messages "
                f"could not be sent ({exc.reason}); the next run sends them."
            )
            await self.subscriptions.record_run(channel, now=now, note=note)
            log.warning("digest %s/%s: %s", channel.platform, channel.channel, note)
            return DigestOutcome(target, sent.count, note)
        except BaseException:
            # Cancelled (the bot is stopping): give the claims back before the task ends, inside
            # it, so that a restart resumes at once and nothing outlives the engine.
            await self.ledger.release_unsent(channel, target, owner=self.owner)
            raise
        # Every message this run set out to send went out (or was refused for good): the digest
        # is complete without asking the ledger again. Otherwise another process holds some.
        after = rows if sent.finished else await self.ledger.of_day(channel, target)
        complete = sent.finished or all(row.sent_at for row in after)
        if complete and (sent.count or sent.refused):
            papers = sum(1 for row in after if row.kind == PAPER)
            note = f"Posted {day_label(target)}'s list ({papers} paper{'s' if papers != 1 else ''}"
            if sent.refused:
                note += f"; {len(sent.refused)} left out, refused for good: {sent.refused[0]}"
            note += ")."
            await self.subscriptions.record_run(channel, now=now, note=note, posted_day=target)
            if target in sub.awaited_days:
                await self.subscriptions.await_list(channel, target, waiting=False)
        elif complete:
            # Nothing left to send: keep the last run's note, which says what happened.
            note = f"{day_label(target)}'s list was already posted here."
        else:
            note = self._elsewhere_note(target)
        return DigestOutcome(target, sent.count, note, complete=complete)

    async def _taste(self, sub: Subscription) -> Taste | None:
        """The channel's taste when its list is ranked by it; None to order by upvotes (ranking
        by upvotes, or fewer than MIN_VOTES votes so far)."""
        if sub.ranking != TASTE or self.tastes is None:
            return None
        taste = await self.tastes.of(sub.channel.platform, sub.channel.community)
        return taste if taste.direction is not None else None

    async def _plan(self, sub: Subscription, day: dt.date, now: dt.datetime) -> _Plan | tuple[str, bool]:
        """Claim the header and every chosen paper of `day`, or say why there is nothing to post
        (and whether that is because the list is empty so far)."""
        try:
            await self.refresh_day(day)
        except HFUnavailable as exc:
            log.warning("refreshing %s before a digest failed: %s", day, exc)
        fetched_at = await self.store.fetched_at(day)
        if fetched_at is None:
            note = (
                f"{day_label(day)}'s list could not be fetched from Hugging Face; "
                "the digest will be posted once it can."
            )
            return note, False
        if fetched_at < list_closes_at(day):
            # Fetched while it was still filling: posting it now would leave out its last papers.
            note = (
                f"{day_label(day)}'s list was last fetched before it closed and Hugging Face is not "
                "answering; the digest will be posted once the whole list can be fetched."
            )
            return note, False
        listed = (await self.store.daily_list(day)).papers
        if not listed:
            # Hugging Face answers an empty list for a closed weekday during incidents, and fills
            # it later: nothing is posted (nor claimed) until papers appear.
            return f"Hugging Face's list for {day_label(day)} is empty so far.", True
        order = None
        if (taste := await self._taste(sub)) is not None and self.tastes is not None:
            order = [paper_id for paper_id, _ in self.tastes.rank(taste, [paper.id for paper in listed])]
        chosen = select_papers(listed, sub, order=order)
        planned = await self.ledger.claim_plan(
            sub.channel, day, [paper.id for paper in chosen], owner=self.owner, now=now
        )
        if not planned:
            return f"{day_label(day)}'s digest is being posted by another paperboy process.", False
        rows = [Delivery(HEADER, "", 0, None, None, now, None)]
        rows += [
            Delivery(PAPER, paper.id, position, None, None, now, None)
            for position, paper in enumerate(chosen, 1)
        ]
        return _Plan(rows, len(listed))

    async def _send(
        self,
        sub: Subscription,
        publisher: Publisher,
        day: dt.date,
        rows: list[Delivery],
        sent: _Sent,
        listed: int | None,
    ) -> None:
        """Send every unsent message of the day's plan that this process can claim, in order;
        `sent.finished` when none was held by another process."""
        header = next(row for row in rows if row.kind == HEADER)
        papers = sorted((row for row in rows if row.kind == PAPER), key=lambda row: row.position)
        header_ref: PostRef | None = None
        if header.sent_at is None:
            if listed is None:  # a digest resumed: its list was read by the run that planned it
                listed = len((await self.store.daily_list(day)).papers)
            for_channel = await self._taste(sub) is not None
            text = digest_header(day, len(papers), listed, for_channel=for_channel)
            try:
                header_ref = await self._deliver(sub.channel, day, HEADER, "", publisher, Notice(text), None)
            except MessageRejected as exc:
                sent.refused.append(exc.reason)  # the papers go out without their thread
            else:
                if header_ref is None:
                    sent.finished = False
                    return  # another process is sending this digest
                sent.count += 1
        elif header.message_id:
            header_ref = PostRef(sub.channel, header.message_id)
        thread = header_ref if sub.threaded else None
        # Read once for the whole run, not once per message.
        stored = await self.store.get_papers([row.paper_id for row in papers if row.sent_at is None])
        for row in papers:
            if row.sent_at is not None:
                continue
            paper = stored.get(row.paper_id)
            if paper is None:  # not in the store (never expected): left for the ledger to tell
                sent.finished = False
                continue
            try:
                ref = await self._deliver(
                    sub.channel,
                    day,
                    PAPER,
                    paper.id,
                    publisher,
                    paper_card(paper),
                    thread,
                    position=row.position,
                )
            except MessageRejected as exc:
                sent.refused.append(exc.reason)
                continue
            if ref is None:
                sent.finished = False  # another process holds this one
            else:
                sent.count += 1

    async def _deliver(
        self,
        channel: ChannelRef,
        day: dt.date,
        kind: str,
        paper_id: str,
        publisher: Publisher,
        message: Outgoing,
        thread: PostRef | None,
        *,
        position: int = 0,
    ) -> PostRef | None:
        """Claim one message and send it, trying again after a transient failure; None when
        another process holds it. Raises DeliveryFailed when every try failed."""
        deadline = self.ledger.publish_timeout.total_seconds()
        what = f"{kind} {paper_id or 'message'} for {channel.platform}/{channel.channel}"
        for attempt, delay in enumerate((*self.retry_delays, None), 1):
            # The claim is renewed before each try, and the digest's lease (run() holds it; a
            # recap has none) once a quarter of it has passed: not a transaction per message.
            if kind != RECAP and not await self._renew_lease(channel):
                return None  # this process stalled past its lease; another one sends the rest
            claim = await self.ledger.claim(
                channel, day, kind, paper_id, position=position, owner=self.owner, now=self.clock.now()
            )
            if claim is None:
                return None
            try:
                async with asyncio.timeout(deadline):
                    ref = await self._publish(publisher, channel, message, thread)
            except ChannelUnavailable:
                await self.ledger.release(claim)
                raise
            except MessageRejected as exc:
                await self.ledger.mark_skipped(claim, owner=self.owner, now=self.clock.now())
                log.warning("%s was refused for good (%s); the digest goes on without it", what, exc.reason)
                raise
            except Exception as exc:
                # A send that timed out may or may not have reached the channel; trying again
                # means it is sent again rather than never (nothing lost, at the risk of a repeat).
                reason = failure_reason(exc, deadline)
                if delay is None:
                    await self.ledger.release(claim)
                    raise DeliveryFailed(f"{reason}; tried {attempt} times") from exc
                log.warning("posting %s failed (%s); trying again in %.0f s", what, reason, delay)
                await self.sleep(delay)
                continue
            except BaseException:
                await self.ledger.release(claim)
                raise
            counts = shown_counts(message) if isinstance(message, Post) else None
            if not await self.ledger.mark_sent(
                claim, ref, owner=self.owner, now=self.clock.now(), counts=counts
            ):
                log.warning("%s was taken over by another process while it was being sent", what)
            return ref
        raise AssertionError("unreachable: the last try either returns or raises")

    async def _renew_lease(self, channel: ChannelRef) -> bool:
        now = self.clock.now()
        key = digest_lease(channel)
        if now - self._lease_renewed.get(key, RELEASED) < self.ledger.lease / 4:
            return True
        if not await self.leases.take(key, ttl=self.ledger.lease, now=now):
            return False
        self._lease_renewed[key] = now
        return True

    async def _publish(
        self, publisher: Publisher, channel: ChannelRef, message: Outgoing, thread: PostRef | None
    ) -> PostRef:
        started = time.monotonic()
        try:
            ref = await publisher.publish(channel, message, thread=thread)
        except BaseException:
            self.metrics.sent(channel.platform, time.monotonic() - started, ok=False)
            raise
        self.metrics.sent(channel.platform, time.monotonic() - started, ok=True)
        return ref

    async def recap(self, channel: ChannelRef, *, votes_before: dt.datetime | None = None) -> DigestOutcome:
        """Monday's recap: last week's papers ranked by this community's votes (those cast before
        `votes_before`, the Monday post's time, so that a later retry decides the same way)."""
        now = self.clock.now()
        sub = await self.subscriptions.get(channel)
        publisher = self.publishers.get(channel.platform)
        if sub is None or sub.paused_reason or publisher is None:
            return DigestOutcome(None, 0, "No active digest here.")
        today = now.astimezone(sub.zone).date()
        monday = today - dt.timedelta(days=today.weekday())
        week_start = monday - dt.timedelta(days=7)
        tallies = await self.votes.top(
            channel.platform, channel.community, since=week_start, limit=RECAP_SIZE, cast_before=votes_before
        )
        tallies = [t for t in tallies if t.up > 0]
        if not tallies:
            return DigestOutcome(monday, 0, "Nobody voted last week; no recap.")
        lines = [f"Weekly recap · this team's most-voted papers since {day_label(week_start)}"]
        for rank, tally in enumerate(tallies, 1):
            paper = await self.store.get_paper(tally.paper_id)
            if paper is None:
                continue
            lines.append(f"{rank}. {cut_at_word(paper.title, 200)} · 👍 {tally.up} · ▲ {paper.upvotes} on HF")
            lines.append(f"   {paper.url}")
        try:
            ref = await self._deliver(channel, monday, RECAP, "", publisher, Notice("\n".join(lines)), None)
        except DeliveryFailed as exc:
            note = f"The weekly recap could not be sent ({exc.reason}); the next run tries again."
            log.warning("recap %s/%s: %s", channel.platform, channel.channel, note)
            return DigestOutcome(monday, 0, note)
        return DigestOutcome(
            monday, int(ref is not None), "Posted the weekly recap." if ref else "Recap already posted."
        )
