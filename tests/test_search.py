"""Search on SQLite (FTS5) and PostgreSQL (tsvector): ranking, filters and hostile input."""

import dataclasses
import datetime as dt
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db import create_engine, upgrade
from bot.hf_parse import parse_daily_items
from bot.query import QueryError, parse_query
from bot.search import NO_MATCH, ONLY_STOPWORDS, PaperSearch
from bot.store import PaperStore
from bot.types import Paper
from tests.conftest import NOW
from tests.fake_hf import load_sample


def paper(pid: str, title: str, **fields: object) -> Paper:
    base = Paper(id=pid, title=title, abstract=str(fields.pop("abstract", "")), published=dt.date(2025, 1, 1))
    return dataclasses.replace(base, **fields)  # type: ignore[arg-type]


@pytest.fixture
async def new_search(engine: AsyncEngine) -> AsyncIterator[Callable[..., PaperSearch]]:
    """PaperSearch instances on the test database, closed (with their reader threads) after the test."""
    made: list[PaperSearch] = []

    def make(**options: Any) -> PaperSearch:
        made.append(PaperSearch(engine, **options))
        return made[-1]

    yield make
    for search in made:
        await search.aclose()


@pytest.fixture
async def search(engine: AsyncEngine, new_search: Callable[..., PaperSearch]) -> PaperSearch:
    papers, _ = parse_daily_items(load_sample(), source="sample")
    await PaperStore(engine).upsert_papers(papers, now=NOW)
    return new_search()


async def ids(search: PaperSearch, text: str, limit: int = 10) -> list[str]:
    return [p.id for p in (await search.search(parse_query(text), limit=limit)).papers]


async def test_all_words_must_match(search: PaperSearch) -> None:
    found = await search.search(parse_query("reasoning language"), limit=50)
    assert found.papers
    for p in found.papers:
        text = f"{p.title} {p.abstract} {' '.join(p.ai_keywords)}".lower()
        assert "reason" in text and "languag" in text


async def test_title_outranks_abstract_and_ties_break_by_recency(
    engine: AsyncEngine, new_search: Callable[..., PaperSearch]
) -> None:
    store = PaperStore(engine)
    await store.upsert_papers(
        [
            paper("2501.00001", "Something else", abstract="A note on zebrafish in passing."),
            paper("2501.00002", "Zebrafish swimming", abstract="We study fish."),
            paper("2502.00003", "Old news", abstract="zebra crossings", published=dt.date(2024, 1, 1)),
            paper("2503.00004", "Twin A", abstract="quokka", published=dt.date(2025, 3, 1)),
            paper("2503.00005", "Twin B", abstract="quokka", published=dt.date(2025, 3, 9)),
        ],
        now=NOW,
    )
    search = new_search()
    assert (await ids(search, "zebrafish"))[0] == "2501.00002"
    assert await ids(search, "quokka") == ["2503.00005", "2503.00004"]


async def test_phrase_exclusion_and_filters(
    engine: AsyncEngine, new_search: Callable[..., PaperSearch]
) -> None:
    store = PaperStore(engine)
    await store.upsert_papers(
        [
            paper(
                "2501.00001",
                "Video generation with diffusion",
                authors=("Ada Lovelace",),
                organization="NVIDIA",
                organization_slug="nvidia",
                github_repo="https://github.com/a/b",
                published=dt.date(2025, 1, 20),
            ),
            paper(
                "2406.00002",
                "Generation of video by diffusion: a survey",
                authors=("Alan Turing",),
                published=dt.date(2024, 6, 3),
            ),
            paper(
                "2409.00003",
                "Diffusion for video generation",
                authors=("Ada Byron",),
                published=dt.date(2024, 9, 3),
            ),
        ],
        now=NOW,
    )
    search = new_search()
    assert set(await ids(search, '"video generation"')) == {"2501.00001", "2409.00003"}
    assert "2406.00002" not in await ids(search, "diffusion -survey")
    assert await ids(search, "diffusion author:lovelace") == ["2501.00001"]
    assert await ids(search, 'author:"ada byron"') == ["2409.00003"]
    assert await ids(search, "diffusion org:nvidia") == ["2501.00001"]
    assert await ids(search, "diffusion has:code") == ["2501.00001"]
    assert await ids(search, "diffusion since:2024-07-01 until:2024-12-31") == ["2409.00003"]
    assert await ids(search, "until:2024-06-30") == ["2406.00002"]
    assert await ids(search, "since:2024-07-01") == ["2501.00001", "2409.00003"]


