"""A request budget shared by every process: Discord's global limit (50 requests a second per
bot) counts every process of a bot, so clusters reserve their sending slots in one row.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_budgets",
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("next_at", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("rate_budgets")
