"""The composition root: builds every part from the settings and wires them together.

The parts are imported where they are built: `paperboy search` needs the database and the search,
not the scheduler, the HF client and the bot, and each of those costs start-up time.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from bot.config import Settings
    from bot.ingest import Ingestor
    from bot.paperbot import PaperBot
    from bot.ports import Clock, PaperSource
    from bot.search import PaperSearch
    from bot.source import HFSource
    from bot.store import PaperStore


@dataclass(frozen=True)
class Core:
    settings: Settings
    engine: AsyncEngine
    store: PaperStore
    search: PaperSearch
    source: PaperSource
    ingestor: Ingestor
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
    from bot.db import create_engine, upgrade
    from bot.deliveries import DeliveryLedger
    from bot.events import EventLog
    from bot.follows import SavedSearches
    from bot.ingest import Ingestor
    from bot.paperbot import PaperBot
    from bot.ports import SystemClock
    from bot.scheduling import Scheduler
    from bot.search import PaperSearch
    from bot.source import HFSource
    from bot.store import PaperStore
    from bot.subscriptions import SubscriptionStore
    from bot.votes import VoteBook, load_vote_key

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
    try:
        if migrate:
            await upgrade(engine)
        store = PaperStore(engine)
        search = PaperSearch(engine, candidate_cap=settings.search_candidates)
        ingestor = Ingestor(source=source, store=store, now=clock.now)
        secret = settings.vote_secret.get_secret_value() if settings.vote_secret else None
        bot = PaperBot(
            store=store,
            search=search,
            source=source,
            ingestor=ingestor,
            subscriptions=SubscriptionStore(engine),
            ledger=DeliveryLedger(engine, lease=dt.timedelta(seconds=settings.claim_lease_seconds)),
            votes=VoteBook(engine, key=await load_vote_key(engine, secret)),
            follows=SavedSearches(engine, search),
            events=EventLog(engine),
            clock=clock,
            scheduler=Scheduler(),
            vote_emoji=settings.vote_emojis(),
            down_emoji=settings.down_emojis(),
            refresh_minutes=settings.refresh_minutes,
            interactive_budget=settings.hf_interactive_seconds,
        )
        yield Core(settings, engine, store, search, source, ingestor, bot)
    finally:
        if search is not None:
            await search.aclose()
        if hf is not None:
            await hf.aclose()
        await engine.dispose()


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
