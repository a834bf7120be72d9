"""SQLite and PostgreSQL give a user the same answers: one corpus of queries, run on both.

The two rank differently (bm25 against ts_rank), so what is compared is what a user would
notice: which papers come back, the message when none do, the usage error for a query that is
refused, and the best match where one paper plainly is the best.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db import create_engine, upgrade
from bot.hf_parse import parse_daily_items
from bot.query import QueryError, parse_query
from bot.search import PaperSearch
from bot.store import PaperStore
from bot.types import Paper
from tests.conftest import NOW, POSTGRES_URL, _postgres_schema_url
from tests.fake_hf import load_sample

pytestmark = pytest.mark.skipif(
    not POSTGRES_URL, reason="compares SQLite with PostgreSQL: set PAPERBOY_TEST_POSTGRES_URL"
)


def _paper(pid: str, title: str, abstract: str, **fields: object) -> Paper:
    base = Paper(id=pid, title=title, abstract=abstract, published=dt.date(2025, 12, 10))
    return dataclasses.replace(base, **fields)  # type: ignore[arg-type]


# The 60 sample papers have only ASCII text; these add emoji and other non-ASCII text.
EXTRA = [
    _paper(
        "2512.90101",
        "👩\u200d🔬 Lab Agents: 🦙LLaMA as a Research Assistant",
        "We run model’s experiments with GPT-4o and 🦙LLaMA-3.1 on MATH-500 👍🏽.",
        ai_keywords=("🤖 agents", "lab automation"),
    ),
    _paper(
        "2512.90102",
        "Flags 🇫🇷 🇯🇵 and keycaps 1\ufe0f\u20e3 in multilingual tokenizers",
        "Tokenizers split emoji such as ❤\ufe0f and 👍 differently; see https://example.org/tok-1.5.",
        ai_keywords=("模型 训练", "tokenization"),
    ),
    # Accents are ignored on both (FTS5 folds them; PostgreSQL through migration 0012), and
    # names match as written on both: author:adams is not Adam.
    _paper(
        "2512.90103",
        "Café naïve: résumé über retrieval",
        "Crème brûlée benchmarks for Ñandú-scale retrieval.",
        authors=("José Núñez", "Adam Moreau"),
    ),
]

# Words, phrases, exclusions, stopwords, filters, model names, and hostile text.
QUERIES = [
    "reasoning",
    "overthinking",
    "transformer",
    "transformers",
    "agents",
    "LLMs",
    "self-correction",
    "self correction",
    "multi-agent",
    "language models",
    "reinforcement learning reasoning",
    '"large language models"',
    '"chain of thought"',
    '"test-time scaling"',
    '"The Markovian Thinker"',
    '"of the"',
    "reasoning -survey",
    'reasoning -"large language"',
    "thinking -overthinking",
    "llm -reasoning -self",
    "-survey",
    "the",
    "NOT",
    "reasoning NOT survey",
    "the of and",
    "Can LLMs learn from previous mistakes",
    "how to think",
    "Think How to Think",
    "it's",
    "don't",
    '"the"',
    "less is more",
    "reasoning has:code",
    "learning since:2025-01-01",
    "language until:2024-12-31",
    "reasoning since:2025-05-01 until:2025-06-30",
    "org:adobe",
    "org:adobe research",
    "author:smith",
    "cafe",
    "café naive",
    "creme brulee",
    "resume -uber",
    "author:jose",
    "author:núñez",
    "author:adam",
    "author:adams",
    'author:"Priya Wang"',
    "author:müller",
    "author:o'brien reasoning",
    "by:kumar",
    "GPT-4o",
    "MATH-500",
    "Qwen-2.5-7B-Instruct",
    "1.5B",
    "Phi-3.5-Vision",
    "QwQ-32B",
    "R1-671B",
    "7.6",
    "GPT-3.5",
    "LLaMA-3.1",
    "https://example.org/tok-1.5",
    "example.org",
    "model’s",
    "🤖",
    "👩\u200d🔬",
    "👩🏽\u200d🔬",
    "🦙",
    "llama",
    "👍",
    "❤",
    "🇫🇷",
    "1\ufe0f\u20e3",
    "模型",
    "agents -🤖",
    '"lab agents the 🤖"',
    '"the 👩\u200d🔬"',
    '"',
    "' OR 1=1 --",
    "AND OR NEAR(",
    "title:x",
    "x\\y",
    "50%",
    "%",
    "_",
    "*",
    "\u202e",
    "-",
    "author:",
    "since:",
    "has:pdf",
    "); DROP TABLE papers; --",
    "zzzqqq",
]

# Queries where one paper is plainly the best match: both databases must rank it first.
TOP = {
    '"The Markovian Thinker"': "2510.90006",
    "Can LLMs learn from previous mistakes": "2403.90001",
    "Think How to Think": "2507.90002",
    "👩\u200d🔬": "2512.90101",
    "🦙": "2512.90101",
}


async def _answer(search: PaperSearch, text: str) -> tuple[str, frozenset[str], str | None]:
    try:
        query = parse_query(text)
    except QueryError as exc:
        return ("refused", frozenset(), str(exc))
    results = await search.search(query, limit=100)
    return ("searched", frozenset(p.id for p in results.papers), results.message)


@pytest.fixture
async def engines(tmp_path: Path) -> AsyncIterator[tuple[AsyncEngine, AsyncEngine]]:
    url, drop = await _postgres_schema_url()
    sqlite = create_engine(f"sqlite:///{tmp_path / 'parity.db'}")
    postgres = create_engine(url)
    try:
        papers = [*parse_daily_items(load_sample(), source="sample")[0], *EXTRA]
        for engine in (sqlite, postgres):
            await upgrade(engine)
            await PaperStore(engine).upsert_papers(papers, now=NOW)
        yield sqlite, postgres
    finally:
        await sqlite.dispose()
        await postgres.dispose()
        await drop()


async def test_sqlite_and_postgresql_answer_every_query_alike(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    sqlite, postgres = (PaperSearch(engine) for engine in engines)
    try:
        differences = []
        found_papers = 0
        for text in QUERIES:
            on_sqlite, on_postgres = await _answer(sqlite, text), await _answer(postgres, text)
            found_papers += bool(on_sqlite[1])
            if on_sqlite != on_postgres:
                only_sqlite = sorted(on_sqlite[1] - on_postgres[1])
                only_postgres = sorted(on_postgres[1] - on_sqlite[1])
                differences.append(
                    f"{text!r}: SQLite {on_sqlite[0]} {len(on_sqlite[1])} ({on_sqlite[2]}), "
                    f"PostgreSQL {on_postgres[0]} {len(on_postgres[1])} ({on_postgres[2]}); "
                    f"only SQLite {only_sqlite}, only PostgreSQL {only_postgres}"
                )
        assert not differences, "\n".join(differences)
        # Agreeing on empty answers would prove little: most of the corpus finds papers.
        assert found_papers > len(QUERIES) / 2
        for text, expected in TOP.items():
            query = parse_query(text)
            firsts = [(await search.search(query, limit=1)).papers for search in (sqlite, postgres)]
            assert [found[0].id if found else None for found in firsts] == [expected, expected], text
    finally:
        await sqlite.aclose()
        await postgres.aclose()
