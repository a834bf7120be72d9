"""Live counts on digest cards: the counts each card last showed.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("shown_counts", sa.String(64), nullable=True))
    # The cards of the last two days are found by the time they were sent.
    op.create_index("ix_deliveries_sent", "deliveries", ["sent_at"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_sent", "deliveries")
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("shown_counts")
