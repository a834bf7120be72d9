"""Each user's reading list: the papers they saved with /paper save or a card's Save button.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.models import UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reading_list",
        sa.Column("platform", sa.String(32), primary_key=True),
        sa.Column("community", sa.String(128), primary_key=True),
        sa.Column("user_id", sa.String(128), primary_key=True),
        sa.Column("paper_id", sa.String(64), primary_key=True),
        sa.Column("saved_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_reading_list_saved", "reading_list", ["platform", "community", "user_id", "saved_at"])


def downgrade() -> None:
    op.drop_table("reading_list")
