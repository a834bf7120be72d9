"""Ranked full-text search: FTS5 + bm25 on SQLite, tsvector + GIN + websearch_to_tsquery on PostgreSQL.

Very common words match a large share of the archive, and ranking costs time per match
(../shared/docs/reliability-perf.md §4). So ranking happens within the newest
`candidate_cap` matches: the FTS5 row id is the arXiv order (bot.ids.arxiv_order), so that
walk needs no sort. since:/until: narrow that walk by row id first, so an old date range still
finds its papers; has:code is applied to the candidates.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from bot.ids import arxiv_order
from bot.paper_columns import paper_from_values
from bot.query import NOTHING_TO_SEARCH, SearchQuery, to_fts5, to_fts5_names, to_websearch, websearch_term
from bot.sqlite_reader import SQLiteReader
from bot.types import Paper, SearchResults

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

DEFAULT_CANDIDATE_CAP = 1_000
MAX_LIMIT = 100
# bm25 column weights, in the FTS5 column order: title, authors, keywords, abstract, org, emoji
# (as keywords: PostgreSQL weighs emoji like keywords, 'B').
_BM25 = "bm25(paper_fts, 10.0, 4.0, 3.0, 1.0, 0.0, 3.0)"
_COLUMNS = (
    "p.id, p.title, p.abstract, p.authors, p.organization, p.organization_slug, p.published, "
    "p.upvotes, p.comments, p.github_repo, p.github_stars, p.project_page, p.ai_summary, "
    "p.ai_keywords, p.thumbnail, p.first_seen, p.last_refreshed"
)
NO_MATCH = "No papers match."
ONLY_EXCLUSIONS = "Add a word to search for: -word only narrows a search."
ONLY_STOPWORDS = (
    'No papers match: words such as "the", "not" or "with" are too common to be searched for. '
    "Add a more specific word."
)


_COLUMN_NAMES = tuple(column.strip().removeprefix("p.") for column in _COLUMNS.split(","))


def _utc_datetime(value: str) -> dt.datetime:
    """A datetime as SQLAlchemy stores it in SQLite ("2025-11-21 12:00:00.000000", UTC)."""
    moment = dt.datetime.fromisoformat(value)
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


# How the columns SQLAlchemy converts are stored in SQLite (JSON text, ISO dates), read back with
# the standard library: `paperboy search` then needs no SQLAlchemy at all (a faster start).
# tests/test_search.py checks these give the same papers as the store.
_SQLITE_DECODERS: dict[str, Callable[[Any], Any]] = {
    "authors": json.loads,
    "ai_keywords": json.loads,
    "published": dt.date.fromisoformat,
    "first_seen": _utc_datetime,
    "last_refreshed": _utc_datetime,
}


def _sqlite_params(sql: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Parameters as sqlite3 takes them: `IN :name` with a list becomes `IN (:name_0, …)`, and
    dates become the text SQLAlchemy stores them as (sqlite3's own date adapter is deprecated)."""
    expanded: dict[str, Any] = {}
    for name, value in params.items():
        if isinstance(value, dt.date):
            expanded[name] = value.isoformat()
        elif isinstance(value, list):
            names = [f"{name}_{index}" for index in range(len(value))]
            sql = re.sub(rf"IN :{name}\b", "IN (" + ", ".join(f":{n}" for n in names) + ")", sql)
            expanded.update(zip(names, value, strict=True))
        else:
            expanded[name] = value
    return sql, expanded


def _websearch(param: str) -> str:
    """A PostgreSQL tsquery of the words in `param`, their accents taken off as in the index
    (paperboy_fold_accents, migration 0010), so that `café` and `cafe` are one word there too."""
    return f"websearch_to_tsquery('paperboy_english', paperboy_fold_accents(:{param}))"


def _name_phrase(param: str) -> str:
    """The words of an author: or org: filter as a phrase, not stemmed (as indexed)."""
    return f"phraseto_tsquery('simple', paperboy_fold_accents(:{param}))"


