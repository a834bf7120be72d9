"""Store and ingest on SQLite and (when configured) PostgreSQL."""

import asyncio
import copy
import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.app import Core
from bot.db import create_engine, upgrade
from bot.hf_parse import parse_daily_items
from bot.ingest import Ingestor
from bot.source import HFSource, HFUnavailable
from bot.store import PAPERS, PaperStore, paper_to_values
from bot.types import Paper
from tests.conftest import NOW
from tests.fake_hf import FakeHF, Fault, load_sample
from tests.fakes import sample_items


def sample_papers() -> list[Paper]:
    papers, _ = parse_daily_items(load_sample(), source="sample")
    return papers


async def test_upsert_is_idempotent_and_refreshes_counts(engine: AsyncEngine) -> None:
    store = PaperStore(engine)
    papers = sample_papers()
    assert await store.upsert_papers(papers, now=NOW) == 60
    later = NOW + dt.timedelta(hours=3)
    bumped = [
        dataclasses.replace(p, upvotes=(p.upvotes or 0) + 5, comments=9, github_stars=42) for p in papers[:5]
    ]
    assert await store.upsert_papers(bumped, now=later) == 0
    assert await store.count_papers() == 60
    refreshed = await store.get_paper(papers[0].id)
    assert refreshed is not None
    assert refreshed.upvotes == (papers[0].upvotes or 0) + 5
    assert refreshed.comments == 9 and refreshed.github_stars == 42
    assert refreshed.first_seen == NOW and refreshed.last_refreshed == later


async def test_round_trip_keeps_every_field(engine: AsyncEngine) -> None:
    store = PaperStore(engine)
    paper = next(p for p in sample_papers() if p.id == "2505.07787")
    await store.upsert_papers([paper], now=NOW)
    stored = await store.get_paper("2505.07787")
    assert stored == dataclasses.replace(paper, first_seen=NOW, last_refreshed=NOW)


async def test_sqlite_rows_are_stored_exactly_as_sqlalchemy_stores_them(tmp_path: Path) -> None:
    """The SQLite bulk path writes plain tuples; dates, times and JSON must look as SQLAlchemy's
    own insert would write them, or comparisons in SQL would mix two formats."""
    engine = create_engine(f"sqlite:///{tmp_path / 'format.db'}")
    try:
        await upgrade(engine)
        paper = next(p for p in sample_papers() if p.id == "2505.07787")
        await PaperStore(engine).upsert_papers([paper], now=NOW)
        select_row = text("SELECT * FROM papers WHERE id = :id")
        async with engine.begin() as conn:
            bulk = (await conn.execute(select_row, {"id": paper.id})).one()
            await conn.execute(PAPERS.delete().where(PAPERS.c.id == paper.id))
            await conn.execute(PAPERS.insert(), paper_to_values(paper, NOW))
            core = (await conn.execute(select_row, {"id": paper.id})).one()
        assert tuple(bulk) == tuple(core)
    finally:
        await engine.dispose()


async def test_two_writers_at_once_index_each_paper_once(database_url: str) -> None:
    # `paperboy fetch` beside `paperboy run`, or a digest's refresh beside the refresh job: each
    # paper must be new to exactly one of them, or SQLite's FTS5 index counts it twice.
    first, second = create_engine(database_url), create_engine(database_url)
    try:
        await upgrade(first)
        stores = PaperStore(first), PaperStore(second)
        for round_ in range(5):
            papers = [
                Paper(
                    id=f"2511.{round_:02d}{i:03d}", title=f"alpha beta {round_} {i}", abstract="gamma " * 50
                )
                for i in range(20)
            ]
            day = dt.date(2025, 11, 3) + dt.timedelta(days=round_)
            new = await asyncio.gather(*(store.record_daily_list(day, papers, now=NOW) for store in stores))
            assert sorted(new[0] + new[1]) == [paper.id for paper in papers]
        if first.dialect.name == "sqlite":
            async with first.begin() as conn:
                await conn.execute(
                    text("INSERT INTO paper_fts(paper_fts, rank) VALUES('integrity-check', 1)")
                )
                indexed = (await conn.execute(text("SELECT count(*) FROM paper_fts_docsize"))).scalar()
            assert indexed == 100
    finally:
        await first.dispose()
        await second.dispose()


