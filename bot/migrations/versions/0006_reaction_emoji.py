"""Reactions keep the emoji they were made with, so removing one of two leaves the vote.

A user may react 👍 and 👍🏽 (two reactions on both platforms) or with two vote emoji; removing
one of them must keep the vote that the other still makes. Rows from before this revision have
emoji '' and are removed by any removal of that user's vote, as before.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_OLD_KEY = ["platform", "channel", "message_id", "user_hash", "kind"]


def upgrade() -> None:
    # Batch mode: SQLite changes a unique constraint by copying the table.
    with op.batch_alter_table("reactions") as batch:
        batch.add_column(sa.Column("emoji", sa.String(64), nullable=False, server_default=""))
        batch.drop_constraint("uq_reaction", type_="unique")
        batch.create_unique_constraint("uq_reaction", [*_OLD_KEY, "emoji"])


def downgrade() -> None:
    # Keep one row per old key before the narrower constraint comes back.
    op.execute(
        "DELETE FROM reactions WHERE id NOT IN "
        f"(SELECT min(id) FROM reactions GROUP BY {', '.join(_OLD_KEY)})"
    )
    with op.batch_alter_table("reactions") as batch:
        batch.drop_constraint("uq_reaction", type_="unique")
        batch.create_unique_constraint("uq_reaction", _OLD_KEY)
        batch.drop_column("emoji")