def _month_floor(day: dt.date, months_back: int) -> int:
    month_index = day.year * 12 + day.month - 1 - months_back
    return (month_index // 12 * 100 + month_index % 12 + 1) * 100_000


class PaperSearch:
    """Search over an engine (SQLite or PostgreSQL), or straight over a SQLite file (`sqlite_path`,
    no engine: the command line's fast path)."""

    def __init__(
        self,
        engine: AsyncEngine | None = None,
        *,
        candidate_cap: int = DEFAULT_CANDIDATE_CAP,
        sqlite_path: str | None = None,
    ) -> None:
        self.engine = engine
        self.candidate_cap = candidate_cap
        self._reader: SQLiteReader | None = None
        if engine is not None and engine.dialect.name == "sqlite":
            sqlite_path = engine.url.database or ""
        if sqlite_path is not None:
            self._reader = SQLiteReader(sqlite_path)
        elif engine is None:
            raise ValueError("PaperSearch needs an engine or a SQLite file")

    async def aclose(self) -> None:
        if self._reader is not None:
            await self._reader.aclose()

    async def search(
        self, query: SearchQuery, *, limit: int = 10, among: Sequence[str] | None = None
    ) -> SearchResults:
        """Best matches first. `among` restricts the search to these paper ids (alerts)."""
        limit = max(1, min(limit, MAX_LIMIT))
        if among is not None and not among:
            return SearchResults(message=NO_MATCH)
        if query.is_empty:
            return SearchResults(message=ONLY_STOPWORDS if query.skipped else NOTHING_TO_SEARCH)
        if not query.has_text and query.excluded:
            return SearchResults(message=ONLY_STOPWORDS if query.skipped else ONLY_EXCLUSIONS)
        if self._reader is not None:
            sql, params = self._sqlite(query, limit, among)
            rows = await self._reader.fetch_all(*_sqlite_params(sql, params))
            papers = tuple(self._sqlite_paper(row) for row in rows)
            candidates = rows[0][-1] if rows else 0
        else:
            papers, candidates = await self._search_postgres(query, limit, among)
        return SearchResults(
            papers=papers,
            message=None if papers else NO_MATCH,
            truncated_candidates=bool(papers) and candidates >= self.candidate_cap,
        )

    async def filtered(self, query: SearchQuery, among: Sequence[str]) -> list[Paper]:
        """The papers of `among` that pass the query's filters (author:, org:, since:, until:,
        has:code and every -exclusion), whatever their words: search by meaning finds papers
        by what they are about, and the filters still apply exactly, as the same index reads
        them. In no particular order."""
        if not among:
            return []
        only_filters = SearchQuery(
            authors=query.authors,
            orgs=query.orgs,
            since=query.since,
            until=query.until,
            has_code=query.has_code,
        )
        papers = await self._run(only_filters, len(among), among)
        for term in query.excluded:
            if not papers:
                break
            matching = await self._run(SearchQuery(terms=(term,)), len(papers), [p.id for p in papers])
            excluded = {paper.id for paper in matching}
            papers = [paper for paper in papers if paper.id not in excluded]
        return papers

    async def newest(self, limit: int) -> list[Paper]:
        """The newest papers of the archive, by publication date."""
        return await self._run(SearchQuery(), limit, None)

    async def _run(self, query: SearchQuery, limit: int, among: Sequence[str] | None) -> list[Paper]:
        if self._reader is not None:
            sql, params = self._sqlite(query, limit, among)
            rows = await self._reader.fetch_all(*_sqlite_params(sql, params))
            return [self._sqlite_paper(row) for row in rows]
        papers, _candidates = await self._search_postgres(query, limit, among)
        return list(papers)

    async def _search_postgres(
        self, query: SearchQuery, limit: int, among: Sequence[str] | None
    ) -> tuple[tuple[Paper, ...], int]:
        from sqlalchemy import JSON, Date, Integer, bindparam, text

        from bot.models import UTCDateTime

        assert self.engine is not None
        sql, params = self._postgres(query, limit, among)
        statement = text(sql).columns(
            authors=JSON(),
            ai_keywords=JSON(),
            published=Date(),
            first_seen=UTCDateTime(),
            last_refreshed=UTCDateTime(),
            candidates=Integer(),
        )
        if among is not None:
            statement = statement.bindparams(bindparam("among", expanding=True))
        async with self.engine.connect() as conn:
            result = (await conn.execute(statement, params)).all()
        papers = tuple(paper_from_values(row._mapping) for row in result)
        return papers, (result[0]._mapping["candidates"] if result else 0)

    def _sqlite_paper(self, row: tuple[Any, ...]) -> Paper:
        values = dict(zip(_COLUMN_NAMES, row, strict=False))
        for name, decode in _SQLITE_DECODERS.items():
            if values[name] is not None:
                values[name] = decode(values[name])
        return paper_from_values(values)

    def _filters(self, query: SearchQuery, params: dict[str, Any]) -> list[str]:
        where: list[str] = []
        if query.since:
            where.append("p.published >= :since")
            params["since"] = query.since
        if query.until:
            where.append("p.published <= :until")
            params["until"] = query.until
        if query.has_code:
            where.append("p.github_repo IS NOT NULL")
        return where

    def _sqlite(
        self, query: SearchQuery, limit: int, among: Sequence[str] | None
    ) -> tuple[str, dict[str, Any]]:
        params: dict[str, Any] = {"limit": limit, "cap": self.candidate_cap}
        outer = self._filters(query, params)
        if among is not None:
            outer.append("p.id IN :among")
            params["among"] = list(among)
        if not query.has_text:
            where = " AND ".join(outer) or "1=1"
            sql = (
                f"SELECT {_COLUMNS}, 0 AS candidates FROM papers p WHERE {where} "
                "ORDER BY p.published DESC, p.seq DESC LIMIT :limit"
            )
            return sql, params
        inner = ["paper_fts MATCH :match"]
        params["match"] = to_fts5(query)
        if query.authors or query.orgs:
            # Names as written: paper_fts stems every column ("smiths" would find Smith), so the
            # names index decides; paper_fts still matches them (bm25 counts authors).
            inner.append("rowid IN (SELECT rowid FROM paper_names WHERE paper_names MATCH :names)")
            params["names"] = to_fts5_names(query)
        if among is not None:
            inner.append("rowid IN :among_seq")
            params["among_seq"] = [arxiv_order(paper_id) for paper_id in among]
        # Row ids are arXiv order, year and month first; a month of slack on each side covers
        # papers whose id month and publication date straddle a month boundary.
        if query.since:
            inner.append("rowid >= :seq_lo")
            params["seq_lo"] = _month_floor(query.since, 1)
        if query.until:
            inner.append("rowid < :seq_hi")
            params["seq_hi"] = _month_floor(query.until, -2)
        hits = (
            "WITH hits AS ("
            f"  SELECT rowid AS seq, {_BM25} AS score FROM paper_fts"
            f"  WHERE {' AND '.join(inner)} ORDER BY rowid DESC LIMIT :cap"
            ") "
        )
        # The candidates are collected once and counted there. Counting them in a second walk
        # of the index instead is 8% cheaper for one word but a third dearer for phrases and
        # several words, which must match every candidate again (callgrind, BENCHMARKS.md).
        if not outer:
            # Rank on the index alone and read only the best rows from `papers` (abstracts are
            # large): about twice as fast for mid-frequency words (BENCHMARKS.md).
            sql = (
                hits + ", best AS (SELECT seq, score FROM hits ORDER BY score, seq DESC LIMIT :limit) "
                f"SELECT {_COLUMNS}, (SELECT count(*) FROM hits) AS candidates "
                "FROM best JOIN papers p ON p.seq = best.seq "
                "ORDER BY best.score, p.published DESC, p.seq DESC"
            )
            return sql, params
        sql = (
            hits + f"SELECT {_COLUMNS}, (SELECT count(*) FROM hits) AS candidates "
            "FROM hits JOIN papers p ON p.seq = hits.seq "
            f"WHERE {' AND '.join(outer)} ORDER BY hits.score, p.published DESC, p.seq DESC LIMIT :limit"
        )
        return sql, params

    def _postgres(
        self, query: SearchQuery, limit: int, among: Sequence[str] | None
    ) -> tuple[str, dict[str, Any]]:
        params: dict[str, Any] = {"limit": limit, "cap": self.candidate_cap}
        where = self._filters(query, params)
        if among is not None:
            where.append("p.id IN :among")
            params["among"] = list(among)
        websearch = to_websearch(query)
        if websearch:
            where.append(f"p.search_tsv @@ {_websearch('ws')}")
            params["ws"] = websearch
            score = f"ts_rank(p.search_tsv, {_websearch('ws')})"
        else:
            score = "0"
        # Each exclusion is a filter of its own: ts_rank gives a tsquery with a negation
        # (`'reason' & !'survey'`) the same rank, 1e-20, for every paper, so no ranking at all.
        for index, term in enumerate(query.excluded):
            where.append(f"NOT (p.search_tsv @@ {_websearch(f'ex{index}')})")
            params[f"ex{index}"] = websearch_term(term)
        for index, term in enumerate(query.authors):
            where.append(f"p.authors_tsv @@ {_name_phrase(f'author{index}')}")
            params[f"author{index}"] = " ".join(term)
        for index, term in enumerate(query.orgs):
            where.append(f"p.org_tsv @@ {_name_phrase(f'org{index}')}")
            params[f"org{index}"] = " ".join(term)
        if not query.has_text:
            sql = (
                f"SELECT {_COLUMNS}, 0 AS candidates FROM papers p WHERE {' AND '.join(where) or 'TRUE'} "
                "ORDER BY p.published DESC NULLS LAST, p.seq DESC LIMIT :limit"
            )
            return sql, params
        # PostgreSQL misjudges how many rows a phrase matches and would walk the seq index through
        # the whole table; `seq + 0` makes it take the GIN index (616 → 72 ms in BENCHMARKS.md).
        order = "p.seq + 0" if any(len(term) > 1 for term in query.terms) else "p.seq"
        sql = (
            "WITH hits AS ("
            f"  SELECT p.seq, {score} AS score FROM papers p WHERE {' AND '.join(where)}"
            f"  ORDER BY {order} DESC LIMIT :cap"
            "), best AS (SELECT seq, score FROM hits ORDER BY score DESC, seq DESC LIMIT :limit) "
            f"SELECT {_COLUMNS}, (SELECT count(*) FROM hits) AS candidates "
            "FROM best JOIN papers p ON p.seq = best.seq "
            "ORDER BY best.score DESC, p.published DESC NULLS LAST, p.seq DESC"
        )
        return sql, params
