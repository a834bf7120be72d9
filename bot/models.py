"""SQLModel tables: private to the store, which hands out `Paper`s, never rows.

The search index (an FTS5 table on SQLite, tsvector columns on PostgreSQL) is not declared here:
it is dialect-specific and lives in the Alembic migrations.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, Text, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class PaperRow(SQLModel, table=True):
    __tablename__ = "papers"
    __table_args__ = (Index("ix_papers_published", "published"),)

    id: str = Field(primary_key=True, max_length=64)
    # arXiv submission order (see bot.ids.arxiv_order): the FTS5 row id, newest largest.
    seq: int = Field(sa_column=Column(BigInteger, nullable=False, unique=True))
    title: str = Field(sa_column=Column(Text, nullable=False))
    abstract: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    authors: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    authors_text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    organization: str | None = Field(default=None, sa_column=Column(Text))
    organization_slug: str | None = Field(default=None, sa_column=Column(Text))
    org_text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    published: dt.date | None = None
    upvotes: int = 0
    comments: int = 0
    github_repo: str | None = Field(default=None, sa_column=Column(Text))
    github_stars: int | None = None
    project_page: str | None = Field(default=None, sa_column=Column(Text))
    ai_summary: str | None = Field(default=None, sa_column=Column(Text))
    ai_keywords: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    keywords_text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    thumbnail: str | None = Field(default=None, sa_column=Column(Text))
    first_seen: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    last_refreshed: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class DailyEntryRow(SQLModel, table=True):
    """Paper `paper_id` was on the Daily Papers list of UTC day `day`, at position `rank`."""

    __tablename__ = "daily_entries"
    __table_args__ = (Index("ix_daily_entries_paper", "paper_id"),)

    day: dt.date = Field(primary_key=True)
    paper_id: str = Field(primary_key=True, foreign_key="papers.id", max_length=64)
    rank: int


class DailyFetchRow(SQLModel, table=True):
    """A day whose list was fetched completely; an empty day has paper_count 0."""

    __tablename__ = "daily_fetches"

    day: dt.date = Field(primary_key=True)
    paper_count: int
    fetched_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
