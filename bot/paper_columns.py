"""A `Paper` from the `papers` table's columns: shared by the store and the search, without the
database libraries (the search reads SQLite through sqlite3 alone, see bot.search)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.types import Paper


def paper_from_values(mapping: Mapping[Any, Any]) -> Paper:
    """A `Paper` from stored column values, already converted to Python types."""
    return Paper(
        id=mapping["id"],
        title=mapping["title"],
        abstract=mapping["abstract"] or "",
        authors=tuple(mapping["authors"] or ()),
        organization=mapping["organization"],
        organization_slug=mapping["organization_slug"],
        published=mapping["published"],
        upvotes=mapping["upvotes"],
        comments=mapping["comments"],
        github_repo=mapping["github_repo"],
        github_stars=mapping["github_stars"],
        project_page=mapping["project_page"],
        ai_summary=mapping["ai_summary"],
        ai_keywords=tuple(mapping["ai_keywords"] or ()),
        thumbnail=mapping["thumbnail"],
        first_seen=mapping["first_seen"],
        last_refreshed=mapping["last_refreshed"],
    )
