"""A paper someone asked for by id: from the archive, else from Hugging Face."""

from __future__ import annotations

from bot.ports import Clock, PaperSource
from bot.store import PaperStore
from bot.types import Paper


class PaperLookup:
    def __init__(self, *, store: PaperStore, source: PaperSource, clock: Clock, budget: float) -> None:
        self.store = store
        self.source = source
        self.clock = clock
        self.budget = budget  # someone is waiting: a short budget (PAPERBOY_HF_INTERACTIVE_SECONDS)

    async def paper(self, paper_id: str) -> Paper | None:
        """The stored paper, else fetched and stored; None when Hugging Face does not know it.
        Raises HFUnavailable when Hugging Face does not answer within the budget."""
        stored = await self.store.get_paper(paper_id)
        if stored is not None:
            return stored
        fetched = await self.source.paper(paper_id, budget=self.budget)
        if fetched is None:
            return None
        await self.store.upsert_papers([fetched], now=self.clock.now())
        return await self.store.get_paper(paper_id)