async def test_a_date_range_older_than_the_candidate_cap_still_finds_its_papers(
    engine: AsyncEngine, new_search: Callable[..., PaperSearch]
) -> None:
    store = PaperStore(engine)
    recent = [paper(f"2510.{n:05d}", f"Common word {n}", published=dt.date(2025, 10, 2)) for n in range(30)]
    old = paper("2401.00001", "Common word old", published=dt.date(2024, 1, 15))
    await store.upsert_papers([*recent, old], now=NOW)
    search = new_search(candidate_cap=10)
    broad = await search.search(parse_query("common"), limit=5)
    assert broad.truncated_candidates and all(p.id.startswith("2510.") for p in broad.papers)
    assert await ids(search, "common until:2024-12-31") == ["2401.00001"]


HOSTILE = [
    '"',
    '""',
    "'",
    "NOT",
    "AND OR NEAR(",
    "*",
    "^",
    ":",
    "-",
    "+",
    "( )",
    "multi-agent",
    "don't",
    "@x",
    "a=b",
    "50%",
    "x\\y",
    "' OR 1=1 --",
    "%",
    "_",
    "%s {0} NaN",
    "🤖",
    "👩‍💻",
    "模型",
    "\x00",
    "\u200b",
    "\u202e",
    "title:x",
    "authors_text:x",
    "{title}: x",
    "paper_fts MATCH 'x'",
    "); DROP TABLE papers; --",
    "<@123> @everyone",
    "x" * 500,
    "-",
    "--",
    '-""',
    "author:",
    'org:"',
    "since:",
    "has:",
]


@pytest.mark.parametrize("text", HOSTILE)
async def test_any_text_gives_results_or_a_message_never_an_error(search: PaperSearch, text: str) -> None:
    try:
        query = parse_query(text)
    except QueryError as exc:
        answer = str(exc)
    else:
        result = await search.search(query)
        answer = result.message or "\n".join(p.title for p in result.papers)
    assert answer


async def test_hostile_text_is_data_not_syntax(search: PaperSearch) -> None:
    assert (await search.search(parse_query("); DROP TABLE papers; --"))).message == NO_MATCH
    assert len(await ids(search, "reasoning", limit=100)) > 0
    with pytest.raises(QueryError, match="Add a word to search for"):
        parse_query("-survey")  # only narrowing, nothing to search: a usage error


async def test_multi_agent_matches_the_hyphenated_phrase(search: PaperSearch) -> None:
    found = (await search.search(parse_query("multi-agent"), limit=20)).papers
    assert found and all("multi" in f"{p.title} {p.abstract}".lower() for p in found)


async def test_query_too_long_is_refused_before_the_database() -> None:
    with pytest.raises(QueryError, match="too long"):
        parse_query("transformer " * 1000)


async def test_results_are_the_stored_papers_field_for_field(
    engine: AsyncEngine, search: PaperSearch
) -> None:
    found = (await search.search(parse_query("language"), limit=20)).papers
    assert found
    store = PaperStore(engine)
    assert list(found) == [await store.get_paper(p.id) for p in found]


async def test_a_paper_stored_after_a_search_is_found_by_the_next(
    engine: AsyncEngine, search: PaperSearch
) -> None:
    assert (await search.search(parse_query("axolotl"))).message == NO_MATCH
    await PaperStore(engine).upsert_papers([paper("2511.00001", "Axolotl regeneration")], now=NOW)
    assert await ids(search, "axolotl") == ["2511.00001"]


async def test_closing_a_sqlite_search_stops_its_reader_threads(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'close.db'}")
    try:
        await upgrade(engine)
        search = PaperSearch(engine)
        await search.search(parse_query("transformer"))
        await search.aclose()
        assert not [t for t in threading.enumerate() if t.name.startswith("paperboy-sqlite-read")]
        with pytest.raises(RuntimeError, match="closed"):
            await search.search(parse_query("transformer"))
    finally:
        await engine.dispose()


async def test_an_in_memory_sqlite_database_is_refused_with_a_clear_message() -> None:
    engine = create_engine("sqlite://")
    try:
        with pytest.raises(ValueError, match="database file"):
            PaperSearch(engine)
    finally:
        await engine.dispose()


