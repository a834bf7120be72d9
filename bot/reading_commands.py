"""What a reader does with one paper and their reading list: `/paper abstract`, `save`, `unsave`,
`saved` and `export bibtex`. A card's Abstract, Similar and Save buttons run these same commands
(bot.cards.paper_actions), so a button and a typed command answer alike on every platform."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.bibtex import bibliography
from bot.cards import cut_at_word, paper_actions
from bot.hybrid import HybridSearch
from bot.ids import InvalidPaperId, normalize_paper_id
from bot.lookups import PaperLookup
from bot.ports import Clock
from bot.query import QueryError, parse_query
from bot.reading_list import MAX_SAVED, ReadingListFull, ReadingLists
from bot.source import HFUnavailable
from bot.store import PaperStore
from bot.types import Attachment, Command, ListItem, Paper, Reply
from bot.votes import PERIODS, VoteBook

READING_COMMANDS = frozenset({"abstract", "save", "unsave", "saved", "export"})
SAVED_SHOWN = 25
EXPORT_SEARCH = 50
EXPORT_TOP = 100
EXPORT_USAGE = "export bibtex [saved | top week|month|all | search QUERY]"


async def paper_named(lookup: PaperLookup, args: str) -> Paper | Reply:
    """The paper the first word names (an id or a link), or the reply saying why not."""
    words = args.split()
    if not words:
        return Reply("Which paper? Give an arXiv id or link, e.g. 2505.07787", ok=False)
    try:
        paper_id = normalize_paper_id(words[0])
    except InvalidPaperId as exc:
        return Reply(str(exc), ok=False)
    try:
        paper = await lookup.paper(paper_id)
    except HFUnavailable:
        return Reply(
            f"{paper_id} is not in the archive yet, and Hugging Face is not answering; try again later.",
            ok=False,
        )
    if paper is None:
        return Reply(f"Paper {paper_id} was not found on Hugging Face.", ok=False)
    return paper


def saved_item(paper: Paper) -> ListItem:
    detail = " · ".join(part for part in (paper.published and paper.published.isoformat(), paper.id) if part)
    return ListItem(
        title=cut_at_word(paper.title, 200),
        url=paper.url,
        detail=detail,
        paper_id=paper.id,
        actions=paper_actions(paper.id),
    )


@dataclass
class ReadingCommands:
    store: PaperStore
    papers: PaperLookup
    lists: ReadingLists
    votes: VoteBook
    search: HybridSearch
    clock: Clock

    async def handle(self, command: Command, name: str, args: str) -> Reply:
        if name == "abstract":
            return await self.abstract(args)
        if name == "save":
            return await self.save(command, args)
        if name == "unsave":
            return await self.unsave(command, args)
        if name == "saved":
            return await self.saved(command)
        return await self.export(command, args)

    async def abstract(self, args: str) -> Reply:
        paper = await paper_named(self.papers, args)
        if isinstance(paper, Reply):
            return paper
        abstract = " ".join(paper.abstract.split()) or "Hugging Face has no abstract for this paper."
        return Reply(f"{cut_at_word(paper.title, 300)}\n{abstract}\n{paper.url}")

    async def save(self, command: Command, args: str) -> Reply:
        paper = await paper_named(self.papers, args)
        if isinstance(paper, Reply):
            return paper
        title = cut_at_word(paper.title, 200)
        try:
            saved = await self.lists.toggle(command.user, paper.id, now=self.clock.now())
        except ReadingListFull:
            return Reply(
                f"Your reading list is full ({MAX_SAVED} papers); /paper unsave some first.", ok=False
            )
        if saved:
            return Reply(
                f"Saved to your reading list: {title}. /paper saved lists it; Save again removes it."
            )
        return Reply(f"Removed from your reading list: {title}.")

    async def unsave(self, command: Command, args: str) -> Reply:
        try:
            paper_id = normalize_paper_id((args.split() or [""])[0])
        except InvalidPaperId as exc:
            return Reply(str(exc), ok=False)
        if await self.lists.remove(command.user, paper_id):
            return Reply(f"Removed {paper_id} from your reading list.")
        return Reply(f"{paper_id} is not in your reading list.", ok=False)

    async def saved(self, command: Command) -> Reply:
        ids = await self.lists.of_user(command.user)
        if not ids:
            return Reply("Your reading list is empty. Press Save on a paper, or /paper save ID.")
        found = await self.store.get_papers(ids[:SAVED_SHOWN])
        items = tuple(saved_item(found[paper_id]) for paper_id in ids[:SAVED_SHOWN] if paper_id in found)
        heading = f"Your reading list: {len(ids)} paper{'s' if len(ids) != 1 else ''}"
        if len(ids) > SAVED_SHOWN:
            heading += f", the {SAVED_SHOWN} saved last shown (/paper export bibtex saved has them all)"
        return Reply(heading, items=items)

    async def export(self, command: Command, args: str) -> Reply:
        words = args.split()
        if not words or words[0].lower() != "bibtex":
            return Reply(f"Usage: /paper {EXPORT_USAGE}", ok=False)
        what = words[1].lower() if len(words) > 1 else "saved"
        rest = words[2:]
        if what == "saved":
            papers, label, name = await self._saved_papers(command), "your reading list", "saved"
        elif what == "top":
            period = rest[0].lower() if rest else "week"
            if period not in PERIODS:
                return Reply(f"Usage: /paper {EXPORT_USAGE}", ok=False)
            papers = await self._top_papers(command, period)
            label, name = f"this team's most-voted papers ({period})", f"top-{period}"
        elif what == "search":
            if not rest:
                return Reply(f"Usage: /paper {EXPORT_USAGE}", ok=False)
            try:
                query = parse_query(" ".join(rest))
            except QueryError as exc:
                return Reply(str(exc), ok=False)
            results = await self.search.search(query, limit=EXPORT_SEARCH)
            papers = list(results.papers)
            label, name = f"the search {cut_at_word(' '.join(rest), 100)}", "search"
        else:
            return Reply(f"Usage: /paper {EXPORT_USAGE}", ok=False)
        if not papers:
            return Reply(f"Nothing to export: {label} has no papers.")
        content = bibliography(papers).encode()
        count = f"{len(papers)} paper{'s' if len(papers) != 1 else ''}"
        return Reply(
            f"BibTeX for {label}: {count}.",
            attachment=Attachment(f"paperboy-{name}.bib", content, "application/x-bibtex"),
        )

    async def _saved_papers(self, command: Command) -> list[Paper]:
        ids = await self.lists.of_user(command.user)
        found = await self.store.get_papers(ids)
        return [found[paper_id] for paper_id in ids if paper_id in found]

    async def _top_papers(self, command: Command, period: str) -> list[Paper]:
        days = PERIODS[period]
        since = self.clock.now() - dt.timedelta(days=days) if days else None
        channel = command.channel
        tallies = await self.votes.top(
            channel.platform, channel.community, cast_since=since, limit=EXPORT_TOP
        )
        found = await self.store.get_papers([tally.paper_id for tally in tallies])
        return [found[tally.paper_id] for tally in tallies if tally.paper_id in found]
