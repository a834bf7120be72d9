"""Atom feeds of digest channels: the token in each channel's feed URL.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.models import UTCDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "digest_feeds",
        sa.Column("platform", sa.String(32), primary_key=True),
        sa.Column("community", sa.String(128), primary_key=True),
        sa.Column("channel", sa.String(128), primary_key=True),
        sa.Column("token", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("digest_feeds")
