"""Shared fixtures: databases (SQLite always, PostgreSQL when configured) and the fake HF API."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.app import Core, build_core
from bot.config import Settings
from bot.db import create_engine, upgrade
from bot.source import HFSource
from tests.fake_hf import FakeHF
from tests.fakes import FakeClock, MemorySource, RecordingPublisher

POSTGRES_URL = os.environ.get("PAPERBOY_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", "postgresql"] if POSTGRES_URL else ["sqlite"]
NOW = dt.datetime(2025, 11, 21, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's .env or real tokens, or writes to the working directory."""
    for name in list(os.environ):
        if name.startswith(("PAPERBOY_", "SLACK_", "DISCORD_")) or name == "HF_TOKEN":
            if name != "PAPERBOY_TEST_POSTGRES_URL":
                monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def _schema_url(schema: str) -> str:
    assert POSTGRES_URL
    separator = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"


async def _postgres_schema_url() -> tuple[str, Callable[[], Awaitable[None]]]:
    """A fresh, empty schema: isolated, and dropped afterwards."""
    assert POSTGRES_URL
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    async with admin.begin() as conn:
        await conn.execute(text(f"CREATE SCHEMA {schema}"))

    async def drop() -> None:
        async with admin.begin() as conn:
            await conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        await admin.dispose()

    return _schema_url(schema), drop


# Migrating a database takes 0.2-0.4 s, more than most tests: each test session migrates one
# SQLite file and one PostgreSQL schema once (per xdist worker), and each test gets a copy of
# the file, or the schema emptied (TRUNCATE), as the migrations left them.


def _run_apart(work: Coroutine[Any, Any, None]) -> None:
    """Run `work` on its own event loop in a thread: session fixtures are first asked for from
    inside a test's running loop, where asyncio.run cannot start another."""
    with ThreadPoolExecutor(max_workers=1) as thread:
        thread.submit(asyncio.run, work).result()


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "paperboy.db"

    async def migrate() -> None:
        engine = create_engine(f"sqlite:///{path}")
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()

    _run_apart(migrate())
    return path


@pytest.fixture(scope="session")
def migrated_postgres_schema() -> Iterator[str]:
    assert POSTGRES_URL
    schema = f"t_session_{uuid.uuid4().hex[:10]}"

    async def run(*statements: str, migrate: bool = False) -> None:
        admin = create_engine(POSTGRES_URL)
        try:
            async with admin.begin() as conn:
                for statement in statements:
                    await conn.execute(text(statement))
            if migrate:
                engine = create_engine(_schema_url(schema))
                try:
                    await upgrade(engine)
                finally:
                    await engine.dispose()
        finally:
            await admin.dispose()

    _run_apart(run(f"CREATE SCHEMA {schema}", migrate=True))
    try:
        yield schema
    finally:
        _run_apart(run(f"DROP SCHEMA {schema} CASCADE"))


async def _empty_tables(schema: str) -> None:
    """Every table of a migrated schema emptied (ids restart), the schema itself kept."""
    admin = create_engine(_schema_url(schema))
    try:
        async with admin.begin() as conn:
            tables = (
                await conn.execute(
                    text(
                        "SELECT table_name FROM information_schema.tables WHERE table_schema = :schema "
                        "AND table_type = 'BASE TABLE' AND table_name <> 'alembic_version'"
                    ),
                    {"schema": schema},
                )
            ).scalars()
            names = ", ".join(f'"{schema}"."{name}"' for name in tables)
            await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    finally:
        await admin.dispose()


