"""PaperStore: papers and daily lists in SQLite or PostgreSQL. Hands out `Paper`s, never rows."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import operator
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from sqlalchemy import Row, and_, bindparam, delete, exists, func, or_, select, text
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.dialect import insert_for
from bot.ids import arxiv_order
from bot.models import DailyEntryRow, DailyFetchRow, PaperRow
from bot.paper_columns import paper_from_values
from bot.query import emoji_text
from bot.types import DailyList, Paper

HEALTH_TIMEOUT_SECONDS = 3.0

log = logging.getLogger(__name__)

PAPERS = PaperRow.__table__  # type: ignore[attr-defined]
ENTRIES = DailyEntryRow.__table__  # type: ignore[attr-defined]
FETCHES = DailyFetchRow.__table__  # type: ignore[attr-defined]

_CHUNK = 500
# Any constant (not bot.db.MIGRATION_LOCK): the PostgreSQL advisory lock that serialises paper writes.
PAPER_WRITE_LOCK = 7_272_020_251_126
# Columns a refresh may fill in but never blank out: the single-paper endpoint lacks some.
_KEEP_IF_MISSING = (
    "organization",
    "organization_slug",
    "github_repo",
    "github_stars",
    "project_page",
    "ai_summary",
    "thumbnail",
    "published",
)

# Counts a source may leave out (None): refreshed when given, kept when not.
_COUNTS = ("upvotes", "comments")
_Counts = tuple[str, ...]

# Columns a refresh overwrites: the list's own values are the newest.
_REFRESHED = (
    "title",
    "abstract",
    "authors",
    "authors_text",
    "org_text",
    "ai_keywords",
    "keywords_text",
    "emoji_text",
    "last_refreshed",
)


def paper_to_values(paper: Paper, now: dt.datetime) -> dict[str, Any]:
    return {
        "id": paper.id,
        "seq": arxiv_order(paper.id),
        "title": paper.title,
        "abstract": paper.abstract,
        "authors": list(paper.authors),
        "authors_text": ", ".join(paper.authors),
        "organization": paper.organization,
        "organization_slug": paper.organization_slug,
        "org_text": " ".join(filter(None, (paper.organization, paper.organization_slug))),
        "published": paper.published,
        # Unknown counts go in as 0 for a new paper; a known paper keeps its own (see _upsert).
        "upvotes": paper.upvotes or 0,
        "comments": paper.comments or 0,
        "github_repo": paper.github_repo,
        "github_stars": paper.github_stars,
        "project_page": paper.project_page,
        "ai_summary": paper.ai_summary,
        "ai_keywords": list(paper.ai_keywords),
        "keywords_text": ", ".join(paper.ai_keywords),
        "emoji_text": emoji_text(paper.title, *paper.ai_keywords, paper.abstract),
        "thumbnail": paper.thumbnail,
        "first_seen": now,
        "last_refreshed": now,
    }


def row_to_paper(row: Row[Any] | Any) -> Paper:
    return paper_from_values(row._mapping)


# SQLite's FTS5 index takes new papers in one statement per batch (migration 0004); PostgreSQL's
# tsvector columns are generated. Updates and deletes are kept in step by triggers.
_INDEX_NEW_PAPERS = text(
    "INSERT INTO paper_fts(rowid, title, authors_text, keywords_text, abstract, org_text, emoji_text) "
    "SELECT seq, title, authors_text, keywords_text, abstract, org_text, emoji_text FROM papers "
    "WHERE id IN :ids"
).bindparams(bindparam("ids", expanding=True))

# One statement for any number of ids: compiled once, the list expanded at execution.
_KNOWN_IDS = select(PAPERS.c.id).where(PAPERS.c.id.in_(bindparam("ids", expanding=True)))
_LISTED_IDS = (
    select(ENTRIES.c.paper_id).where(ENTRIES.c.paper_id.in_(bindparam("ids", expanding=True))).distinct()
)

_DAY_HAS_ENTRIES = select(ENTRIES.c.paper_id).where(ENTRIES.c.day == bindparam("day")).limit(1)

PAPER_COLUMNS = [column for column in PAPERS.c if column.name in Paper.__slots__]


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _remember_last(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`convert`, skipped when given the very object it was last given: a batch's rows share one
    `now` for first_seen and last_refreshed, and formatting it costs more than the rest of a row."""
    # One (value, converted) pair, replaced whole, so a reader never sees half an update.
    last: list[tuple[Any, Any]] = [(_NOTHING, None)]

    def converted(value: Any) -> Any:
        seen, result = last[0]
        if value is not seen:
            result = convert(value)
            last[0] = (value, result)
        return result

    return converted


