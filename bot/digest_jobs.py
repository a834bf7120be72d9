"""The digests on the calendar: each channel's job at its local post time, the catch-up of what
is due but did not go out, and lists awaited because Hugging Face answered them empty."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from functools import partial

from bot.cards import day_label
from bot.digest import Digester, DigestOutcome, awaited_until
from bot.ports import Clock
from bot.post_calendar import todays_post
from bot.publishers import Publishers
from bot.scheduling import Scheduler
from bot.subscriptions import Subscription, SubscriptionStore
from bot.types import ChannelRef, channel_key

log = logging.getLogger(__name__)


DIGEST_JOB_PREFIX = "digest:"


def digest_job_id(channel: ChannelRef) -> str:
    return f"{DIGEST_JOB_PREFIX}{channel_key(channel)}"


def waiting_post_job_id(channel: ChannelRef) -> str:
    """Today's post that waits for its list to close (bot.post_calendar), run when it does."""
    return f"digest-wait:{channel_key(channel)}"


class DigestSchedule:
    def __init__(
        self,
        *,
        digester: Digester,
        subscriptions: SubscriptionStore,
        scheduler: Scheduler,
        publishers: Publishers,
        clock: Clock,
    ) -> None:
        self.digester = digester
        self.subscriptions = subscriptions
        self.scheduler = scheduler
        self.publishers = publishers
        self.clock = clock

    async def schedule_all(self) -> None:
        """A job for every stored subscription this process serves, and none for the others.

        Run at the start and at every heartbeat: `/paper digest here|off` reschedules only in
        the process that answered it, so the others follow the stored subscriptions here."""
        wanted = {
            digest_job_id(sub.channel): sub
            for sub in await self.subscriptions.all()
            if self._serves(sub.channel) and not sub.paused_reason
        }
        for job_id in self.scheduler.job_ids():
            if job_id.startswith(DIGEST_JOB_PREFIX) and job_id not in wanted:
                self.scheduler.cancel(job_id)
        for job_id, sub in wanted.items():
            if self.scheduler.daily_time(job_id) != (sub.post_time, sub.zone):
                self._schedule(sub)

    def _serves(self, channel: ChannelRef) -> bool:
        publisher = self.publishers.get(channel.platform)
        return publisher is not None and publisher.serves(channel)

    async def subscription_changed(self, channel: ChannelRef, sub: Subscription | None) -> None:
        """`/paper digest here|off` changed a channel's subscription: its job follows."""
        if sub is None or sub.paused_reason or not self._serves(channel):
            self.scheduler.cancel(digest_job_id(channel))
            self.scheduler.cancel(waiting_post_job_id(channel))
        else:
            self._schedule(sub)

    def _schedule(self, sub: Subscription) -> None:
        channel = sub.channel

        async def job() -> None:
            await self.run_job(channel)

        self.scheduler.daily_at(digest_job_id(channel), job, at=sub.post_time, zone=sub.zone)

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
        outcomes = await asyncio.gather(*(self.run_job(channel) for channel in due))
        return [outcome for outcome in outcomes if outcome is not None]

    async def run_job(self, channel: ChannelRef) -> DigestOutcome | None:
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
                        waiting_post_job_id(channel), partial(self.run_job, channel), at=post.at
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
        than planned but once; forgotten when it stays empty until `awaited_until`."""
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

    async def channels_named(self, platform: str, channel: str) -> list[Subscription]:
        """Subscriptions of a channel id on a platform, whatever its community (the CLI knows
        only the id)."""
        return await self.subscriptions.find(platform, channel)
