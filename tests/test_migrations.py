"""Migrations run on every start; running them again never loses data."""

from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db import alembic_config, create_engine, current_revision, upgrade
from bot.hf_parse import parse_daily_items
from bot.store import PaperStore
from bot.votes import VoteBook
from tests.conftest import NOW
from tests.fake_hf import load_sample


async def test_upgrade_from_empty_then_again_keeps_data(database_url: str) -> None:
    engine: AsyncEngine = create_engine(database_url)
    try:
        await upgrade(engine)
        papers, _ = parse_daily_items(load_sample(), source="sample")
        await PaperStore(engine).upsert_papers(papers, now=NOW)
        await upgrade(engine)
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        assert await current_revision(engine) == head
        assert await PaperStore(engine).count_papers() == 60
    finally:
        await engine.dispose()


async def test_sqlite_uses_wal_for_concurrent_processes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = create_engine(f"sqlite:///{tmp_path / 'wal.db'}")
    try:
        await upgrade(engine)
        async with engine.connect() as conn:
            mode = (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar()
            timeout = (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar()
        assert mode == "wal" and timeout and int(timeout) >= 5000
    finally:
        await engine.dispose()


async def test_instances_starting_together_on_one_postgres_take_turns_migrating(database_url: str) -> None:
    import asyncio
    import os
    import sys
    from pathlib import Path

    import pytest

    if database_url.startswith("sqlite"):
        pytest.skip("several instances share a database only on PostgreSQL")
    env = {
        **os.environ,
        "PAPERBOY_DATABASE_URL": database_url,
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
    }
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "adapters.cli",
            "db",
            "upgrade",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
        )
        for _ in range(4)
    ]
    outputs = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in processes)), 120)
    for process, (out, _) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, out.decode()
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert all(f"revision {head}" in out.decode() for out, _ in outputs)


async def test_upgrading_past_0006_keeps_votes_and_a_removal_still_clears_an_old_one(
    database_url: str,
) -> None:
    engine: AsyncEngine = create_engine(database_url)
    try:
        await upgrade(engine, "0005")
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO reactions (platform, community, channel, message_id, paper_id, digest_day,"
                    " user_hash, kind, created_at) VALUES ('test', 'team', 'C1', 'm1', '2511.00001',"
                    " '2025-11-20', 'h1', 'up', '2025-11-20 10:00:00.000000')"
                )
            )
        await upgrade(engine)
        votes = VoteBook(engine, key=b"k")
        assert (await votes.tally("test", "team", "2511.00001")).up == 1
        async with engine.begin() as conn:
            rows = (await conn.execute(text("SELECT emoji FROM reactions"))).scalars().all()
        assert rows == [""]
    finally:
        await engine.dispose()