async def test_a_sparse_refresh_does_not_blank_known_fields(engine: AsyncEngine) -> None:
    store = PaperStore(engine)
    paper = next(p for p in sample_papers() if p.id == "2505.07787")
    await store.upsert_papers([paper], now=NOW)
    sparse = dataclasses.replace(paper, github_repo=None, project_page=None, comments=None, upvotes=999)
    await store.upsert_papers([sparse], now=NOW)
    stored = await store.get_paper("2505.07787")
    assert stored is not None
    assert stored.github_repo == paper.github_repo and stored.project_page == paper.project_page
    assert stored.comments == paper.comments and stored.upvotes == 999


async def test_daily_list_keeps_rank_and_replaces_membership(engine: AsyncEngine) -> None:
    store = PaperStore(engine)
    papers = sample_papers()
    day = dt.date(2025, 5, 13)
    await store.record_daily_list(day, papers[:4], now=NOW)
    await store.record_daily_list(day, [papers[2], papers[0], papers[5]], now=NOW)
    listed = await store.daily_list(day)
    assert [p.id for p in listed.papers] == [papers[2].id, papers[0].id, papers[5].id]
    assert await store.fetched_days(day, day) == {day: 3}
    assert await store.latest_listed_day() == day


async def test_ingest_a_range_twice_leaves_one_row_per_paper(
    engine: AsyncEngine, hf_source: HFSource, fake_hf: FakeHF
) -> None:
    store = PaperStore(engine)
    ingestor = Ingestor(source=hf_source, store=store, now=lambda: NOW)
    since, until = ingestor.clamp(dt.date(2025, 1, 1), None)
    days = [since + dt.timedelta(days=n) for n in range((until - since).days + 1)]
    first = await ingestor.fetch_days(days)
    expected = {
        i["paper"]["id"]
        for d, items in fake_hf.days.items()
        for i in items
        if "2025-01-01" <= d <= "2025-11-21"
    }
    assert first.new_papers == len(expected) and first.papers == len(expected)
    assert dt.date(2025, 5, 17) in first.empty_days  # a Saturday
    second = await ingestor.fetch_days(days)
    assert second.new_papers == 0 and second.papers == first.papers
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT count(*), count(DISTINCT id) FROM papers"))).one()
        entries = (await conn.execute(text("SELECT count(*) FROM daily_entries"))).scalar()
    assert rows == (len(expected), len(expected))
    assert entries == len(expected)


async def test_an_outage_midway_keeps_fetched_days_and_a_rerun_completes(
    engine: AsyncEngine, fake_hf: FakeHF, recording_sleep: object
) -> None:
    store = PaperStore(engine)
    source = HFSource(base_url=fake_hf.url, retry_budget=1, sleep=recording_sleep, today=lambda: NOW.date())  # type: ignore[arg-type]
    ingestor = Ingestor(source=source, store=store, now=lambda: NOW)
    days = [dt.date(2025, 5, 13), dt.date(2025, 5, 19), dt.date(2025, 5, 20)]
    try:
        await ingestor.fetch_days(days[:1])
        fake_hf.fail_next(*[Fault(503)] * 30)
        with pytest.raises(HFUnavailable, match="503"):
            await ingestor.fetch_days(days[1:])
        fake_hf.faults.clear()
        report = await ingestor.fetch_days(days)
    finally:
        await source.aclose()
    assert report.papers == 5
    assert await store.count_papers() == 5


async def test_a_listing_without_an_upvote_count_keeps_the_stored_one(
    engine: AsyncEngine, fake_hf: FakeHF, hf_source: HFSource
) -> None:
    # The same paper on two days' lists; the older listing has no `upvotes`. Whichever day's
    # fetch lands last, the count HF gave (12) stays: a missing count is unknown, not 0.
    store = PaperStore(engine)
    item = next(item for item in load_sample() if item["paper"]["id"] == "2505.07787")
    newer = copy.deepcopy(item)
    newer["paper"]["upvotes"] = 12
    older = copy.deepcopy(item)
    del older["paper"]["upvotes"]
    older.pop("upvotes", None)
    fake_hf.set_day("2025-11-19", [older])
    fake_hf.set_day("2025-11-20", [newer])
    ingestor = Ingestor(source=hf_source, store=store, now=lambda: NOW)
    for order in (
        [dt.date(2025, 11, 20), dt.date(2025, 11, 19)],
        [dt.date(2025, 11, 19), dt.date(2025, 11, 20)],
    ):
        for day in order:
            await ingestor.fetch_days([day])
        stored = await store.get_paper("2505.07787")
        assert stored is not None and stored.upvotes == 12
    brand_new = copy.deepcopy(older)
    brand_new["paper"]["id"] = "2511.99999"
    fake_hf.set_day("2025-11-18", [brand_new])
    await ingestor.fetch_days([dt.date(2025, 11, 18)])
    first_seen = await store.get_paper("2511.99999")
    assert first_seen is not None and first_seen.upvotes == 0  # nothing known yet: shown as 0