@pytest.fixture(params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database at the newest migration with no data, on each backend."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("migrated_sqlite")
        shutil.copyfile(template, tmp_path / "paperboy.db")
        yield f"sqlite:///{tmp_path / 'paperboy.db'}"
        return
    schema: str = request.getfixturevalue("migrated_postgres_schema")
    await _empty_tables(schema)
    yield _schema_url(schema)


@pytest.fixture(params=BACKENDS)
async def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database with no schema at all, on each backend: for tests of the migrations."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    url, drop = await _postgres_schema_url()
    try:
        yield url
    finally:
        await drop()


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    await upgrade(engine)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
async def fake_hf() -> AsyncIterator[FakeHF]:
    fake = FakeHF()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


async def cancel_leftover_tasks() -> None:
    """End what a stopped bot left behind before the test's event loop closes.

    A task cancelled inside an aiosqlite call makes SQLAlchemy close that connection in a
    shielded task, and aiosqlite's close then waits for a worker thread that may have stopped
    already: it ends only when cancelled twice (adapters/cli.py does the same at shutdown).
    Without this, the event loop's own single cancel waits on it forever.
    """
    pending = {
        task
        for task in asyncio.all_tasks()
        if "_terminate_graceful_close" in getattr(task.get_coro(), "__qualname__", "")
    }
    for wait in (0.2, 5.0):
        if not pending:
            return
        for task in pending:
            task.cancel()
        _done, pending = await asyncio.wait(pending, timeout=wait)


class RecordingSleep:
    """Stands in for asyncio.sleep in the HF client: records the waits instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def recording_sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
async def hf_source(fake_hf: FakeHF, recording_sleep: RecordingSleep) -> AsyncIterator[HFSource]:
    source = HFSource(
        base_url=fake_hf.url,
        token="hf_test_token",
        timeout=2.0,
        retry_budget=30.0,
        sleep=recording_sleep,
        today=lambda: NOW.date(),
    )
    try:
        yield source
    finally:
        await source.aclose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
async def core(
    database_url: str, fake_hf: FakeHF, clock: FakeClock, publisher: RecordingPublisher
) -> AsyncIterator[Core]:
    """The whole bot, built by the composition root, with a recording "test" platform."""
    async with _core(database_url, fake_hf.url, clock, publisher) as built:
        yield built


@pytest.fixture
def memory_source() -> MemorySource:
    return MemorySource()


@pytest.fixture
async def offline_core(
    database_url: str, memory_source: MemorySource, clock: FakeClock, publisher: RecordingPublisher
) -> AsyncIterator[Core]:
    """`core` with its papers from memory_source instead of a fake HF over HTTP."""
    async with _core(database_url, "http://127.0.0.1:9", clock, publisher, source=memory_source) as built:
        yield built


@pytest.fixture
async def semantic_core(
    database_url: str, memory_source: MemorySource, clock: FakeClock, publisher: RecordingPublisher
) -> AsyncIterator[Core]:
    """`offline_core` with search by meaning on (the shipped model, for real)."""
    async with _core(
        database_url, "http://127.0.0.1:9", clock, publisher, source=memory_source, semantic=True
    ) as built:
        yield built


@asynccontextmanager
async def _core(
    database_url: str,
    hf_url: str,
    clock: FakeClock,
    publisher: RecordingPublisher,
    *,
    source: MemorySource | None = None,
    semantic: bool = False,
) -> AsyncIterator[Core]:
    # Search by meaning is off unless a test asks for it (`semantic_core`): the words' search
    # is what most tests pin down, and the model costs a second to load.
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        PAPERBOY_DATABASE_URL=database_url,
        PAPERBOY_HF_BASE_URL=hf_url,
        PAPERBOY_HF_RETRY_BUDGET_SECONDS=1,
        PAPERBOY_SEMANTIC=semantic,
        PAPERBOY_HTTP_HOST="127.0.0.1",
        PAPERBOY_HTTP_PORT=0,
    )
    try:
        async with build_core(settings, clock=clock, source=source) as built:
            built.bot.attach(publisher)
            # Waits between tries of a failed send are recorded, not waited (the clock is fake too).
            built.digester.sleep = RecordingSleep()
            try:
                yield built
            finally:
                await built.bot.stop()
    finally:
        await cancel_leftover_tasks()
