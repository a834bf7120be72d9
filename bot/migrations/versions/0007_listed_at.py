"""When each paper went onto a daily list, so that saved-search alerts cover every way in.

Alerts go to papers first listed after the saved search was made. Knowing when a listing was
stored lets the bot find them in the database, whoever stored them: its own refresh, a
digest's fetch, or `paperboy fetch` in another process. Rows from before this revision have no
time and count as old.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.models import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("daily_entries", sa.Column("listed_at", UTCDateTime, nullable=True))
    op.create_index("ix_daily_entries_listed_at", "daily_entries", ["listed_at"])


def downgrade() -> None:
    op.drop_index("ix_daily_entries_listed_at", table_name="daily_entries")
    with op.batch_alter_table("daily_entries") as batch:
        batch.drop_column("listed_at")
