"""Pure rendering, golden-tested: paper cards, summaries, authors, headers."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from bot.cards import (
    alert_messages,
    authors_line,
    card_text,
    cut_at_word,
    cut_escaped,
    digest_header,
    paper_card,
    summary_of,
)
from bot.hf_parse import parse_daily_items
from bot.types import Alert, Paper
from tests.fake_hf import load_sample

GOLDEN = Path(__file__).with_name("golden")


def sample(paper_id: str) -> Paper:
    papers, _ = parse_daily_items(load_sample(), source="sample")
    return next(p for p in papers if p.id == paper_id)


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("paper_id", ["2505.07787", "2512.06421", "2409.12917"])
def test_card_text_golden(paper_id: str) -> None:
    check_golden(f"card_{paper_id}.txt", card_text(paper_card(sample(paper_id))) + "\n")


def test_hostile_card_golden() -> None:
    hostile = Paper(
        id="2501.00001",
        title="@everyone <!channel> **Bold** [click](https://evil.example) ||spoiler|| ```code",
        abstract="First sentence with <@U123> and `ticks`. Second sentence is here. Third one.",
        authors=("<!here>", "Robert'); DROP TABLE papers;--", "A", "B"),
        organization="<@&123>",
        upvotes=1,
        comments=0,
    )
    check_golden("card_hostile.txt", card_text(paper_card(hostile)) + "\n")


def test_summary_is_ai_summary_else_the_first_sentences_within_budget() -> None:
    with_ai = Paper(id="2501.00002", title="T", abstract="Abstract.", ai_summary="  AI  summary\nhere. ")
    assert summary_of(with_ai) == "AI summary here."
    two = Paper(id="2501.00003", title="T", abstract="One is short.\nTwo is short too. Three is not shown.")
    assert summary_of(two) == "One is short. Two is short too."
    long_first = Paper(id="2501.00004", title="T", abstract=("word " * 200) + ". Next.")
    text = summary_of(long_first, budget=100)
    assert len(text) <= 100 and text.endswith("…") and text[:-1].split()[-1] == "word"
    assert summary_of(Paper(id="2501.00005", title="T")) == ""


def test_authors_are_the_first_three_then_et_al() -> None:
    assert authors_line(("A", "B", "C")) == "A, B, C"
    assert authors_line(("A", "B", "C", "D")) == "A, B, C et al."
    assert authors_line(()) == ""


@pytest.mark.parametrize("limit", [10, 37, 100, 3000])
def test_nothing_is_cut_mid_word(limit: int) -> None:
    text = " ".join(f"w{n:04d}" for n in range(2000))  # 10k characters
    cut = cut_at_word(text, limit)
    assert len(cut) <= limit
    if limit < len(text):
        assert cut.endswith("…")
        assert all(len(word) == 5 for word in cut[:-1].split())


def test_ten_thousand_character_abstract_stays_within_budget() -> None:
    paper = Paper(id="2501.00006", title="x" * 5000, abstract="y" * 10_000)
    card = paper_card(paper)
    assert len(card.title) <= 250 and len(card.summary) <= 300


def test_headers() -> None:
    day = dt.date(2025, 11, 21)
    assert digest_header(day, 10, 23) == "Daily Papers · Fri 21 Nov 2025 · 10 of 23"
    assert (
        digest_header(day, 0, 0)
        == "Daily Papers · Fri 21 Nov 2025 · no papers on Hugging Face's list that day"
    )
    assert (
        digest_header(day, 0, 5) == "Daily Papers · Fri 21 Nov 2025 · none of 5 passed this channel's filters"
    )
    assert (
        digest_header(day, 3, 23, for_channel=True)
        == "Daily Papers · Fri 21 Nov 2025 · 3 of 23 · ranked for this channel"
    )


def test_an_alert_says_which_papers_came_by_meaning() -> None:
    words = Paper(id="2505.07787", title="Learning from Peers in Reasoning Models")
    meaning = Paper(id="2503.90001", title="AttenST: Style Transfer")
    [(text, ids)] = alert_messages(
        [Alert("picture editing", (words, meaning), by_meaning=frozenset({meaning.id}))]
    )
    assert text == (
        "Saved search “picture editing” · 2 new papers:\n"
        "• Learning from Peers in Reasoning Models\n  https://huggingface.co/papers/2505.07787\n"
        "• AttenST: Style Transfer (related by meaning)\n  https://huggingface.co/papers/2503.90001"
    )
    assert ids == ["2505.07787", "2503.90001"]


def test_an_escaped_cut_keeps_the_longest_start_that_fits() -> None:
    def escape(text: str) -> str:
        return text.replace("&", "&amp;")

    assert cut_escaped("aa bb, cc", 6, escape) == "aa bb…"  # from a budget beyond the limit
    for text in ("&" * 50, "R&D " * 40, "word" * 300, "", "x"):
        for limit in range(0, 40):
            cut = cut_escaped(text, limit, escape)
            assert len(cut) <= limit
            assert not cut or cut.replace("&amp;", "&").rstrip("…") in text


def test_a_search_line_fits_the_terminal_width_when_given_one() -> None:
    from adapters.cli_render import search_line

    paper = sample("2505.07787")
    whole = search_line(paper)
    assert whole.startswith("2505.07787  2025-05-12  ▲") and whole.endswith(paper.title)
    cut = search_line(paper, width=60)
    assert len(cut) <= 59 and cut.endswith("…") and cut.startswith(whole[:30])
