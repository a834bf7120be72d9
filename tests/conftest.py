"""Shared fixtures: databases (SQLite always, PostgreSQL when configured) and the fake HF API."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.app import Core, build_core
from bot.config import Settings
from bot.db import create_engine, upgrade
from bot.source import HFSource
from tests.fake_hf import FakeHF
from tests.fakes import FakeClock, RecordingPublisher

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


async def _postgres_schema_url() -> tuple[str, Callable[[], Awaitable[None]]]:
    """A fresh schema per test: isolated, and dropped afterwards."""
    assert POSTGRES_URL
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    async with admin.begin() as conn:
        await conn.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in POSTGRES_URL else "?"
    url = f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"

    async def drop() -> None:
        async with admin.begin() as conn:
            await conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        await admin.dispose()

    return url, drop


@pytest.fixture(params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'paperboy.db'}"
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
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        PAPERBOY_DATABASE_URL=database_url,
        PAPERBOY_HF_BASE_URL=fake_hf.url,
        PAPERBOY_HF_RETRY_BUDGET_SECONDS=1,
    )
    try:
        async with build_core(settings, clock=clock) as built:
            built.bot.attach(publisher)
            # Waits between tries of a failed send are recorded, not waited (the clock is fake too).
            built.bot.digester.sleep = RecordingSleep()
            try:
                yield built
            finally:
                await built.bot.stop()
    finally:
        await cancel_leftover_tasks()
