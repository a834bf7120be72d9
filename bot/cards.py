"""Pure renderings: papers to paper cards (`Post`) and cards to plain text. Golden-tested."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence

from bot.types import Action, Alert, Link, Paper, Post

SUMMARY_BUDGET = 300
TITLE_BUDGET = 250
AUTHORS_SHOWN = 3
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


def cut_at_word(text: str, limit: int) -> str:
    """`text` within `limit` characters, cut at a word boundary with an ellipsis when too long."""
    if len(text) <= limit:
        return text
    if limit <= 1:
        return "…"[:limit]
    head = text[: limit - 1]
    space = head.rfind(" ")
    # A first word longer than the limit is the one case that must be cut inside it.
    if space > 0:
        head = head[:space]
    return head.rstrip(" ,;:-") + "…"


def cut_escaped(text: str, limit: int, escape: Callable[[str], str]) -> str:
    """`escape(text)` within `limit` characters, keeping as much of `text` as fits.

    Escaping lengthens text unevenly (Slack's `&` becomes five characters), so the cut is found
    by bisection on the unescaped length rather than estimated from the overshoot.
    """
    escaped = escape(text)
    if len(escaped) <= limit:
        return escaped
    best = ""
    low, high = 0, len(text)  # cut_at_word often returns less than its budget
    while low <= high:
        budget = (low + high) // 2
        candidate = escape(cut_at_word(text, budget))
        if len(candidate) <= limit:
            best, low = candidate, budget + 1
        else:
            high = budget - 1
    return best


def escaped_chunks(text: str, limit: int, escape: Callable[[str], str]) -> list[list[str]]:
    """`text` escaped line by line and packed into runs of whole lines, each run within `limit`
    characters when joined by newlines (a longer line is cut at a word): messages or sections
    for a platform's size limit, split between lines."""
    chunks: list[list[str]] = []
    chunk: list[str] = []
    size = 0
    for line in text.splitlines() or [""]:
        escaped = cut_escaped(line, limit, escape)
        if chunk and size + len(escaped) + 1 > limit:
            chunks.append(chunk)
            chunk, size = [], 0
        chunk.append(escaped)
        size += len(escaped) + 1
    chunks.append(chunk)
    return chunks


def squash(text: str) -> str:
    """Collapse arXiv's hard line wraps and runs of whitespace."""
    return " ".join(text.split())


def summary_of(paper: Paper, *, budget: int = SUMMARY_BUDGET) -> str:
    """HF's ai_summary when present, else the abstract's first one or two sentences."""
    if paper.ai_summary:
        return cut_at_word(squash(paper.ai_summary), budget)
    sentences = _SENTENCE_END.split(squash(paper.abstract))
    if not sentences or not sentences[0]:
        return ""
    summary = sentences[0]
    if len(sentences) > 1 and len(summary) + 1 + len(sentences[1]) <= budget:
        summary = f"{summary} {sentences[1]}"
    return cut_at_word(summary, budget)


def authors_line(authors: tuple[str, ...], *, shown: int = AUTHORS_SHOWN) -> str:
    if len(authors) <= shown:
        return ", ".join(authors)
    return ", ".join(authors[:shown]) + " et al."


# The commands a button or a list's menu may run (adapters refuse any other a custom id names).
BUTTON_COMMANDS = frozenset({"abstract", "similar", "save", "page"})
UNKNOWN_BUTTON = "That button is from an older paperboy; try /paper help."


def paper_actions(paper_id: str) -> tuple[Action, ...]:
    """What a reader can do with any paper card: read the abstract, see papers like it, keep it
    in their reading list (pressing Save again takes it out)."""
    return (
        Action("abstract", paper_id, "Abstract"),
        Action("similar", paper_id, "Similar"),
        Action("save", paper_id, "Save"),
    )


def paper_card(paper: Paper) -> Post:
    links = [Link("arXiv", paper.arxiv_url), Link("PDF", paper.pdf_url)]
    if paper.github_repo:
        links.append(Link("Code", paper.github_repo))
    if paper.project_page:
        links.append(Link("Project page", paper.project_page))
    return Post(
        paper_id=paper.id,
        title=cut_at_word(squash(paper.title), TITLE_BUDGET),
        link=paper.url,
        authors=cut_at_word(authors_line(paper.authors), 200),
        organization=paper.organization,
        upvotes=paper.upvotes or 0,
        comments=paper.comments or 0,
        summary=summary_of(paper),
        links=tuple(links),
        thumbnail=paper.thumbnail,
        published=paper.published,
        actions=paper_actions(paper.id),
    )


def hf_counts_line(post: Post) -> str:
    upvotes = f"▲ {post.upvotes} upvote{'s' if post.upvotes != 1 else ''}"
    return f"{upvotes} · 💬 {post.comments} comment{'s' if post.comments != 1 else ''}"


def votes_line(post: Post) -> str:
    """This community's 👍 count on a digest card, once it has one."""
    return f"👍 {post.votes} here" if post.votes else ""


def counts_key(upvotes: int, comments: int, votes: int) -> str:
    """A card's counts as one comparable string (stored in deliveries.shown_counts)."""
    return f"{upvotes}/{comments}/{votes}"


def shown_counts(post: Post) -> str:
    """What a card's counts line shows."""
    return counts_key(post.upvotes, post.comments, post.votes or 0)


def counts_line(post: Post) -> str:
    return " · ".join(part for part in (hf_counts_line(post), votes_line(post)) if part)


def byline(post: Post) -> str:
    return " · ".join(part for part in (post.authors, post.organization) if part)


def card_text(post: Post) -> str:
    """The plain-text card: the console's rendering and the platforms' notification fallback."""
    lines = [post.title]
    if line := byline(post):
        lines.append(line)
    lines.append(counts_line(post))
    if post.summary:
        lines.append(post.summary)
    lines.append(post.link)
    lines.append(" · ".join(f"{link.label}: {link.url}" for link in post.links))
    return "\n".join(lines)


def day_label(day: dt.date) -> str:
    """`Fri 21 Nov 2025`, independent of the machine's locale."""
    weekday = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[day.weekday()]
    month = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")[
        day.month - 1
    ]
    return f"{weekday} {day.day} {month} {day.year}"


