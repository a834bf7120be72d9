"""SQLModel tables: private to the store, which hands out `Paper`s, never rows.

The search index (an FTS5 table on SQLite, tsvector columns on PostgreSQL) is not declared here:
it is dialect-specific and lives in the Alembic migrations.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
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
    # The emoji of title, keywords and abstract as index words (bot.query.emoji_text): neither
    # FTS5 nor PostgreSQL indexes emoji themselves.
    emoji_text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    thumbnail: str | None = Field(default=None, sa_column=Column(Text))
    first_seen: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    last_refreshed: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class DailyEntryRow(SQLModel, table=True):
    """Paper `paper_id` was on the Daily Papers list of UTC day `day`, at position `rank`."""

    __tablename__ = "daily_entries"
    __table_args__ = (
        Index("ix_daily_entries_paper", "paper_id"),
        Index("ix_daily_entries_listed_at", "listed_at"),
    )

    day: dt.date = Field(primary_key=True)
    paper_id: str = Field(primary_key=True, foreign_key="papers.id", max_length=64)
    rank: int
    # When this listing was first stored (None: before revision 0007); alerts go by it.
    listed_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime, nullable=True))


class DailyFetchRow(SQLModel, table=True):
    """A day whose list was fetched completely; an empty day has paper_count 0."""

    __tablename__ = "daily_fetches"

    day: dt.date = Field(primary_key=True)
    paper_count: int
    fetched_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class SubscriptionRow(SQLModel, table=True):
    """A channel's daily digest: when, where, how many, which papers."""

    __tablename__ = "subscriptions"
    __table_args__ = (UniqueConstraint("platform", "community", "channel", name="uq_subscription_channel"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=32)
    community: str = Field(max_length=128)
    channel: str = Field(max_length=128)
    post_time: str = Field(default="09:00", max_length=5)  # local HH:MM
    timezone: str = Field(default="UTC", max_length=64)  # IANA name
    size: int = 10
    min_upvotes: int = 0
    include_keywords: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    exclude_keywords: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    threaded: bool = True
    ranking: str = Field(default="upvotes", max_length=16)  # or "taste" (migration 0011)
    paused_reason: str | None = Field(default=None, sa_column=Column(Text))
    last_posted_day: dt.date | None = None
    last_posted_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    last_run_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    last_note: str | None = Field(default=None, sa_column=Column(Text))
    # Closed lists (ISO days) that were empty at the post time (Hugging Face incidents): each is
    # posted when it fills.
    awaited_days: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class DeliveryRow(SQLModel, table=True):
    """One message of a digest or recap, claimed before it is sent (exactly-once posting).

    The unique key is (platform, community, channel, digest_day, kind, paper_id); the header and
    the recap use paper_id "" so that they are claimed like papers.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint(
            "platform", "community", "channel", "digest_day", "kind", "paper_id", name="uq_delivery"
        ),
        Index("ix_deliveries_message", "platform", "channel", "message_id"),
        Index("ix_deliveries_sent", "sent_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=32)
    community: str = Field(max_length=128)
    channel: str = Field(max_length=128)
    digest_day: dt.date
    kind: str = Field(max_length=16)
    paper_id: str = Field(default="", max_length=64)
    position: int = 0
    message_id: str | None = Field(default=None, max_length=128)
    thread_id: str | None = Field(default=None, max_length=128)
    claimed_by: str = Field(max_length=64)
    claimed_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    sent_at: dt.datetime | None = Field(default=None, sa_column=Column(UTCDateTime))
    # A paper card's counts as last shown, "upvotes/comments/votes" (migration 0015): the card
    # is edited in place only when they changed.
    shown_counts: str | None = Field(default=None, sa_column=Column(String(64)))


class ReactionRow(SQLModel, table=True):
    """A vote reaction on a paper message; a user's vote is any such row in the community."""

    __tablename__ = "reactions"
    __table_args__ = (
        UniqueConstraint(
            "platform", "channel", "message_id", "user_hash", "kind", "emoji", name="uq_reaction"
        ),
        Index("ix_reactions_tally", "platform", "community", "kind", "paper_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=32)
    community: str = Field(max_length=128)
    channel: str = Field(max_length=128)
    message_id: str = Field(max_length=128)
    paper_id: str = Field(max_length=64)
    digest_day: dt.date
    user_hash: str = Field(max_length=64)  # HMAC of the user id: raw ids are never stored
    kind: str = Field(max_length=8)  # "up" or "down"
    # As reacted, skin tone included: 👍 and 👍🏽 are two reactions (but one vote) on both platforms.
    emoji: str = Field(default="", max_length=64)
    created_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class SavedSearchRow(SQLModel, table=True):
    """`/paper follow QUERY`. The raw user id is kept here because alerts are DMs to it."""

    __tablename__ = "saved_searches"
    __table_args__ = (Index("ix_saved_searches_user", "platform", "community", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=32)
    community: str = Field(max_length=128)
    user_id: str = Field(max_length=128)
    query: str = Field(sa_column=Column(Text, nullable=False))
    created_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class AlertClaimRow(SQLModel, table=True):
    """A paper already sent to a user by a saved-search alert: once per user, whichever searches
    match and however many processes run (the primary key is the claim)."""

    __tablename__ = "alert_claims"

    platform: str = Field(primary_key=True, max_length=32)
    community: str = Field(primary_key=True, max_length=128)
    user_id: str = Field(primary_key=True, max_length=128)
    paper_id: str = Field(primary_key=True, max_length=64)
    notified_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class AppSecretRow(SQLModel, table=True):
    """Secrets the bot generates for itself on first start (the vote-hashing key)."""

    __tablename__ = "app_secrets"

    name: str = Field(primary_key=True, max_length=64)
    value: str = Field(sa_column=Column(Text, nullable=False))


class ProcessedEventRow(SQLModel, table=True):
    """An event id a platform delivered; Slack retries the same event up to three times."""

    __tablename__ = "processed_events"
    __table_args__ = (Index("ix_processed_events_received", "received_at"),)

    platform: str = Field(primary_key=True, max_length=32)
    event_id: str = Field(primary_key=True, max_length=128)
    received_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class PaperEmbeddingRow(SQLModel, table=True):
    """A paper's embedding by one model (migration 0010; bot.semantic)."""

    __tablename__ = "paper_embeddings"
    __table_args__ = (
        UniqueConstraint("paper_id", "model", name="uq_paper_embeddings_paper_model"),
        Index("ix_paper_embeddings_model_id", "model", "id"),
    )

    id: int | None = Field(
        default=None,
        sa_column=Column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    )
    paper_id: str = Field(
        sa_column=Column(String(64), ForeignKey("papers.id", ondelete="CASCADE"), nullable=False)
    )
    model: str = Field(sa_column=Column(String(64), nullable=False))
    vector: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class ReadingListRow(SQLModel, table=True):
    """A paper a user saved (`/paper save`, the Save button on a card; migration 0013)."""

    __tablename__ = "reading_list"
    __table_args__ = (Index("ix_reading_list_saved", "platform", "community", "user_id", "saved_at"),)

    platform: str = Field(primary_key=True, max_length=32)
    community: str = Field(primary_key=True, max_length=128)
    user_id: str = Field(primary_key=True, max_length=128)
    paper_id: str = Field(primary_key=True, max_length=64)
    saved_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class DigestFeedRow(SQLModel, table=True):
    """A digest channel's Atom feed: the unguessable token in its URL (migration 0014).
    `/paper digest feed reset` replaces the token, and the old URL stops working."""

    __tablename__ = "digest_feeds"

    platform: str = Field(primary_key=True, max_length=32)
    community: str = Field(primary_key=True, max_length=128)
    channel: str = Field(primary_key=True, max_length=128)
    token: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    created_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class LeaseRow(SQLModel, table=True):
    """A named lease held by one process until it expires (migration 0016): "leader" for the
    shared jobs (refresh, alerts, recaps), "digest:<channel>" for the one sender of a digest."""

    __tablename__ = "leases"

    name: str = Field(primary_key=True, max_length=200)
    owner: str = Field(max_length=64)
    expires_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class ProcessRow(SQLModel, table=True):
    """A running `paperboy run`, seen at its last heartbeat (migration 0016; `paperboy status`)."""

    __tablename__ = "processes"

    id: str = Field(primary_key=True, max_length=64)
    host: str = Field(max_length=255)
    pid: int
    started_at: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))
    last_seen: dt.datetime = Field(sa_column=Column(UTCDateTime, nullable=False))


class RateBudgetRow(SQLModel, table=True):
    """A request budget shared by every process (migration 0018): the next free slot, in the
    database's clock (epoch seconds), so that processes on several hosts pace together."""

    __tablename__ = "rate_budgets"

    name: str = Field(primary_key=True, max_length=200)
    next_at: float
