"""Discord's global limit (50 bot requests per second): paperboy paces every bot request under it
instead of learning about it from 429s. The fan-out runs the real DiscordAdapter and the core
against a fake Discord that enforces the global limit and per-route buckets."""

from __future__ import annotations

import asyncio
import bisect
import datetime as dt
import math
from collections.abc import AsyncIterator

import discord
import pytest
import yarl
from multidict import CIMultiDict
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.app import Core
from adapters.discord.adapter import GLOBAL_LIMIT, DiscordAdapter, DiscordConfig, counts_toward_global_limit
from adapters.pacing import Pacer
from bot.rate_budget import RateBudget
from bot.subscriptions import Subscription
from bot.types import ChannelRef
from tests.fake_discord import GUILD_ID, DiscordLimits, FakeDiscord
from tests.fake_hf import FakeHF
from tests.fakes import sample_items

CHANNELS = 100
DAY = dt.date(2025, 11, 20)  # the newest closed list at the core fixture's clock


# --- the pacer on its own ----------------------------------------------------------------------
class ManualTime:
    """A clock that moves only when something sleeps (or a test moves it), by exactly that long."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 9))
        await asyncio.sleep(0)  # whoever was just released resumes first, at the current time
        self.now += seconds


def manual_pacer(rate: float) -> tuple[Pacer, ManualTime]:
    time = ManualTime()
    return Pacer(rate, clock=time.clock, sleep=time.sleep), time


async def test_pacer_releases_evenly_spaced_in_the_order_asked() -> None:
    pacer, time = manual_pacer(10)
    released: list[tuple[int, float]] = []

    async def caller(number: int) -> None:
        await pacer.wait()
        released.append((number, round(time.now - 100.0, 9)))

    await asyncio.gather(*(caller(number) for number in range(5)))
    assert released == [(0, 0.0), (1, 0.1), (2, 0.2), (3, 0.3), (4, 0.4)]
    assert (pacer.granted, pacer.delayed, pacer.waiting, pacer.stalls) == (5, 4, 0, 0)
    assert pacer.longest_wait == pytest.approx(0.4)

    time.now += 10  # idle: the next request goes at once, and no burst is saved up
    await asyncio.gather(*(caller(number) for number in range(5, 8)))
    assert [at for _, at in released[5:]] == [10.4, 10.5, 10.6]


async def test_after_a_stall_the_overdue_requests_go_out_spaced_not_together() -> None:
    pacer, time = manual_pacer(10)
    released: list[float] = []
    stall = 1.0

    async def stalling_sleep(seconds: float) -> None:
        nonlocal stall
        await asyncio.sleep(0)
        time.now += seconds + stall  # the first time, the event loop was busy for a second
        stall = 0.0

    pacer._sleep = stalling_sleep

    async def caller() -> None:
        await pacer.wait()
        released.append(round(time.now - 100.0, 9))

    await asyncio.gather(*(caller() for _ in range(4)))
    # Due at 0.1, 0.2 and 0.3, but the loop woke at 1.1: one then, the others 0.1 s apart (but
    # for the tolerance of a quarter interval kept from the timetable).
    assert released == [0.0, 1.1, 1.175, 1.275]
    assert pacer.stalls == 1


async def test_a_caller_cancelled_while_queued_leaves_the_queue() -> None:
    pacer, time = manual_pacer(10)
    await pacer.wait()  # at once
    queued = asyncio.create_task(pacer.wait())
    await asyncio.sleep(0)
    assert pacer.waiting == 1
    queued.cancel()
    await asyncio.gather(queued, return_exceptions=True)
    assert pacer.waiting == 0
    await pacer.wait()
    assert pacer.granted == 2 and time.sleeps == [0.1]


@pytest.mark.parametrize("rate", [0, -5, math.inf, math.nan])
def test_a_pacer_needs_a_positive_rate(rate: float) -> None:
    with pytest.raises(ValueError, match="positive number"):
        Pacer(rate)


async def test_pacers_of_several_processes_share_one_budget(engine: AsyncEngine) -> None:
    """Discord counts every process of a bot: two processes' pacers at 30/s each, sharing the
    budget in the database, release 30 a second together, not 60."""
    rate, callers = 30, 30
    budget = RateBudget(engine)
    loop = asyncio.get_running_loop()
    released: list[tuple[int, float]] = []

    def process_pacer() -> Pacer:
        return Pacer(rate, share=lambda slots: budget.reserve("discord-global", slots, interval=1 / rate))

    async def caller(process: int, pacer: Pacer) -> None:
        await pacer.wait()
        released.append((process, loop.time()))

    pacers = [process_pacer(), process_pacer()]
    await asyncio.gather(*(caller(n, pacer) for n, pacer in enumerate(pacers) for _ in range(callers)))
    times = sorted(at for _, at in released)
    busiest = max(bisect.bisect_right(times, at + 1.0) - i for i, at in enumerate(times))
    assert len(times) == 2 * callers
    # Releases keep to their slots within a quarter interval; a reservation's round trip may
    # shift one process's slots against the other's by up to half of it.
    assert busiest <= rate + 3, busiest
    assert {process for process, _ in released} == {0, 1}  # both processes got their turns


async def test_a_pacer_goes_on_alone_when_the_shared_budget_fails() -> None:
    time = ManualTime()

    async def unavailable(_slots: int) -> float:
        raise OSError("database unreachable")

    pacer = Pacer(10, clock=time.clock, sleep=time.sleep, share=unavailable)
    await asyncio.gather(*(pacer.wait() for _ in range(3)))
    assert pacer.granted == 3 and time.sleeps == [0.1, 0.1]


BOT = CIMultiDict({"Authorization": "Bot token"})


@pytest.mark.parametrize(
    ("url", "headers", "paced"),
    [
        ("https://discord.com/api/v10/channels/1174112846800830474/messages", BOT, True),
        ("https://discord.com/api/v10/channels/11/messages/12/threads", BOT, True),
        ("https://discord.com/api/v10/users/@me/channels", BOT, True),
        ("http://127.0.0.1:8080/api/v10/applications/1/commands", BOT, True),
        ("https://discord.com/api/v10/webhooks/1187020468418940928", BOT, True),  # bot-authenticated
        # Interaction callbacks and followups: exempt from the global limit.
        ("https://discord.com/api/v10/interactions/1/aW50ZXJhY3Rpb24/callback", BOT, False),
        ("https://discord.com/api/v10/interactions/1/aW50ZXJhY3Rpb24/callback", CIMultiDict(), False),
        ("https://discord.com/api/v10/webhooks/1187020468418940928/aW50ZXJhY3Rpb24", CIMultiDict(), False),
        ("https://discord.com/api/v10/webhooks/1/aW50/messages/@original", BOT, False),
        ("wss://gateway.discord.gg/?v=10&encoding=json", CIMultiDict(), False),
        ("https://cdn.discordapp.com/avatars/1/a.png", CIMultiDict(), False),
    ],
)
def test_which_requests_count_towards_the_global_limit(
    url: str, headers: CIMultiDict[str], paced: bool
) -> None:
    assert counts_toward_global_limit(yarl.URL(url), headers) is paced


# --- a fan-out against an enforcing fake -------------------------------------------------------
@pytest.fixture
async def limited_discord(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord(limits=DiscordLimits())
    await fake.start()
    monkeypatch.setattr(discord.http.Route, "BASE", fake.api_base)
    monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(fake.ws_url))
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.mark.slow  # seconds at the real 45/s pace
async def test_a_fan_out_over_the_global_limit_completes_without_a_429(
    core: Core, limited_discord: FakeDiscord, fake_hf: FakeHF
) -> None:
    fake = limited_discord
    fake_hf.set_day(DAY.isoformat(), sample_items(1, day=DAY))
    channels = [ChannelRef("discord", str(GUILD_ID), str(fake.add_text_channel())) for _ in range(CHANNELS)]
    for channel in channels:
        await core.subscriptions.save(Subscription(channel), now=core.digester.clock.now())
    adapter = DiscordAdapter(core.bot, DiscordConfig(token="fake-token", guild_ready_timeout=0.05))
    core.bot.attach(adapter)
    await adapter.start()
    try:
        await asyncio.wait_for(adapter.wait_ready(), 10)
        before = len(fake.global_arrivals)
        # Every channel at 09:00: a header, a thread and a card each, all asked for at once.
        outcomes = await asyncio.gather(*(core.bot.post_digest(channel) for channel in channels))
    finally:
        await adapter.stop()

    assert fake.rate_limited == []  # not one 429, global or per route
    assert all(outcome.complete and outcome.posted == 2 for outcome in outcomes)
    for channel in channels:
        (header,) = fake.messages[int(channel.channel)]
        assert header["content"].startswith("Daily Papers")
        (card,) = fake.messages[int(header["id"])]  # in the thread under the header
        assert card["embeds"]
    demanded = len(fake.global_arrivals) - before
    assert demanded == 3 * CHANNELS > 5 * GLOBAL_LIMIT  # several seconds' worth at once
    assert adapter.pacer is not None and adapter.pacer.granted >= demanded  # each went through it
