"""Saved-search alerts claimed per (user, paper); a digest that waits for an empty list.

- `alert_claims` replaces `saved_search_hits`: claims were per (saved search, paper), so two
  processes could each win a different search of one user for the same paper and both send it.
  A claim per user and paper sends each paper to a user at most once, whichever searches match.
  Papers already alerted stay alerted (copied over, once per user).
- `subscriptions.awaited_days`: closed weekday lists that Hugging Face answered empty at the
  channel's post time (it does during incidents); each is posted when papers appear.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.models import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_claims",
        sa.Column("platform", sa.String(32), primary_key=True),
        sa.Column("community", sa.String(128), primary_key=True),
        sa.Column("user_id", sa.String(128), primary_key=True),
        sa.Column("paper_id", sa.String(64), primary_key=True),
        sa.Column("notified_at", UTCDateTime, nullable=False),
    )
    op.execute(
        "INSERT INTO alert_claims (platform, community, user_id, paper_id, notified_at) "
        "SELECT s.platform, s.community, s.user_id, h.paper_id, MIN(h.notified_at) "
        "FROM saved_search_hits h JOIN saved_searches s ON s.id = h.saved_search_id "
        "GROUP BY s.platform, s.community, s.user_id, h.paper_id"
    )
    op.drop_table("saved_search_hits")
    op.add_column("subscriptions", sa.Column("awaited_days", sa.JSON, nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("awaited_days")
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
    # Every search of a user counts the papers that user was alerted to: none is sent again.
    op.execute(
        "INSERT INTO saved_search_hits (saved_search_id, paper_id, notified_at) "
        "SELECT s.id, c.paper_id, c.notified_at FROM alert_claims c JOIN saved_searches s "
        "ON s.platform = c.platform AND s.community = c.community AND s.user_id = c.user_id"
    )
    op.drop_table("alert_claims")
