"""A digest's order: by Hugging Face upvotes (as before), or by the channel's taste.

`subscriptions.ranking` is "upvotes" or "taste" (`/paper digest here … rank taste`): taste
orders the day's list by what the channel's community votes up (bot.taste), by upvotes while
it has cast fewer than 5 votes.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "subscriptions", sa.Column("ranking", sa.String(16), nullable=False, server_default="upvotes")
    )


def downgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("ranking")
