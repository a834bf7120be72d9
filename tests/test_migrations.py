"""Migrations run on every start; running them again never loses data."""

import datetime as dt

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db import alembic_config, create_engine, current_revision, upgrade
from bot.hf_parse import parse_daily_items
from bot.ids import arxiv_order
from bot.query import parse_query
from bot.search import PaperSearch
from bot.store import PaperStore
from bot.types import Paper
from bot.votes import VoteBook
from tests.conftest import NOW
from tests.fake_hf import load_sample


async def test_upgrade_from_empty_then_again_keeps_data(empty_database_url: str) -> None:
    engine: AsyncEngine = create_engine(empty_database_url)
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


@pytest.mark.slow  # a paperboy process
async def test_instances_starting_together_on_one_postgres_take_turns_migrating(
    empty_database_url: str,
) -> None:
    import asyncio
    import os
    import sys
    from pathlib import Path

    import pytest

    if empty_database_url.startswith("sqlite"):
        pytest.skip("several instances share a database only on PostgreSQL")
    env = {
        **os.environ,
        "PAPERBOY_DATABASE_URL": empty_database_url,
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
    empty_database_url: str,
) -> None:
    engine: AsyncEngine = create_engine(empty_database_url)
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


async def _downgrade(engine: AsyncEngine, revision: str) -> None:
    def run(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, revision)

    async with engine.begin() as conn:
        await conn.run_sync(run)


async def _papers_columns(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        return await conn.run_sync(lambda c: [column["name"] for column in inspect(c).get_columns("papers")])


async def _found(engine: AsyncEngine, *queries: str) -> list[list[str]]:
    """The ids each query finds, as the search at this revision of paperboy does."""
    search = PaperSearch(engine)
    try:
        return [[p.id for p in (await search.search(parse_query(q))).papers] for q in queries]
    finally:
        await search.aclose()


async def test_0008_makes_the_emoji_of_stored_papers_searchable_and_downgrades_cleanly(
    empty_database_url: str,
) -> None:
    engine: AsyncEngine = create_engine(empty_database_url)
    try:
        await upgrade(engine, "0007")
        async with engine.begin() as conn:
            for pid, title, abstract, keywords in [
                (
                    "2501.00001",
                    "🦙LLaMA goes to school",
                    "We test GPT-3.5 and 👩\u200d🔬 assistants.",
                    "🤖 robots",
                ),
                ("2501.00002", "Plain school", "Nothing special.", ""),
            ]:
                await conn.execute(
                    text(
                        "INSERT INTO papers (id, seq, title, abstract, authors, authors_text, org_text,"
                        " upvotes, comments, ai_keywords, keywords_text, first_seen, last_refreshed)"
                        " VALUES (:id, :seq, :title, :abstract, '[]', '', '', 0, 0, '[]', :keywords,"
                        " '2025-11-20 10:00:00.000000', '2025-11-20 10:00:00.000000')"
                    ),
                    {
                        "id": pid,
                        "seq": arxiv_order(pid),
                        "title": title,
                        "abstract": abstract,
                        "keywords": keywords,
                    },
                )
            if engine.dialect.name == "sqlite":  # as the store indexed new papers at 0007
                await conn.execute(
                    text(
                        "INSERT INTO paper_fts(rowid, title, authors_text, keywords_text, abstract, org_text)"
                        " SELECT seq, title, authors_text, keywords_text, abstract, org_text FROM papers"
                    )
                )

        await upgrade(engine)
        assert await _found(engine, "🦙", "👩\u200d🔬", "🤖", "llama", "gpt-3.5") == [["2501.00001"]] * 5
        assert sorted((await _found(engine, "school"))[0]) == ["2501.00001", "2501.00002"]

        await _downgrade(engine, "0007")
        assert "emoji_text" not in await _papers_columns(engine)
        async with engine.begin() as conn:
            # The 0007 index is whole again, and its update trigger or generated column still works.
            await conn.execute(text("UPDATE papers SET title = 'Plain college' WHERE id = '2501.00002'"))
            if engine.dialect.name == "sqlite":
                match = "SELECT count(*) FROM paper_fts WHERE paper_fts MATCH :word"
            else:
                match = (
                    "SELECT count(*) FROM papers WHERE search_tsv @@ websearch_to_tsquery('english', :word)"
                )
            counts = [(await conn.execute(text(match), {"word": w})).scalar() for w in ("school", "college")]
        assert counts == [1, 1]

        await upgrade(engine)
        assert await _found(engine, "🦙", "college") == [["2501.00001"], ["2501.00002"]]
    finally:
        await engine.dispose()


async def test_0012_makes_stored_papers_findable_without_accents_and_names_as_written(
    empty_database_url: str,
) -> None:
    engine: AsyncEngine = create_engine(empty_database_url)
    try:
        await upgrade(engine, "0011")
        paper = Paper(
            id="2512.90103",
            title="Café naïve: résumé retrieval",
            abstract="Crème brûlée benchmarks.",
            authors=("José Núñez", "Adam Moreau"),
        )
        await PaperStore(engine).upsert_papers([paper], now=dt.datetime(2025, 11, 20, tzinfo=dt.UTC))

        await upgrade(engine)
        ids = ["2512.90103"]
        assert await _found(engine, "cafe", "creme brulee", "author:jose", "author:adam") == [ids] * 4
        assert await _found(engine, "author:adams") == [[]]  # a name is not stemmed
        await _downgrade(engine, "0011")  # for the paperboy before it, whose searches it serves
        assert await current_revision(engine) == "0011"
        await upgrade(engine)
        assert await _found(engine, "cafe", "author:adams") == [ids, []]
    finally:
        await engine.dispose()
