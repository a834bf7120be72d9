"""`@paperboy …` and `/paper ask …`: a paper named by id or link gets its card; a question
gets the best matching papers by meaning, or a plain "nothing fits"."""

from __future__ import annotations

import re
from itertools import zip_longest

from bot.cards import cut_at_word, paper_card
from bot.embedding import EmbeddingUnavailable
from bot.hybrid import MIN_COSINE, HybridSearch, query_text
from bot.ids import paper_ids_in
from bot.lookups import PaperLookup
from bot.query import QueryError, SearchQuery, parse_query
from bot.reading_commands import paper_named
from bot.types import ListItem, Paper, Reply

ANSWERS = 3
MAX_CARDS = 3  # a message naming many papers gets the first three
_MENTION = re.compile(r"<@[!&]?[\w]+>")  # Slack <@U123>, Discord <@123>, <@!123>
NOTHING_FITS = "I found nothing in the archive that fits that. Try other words, or /paper search."
HOW_TO_ASK = 'Ask me about a topic ("@paperboy papers on agents that debate") or give an arXiv id or link.'


def one_line(paper: Paper) -> str:
    """The gist: Hugging Face's AI summary, else the abstract's first sentence."""
    text = paper.ai_summary or paper.abstract.split(". ")[0]
    return cut_at_word(" ".join(text.split()), 200)


async def _best(query: SearchQuery, search: HybridSearch, lookup: PaperLookup) -> tuple[list[Paper], bool]:
    """The search's best papers interleaved with the nearest by meaning alone: a question is
    plain language, and the model alone puts the paper a question describes first more often
    than the fused ranking puts it in the top three (the issue's own example is 1st by meaning,
    8th fused; BENCHMARKS.md). Also whether any of them has every word of the question."""
    results = await search.search(query, limit=ANSWERS)
    fused = list(results.papers)
    worded = any(p.id not in results.by_meaning and p.id not in results.some_words for p in fused)
    if search.semantic is None:
        return fused, worded
    try:
        near = await search.semantic.nearest(query_text(query), ANSWERS)
    except EmbeddingUnavailable:
        return fused, worded
    nearest_ids = [paper_id for paper_id, cosine in near if cosine >= MIN_COSINE]
    stored = await lookup.store.get_papers(nearest_ids)
    by_meaning = [stored[paper_id] for paper_id in nearest_ids if paper_id in stored]
    chosen: dict[str, Paper] = {}
    for pair in zip_longest(fused, by_meaning):
        for paper in pair:
            if paper is not None:
                chosen.setdefault(paper.id, paper)
    return list(chosen.values())[:ANSWERS], worded


async def answer(text: str, search: HybridSearch, lookup: PaperLookup) -> Reply:
    question = " ".join(_MENTION.sub(" ", text).split())
    ids = paper_ids_in(question)
    if ids:
        cards = []
        for paper_id in ids[:MAX_CARDS]:
            found = await paper_named(lookup, paper_id)
            if isinstance(found, Reply):
                return found
            cards.append(paper_card(found))
        return Reply("", posts=tuple(cards), ephemeral=False)
    if not question:
        return Reply(HOW_TO_ASK, ephemeral=False)
    try:
        query = parse_query(question)
    except QueryError as exc:
        return Reply(str(exc), ok=False, ephemeral=False)
    papers, worded = await _best(query, search, lookup)
    if not papers:
        return Reply(NOTHING_FITS, ephemeral=False)
    # Meaning alone cannot tell an unrelated question from a loosely worded one (their cosines
    # overlap: bot.hybrid.MIN_COSINE), so such answers say what they are.
    heading = "Papers about" if worded else "No paper has all those words; the closest in meaning to"
    items = tuple(
        ListItem(
            title=cut_at_word(paper.title, 200), url=paper.url, detail=one_line(paper), paper_id=paper.id
        )
        for paper in papers
    )
    return Reply(f"{heading}: {cut_at_word(question, 100)}", items=items, ephemeral=False)