async def test_an_empty_answer_for_a_stored_list_keeps_it(engine: AsyncEngine) -> None:
    # Hugging Face answers [] for a finished list during an incident: the stored list stays, so
    # the digest about to post it still can.
    store = PaperStore(engine)
    papers = sample_papers()
    day = dt.date(2025, 5, 13)
    await store.record_daily_list(day, papers[:4], now=NOW)
    fetched = await store.fetched_at(day)
    assert await store.record_daily_list(day, [], now=NOW + dt.timedelta(hours=1)) == []
    assert [p.id for p in (await store.daily_list(day)).papers] == [p.id for p in papers[:4]]
    assert await store.fetched_at(day) == fetched
    empty = dt.date(2025, 5, 17)  # a day with no list stored yet: its empty answer is recorded
    await store.record_daily_list(empty, [], now=NOW)
    assert await store.fetched_days(empty, empty) == {empty: 0}


async def test_postgresql_statistics_are_fresh_after_new_papers(core: Core, fake_hf: FakeHF) -> None:
    if core.engine.dialect.name != "postgresql":
        pytest.skip("SQLite's search plans by FTS5, without statistics")
    query = text(
        "SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'papers' AND schemaname = current_schema()"
    )

    async def analyzed() -> object:
        async with core.engine.connect() as conn:
            return (await conn.execute(query)).scalar()

    before = await analyzed()
    fake_hf.set_day("2025-11-20", sample_items(5, day=dt.date(2025, 11, 20)))
    await core.ingestor.fetch_days([dt.date(2025, 11, 20)])
    after = await analyzed()
    assert after is not None and after != before


async def test_postgresql_keeps_the_search_vector_in_the_row(core: Core) -> None:
    if core.engine.dialect.name != "postgresql":
        pytest.skip("a PostgreSQL storage setting")
    query = text(
        "SELECT attstorage FROM pg_attribute WHERE attrelid = 'papers'::regclass AND attname = 'search_tsv'"
    )
    async with core.engine.connect() as conn:
        assert (await conn.execute(query)).scalar() == "m"  # MAIN: compressed, in the row


async def test_postgresql_connections_outlive_a_burst_of_commands(database_url: str) -> None:
    """A burst of 20 commands at once, then another: the second reuses the connections the
    first opened (a new one costs PostgreSQL a backend, and its first query runs cold)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite opens no server connections")
    from sqlalchemy import event
    from sqlalchemy.pool import QueuePool

    engine = create_engine(database_url)
    pool = engine.pool
    assert isinstance(pool, QueuePool)
    opened = 0

    def counted(*_: object) -> None:
        nonlocal opened
        opened += 1

    event.listen(engine.sync_engine, "connect", counted)
    gate = asyncio.Event()

    async def command() -> None:
        async with engine.connect() as conn:
            await gate.wait()  # all at once, as a burst is
            await conn.execute(text("SELECT 1"))

    try:
        for _ in range(2):
            gate.clear()
            burst = [asyncio.ensure_future(command()) for _ in range(20)]
            deadline = asyncio.get_running_loop().time() + 2
            # Until every command holds a connection, or the pool gives no more.
            while pool.checkedout() < 20 and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
            gate.set()
            await asyncio.gather(*burst)
        assert opened == 20
    finally:
        await engine.dispose()


async def test_most_upvoted_of_a_day_reads_the_best_and_counts_the_rest(engine: AsyncEngine) -> None:
    day = dt.date(2025, 11, 20)
    papers, _ = parse_daily_items(sample_items(6, day=day), source="test")
    # The list's order (its rank) against the upvotes: ties keep the list's order, none is 0.
    upvotes = [3, None, 7, 3, 0, 7]
    papers = [dataclasses.replace(paper, upvotes=up) for paper, up in zip(papers, upvotes, strict=True)]
    store = PaperStore(engine)
    await store.record_daily_list(day, papers, now=NOW)
    best, listed = await store.most_upvoted(day, 4)
    assert listed == 6
    assert [paper.id for paper in best] == [papers[i].id for i in (2, 5, 0, 3)]
    assert await store.most_upvoted(dt.date(2025, 11, 21), 4) == ([], 0)
