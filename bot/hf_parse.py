"""Tolerant parsing of Hugging Face Papers JSON into `Paper`s.

Every key may be missing or null and unknown keys are ignored (../shared/docs/hf-api.md). An item
that cannot be made into a paper is skipped and logged with its id; the rest of the batch lands.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
from collections.abc import Mapping
from typing import Any

from bot.ids import InvalidPaperId, normalize_paper_id
from bot.types import Paper

log = logging.getLogger(__name__)

# Bounds that keep a hostile or broken record from bloating the store.
MAX_TITLE = 1_000
MAX_ABSTRACT = 20_000
MAX_AUTHORS = 500
MAX_KEYWORDS = 50


class UnparseablePaper(ValueError):
    """An item that has no usable id or title."""


# Control characters (NUL, terminal escapes; newline and tab stay) and the bidirectional
# overrides that make text display in another order than it reads.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
MAX_COUNT = 2**31 - 1  # upvotes, comments, stars: what every database integer column holds


def _text(value: object, limit: int) -> str | None:
    if not isinstance(value, str):
        return None
    cleaned = _UNPRINTABLE.sub("", value).strip()
    return cleaned[:limit] if cleaned else None


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and math.isfinite(value):
        value = int(value)
    if isinstance(value, int):
        return min(max(value, 0), MAX_COUNT)
    return None


def _date(value: object) -> dt.date | None:
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None


def _url(value: object) -> str | None:
    text = _text(value, 2_000)
    if text and text.startswith(("http://", "https://")):
        return text
    return None


def _authors(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    names: list[str] = []
    for author in value[:MAX_AUTHORS]:
        name = _text(author.get("name"), 300) if isinstance(author, Mapping) else _text(author, 300)
        if name:
            names.append(" ".join(name.split()))
    return tuple(names)


def _keywords(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    words = (_text(word, 100) for word in value[:MAX_KEYWORDS])
    return tuple(word for word in words if word)


def _org(value: object) -> tuple[str | None, str | None]:
    if not isinstance(value, Mapping):
        return None, None
    slug = _text(value.get("name"), 200)
    display = _text(value.get("fullname"), 200) or slug
    return display, slug


def _pick(primary: Mapping[str, Any], fallback: Mapping[str, Any], key: str) -> object:
    value = primary.get(key)
    return fallback.get(key) if value is None else value


def parse_paper(item: object) -> Paper:
    """One daily-list item (`{"paper": {...}, ...}`) or one flat `/api/papers/{id}` object."""
    if not isinstance(item, Mapping):
        raise UnparseablePaper("item is not an object")
    inner = item.get("paper")
    paper: Mapping[str, Any] = inner if isinstance(inner, Mapping) else item
    outer: Mapping[str, Any] = item if isinstance(inner, Mapping) else {}

    raw_id = paper.get("id")
    if not isinstance(raw_id, str):
        raise UnparseablePaper("missing paper id")
    try:
        paper_id = normalize_paper_id(raw_id)
    except InvalidPaperId as exc:
        raise UnparseablePaper(str(exc)) from exc
    title = _text(_pick(paper, outer, "title"), MAX_TITLE)
    if not title:
        raise UnparseablePaper(f"paper {paper_id} has no title")
    title = " ".join(title.split())

    display, slug = _org(_pick(paper, outer, "organization"))
    return Paper(
        id=paper_id,
        title=title,
        abstract=_text(_pick(paper, outer, "summary"), MAX_ABSTRACT) or "",
        authors=_authors(paper.get("authors")),
        organization=display,
        organization_slug=slug,
        published=_date(paper.get("publishedAt")),
        upvotes=_int(_pick(paper, outer, "upvotes")),  # None when missing: unknown, not 0
        comments=_int(_pick(outer, paper, "numComments")),
        github_repo=_url(_pick(paper, outer, "githubRepo")),
        github_stars=_int(_pick(paper, outer, "githubStars")),
        project_page=_url(_pick(paper, outer, "projectPage")),
        ai_summary=_text(_pick(paper, outer, "ai_summary"), 2_000),
        ai_keywords=_keywords(_pick(paper, outer, "ai_keywords")),
        thumbnail=_url(_pick(outer, paper, "thumbnail")),
    )


def parse_daily_items(payload: object, *, source: str) -> tuple[list[Paper], int]:
    """Parse a daily-list page; returns the papers and how many items were skipped."""
    if not isinstance(payload, list):
        raise UnparseablePaper(f"{source} did not return a JSON list")
    papers: list[Paper] = []
    skipped = 0
    for position, item in enumerate(payload):
        try:
            papers.append(parse_paper(item))
        except (ValueError, TypeError, ArithmeticError) as exc:  # UnparseablePaper, or worse
            skipped += 1
            log.warning("skipped item %d from %s (id %s): %s", position, source, _item_id(item), exc)
    return papers, skipped


def _item_id(item: object) -> str:
    if isinstance(item, Mapping):
        inner = item.get("paper")
        for candidate in (inner.get("id") if isinstance(inner, Mapping) else None, item.get("id")):
            if candidate is not None:
                return repr(candidate)[:40]
    return "unknown"
