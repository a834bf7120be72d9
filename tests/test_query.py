import datetime as dt

import pytest

from bot.query import MAX_QUERY_CHARS, QueryError, parse_query, to_fts5, to_websearch


def test_the_whole_language() -> None:
    q = parse_query(
        'diffusion "video generation" -survey author:"Yann LeCun" org:nvidia '
        "since:2025-01-01 until:2025-06-30 has:code"
    )
    assert q.terms == (("diffusion",), ("video", "generation"))
    assert q.excluded == (("survey",),)
    assert q.authors == (("yann", "lecun"),)
    assert q.orgs == (("nvidia",),)
    assert (q.since, q.until, q.has_code) == (dt.date(2025, 1, 1), dt.date(2025, 6, 30), True)


def test_fts5_expression_quotes_every_term() -> None:
    q = parse_query('NOT multi-agent -"a OR b" author:x')
    assert to_fts5(q) == (
        '({title authors_text keywords_text abstract} : "not" AND '
        '{title authors_text keywords_text abstract} : "multi agent" AND authors_text : "x") '
        'NOT ({title authors_text keywords_text abstract} : "a or b")'
    )
    assert to_websearch(q) == '"not" "multi agent" -"a or b"'


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ('"unbalanced quote', (("unbalanced", "quote"),)),
        ("don't", (("don", "t"),)),
        ("@x 50%", (("x",), ("50",))),
        ("' OR 1=1 --", (("or",), ("1", "1"))),
        ("title:x", (("title", "x"),)),
        ("emoji 🤖 only", (("emoji",), ("only",))),
        ("a\x00b \u202e c", (("a",), ("b",), ("c",))),
        ("模型 训练", (("模型",), ("训练",))),
    ],
)
def test_odd_text_becomes_plain_terms(text: str, terms: tuple[tuple[str, ...], ...]) -> None:
    assert parse_query(text).terms == terms


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x" * 10_000, "Query too long: 10,000 characters"),
        ("since:yesterday", "since: needs a date"),
        ("until:2025-13-01", "until: needs a date"),
        ("has:pdf", "has:code"),
        ("since:2025-02-01 until:2025-01-01", "after until"),
        (" ".join(f"w{n}" for n in range(30)), "Too many search terms"),
    ],
)
def test_bad_queries_get_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        parse_query(text)


def test_limit_is_inclusive() -> None:
    assert parse_query("a" * MAX_QUERY_CHARS).terms == (("a" * MAX_QUERY_CHARS,),)
