"""The composition root: builds the core's parts from the settings and wires them together."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Settings
from bot.db import create_engine, upgrade
from bot.ingest import Ingestor
from bot.search import PaperSearch
from bot.source import HFSource
from bot.store import PaperStore


@dataclass(frozen=True)
class Core:
    settings: Settings
    engine: AsyncEngine
    store: PaperStore
    search: PaperSearch
    source: HFSource
    ingestor: Ingestor


@asynccontextmanager
async def build_core(settings: Settings, *, migrate: bool = True) -> AsyncIterator[Core]:
    engine = create_engine(settings.database_url)
    source = HFSource(
        base_url=settings.hf_base_url,
        token=settings.hf_token.get_secret_value() if settings.hf_token else None,
        timeout=settings.hf_timeout_seconds,
        retry_budget=settings.hf_retry_budget_seconds,
    )
    try:
        if migrate:
            await upgrade(engine)
        store = PaperStore(engine)
        yield Core(
            settings=settings,
            engine=engine,
            store=store,
            search=PaperSearch(engine),
            source=source,
            ingestor=Ingestor(source=source, store=store),
        )
    finally:
        await source.aclose()
        await engine.dispose()


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx logs every request URL at INFO; ours say what matters.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
