"""Paper embeddings for search by meaning (bot.semantic).

One row per paper and model: the model's name (a new model re-embeds, the old rows stay until
then) and the vector as little-endian float32 bytes, normalised. A plain BLOB / bytea, so the
same code runs on SQLite and on a PostgreSQL without pgvector. `id` only grows: a process loads
the rows it has not seen yet (`id > last`) before each search.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "paper_embeddings",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
        sa.Column("paper_id", sa.String(64), sa.ForeignKey("papers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("model", sa.String(64), nullable=False),
        sa.Column("vector", sa.LargeBinary, nullable=False),
        sa.UniqueConstraint("paper_id", "model", name="uq_paper_embeddings_paper_model"),
    )
    op.create_index("ix_paper_embeddings_model_id", "paper_embeddings", ["model", "id"])


def downgrade() -> None:
    op.drop_index("ix_paper_embeddings_model_id", table_name="paper_embeddings")
    op.drop_table("paper_embeddings")
