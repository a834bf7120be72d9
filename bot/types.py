"""The core's shared vocabulary: small immutable types that never carry HF or platform fields."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from bot.ids import arxiv_abs_url, arxiv_pdf_url, hf_paper_url


@dataclass(frozen=True, slots=True)
class Paper:
    """One paper as paperboy knows it, keyed by its bare arXiv id."""

    id: str
    title: str
    abstract: str = ""
    authors: tuple[str, ...] = ()
    organization: str | None = None  # display name, e.g. "Google DeepMind"
    organization_slug: str | None = None  # HF org name, e.g. "google"
    published: dt.date | None = None  # arXiv publication date
    upvotes: int = 0
    comments: int = 0
    github_repo: str | None = None
    github_stars: int | None = None
    project_page: str | None = None
    ai_summary: str | None = None
    ai_keywords: tuple[str, ...] = ()
    thumbnail: str | None = None
    first_seen: dt.datetime | None = None
    last_refreshed: dt.datetime | None = None

    @property
    def url(self) -> str:
        return hf_paper_url(self.id)

    @property
    def arxiv_url(self) -> str:
        return arxiv_abs_url(self.id)

    @property
    def pdf_url(self) -> str:
        return arxiv_pdf_url(self.id)


@dataclass(frozen=True, slots=True)
class DailyList:
    """The papers that were on one UTC day's Daily Papers list, best rank first."""

    day: dt.date
    papers: tuple[Paper, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class SearchResults:
    """What a search gives back: papers, best first, or a message saying why there are none."""

    papers: tuple[Paper, ...] = ()
    message: str | None = None
    truncated_candidates: bool = False  # the query was broad; ranking used the newest matches


@dataclass(frozen=True, slots=True)
class FetchReport:
    """What one ingest run did."""

    days: int = 0
    papers: int = 0
    new_papers: int = 0
    empty_days: tuple[dt.date, ...] = ()
    skipped_items: int = 0
