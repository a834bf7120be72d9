"""`/paper search` by words and by meaning together.

The words' search (bot.search) keeps its precision: every word must match, "phrases" match as
phrases, and a rare word or a phrase that finds a few papers puts them first. Search by meaning
(bot.semantic) finds what the words miss: "several chatbots argue with each other" finds the
multi-agent debate paper. The two rankings are fused by reciprocal rank (the fusion and its
constant were chosen on the evaluation set in BENCHMARKS.md, "Search by meaning"). Filters
(author:, org:, since:, until:, has:code, -word) apply exactly to both.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import replace

from bot.embedding import EmbeddingUnavailable
from bot.query import SearchQuery
from bot.search import PaperSearch
from bot.semantic import SemanticIndex
from bot.types import SearchResults

LEXICAL_CANDIDATES = 50
SEMANTIC_CANDIDATES = 50
RRF_K = 5
MEANING_WEIGHT = 0.5
# Below this cosine a paper is not taken as related. With the shipped model nonsense comes
# nearest to some paper at 0.02-0.10 ("xyzzy", "quantum banana"), unrelated questions at up to
# 0.18 (a zebra migration, SQL), and the evaluation set's answers at 0.13-0.6 (median 0.33):
# the two overlap, so results found only by meaning say so ("related by meaning"). 0.12 keeps
# the best R@1 on the evaluation set (0.15 costs 0.016; BENCHMARKS.md).
MIN_COSINE = 0.12
# A words' search this narrow is taken as what was meant (a rare word, a name, a phrase).
FEW_LEXICAL = 3


def query_text(query: SearchQuery) -> str:
    """The question's words for the model, the common ones the words' search skips included
    (they carry meaning for it: R@1 0.82 without them, 0.85 with, BENCHMARKS.md)."""
    return " ".join(" ".join(term) for term in (*query.terms, *query.skipped))


def rrf(*rankings: Sequence[str], weights: Sequence[float] = (), k: float = RRF_K) -> list[str]:
    """Reciprocal-rank fusion: each ranking gives a paper weight / (k + its rank)."""
    scores: dict[str, float] = {}
    for index, ranking in enumerate(rankings):
        weight = weights[index] if index < len(weights) else 1.0
        for rank, paper_id in enumerate(ranking, 1):
            scores[paper_id] = scores.get(paper_id, 0.0) + weight / (k + rank)
    return sorted(scores, key=lambda paper_id: -scores[paper_id])


def fuse(
    every_word: Sequence[str],
    any_word: Sequence[str],
    meaning: Sequence[str],
    *,
    one_term: bool,
    k: float = RRF_K,
) -> list[str]:
    """Reciprocal rank, the meaning's ranking at half weight (the shipped model is right less
    often than bm25 on the evaluation set: BENCHMARKS.md). A query of one word or one "phrase"
    that finds a few papers keeps them first: a rare word or a phrase is what was meant."""
    if one_term and 0 < len(every_word) <= FEW_LEXICAL:
        rest = rrf(meaning, k=k)
        return [*every_word, *(paper for paper in rest if paper not in every_word)]
    return rrf(every_word, any_word, meaning, weights=(1.0, 1.0, MEANING_WEIGHT), k=k)


log = logging.getLogger(__name__)


async def _no_results() -> SearchResults:
    return SearchResults()


class HybridSearch:
    def __init__(self, lexical: PaperSearch, semantic: SemanticIndex | None) -> None:
        self.lexical = lexical
        self.semantic = semantic
        self._said_unavailable = False

    async def search(
        self, query: SearchQuery, *, limit: int = 10, among: Sequence[str] | None = None
    ) -> SearchResults:
        text = query_text(query)
        if self.semantic is None or not query.terms:
            every = await self.lexical.search(query, limit=max(limit, LEXICAL_CANDIDATES), among=among)
            return replace(every, papers=every.papers[:limit])
        # The three searches run at once: the words' in SQLite's reader threads (or PostgreSQL),
        # the cosines in numpy, which lets go of the GIL.
        loose = replace(query, match_any=True)
        every, found, near = await asyncio.gather(
            self.lexical.search(query, limit=max(limit, LEXICAL_CANDIDATES), among=among),
            self.lexical.search(loose, limit=LEXICAL_CANDIDATES, among=among)
            if len(query.terms) > 1
            else _no_results(),
            self._nearest(text),
        )
        papers = {paper.id: paper for paper in every.papers}
        papers.update((paper.id, paper) for paper in found.papers)
        any_word = [paper.id for paper in found.papers]
        nearest = [paper_id for paper_id, cosine in near if cosine >= MIN_COSINE]
        if among is not None:
            allowed = set(among)
            nearest = [paper_id for paper_id in nearest if paper_id in allowed]
        unseen = [paper_id for paper_id in nearest if paper_id not in papers]
        papers.update((paper.id, paper) for paper in await self.lexical.filtered(query, unseen))
        meaning = [paper_id for paper_id in nearest if paper_id in papers]
        every_word = [paper.id for paper in every.papers]
        order = fuse(every_word, any_word, meaning, one_term=len(query.terms) == 1)[:limit]
        if not order:
            return every
        return SearchResults(
            papers=tuple(papers[paper_id] for paper_id in order),
            truncated_candidates=every.truncated_candidates,
            by_meaning=frozenset(order) & frozenset(meaning) - frozenset(every_word),
            some_words=frozenset(order) - frozenset(meaning) - frozenset(every_word),
        )

    async def _nearest(self, text: str) -> list[tuple[str, float]]:
        """By meaning; nothing when the model cannot load (search by words still answers)."""
        assert self.semantic is not None
        try:
            return await self.semantic.nearest(text, SEMANTIC_CANDIDATES)
        except EmbeddingUnavailable as exc:
            if not self._said_unavailable:
                log.error("search by meaning is unavailable: %s; searching by words only", exc)
                self._said_unavailable = True
            return []
