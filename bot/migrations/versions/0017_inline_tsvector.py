"""PostgreSQL: papers.search_tsv is kept in the row (STORAGE MAIN) instead of out of line.

A paper's tsvector is about 2 KB, at PostgreSQL's TOAST threshold, so about half of them were
stored out of line: a search walking the newest matches read 45,000 buffers for a two-word
query over 10^5 papers (80 ms); kept in the row, 4,000 buffers and 29 ms (BENCHMARKS.md, issue
14). The setting applies to rows written from now on: every fetch rewrites the papers it lists,
and `UPDATE papers SET title = title; VACUUM ANALYZE papers;` moves an existing archive at once
(2.5 minutes for 10^5 papers on the benchmark machine), which a migration should not impose.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE papers ALTER COLUMN search_tsv SET STORAGE MAIN")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE papers ALTER COLUMN search_tsv SET STORAGE EXTENDED")
