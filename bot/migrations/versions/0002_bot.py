"""The bot's state: subscriptions, deliveries, vote reactions, saved searches, secrets.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.models import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("community", sa.String(128), nullable=False),
        sa.Column("channel", sa.String(128), nullable=False),
        sa.Column("post_time", sa.String(5), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("min_upvotes", sa.Integer, nullable=False),
        sa.Column("include_keywords", sa.JSON, nullable=False),
        sa.Column("exclude_keywords", sa.JSON, nullable=False),
        sa.Column("threaded", sa.Boolean, nullable=False),
        sa.Column("paused_reason", sa.Text),
        sa.Column("last_posted_day", sa.Date),
        sa.Column("last_posted_at", UTCDateTime),
        sa.Column("last_run_at", UTCDateTime),
        sa.Column("last_note", sa.Text),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("platform", "community", "channel", name="uq_subscription_channel"),
    )
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("community", sa.String(128), nullable=False),
        sa.Column("channel", sa.String(128), nullable=False),
        sa.Column("digest_day", sa.Date, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("paper_id", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("message_id", sa.String(128)),
        sa.Column("thread_id", sa.String(128)),
        sa.Column("claimed_by", sa.String(64), nullable=False),
        sa.Column("claimed_at", UTCDateTime, nullable=False),
        sa.Column("sent_at", UTCDateTime),
        sa.UniqueConstraint(
            "platform", "community", "channel", "digest_day", "kind", "paper_id", name="uq_delivery"
        ),
    )
    op.create_index("ix_deliveries_message", "deliveries", ["platform", "channel", "message_id"])
    op.create_table(
        "reactions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("community", sa.String(128), nullable=False),
        sa.Column("channel", sa.String(128), nullable=False),
        sa.Column("message_id", sa.String(128), nullable=False),
        sa.Column("paper_id", sa.String(64), nullable=False),
        sa.Column("digest_day", sa.Date, nullable=False),
        sa.Column("user_hash", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("platform", "channel", "message_id", "user_hash", "kind", name="uq_reaction"),
    )
    op.create_index("ix_reactions_tally", "reactions", ["platform", "community", "kind", "paper_id"])
    op.create_table(
        "saved_searches",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("platform", sa.String(32), nullable=False),
        sa.Column("community", sa.String(128), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("query", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_saved_searches_user", "saved_searches", ["platform", "community", "user_id"])
    op.create_table(
        "saved_search_hits",
        sa.Column(
            "saved_search_id",
            sa.Integer,
            sa.ForeignKey("saved_searches.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("paper_id", sa.String(64), primary_key=True),
        sa.Column("notified_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "app_secrets",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "app_secrets",
        "saved_search_hits",
        "saved_searches",
        "reactions",
        "deliveries",
        "subscriptions",
    ):
        op.drop_table(table)
