import datetime as dt

import pytest

from bot.query import (
    MAX_QUERY_CHARS,
    QueryError,
    clean_text,
    emoji_text,
    emoji_token,
    is_emoji,
    parse_query,
    to_fts5,
    to_websearch,
    tokens,
)


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
    q = parse_query('NEAR multi-agent -"x OR y" author:x 🦙')
    assert to_fts5(q) == (
        '({title authors_text keywords_text abstract} : "near" AND '
        '{title authors_text keywords_text abstract} : "multi agent" AND '
        'emoji_text : "emoji129433" AND authors_text : "x") '
        'NOT ({title authors_text keywords_text abstract} : "x or y")'
    )
    assert to_websearch(q) == '"near" "multi agent" emoji129433'


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ('"unbalanced quote', (("unbalanced", "quote"),)),
        ("gpt-3.5", (("gpt", "3", "5"),)),
        ("@x 50%", (("x",), ("50",))),
        ("' OR 1=1 --", (("1", "1"),)),
        ("title:x", (("title", "x"),)),
        ("emoji 🤖 robot", (("emoji",), ("🤖",), ("robot",))),
        ("x\x00y \u202e z", (("x",), ("y",), ("z",))),
        ("模型 训练", (("模型",), ("训练",))),
    ],
)
def test_odd_text_becomes_plain_terms(text: str, terms: tuple[tuple[str, ...], ...]) -> None:
    assert parse_query(text).terms == terms


def test_very_common_words_are_skipped_unless_inside_a_phrase() -> None:
    q = parse_query('reasoning NOT survey "chain of thought" "the transformer" don\'t -the')
    assert q.terms == (("reasoning",), ("survey",), ("chain", "of", "thought"), ("transformer",))
    assert q.skipped == (("not",), ("don", "t"), ("the",))
    assert q.excluded == ()
    assert parse_query("author:the org:and").authors == (("the",),)  # names are kept whole
    # A phrase's words are what PostgreSQL matches as a phrase: emoji are not among them.
    assert parse_query('"x the 🦙" "the 🦙" "🦙 of"').terms == (("x", "🦙"), ("🦙",), ("🦙",))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("👩\u200d🔬", ("👩\u200d🔬",)),  # a ZWJ sequence is one symbol
        ("👩🏽\u200d🔬 👍🏽 👍\ufe0f", ("👩\u200d🔬", "👍", "👍")),  # skin tones and VS16 dropped
        ("🦙LLaMA and GPT🤖", ("🦙", "llama", "and", "gpt", "🤖")),
        ("🇫🇷🇯🇵", ("🇫🇷", "🇯🇵")),  # flags pair up
        ("1\ufe0f\u20e3 21\u20e3 #\ufe0f\u20e3", ("1\u20e3", "2", "1\u20e3", "#\u20e3")),
        (
            "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",
            ("🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",),
        ),
        ("café ℹ\ufe0f", ("café", "ℹ")),  # ℹ is a letter to Unicode
        ("love ❤\ufe0f x² — 𝒳", ("love", "❤", "x²", "𝒳")),  # an emoji of the BMP; a letter beyond it
    ],
)
def test_emoji_are_whole_tokens(text: str, expected: tuple[str, ...]) -> None:
    assert tokens(text) == expected
    assert tokens(clean_text(text)) == expected  # chat commands clean their text first
    emoji = [token for token in expected if is_emoji(token)]
    assert emoji_text(text).split() == [emoji_token(token) for token in emoji]


def test_an_emoji_becomes_a_word_no_stemmer_changes() -> None:
    assert emoji_token("🦙") == "emoji129433"
    assert emoji_token("👩\u200d🔬") == "emoji128105128300"
    assert emoji_text("Plain ASCII title", "keywords", "abstract") == ""
    assert emoji_text("🦙 title", "🤖 keyword", "abstract 👍🏽") == "emoji129433 emoji129302 emoji128077"


def test_a_search_for_an_emoji_or_with_one_is_text() -> None:
    assert parse_query("🦙 -🤖").terms == (("🦙",),)
    assert parse_query("🦙 -🤖").excluded == (("🤖",),)
    with pytest.raises(QueryError, match="author: needs a name"):
        parse_query("author:🦙")


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


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("author:", "author: needs a name right after it"),
        ("reasoning author:", "author: needs a name right after it"),
        ("author: hinton", "author: needs a name right after it"),
        ('author:""', "author: needs a name right after it"),
        ("author:-", "author: needs a name right after it"),
        ("by:", "by: needs a name right after it"),
        ("org:", "org: needs a name right after it"),
        ('org:"', "org: needs a name right after it"),
        ("Since:", "since: needs a date right after it"),
        ("until:", "until: needs a date right after it"),
        ("has:", "has: needs"),
        ("-author:", "author: needs a name right after it"),
    ],
)
def test_a_filter_with_nothing_after_it_is_a_usage_error(text: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        parse_query(text)


@pytest.mark.parametrize("text", ["", "   ", "-", "--", '-""', '""', '"', "!!!", "' -", "( )", "*", "\u202e"])
def test_a_query_of_nothing_but_punctuation_is_a_usage_error(text: str) -> None:
    with pytest.raises(QueryError, match="Nothing to search for"):
        parse_query(text)


def test_a_word_that_only_looks_like_a_filter_is_text() -> None:
    assert parse_query("title:x 12:30").terms == (("title", "x"), ("12", "30"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-author:li", "-author: cannot exclude"),
        ("reasoning -has:code", "-has: cannot exclude"),
        ("-survey", "Add a word to search for"),
        ("-survey since:2025-01-01", "Add a word to search for"),
    ],
)
def test_a_minus_that_would_be_dropped_or_is_all_there_is_is_a_usage_error(text: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        parse_query(text)
