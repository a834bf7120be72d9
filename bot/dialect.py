"""What differs between SQLite and PostgreSQL in the statements the core writes."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine


def insert_for(engine: AsyncEngine) -> Any:
    """The dialect's INSERT, which has ON CONFLICT (upserts and claims) on both databases."""
    return postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
