"""Papers, daily-list membership and the full-text search index.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.models import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_FTS_COLUMNS = "title, authors_text, keywords_text, abstract, org_text"
_NEW = ", ".join(f"new.{c.strip()}" for c in _FTS_COLUMNS.split(","))
_OLD = ", ".join(f"old.{c.strip()}" for c in _FTS_COLUMNS.split(","))
_CHANGED = " OR ".join(f"old.{c.strip()} IS NOT new.{c.strip()}" for c in _FTS_COLUMNS.split(","))


def upgrade() -> None:
    op.create_table(
        "papers",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False, unique=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("abstract", sa.Text, nullable=False, server_default=""),
        sa.Column("authors", sa.JSON, nullable=False),
        sa.Column("authors_text", sa.Text, nullable=False, server_default=""),
        sa.Column("organization", sa.Text),
        sa.Column("organization_slug", sa.Text),
        sa.Column("org_text", sa.Text, nullable=False, server_default=""),
        sa.Column("published", sa.Date),
        sa.Column("upvotes", sa.Integer, nullable=False, server_default="0"),
        sa.Column("comments", sa.Integer, nullable=False, server_default="0"),
        sa.Column("github_repo", sa.Text),
        sa.Column("github_stars", sa.Integer),
        sa.Column("project_page", sa.Text),
        sa.Column("ai_summary", sa.Text),
        sa.Column("ai_keywords", sa.JSON, nullable=False),
        sa.Column("keywords_text", sa.Text, nullable=False, server_default=""),
        sa.Column("thumbnail", sa.Text),
        sa.Column("first_seen", UTCDateTime, nullable=False),
        sa.Column("last_refreshed", UTCDateTime, nullable=False),
    )
    op.create_index("ix_papers_published", "papers", ["published"])
    op.create_table(
        "daily_entries",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id"), primary_key=True),
        sa.Column("rank", sa.Integer, nullable=False),
    )
    op.create_index("ix_daily_entries_paper", "daily_entries", ["paper_id"])
    op.create_table(
        "daily_fetches",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("paper_count", sa.Integer, nullable=False),
        sa.Column("fetched_at", UTCDateTime, nullable=False),
    )
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_fts()
    else:
        _postgres_tsvector()


def _sqlite_fts() -> None:
    # External-content FTS5: the index keeps no second copy of the text. Its row id is
    # papers.seq (arXiv order), so "newest matches first" needs no sort.
    op.execute(
        f"CREATE VIRTUAL TABLE paper_fts USING fts5({_FTS_COLUMNS}, content='papers', "
        "content_rowid='seq', tokenize='porter unicode61 remove_diacritics 2')"
    )
    op.execute(
        f"CREATE TRIGGER papers_fts_insert AFTER INSERT ON papers BEGIN "
        f"INSERT INTO paper_fts(rowid, {_FTS_COLUMNS}) VALUES (new.seq, {_NEW}); END"
    )
    op.execute(
        f"CREATE TRIGGER papers_fts_delete AFTER DELETE ON papers BEGIN "
        f"INSERT INTO paper_fts(paper_fts, rowid, {_FTS_COLUMNS}) "
        f"VALUES ('delete', old.seq, {_OLD}); END"
    )
    # Refreshing upvotes rewrites the row; only a change to indexed text touches the index.
    op.execute(
        f"CREATE TRIGGER papers_fts_update AFTER UPDATE ON papers WHEN {_CHANGED} BEGIN "
        f"INSERT INTO paper_fts(paper_fts, rowid, {_FTS_COLUMNS}) "
        f"VALUES ('delete', old.seq, {_OLD}); "
        f"INSERT INTO paper_fts(rowid, {_FTS_COLUMNS}) VALUES (new.seq, {_NEW}); END"
    )


def _postgres_tsvector() -> None:
    op.execute(
        "ALTER TABLE papers ADD COLUMN search_tsv tsvector GENERATED ALWAYS AS ("
        "setweight(to_tsvector('english', title), 'A') || "
        "setweight(to_tsvector('english', keywords_text), 'B') || "
        "setweight(to_tsvector('english', authors_text), 'C') || "
        "setweight(to_tsvector('english', abstract), 'D')) STORED"
    )
    op.execute(
        "ALTER TABLE papers ADD COLUMN authors_tsv tsvector "
        "GENERATED ALWAYS AS (to_tsvector('simple', authors_text)) STORED"
    )
    op.execute(
        "ALTER TABLE papers ADD COLUMN org_tsv tsvector "
        "GENERATED ALWAYS AS (to_tsvector('simple', org_text)) STORED"
    )
    op.execute("CREATE INDEX ix_papers_search_tsv ON papers USING gin (search_tsv)")
    op.execute("CREATE INDEX ix_papers_authors_tsv ON papers USING gin (authors_tsv)")
    op.execute("CREATE INDEX ix_papers_org_tsv ON papers USING gin (org_tsv)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("papers_fts_insert", "papers_fts_delete", "papers_fts_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS paper_fts")
    op.drop_table("daily_fetches")
    op.drop_table("daily_entries")
    op.drop_table("papers")
