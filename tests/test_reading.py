"""A reader's actions on a paper through the core: abstract, save/unsave/saved, BibTeX export
and the next page of a search (the commands a card's and a list's buttons run)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pybtex.database
import pytest

from adapters.app import Core
from adapters.console.adapter import write_attachment
from bot.bibtex import bibliography, entry_key
from bot.cards import paper_card
from bot.types import Attachment, Paper, UserRef
from tests.fake_hf import FakeHF
from tests.fakes import FakeClock, sample_items
from tests.test_commands import run

OTHER = UserRef("test", "team-1", "U2")
DAY = dt.date(2025, 11, 20)


@pytest.fixture
async def stocked(core: Core, fake_hf: FakeHF) -> Core:
    fake_hf.set_day(DAY, sample_items(30, day=DAY))
    await core.ingestor.fetch_days([DAY])
    return core


def parse_bib(text: str) -> pybtex.database.BibliographyData:
    return pybtex.database.parse_string(text, "bibtex")


async def test_every_card_offers_abstract_similar_and_save(stocked: Core) -> None:
    show = await run(stocked, "show 2305.90001")
    assert [(a.command, a.args, a.label) for a in show.posts[0].actions] == [
        ("abstract", "2305.90001", "Abstract"),
        ("similar", "2305.90001", "Similar"),
        ("save", "2305.90001", "Save"),
    ]
    found = await run(stocked, "search debate")
    assert found.items and all(item.paper_id and len(item.actions) == 3 for item in found.items)


async def test_abstract_gives_the_whole_abstract_privately(stocked: Core) -> None:
    paper = await stocked.store.get_paper("2305.90001")
    assert paper is not None and len(paper.abstract) > 1000
    reply = await run(stocked, "abstract https://arxiv.org/abs/2305.90001")
    assert reply.ok and reply.ephemeral
    assert " ".join(paper.abstract.split()) in reply.text
    assert (await run(stocked, "abstract nonsense")).ok is False


async def test_save_toggles_and_each_user_has_their_own_list(stocked: Core, clock: FakeClock) -> None:
    first = await run(stocked, "save 2305.90001")
    assert first.ok and first.text.startswith("Saved to your reading list")
    clock.advance(minutes=1)
    await run(stocked, "save 2412.90002")
    listed = await run(stocked, "saved")
    assert [item.paper_id for item in listed.items] == ["2412.90002", "2305.90001"]  # latest first
    assert "2 papers" in listed.text
    assert (await run(stocked, "saved", user=OTHER)).items == ()

    again = await run(stocked, "save 2305.90001")
    assert again.text.startswith("Removed from your reading list")
    assert [item.paper_id for item in (await run(stocked, "saved")).items] == ["2412.90002"]
    assert (await run(stocked, "unsave 2412.90002")).ok
    assert (await run(stocked, "unsave 2412.90002")).ok is False
    assert "empty" in (await run(stocked, "saved")).text


async def test_saving_a_paper_hf_does_not_know_says_so_and_saves_nothing(stocked: Core) -> None:
    reply = await run(stocked, "save 2501.99999")
    assert not reply.ok and "not found" in reply.text
    assert "empty" in (await run(stocked, "saved")).text


async def test_export_bibtex_of_the_reading_list_parses_back(stocked: Core) -> None:
    for paper_id in ("2305.90001", "2412.90002", "2410.90003"):
        await run(stocked, f"save {paper_id}")
    reply = await run(stocked, "export bibtex")
    assert reply.ok and reply.attachment is not None
    assert reply.attachment.filename == "paperboy-saved.bib"
    bib = parse_bib(reply.attachment.content.decode())
    assert len(bib.entries) == 3
    debate = next(e for e in bib.entries.values() if e.fields["eprint"] == "2305.90001")
    assert debate.type == "misc"
    assert debate.fields["archivePrefix"] == "arXiv"
    assert debate.fields["year"] == "2023"
    assert debate.fields["url"] == "https://arxiv.org/abs/2305.90001"
    assert "Multi-Agent Debate" in debate.fields["title"]
    assert str(debate.persons["author"][0]) == "Ivanova, Jun"


async def test_export_bibtex_of_a_search_and_of_nothing(stocked: Core) -> None:
    reply = await run(stocked, "export bibtex search debate")
    assert reply.attachment is not None and reply.attachment.filename == "paperboy-search.bib"
    assert parse_bib(reply.attachment.content.decode()).entries
    empty = await run(stocked, "export bibtex top week")
    assert empty.attachment is None and "no papers" in empty.text
    assert (await run(stocked, "export csv")).ok is False
    assert (await run(stocked, "export bibtex top decade")).ok is False


def test_hostile_titles_and_names_stay_text_in_bibtex() -> None:
    nasty = Paper(
        id="2501.00001",
        title="100% {unbalanced \\end{document} & $x_1$ #tag ~ ^ @everyone\nnext line",
        authors=("Ann O'Neil", "Tom and Jerry", "Zoë Ça_t", ""),
        published=dt.date(2025, 1, 2),
    )
    same_key = Paper(id="2501.00002", title=nasty.title, authors=nasty.authors, published=nasty.published)
    plain = Paper(id="2501.00003", title="", authors=())
    text = bibliography([nasty, same_key, plain])
    bib = parse_bib(text)
    assert len(bib.entries) == 3
    keys = list(bib.entries)
    assert len(set(keys)) == 3 and keys[0] == entry_key(nasty) and keys[1] == keys[0] + "a"
    title = bib.entries[keys[0]].fields["title"]
    assert "\n" not in title and "\\%" in title and "\\&" in title and "\\$x\\_1\\$" in title
    assert (
        "\\textbraceleft{}unbalanced \\textbackslash{}end\\textbraceleft{}document\\textbraceright{}" in title
    )
    authors = [str(person) for person in bib.entries[keys[0]].persons["author"]]
    assert len(authors) == 3  # "Tom and Jerry" is one name, the empty one is left out
    assert keys[2] == "arxiv250100003"


async def test_more_shows_the_next_ten_and_stops_at_the_end(stocked: Core) -> None:
    first = await run(stocked, "search language models")
    assert len(first.items) == 10 and first.more is not None
    assert first.more.command == "page" and first.more.args == "2 language models"
    second = await run(stocked, f"{first.more.command} {first.more.args}")
    assert second.text.startswith("Results 11-")
    assert not {i.paper_id for i in first.items} & {i.paper_id for i in second.items}
    last = second
    while last.more is not None:
        last = await run(stocked, f"page {last.more.args}")
    assert last.items and last.more is None
    assert (await run(stocked, "page 6 language models")).ok is False
    assert (await run(stocked, "page x language models")).ok is False


async def test_a_narrow_search_offers_no_more(stocked: Core) -> None:
    reply = await run(stocked, 'search "multi-agent debate"')
    assert reply.items and reply.more is None


def test_the_console_writes_an_export_beside_earlier_ones(tmp_path: Path) -> None:
    attachment = Attachment("paperboy-saved.bib", b"@misc{a,\n}\n")
    first = write_attachment(tmp_path, attachment)
    second = write_attachment(tmp_path, attachment)
    assert first.name == "paperboy-saved.bib" and second.name == "paperboy-saved-2.bib"
    assert second.read_bytes() == attachment.content


async def test_console_buttons_are_shown_as_commands(stocked: Core) -> None:
    from adapters.console.render import render_reply

    reply = await run(stocked, "search language models")
    text = render_reply(reply)
    assert "/paper abstract ID · /paper similar ID · /paper save ID" in text
    assert "More results: /paper page 2 language models" in text
    paper = await stocked.store.get_paper("2305.90001")
    assert paper is not None
    card = render_reply(type(reply)("", posts=(paper_card(paper),)))
    assert "/paper save 2305.90001" in card
