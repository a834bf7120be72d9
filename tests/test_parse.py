import datetime as dt
import logging

import pytest

from bot.hf_parse import parse_daily_items, parse_paper
from tests.fake_hf import load_sample


def test_every_sample_item_parses_with_its_fields() -> None:
    items = load_sample()
    papers, skipped = parse_daily_items(items, source="sample")
    assert skipped == 0 and len(papers) == 60
    leap = next(p for p in papers if p.id == "2505.07787")
    assert leap.title.startswith("Learning from Peers")
    assert len(leap.authors) == 8
    assert leap.github_repo and leap.github_repo.startswith("https://github.com/")
    assert leap.published == dt.date(2025, 5, 12)
    sparse = next(p for p in papers if "Markovian Thinker" in p.title)
    assert sparse.organization is None


def test_missing_and_null_fields_become_defaults() -> None:
    paper = parse_paper(
        {
            "paper": {
                "id": "2501.00001v3",
                "title": "  A   title \n",
                "authors": None,
                "upvotes": None,
                "summary": None,
                "ai_keywords": None,
            },
            "numComments": None,
            "unknown": {"x": 1},
        }
    )
    assert paper.id == "2501.00001"
    assert paper.title == "A title"
    assert paper.authors == () and paper.abstract == ""
    assert paper.upvotes is None and paper.comments is None  # unknown, not 0: the store keeps its own


def test_top_level_values_fill_in_for_missing_paper_values() -> None:
    paper = parse_paper(
        {
            "paper": {"id": "2501.00002", "title": "T"},
            "numComments": 7,
            "thumbnail": "https://cdn.example/t.png",
            "githubRepo": "https://github.com/a/b",
            "organization": {"name": "nvidia", "fullname": "NVIDIA"},
        }
    )
    assert paper.comments == 7
    assert paper.github_repo == "https://github.com/a/b"
    assert (paper.organization, paper.organization_slug) == ("NVIDIA", "nvidia")


def test_bad_items_are_skipped_and_logged_while_the_rest_lands(caplog: pytest.LogCaptureFixture) -> None:
    items = load_sample()[:3]
    batch = [
        items[0],
        {"paper": {"id": "not-an-id", "title": "x"}},
        "garbage",
        {"paper": {"id": "2501.00003"}},
        items[1],
        {"paper": {"id": 17, "title": 5}},
        items[2],
    ]
    with caplog.at_level(logging.WARNING):
        papers, skipped = parse_daily_items(batch, source="test")
    assert [p.id for p in papers] == [i["paper"]["id"] for i in items]
    assert skipped == 4
    assert "'not-an-id'" in caplog.text and "'2501.00003'" in caplog.text


def test_hostile_values_are_bounded_and_cleaned() -> None:
    paper = parse_paper(
        {
            "paper": {
                "id": "2501.00004",
                "title": "@everyone\x00 <!channel>",
                "summary": "x" * 50_000,
                "authors": [{"name": "A"}] * 2000,
                "githubRepo": "javascript:alert(1)",
                "upvotes": -5,
            }
        }
    )
    assert paper.title == "@everyone <!channel>"
    assert len(paper.abstract) == 20_000
    assert len(paper.authors) == 500
    assert paper.github_repo is None
    assert paper.upvotes == 0


@pytest.mark.parametrize(
    ("raw", "stars"),
    [
        (10**20, 2**31 - 1),
        (1e30, 2**31 - 1),
        (41.9, 41),
        (-5, 0),
        (1e999, None),
        (float("nan"), None),
        ("7", None),
    ],
)
def test_counts_are_finite_and_fit_a_database_integer(raw: object, stars: int | None) -> None:
    paper = parse_paper({"paper": {"id": "2501.00005", "title": "T", "upvotes": raw, "githubStars": raw}})
    assert paper.github_stars == stars
    assert paper.upvotes == stars  # None: no usable count, so the stored one stays


def test_terminal_escapes_and_direction_overrides_are_removed() -> None:
    paper = parse_paper(
        {
            "paper": {
                "id": "2501.00006",
                "title": "\x1b]0;pwned\x07\x1b[2JReal \u202etitle",
                "summary": "a\nb\tc",
            }
        }
    )
    assert paper.title == "]0;pwned[2JReal title"
    assert paper.abstract == "a\nb\tc"
