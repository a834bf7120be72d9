"""Platform events already handled, so that retried deliveries change nothing twice.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.models import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "processed_events",
        sa.Column("platform", sa.String(32), primary_key=True),
        sa.Column("event_id", sa.String(128), primary_key=True),
        sa.Column("received_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_processed_events_received", "processed_events", ["received_at"])


def downgrade() -> None:
    op.drop_table("processed_events")