async def test_very_common_words_are_skipped_alike_on_both_databases(search: PaperSearch) -> None:
    # PostgreSQL's english configuration cannot search for stopwords; SQLite skips them too, so
    # that a query means the same on both.
    for text in ("the", "NOT", '"the"', "don't", "the -survey"):
        found = await search.search(parse_query(text), limit=5)
        assert not found.papers and found.message == ONLY_STOPWORDS, text
    assert await ids(search, "reasoning NOT survey", limit=100) == await ids(
        search, "reasoning survey", limit=100
    )
    assert await ids(search, "reasoning NOT survey")
    assert (await search.search(parse_query("the zzzqqq"), limit=5)).message == NO_MATCH


async def test_an_exclusion_leaves_the_ranking_to_the_words_searched_for(
    engine: AsyncEngine, new_search: Callable[..., PaperSearch]
) -> None:
    await PaperStore(engine).upsert_papers(
        [
            paper("2501.00001", "Zebra reasoning", abstract="Zebra stripes.", published=dt.date(2025, 1, 2)),
            paper("2503.00002", "Other matters", abstract="A zebra appears.", published=dt.date(2025, 3, 2)),
            paper("2503.00003", "Zebra survey", abstract="zebra", published=dt.date(2025, 3, 3)),
        ],
        now=NOW,
    )
    search = new_search()
    assert await ids(search, "zebra") == ["2503.00003", "2501.00001", "2503.00002"]
    assert await ids(search, "zebra -survey") == ["2501.00001", "2503.00002"]
    assert await ids(search, "zebra -survey -stripes") == ["2503.00002"]


async def test_emoji_are_searched_as_whole_symbols(
    engine: AsyncEngine, new_search: Callable[..., PaperSearch]
) -> None:
    store = PaperStore(engine)
    await store.upsert_papers(
        [
            paper("2501.00001", "👩\u200d🔬 Lab assistants", abstract="Scientists at work."),
            paper("2501.00002", "🦙LLaMA goes to school", ai_keywords=("🤖 robots",)),
            paper("2501.00003", "A woman 👩 in a lab", abstract="We liked it 👍🏽."),
            paper("2501.00004", "Plain text about llamas"),
            paper("2501.00005", "Flags 🇫🇷 and keycaps 1\ufe0f\u20e3"),
        ],
        now=NOW,
    )
    search = new_search()
    assert await ids(search, "👩\u200d🔬") == ["2501.00001"]
    assert await ids(search, "👩🏽\u200d🔬") == ["2501.00001"]  # a skin tone finds every tone
    assert await ids(search, "👩") == ["2501.00003"]  # not the scientist: a different symbol
    assert await ids(search, "🦙") == ["2501.00002"]
    assert set(await ids(search, "llama")) == {"2501.00002", "2501.00004"}
    assert await ids(search, "🤖") == ["2501.00002"]  # from the AI keywords
    assert await ids(search, "👍") == ["2501.00003"]
    assert await ids(search, "🦙 school") == ["2501.00002"]
    assert await ids(search, "llama -🦙") == ["2501.00004"]
    assert await ids(search, "🇫🇷") == ["2501.00005"]
    assert await ids(search, "1\ufe0f\u20e3") == ["2501.00005"]
    # A refreshed title is searched by its new emoji only.
    await store.upsert_papers([paper("2501.00002", "🐙 Octopus goes to school")], now=NOW)
    assert await ids(search, "🦙") == []
    assert await ids(search, "🐙") == ["2501.00002"]


async def test_search_results_are_the_papers_the_store_holds_every_field_alike(
    search: PaperSearch, engine: AsyncEngine
) -> None:
    # On SQLite the search reads rows with sqlite3 alone and decodes JSON, dates and times
    # itself: what it returns must be exactly what the store (through SQLAlchemy) returns.
    store = PaperStore(engine)
    found = (await search.search(parse_query("reasoning"), limit=50)).papers
    assert len(found) > 5
    for hit in found:
        assert hit == await store.get_paper(hit.id)
    if engine.dialect.name == "sqlite":
        direct = PaperSearch(sqlite_path=engine.url.database)
        try:
            assert (await direct.search(parse_query("reasoning"), limit=50)).papers == found
        finally:
            await direct.aclose()
