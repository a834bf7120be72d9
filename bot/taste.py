"""What a community likes, learned from its 👍 and 👎: a direction in the embedding space.

The taste is the centroid of the papers it liked minus the centroid of those it disliked (or of
the whole archive while it has disliked none), normalised: a paper's cosine with it says how
much it resembles what the team votes up. arxiv-sanity trains an SVM per user on the same
signal; with the handful of votes a team casts, the centroid difference is as good and needs no
training (Rocchio's relevance feedback).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.semantic import SemanticIndex
from bot.votes import Tally, VoteBook

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

MIN_VOTES = 5  # below this, a taste would be one person's mood: HF upvotes decide instead


@dataclass(frozen=True)
class Taste:
    votes: int  # the community's 👍 and 👎, one per voter and paper
    voted: frozenset[str]  # the papers it voted on
    # None while it has cast fewer than MIN_VOTES votes, or liked nothing that has a vector.
    direction: npt.NDArray[np.float32] | None


class Tastes:
    def __init__(self, votes: VoteBook, semantic: SemanticIndex) -> None:
        self.votes = votes
        self.semantic = semantic

    async def of(self, platform: str, community: str) -> Taste:
        """The community's votes and, once there are enough, its taste (one read of its votes)."""
        leanings = await self.votes.leanings(platform, community)
        votes = sum(t.up + t.down for t in leanings)
        voted = frozenset(t.paper_id for t in leanings)
        direction = await self._direction(leanings) if votes >= MIN_VOTES else None
        return Taste(votes, voted, direction)

    async def _direction(self, leanings: Sequence[Tally]) -> npt.NDArray[np.float32] | None:
        import numpy as np

        await self.semantic.load_new()
        index = self.semantic.index
        liked = [v for t in leanings if t.up > t.down and (v := index.vector(t.paper_id)) is not None]
        disliked = [v for t in leanings if t.down > t.up and (v := index.vector(t.paper_id)) is not None]
        if not liked:
            return None
        against = np.mean(disliked, axis=0) if disliked else index.mean()
        assert against is not None
        direction = np.mean(liked, axis=0) - against
        norm = float(np.linalg.norm(direction))
        if norm == 0.0:
            return None
        unit: npt.NDArray[np.float32] = (direction / norm).astype(np.float32)
        return unit

    def rank(self, taste: Taste, paper_ids: Sequence[str]) -> list[tuple[str, float]]:
        """These papers, most to the community's taste first (those without a vector last)."""
        assert taste.direction is not None
        scores = self.semantic.index.scores(taste.direction, paper_ids)
        return sorted(
            ((paper_id, scores.get(paper_id, -1.0)) for paper_id in paper_ids), key=lambda item: -item[1]
        )
