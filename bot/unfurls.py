"""Link previews: the card of each arXiv or Hugging Face paper link in a message (Slack
unfurls). A paper not in the archive is fetched from Hugging Face; when Hugging Face does not
answer in time there is simply no preview, never an error in the channel."""

from __future__ import annotations

import logging

from bot.cards import paper_card
from bot.ids import paper_ids_in
from bot.lookups import PaperLookup
from bot.source import HFUnavailable
from bot.types import Post

log = logging.getLogger(__name__)

MAX_PREVIEWS = 5  # a message pasting a reading list gets the first five previews


class LinkCards:
    def __init__(self, lookup: PaperLookup) -> None:
        self.lookup = lookup

    async def cards(self, urls: list[str]) -> dict[str, Post]:
        """Each URL that names a known paper, with its card; the rest are left out."""
        found: dict[str, Post] = {}
        for url in urls:
            if len(found) == MAX_PREVIEWS:
                break
            ids = paper_ids_in(url)
            if not ids:
                continue
            try:
                paper = await self.lookup.paper(ids[0])
            except HFUnavailable as exc:
                log.info("no preview for %s: %s", ids[0], exc)
                continue
            if paper is not None:
                found[url] = paper_card(paper)
        return found