def digest_header(day: dt.date, shown: int, listed: int, *, for_channel: bool = False) -> str:
    """`for_channel`: the papers are in the channel's taste's order, not Hugging Face's upvotes."""
    if listed == 0:
        return f"Daily Papers · {day_label(day)} · no papers on Hugging Face's list that day"
    if shown == 0:
        return f"Daily Papers · {day_label(day)} · none of {listed} passed this channel's filters"
    ranked = " · ranked for this channel" if for_channel else ""
    return f"Daily Papers · {day_label(day)} · {shown} of {listed}{ranked}"


ALERT_PAPERS_PER_MESSAGE = 10


def alert_messages(
    alerts: Sequence[Alert], *, per_message: int = ALERT_PAPERS_PER_MESSAGE
) -> list[tuple[str, list[str]]]:
    """A user's saved-search alerts as direct messages of at most `per_message` papers each,
    every paper under the search that found it; with the paper ids each message carries."""
    messages: list[tuple[str, list[str]]] = []
    lines: list[str] = []
    ids: list[str] = []
    for alert in alerts:
        query = cut_at_word(" ".join(alert.query.split()), 100)
        count = len(alert.papers)
        for position, paper in enumerate(alert.papers):
            if len(ids) == per_message:
                messages.append(("\n".join(lines), ids))
                lines, ids = [], []
            if position == 0:
                lines.append(f"Saved search “{query}” · {count} new paper{'s' if count != 1 else ''}:")
            elif not lines:
                lines.append(f"Saved search “{query}” (continued):")
            why = " (related by meaning)" if paper.id in alert.by_meaning else ""
            lines.append(f"• {cut_at_word(paper.title, 200)}{why}\n  {paper.url}")
            ids.append(paper.id)
    if ids:
        messages.append(("\n".join(lines), ids))
    return messages