_NOTHING = object()


class _SQLiteUpsert:
    """An upsert compiled once for SQLite, taking rows as positional tuples."""

    def __init__(self, statement: Any, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        names = compiled.positiontup
        if names is None or any(name not in PAPERS.c for name in names):
            raise RuntimeError("the SQLite upsert should bind one positional parameter per column")
        self._pick = operator.itemgetter(*names)
        # Dates, datetimes and JSON become what SQLAlchemy would store for them; other columns
        # pass through as they are.
        self._converters = tuple(
            (index, _remember_last(convert))
            for index, name in enumerate(names)
            if (convert := PAPERS.c[name].type.dialect_impl(dialect).bind_processor(dialect))
        )

    def row(self, values: dict[str, Any]) -> tuple[Any, ...]:
        row = list(self._pick(values))
        for index, convert in self._converters:
            row[index] = convert(row[index])
        return tuple(row)

    def rows(self, papers: Sequence[Paper], now: dt.datetime) -> list[tuple[Any, ...]]:
        return [self.row(paper_to_values(paper, now)) for paper in papers]


class PaperStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._dialect = engine.dialect.name
        self._sqlite_writers: dict[_Counts, _SQLiteUpsert] = {}
        self._write_turn = asyncio.Lock()

    def _insert(self, table: Any) -> Any:
        return insert_for(self.engine)(table)

    async def upsert_papers(self, papers: Sequence[Paper], *, now: dt.datetime) -> int:
        """Insert new papers and refresh known ones; returns how many were new.

        Idempotent: the same batch twice leaves one row per paper, with counts refreshed. A count
        the source did not give (None: the single-paper endpoint has no comment count, an older
        listing may lack upvotes) keeps the stored one.
        """
        unique = list({paper.id: paper for paper in papers}.values())
        if not unique:
            return 0
        async with self._writing(), self.engine.begin() as conn:
            await self._begin_write(conn)
            return len(await self._upsert(conn, unique, now=now))

    def _writing(self) -> AbstractAsyncContextManager[object]:
        """On SQLite, this process's writers take turns here rather than in SQLite's busy
        handler, which sleeps between retries (up to 10 ms and more each): days fetched side by
        side stored at a third of the speed. PostgreSQL's advisory lock wakes waiters at once."""
        return self._write_turn if self._dialect == "sqlite" else contextlib.nullcontext()

    async def _begin_write(self, conn: AsyncConnection) -> None:
        """Take the papers' write lock before reading which papers are known.

        Otherwise two writers (`paperboy fetch` beside `paperboy run`, or two instances) both
        read a paper as new: SQLite's FTS5 index would then count it twice, and both would
        report it as new. SQLite's default transaction takes the lock only at its first write;
        PostgreSQL takes an advisory lock held until commit.
        """
        if self._dialect == "sqlite":
            await conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PAPER_WRITE_LOCK})

    def _upsert_statement(self, counts: _Counts) -> Any:
        """INSERT … ON CONFLICT DO UPDATE: new papers go in, known ones get fresh counts (those
        in `counts`: the ones the source gave)."""
        stmt = self._insert(PAPERS)
        excluded = stmt.excluded
        updates: dict[str, Any] = {name: excluded[name] for name in _REFRESHED}
        for name in _KEEP_IF_MISSING:
            updates[name] = func.coalesce(excluded[name], PAPERS.c[name])
        for name in counts:
            updates[name] = excluded[name]
        return stmt.on_conflict_do_update(index_elements=[PAPERS.c.id], set_=updates)

    async def _upsert(self, conn: AsyncConnection, papers: Sequence[Paper], *, now: dt.datetime) -> list[str]:
        """Upsert in groups by which counts the source gave: a missing count is unknown, not 0."""
        groups: dict[_Counts, list[Paper]] = {}
        for paper in papers:
            counts = tuple(name for name in _COUNTS if getattr(paper, name) is not None)
            groups.setdefault(counts, []).append(paper)
        new: list[str] = []
        for counts, group in groups.items():
            if self._dialect == "sqlite":
                new += await self._upsert_sqlite(conn, group, now=now, counts=counts)
            else:
                new += await self._upsert_postgres(conn, group, now=now, counts=counts)
        return new

    async def _upsert_postgres(
        self, conn: AsyncConnection, papers: Sequence[Paper], *, now: dt.datetime, counts: _Counts
    ) -> list[str]:
        new: list[str] = []
        stmt = self._upsert_statement(counts)
        for chunk in _chunks(papers):
            ids = [paper.id for paper in chunk]
            known = set((await conn.execute(_KNOWN_IDS, {"ids": ids})).scalars())
            await conn.execute(stmt, [paper_to_values(paper, now) for paper in chunk])
            new += [paper_id for paper_id in ids if paper_id not in known]
        return new

    async def _upsert_sqlite(
        self, conn: AsyncConnection, papers: Sequence[Paper], *, now: dt.datetime, counts: _Counts
    ) -> list[str]:
        # Rows go in as one executemany of plain tuples: SQLAlchemy's per-row parameter handling
        # cost more than SQLite's own insert (BENCHMARKS.md). The SQL and the value conversions
        # are still SQLAlchemy's, compiled once.
        writer = self._sqlite_writers.get(counts)
        if writer is None:
            writer = _SQLiteUpsert(self._upsert_statement(counts), conn.dialect)
            self._sqlite_writers[counts] = writer
        new: list[str] = []
        for chunk in _chunks(papers):
            ids = [paper.id for paper in chunk]
            known = set((await conn.execute(_KNOWN_IDS, {"ids": ids})).scalars())
            await conn.exec_driver_sql(writer.sql, writer.rows(chunk, now))
            fresh = [paper_id for paper_id in ids if paper_id not in known]
            if fresh:
                await conn.execute(_INDEX_NEW_PAPERS, {"ids": fresh})
            new += fresh
        return new

    async def record_daily_list(
        self, day: dt.date, papers: Sequence[Paper], *, now: dt.datetime
    ) -> list[str]:
        """Store `day`'s complete list in HF order; returns the ids of papers on no list before.

        That is what saved-search alerts are for: a paper stored earlier by `/paper show` is new
        when it first appears on a list.

        An empty answer for a day whose list is stored changes nothing: Hugging Face answers
        `[]` during incidents, and taking it at its word would wipe a finished list just before
        a digest posts it. (Lists lose a paper now and then; they do not lose all of them.)
        """
        unique = list({paper.id: paper for paper in papers}.values())
        async with self._writing(), self.engine.begin() as conn:
            await self._begin_write(conn)
            if not unique and (await conn.execute(_DAY_HAS_ENTRIES, {"day": day})).first():
                log.warning("Hugging Face answered an empty list for %s; keeping the stored one", day)
                return []
            await self._upsert(conn, unique, now=now)
            ids = [paper.id for paper in unique]
            listed: set[str] = set()
            for chunk in _chunks(ids):
                listed.update((await conn.execute(_LISTED_IDS, {"ids": chunk})).scalars())
            new = [paper_id for paper_id in ids if paper_id not in listed]
            await conn.execute(
                delete(ENTRIES).where(and_(ENTRIES.c.day == day, ENTRIES.c.paper_id.not_in(ids)))
            )
            if unique:
                stmt = self._insert(ENTRIES)
                stmt = stmt.on_conflict_do_update(
                    index_elements=[ENTRIES.c.day, ENTRIES.c.paper_id],
                    set_={"rank": stmt.excluded.rank},
                )
                await conn.execute(
                    stmt,
                    [
                        {"day": day, "paper_id": pid, "rank": rank, "listed_at": now}
                        for rank, pid in enumerate(ids, 1)
                    ],
                )
            fetch = self._insert(FETCHES)
            fetch = fetch.on_conflict_do_update(
                index_elements=[FETCHES.c.day],
                set_={"paper_count": fetch.excluded.paper_count, "fetched_at": fetch.excluded.fetched_at},
            )
            await conn.execute(fetch, {"day": day, "paper_count": len(unique), "fetched_at": now})
        return new

    async def get_paper(self, paper_id: str) -> Paper | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(*PAPER_COLUMNS).where(PAPERS.c.id == paper_id))).first()
        return row_to_paper(row) if row else None

    async def get_papers(self, paper_ids: Sequence[str]) -> dict[str, Paper]:
        """The stored papers among `paper_ids`, by id (one query; unknown ids are left out)."""
        found: dict[str, Paper] = {}
        async with self.engine.connect() as conn:
            for chunk in _chunks(list(paper_ids)):
                rows = await conn.execute(select(*PAPER_COLUMNS).where(PAPERS.c.id.in_(chunk)))
                found.update((paper.id, paper) for paper in map(row_to_paper, rows))
        return found

    async def daily_list(self, day: dt.date) -> DailyList:
        stmt = (
            select(*PAPER_COLUMNS)
            .join(ENTRIES, ENTRIES.c.paper_id == PAPERS.c.id)
            .where(ENTRIES.c.day == day)
            .order_by(ENTRIES.c.rank)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return DailyList(day=day, papers=tuple(row_to_paper(row) for row in rows))

    async def most_upvoted(self, day: dt.date, limit: int) -> tuple[list[Paper], int]:
        """`day`'s `limit` most-upvoted papers (in the list's order among equals) and how many
        papers the list holds, in one query that reads only those papers' rows."""
        listed = func.count().over().label("listed")
        stmt = (
            select(*PAPER_COLUMNS, listed)
            .join(ENTRIES, ENTRIES.c.paper_id == PAPERS.c.id)
            .where(ENTRIES.c.day == day)
            .order_by(func.coalesce(PAPERS.c.upvotes, 0).desc(), ENTRIES.c.rank)
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(stmt)).all()
        return [row_to_paper(row) for row in rows], (rows[0].listed if rows else 0)

    async def fetched_days(self, since: dt.date, until: dt.date) -> dict[dt.date, int]:
        """Days in [since, until] whose list was fetched, with their paper counts."""
        stmt = select(FETCHES.c.day, FETCHES.c.paper_count).where(FETCHES.c.day.between(since, until))
        async with self.engine.connect() as conn:
            return {row.day: row.paper_count for row in await conn.execute(stmt)}

    async def first_listed_since(self, since: dt.datetime) -> dict[str, dt.datetime]:
        """Papers that went onto their first daily list at or after `since`, and when.

        Only lists of recent days count: a backfill (`paperboy fetch --since 2023-05-01`) stores
        thousands of old lists at once, and their papers are not news to anyone.
        """
        earlier = ENTRIES.alias("earlier")
        stmt = (
            select(ENTRIES.c.paper_id, func.min(ENTRIES.c.listed_at))
            .where(
                ENTRIES.c.listed_at >= since,
                ENTRIES.c.day >= since.date() - dt.timedelta(days=1),
                ~exists().where(
                    earlier.c.paper_id == ENTRIES.c.paper_id,
                    or_(earlier.c.listed_at < since, earlier.c.listed_at.is_(None)),
                ),
            )
            .group_by(ENTRIES.c.paper_id)
        )
        async with self.engine.connect() as conn:
            return {row[0]: row[1] for row in await conn.execute(stmt)}

    async def fetched_at(self, day: dt.date) -> dt.datetime | None:
        """When `day`'s list was last fetched completely, or None."""
        async with self.engine.connect() as conn:
            value = (await conn.execute(select(FETCHES.c.fetched_at).where(FETCHES.c.day == day))).scalar()
        return value if isinstance(value, dt.datetime) else None

    async def latest_listed_day(self) -> dt.date | None:
        async with self.engine.connect() as conn:
            value = (await conn.execute(select(func.max(ENTRIES.c.day)))).scalar()
        return value if isinstance(value, dt.date) else None

    async def update_statistics(self) -> None:
        """After new papers, PostgreSQL's planner statistics are brought up to date at once:
        without them a common word's search took 420 ms on a freshly loaded archive, and the
        plans changed when autovacuum got round to it (BENCHMARKS.md). SQLite plans by FTS5."""
        if self.engine.dialect.name != "postgresql":
            return
        async with self.engine.begin() as conn:
            await conn.execute(text("ANALYZE papers, daily_entries"))

    async def reachable(self) -> bool:
        """Whether the database answers a query within HEALTH_TIMEOUT seconds (/healthz)."""
        try:
            async with asyncio.timeout(HEALTH_TIMEOUT_SECONDS), self.engine.connect() as conn:
                await conn.execute(select(1))
        except Exception:
            return False
        return True

    async def count_papers(self) -> int:
        async with self.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(PAPERS))).scalar() or 0)
