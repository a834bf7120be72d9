"""Pure renderings of papers for the CLI and for machine-readable output."""

from __future__ import annotations

from typing import Any

from bot.cards import authors_line, cut_at_word
from bot.types import Paper


def paper_json(paper: Paper) -> dict[str, Any]:
    """The stable JSON shape of `paperboy search --json` and `paperboy show --json`."""
    return {
        "id": paper.id,
        "title": paper.title,
        "authors": list(paper.authors),
        "organization": paper.organization,
        "published": paper.published.isoformat() if paper.published else None,
        "upvotes": paper.upvotes,
        "comments": paper.comments,
        "url": paper.url,
        "arxiv_url": paper.arxiv_url,
        "pdf_url": paper.pdf_url,
        "github_repo": paper.github_repo,
        "github_stars": paper.github_stars,
        "project_page": paper.project_page,
        "ai_summary": paper.ai_summary,
        "ai_keywords": list(paper.ai_keywords),
        "thumbnail": paper.thumbnail,
        "abstract": paper.abstract,
    }


def search_line(paper: Paper, *, width: int | None = None) -> str:
    """One line per hit: id, date, upvotes, title; within `width` characters when given (a
    terminal), the title cut at a word."""
    published = paper.published.isoformat() if paper.published else "????-??-??"
    start = f"{paper.id:<11} {published}  ▲{paper.upvotes:<4} "
    title = paper.title if width is None else cut_at_word(paper.title, max(width - len(start) - 1, 10))
    return start + title


def detail_lines(paper: Paper) -> list[str]:
    """A paper in full, as plain text lines."""
    facts = [
        paper.published.isoformat() if paper.published else None,
        paper.organization,
        f"▲ {paper.upvotes}",
        f"💬 {paper.comments}",
    ]
    lines = [paper.title]
    if paper.authors:
        lines.append(authors_line(paper.authors))
    lines += [" · ".join(fact for fact in facts if fact), "", paper.ai_summary or paper.abstract, ""]
    lines += [f"Hugging Face: {paper.url}", f"arXiv: {paper.arxiv_url}  PDF: {paper.pdf_url}"]
    if paper.github_repo:
        lines.append(f"Code: {paper.github_repo}")
    if paper.project_page:
        lines.append(f"Project: {paper.project_page}")
    return lines
