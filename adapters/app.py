"""The composition root: builds every part from the settings, wires them together, and runs,
starts and stops the platform adapters. The one place that knows every part.

The parts are imported where they are built: `paperboy search` needs the database and the search,
not the scheduler, the HF client and the bot, and each of those costs start-up time.

An adapter is a package under adapters/ with `async def build(core, *, serve) -> Adapter`;
`serve=False` builds it only to post (`paperboy digest post`, Discord's setup commands). A new
platform is one new folder and one line in PLATFORMS.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from adapters.http import HttpServer
    from bot.alerts import AlertSender
    from bot.config import Settings
    from bot.deliveries import DeliveryLedger
    from bot.digest import Digester, DigestOutcome
    from bot.digest_jobs import DigestSchedule
    from bot.feeds import DigestFeeds
    from bot.follows import SavedSearches
    from bot.ingest import Ingestor
    from bot.leases import Leases
    from bot.lists import DailyLists
    from bot.lookups import PaperLookup
    from bot.paperbot import PaperBot
    from bot.ports import Clock, PaperSource, Publisher
    from bot.publishers import Announcer
    from bot.rate_budget import RateBudget
    from bot.scheduling import Scheduler
    from bot.search import PaperSearch
    from bot.semantic import SemanticIndex
    from bot.store import PaperStore
    from bot.subscriptions import SubscriptionStore
    from bot.votes import VoteBook

PLATFORMS = {
    "console": "adapters.console",
    "slack": "adapters.slack",
    "discord": "adapters.discord",
}
SHUTDOWN_GRACE_SECONDS = 5.0


class Adapter(Protocol):
    """What every platform adapter offers the root: its publisher, and a lifecycle."""

    @property
    def publisher(self) -> Publisher: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def finished(self) -> None:
        """Return when the adapter ends by itself (the console's input ran out); a server's
        never does."""
        ...


@dataclass(frozen=True)
class Core:
    settings: Settings
    engine: AsyncEngine
    store: PaperStore
    search: PaperSearch
    semantic: SemanticIndex | None
    source: PaperSource
    ingestor: Ingestor
    subscriptions: SubscriptionStore
    ledger: DeliveryLedger
    votes: VoteBook
    follows: SavedSearches
    scheduler: Scheduler
    announcer: Announcer
    lookup: PaperLookup
    digester: Digester
    digests: DigestSchedule
    lists: DailyLists
    alerts: AlertSender
    feeds: DigestFeeds
    http: HttpServer  # started by run_bot when something needs it (wants_http)
    leases: Leases
    rate_budget: RateBudget | None  # PostgreSQL: budgets shared by the processes (Discord's limit)
    bot: PaperBot


@asynccontextmanager
async def build_core(
    settings: Settings,
    *,
    clock: Clock | None = None,
    source: PaperSource | None = None,
    migrate: bool = True,
) -> AsyncIterator[Core]:
    """Everything but the platforms. `source` replaces Hugging Face (tests without HTTP)."""
    from adapters.http import HttpServer
    from bot.alerts import AlertSender
    from bot.commands import COMMAND_NAMES, CommandRouter
    from bot.db import create_engine, upgrade
    from bot.deliveries import DeliveryLedger
    from bot.digest import Digester
    from bot.digest_jobs import DigestSchedule
    from bot.events import EventLog
    from bot.feeds import DigestFeeds
    from bot.follows import SavedSearches
    from bot.hybrid import HybridSearch
    from bot.ingest import Ingestor
    from bot.leadership import Leadership
    from bot.leases import Leases
    from bot.lists import DailyLists
    from bot.live_counts import LiveCounts
    from bot.lookups import PaperLookup
    from bot.metrics import Metrics
    from bot.paperbot import PaperBot
    from bot.ports import SystemClock
    from bot.publishers import Announcer, Publishers
    from bot.rate_budget import RateBudget
    from bot.reading_commands import ReadingCommands
    from bot.reading_list import ReadingLists
    from bot.scheduling import Scheduler
    from bot.search import PaperSearch
    from bot.source import HFSource
    from bot.store import PaperStore
    from bot.subscriptions import SubscriptionStore
    from bot.taste import Tastes
    from bot.unfurls import LinkCards
    from bot.votes import ReactionCounter, VoteBook, load_vote_key

    clock = clock or SystemClock()
    engine = create_engine(settings.database_url)
    hf: HFSource | None = None
    if source is None:
        source = hf = HFSource(
            base_url=settings.hf_base_url,
            token=settings.hf_token.get_secret_value() if settings.hf_token else None,
            timeout=settings.hf_timeout_seconds,
            retry_budget=settings.hf_retry_budget_seconds,
            today=lambda: clock.now().date(),
        )
    search: PaperSearch | None = None
    http: HttpServer | None = None
    try:
        if migrate:
            await upgrade(engine)
        store = PaperStore(engine)
        search = PaperSearch(engine, candidate_cap=settings.search_candidates)
        semantic = semantic_index(settings, engine)
        ingestor = Ingestor(source=source, store=store, now=clock.now)
        subscriptions = SubscriptionStore(engine)
        ledger = DeliveryLedger(engine, lease=dt.timedelta(seconds=settings.claim_lease_seconds))
        secret = settings.vote_secret.get_secret_value() if settings.vote_secret else None
        votes = VoteBook(engine, key=await load_vote_key(engine, secret))
        follows = SavedSearches(engine, search, semantic)
        scheduler = Scheduler()
        publishers = Publishers()
        announcer = Announcer()
        alerts = AlertSender(store=store, follows=follows, publishers=publishers, clock=clock)
        lists = DailyLists(
            ingestor=ingestor, store=store, clock=clock, announce=announcer, after_fetch=alerts.send
        )
        tastes = Tastes(votes, semantic) if semantic is not None else None
        leases = Leases(engine, uuid.uuid4().hex)  # this process, in leases and claims
        metrics = Metrics(COMMAND_NAMES)
        if hf is not None:
            hf.on_request = metrics.hf_request
        digester = Digester(
            leases=leases,
            metrics=metrics,
            tastes=tastes,
            store=store,
            subscriptions=subscriptions,
            ledger=ledger,
            votes=votes,
            publishers=publishers,
            clock=clock,
            refresh_day=lists.for_digest,
        )
        digests = DigestSchedule(
            digester=digester,
            subscriptions=subscriptions,
            scheduler=scheduler,
            publishers=publishers,
            clock=clock,
        )
        lookup = PaperLookup(store=store, source=source, clock=clock, budget=settings.hf_interactive_seconds)
        hybrid = HybridSearch(search, semantic)
        reading = ReadingCommands(
            store=store, papers=lookup, lists=ReadingLists(engine), votes=votes, search=hybrid, clock=clock
        )
        feeds = DigestFeeds(engine, store=store, subscriptions=subscriptions, clock=clock)
        http = HttpServer(
            host=settings.http_host,
            port=settings.http_port,
            feeds=feeds,
            healthy=store.reachable,
            metrics=metrics,
            public_url=settings.public_url,
        )
        commands = CommandRouter(
            store=store,
            feeds=feeds,
            search=hybrid,
            reading=reading,
            subscriptions=subscriptions,
            votes=votes,
            follows=follows,
            clock=clock,
            papers=lookup,
            schedule=digests,
            publishers=publishers,
            semantic=semantic,
            tastes=tastes,
        )
        reactions = ReactionCounter(
            ledger=ledger,
            votes=votes,
            events=EventLog(engine),
            clock=clock,
            vote_emoji=settings.vote_emojis(),
            down_emoji=settings.down_emojis(),
        )
        bot = PaperBot(
            commands=commands,
            reactions=reactions,
            digester=digester,
            digests=digests,
            lists=lists,
            alerts=alerts,
            publishers=publishers,
            scheduler=scheduler,
            store=store,
            link_cards=LinkCards(lookup),
            live_counts=LiveCounts(engine, store=store, publishers=publishers, clock=clock),
            leadership=Leadership(leases, clock, refresh_minutes=settings.refresh_minutes),
            metrics=metrics,
            semantic=semantic,
            refresh_minutes=settings.refresh_minutes,
        )
        yield Core(
            settings=settings,
            engine=engine,
            store=store,
            search=search,
            semantic=semantic,
            source=source,
            ingestor=ingestor,
            subscriptions=subscriptions,
            ledger=ledger,
            votes=votes,
            follows=follows,
            scheduler=scheduler,
            announcer=announcer,
            lookup=lookup,
            digester=digester,
            digests=digests,
            lists=lists,
            alerts=alerts,
            feeds=feeds,
            http=http,
            leases=leases,
            rate_budget=RateBudget(engine) if engine.dialect.name == "postgresql" else None,
            bot=bot,
        )
    finally:
        if http is not None:
            await http.stop()
        if search is not None:
            await search.aclose()
        if hf is not None:
            await hf.aclose()
        await engine.dispose()


def semantic_index(settings: Settings, engine: AsyncEngine) -> SemanticIndex | None:
    """Search by meaning with the shipped model, unless PAPERBOY_SEMANTIC=off."""
    if not settings.semantic:
        return None
    from bot.embedding import WordLlamaEmbedder
    from bot.semantic import SemanticIndex

    return SemanticIndex(engine, WordLlamaEmbedder())


async def build_adapter(name: str, core: Core, *, serve: bool = True) -> Adapter:
    """The named platform's adapter, its publisher attached to the bot (not started yet)."""
    module = importlib.import_module(PLATFORMS[name])
    adapter: Adapter = await module.build(core, serve=serve)
    core.bot.attach(adapter.publisher)
    return adapter


async def run_bot(settings: Settings, names: list[str], stop: asyncio.Event) -> None:
    """`paperboy run`: the core and the named adapters, until `stop` is set or an adapter ends
    by itself (the console's input ran out)."""
    async with build_core(settings) as core:
        adapters = [await build_adapter(name, core) for name in names]
        started: list[Adapter] = []
        try:
            for adapter in adapters:
                await adapter.start()
                started.append(adapter)
            if wants_http(settings, names):
                await core.http.start()  # at once if Slack over HTTP started it already
            await core.bot.start()
            waiters: list[asyncio.Future[object]] = [asyncio.ensure_future(stop.wait())]
            waiters += [asyncio.ensure_future(adapter.finished()) for adapter in adapters]
            done, pending = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            for waiter in pending:
                waiter.cancel()
            if pending:
                await asyncio.wait(pending)
            for waiter in done:
                waiter.result()  # an adapter that ended on an error (Discord refused the token) says so
        finally:
            await core.bot.stop()
            for adapter in reversed(started):
                await adapter.stop()
    await _finish_leftover_tasks()


class NoSubscription(LookupError):
    """`paperboy digest post` for a channel without a digest."""


async def post_digest_now(
    settings: Settings, platform: str, channel: str, day: dt.date | None
) -> DigestOutcome:
    """`paperboy digest post`: one channel's digest, through its platform, without serving."""
    async with build_core(settings) as core:
        subs = await core.bot.subscriptions_named(platform, channel)
        if not subs:
            raise NoSubscription(f"No digest subscription for {platform} channel {channel}")
        adapter = await build_adapter(platform, core, serve=False)
        await adapter.start()
        try:
            return await core.bot.post_digest(subs[0].channel, day=day)
        finally:
            await adapter.stop()


@asynccontextmanager
async def posting_adapter(settings: Settings, name: str) -> AsyncIterator[Adapter]:
    """A platform's adapter logged in but not serving (Discord's setup commands)."""
    async with build_core(settings) as core:
        adapter = await build_adapter(name, core, serve=False)
        await adapter.start()
        try:
            yield adapter
        finally:
            await adapter.stop()


async def _finish_leftover_tasks() -> None:
    """Cancel what libraries left running, so that shutdown ends; say what would not stop."""
    current = asyncio.current_task()
    pending = {task for task in asyncio.all_tasks() if task is not current}
    # Cancelled twice: some clean-ups await again in their own `finally` (SQLAlchemy closing an
    # aiosqlite connection whose worker thread has already stopped waits for it forever).
    for wait in (0.2, SHUTDOWN_GRACE_SECONDS):
        if not pending:
            return
        for task in pending:
            task.cancel()
        _done, pending = await asyncio.wait(pending, timeout=wait)
    for task in pending:
        logging.getLogger(__name__).warning("still running at shutdown: %r", task)


@asynccontextmanager
async def open_search(settings: Settings) -> AsyncIterator[PaperSearch]:
    """Just the archive's search, on a migrated database: all `paperboy search` needs.

    A SQLite file already at the newest revision is searched through sqlite3 alone: loading
    SQLAlchemy and Alembic would take most of the command's time.
    """
    import asyncio

    from bot.schema import head_revision, sqlite_path, sqlite_revision
    from bot.search import PaperSearch

    path = sqlite_path(settings.database_url)
    if path is not None and await asyncio.to_thread(sqlite_revision, path) == head_revision():
        direct = PaperSearch(candidate_cap=settings.search_candidates, sqlite_path=path)
        try:
            yield direct
        finally:
            await direct.aclose()
        return

    from bot.db import create_engine, upgrade

    engine = create_engine(settings.database_url)
    search: PaperSearch | None = None
    try:
        await upgrade(engine)
        search = PaperSearch(engine, candidate_cap=settings.search_candidates)
        yield search
    finally:
        if search is not None:
            await search.aclose()
        await engine.dispose()


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx logs every request URL at INFO; ours say what matters.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    # discord.py warns at every start that voice is unsupported; paperboy never uses voice.
    discord_log = logging.getLogger("discord.client")
    if not any(isinstance(f, _WithoutVoiceNotice) for f in discord_log.filters):
        discord_log.addFilter(_WithoutVoiceNotice())


class _WithoutVoiceNotice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "voice will NOT be supported" not in record.getMessage()


def wants_http(settings: Settings, names: list[str]) -> bool:
    """The HTTP server (feeds, /healthz, Slack's endpoints) runs with Slack or Discord, or when
    PAPERBOY_PUBLIC_URL says where it is reached; the console alone opens no port."""
    return bool(settings.public_url) or any(name in {"slack", "discord"} for name in names)


def wanted_adapters(settings: Settings) -> list[str]:
    """Adapters `paperboy run` starts: PAPERBOY_ADAPTERS, else those with credentials, else console."""
    if settings.adapters:
        return list(settings.adapters.split(","))
    chosen = [
        name
        for name, enabled in (("slack", settings.slack_enabled()), ("discord", settings.discord_enabled()))
        if enabled
    ]
    return chosen or ["console"]
