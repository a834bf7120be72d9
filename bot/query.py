"""The search query language, parsed once in the core for every platform.

    diffusion "video generation" -survey author:hinton org:nvidia since:2025-01-01 has:code

Words must all match; "quoted text" is an exact phrase; -word or -"phrase" excludes; author:,
org:, since:, until: and has:code filter. Any text is accepted: each word is reduced to its
letters and digits, and each emoji to one symbol, so FTS operators, quotes, SQL and punctuation
are just text (see ../shared/docs/reliability-perf.md §4). Very common English words are skipped
on both databases (PostgreSQL cannot search for them). A query paperboy will not run gets
`QueryError`, never an exception from the database.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

MAX_QUERY_CHARS = 500
MAX_TERMS = 24

# The word tokens of one word or one phrase, lower-cased; an emoji is one token of its own.
Term = tuple[str, ...]

ONLY_EXCLUSIONS = "Add a word to search for: -word only narrows a search."
NOTHING_TO_SEARCH = 'Nothing to search for: use words, "phrases" or filters such as author:NAME.'

# PostgreSQL 15's english stopword list (tsearch_data/english.stop), which its 'english'
# configuration leaves out of every document and query. Queries skip these words on SQLite too,
# so that both databases give the same answers (a phrase keeps the ones between its other words).
STOPWORDS = frozenset(
    """
    i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she her
    hers herself it its itself they them their theirs themselves what which who whom this that these
    those am is are was were be been being have has had having do does did doing a an the and but if or
    because as until while of at by for with about against between into through during before after
    above below to from up down in out on off over under again further then once here there when where
    why how all any both each few more most other some such no nor not only own same so than too very s
    t can will just don should now
    """.split()
)

# Extended_Pictographic in Unicode 14 (emoji-data.txt), less U+2139 ℹ, which Unicode calls a
# letter: it stays part of words, as FTS5 and PostgreSQL see it.
_PICTOGRAPHIC = (
    "A9 AE 203C 2049 2122 2194-2199 21A9-21AA 231A-231B 2328 2388 23CF 23E9-23F3 23F8-23FA 24C2 "
    "25AA-25AB 25B6 25C0 25FB-25FE 2600-2605 2607-2612 2614-2685 2690-2705 2708-2712 2714 2716 271D "
    "2721 2728 2733-2734 2744 2747 274C 274E 2753-2755 2757 2763-2767 2795-2797 27A1 27B0 27BF "
    "2934-2935 2B05-2B07 2B1B-2B1C 2B50 2B55 3030 303D 3297 3299 1F000-1F0FF 1F10D-1F10F 1F12F "
    "1F16C-1F171 1F17E-1F17F 1F18E 1F191-1F19A 1F1AD-1F1E5 1F201-1F20F 1F21A 1F22F 1F232-1F23A "
    "1F23C-1F23F 1F249-1F3FA 1F400-1F53D 1F546-1F64F 1F680-1F6FF 1F774-1F77F 1F7D5-1F7FF "
    "1F80C-1F80F 1F848-1F84F 1F85A-1F85F 1F888-1F88F 1F8AE-1F8FF 1F90C-1F93A 1F93C-1F945 "
    "1F947-1FAFF 1FC00-1FFFD"
)


def _char_class(ranges: str, *, below: int = 0x110000) -> str:
    def escape(code: str) -> str:
        return f"\\U{int(code, 16):08x}"

    items = [item for item in ranges.split() if int(item.split("-")[-1], 16) < below]
    return "".join("-".join(escape(code) for code in item.split("-")) for item in items)


_ZWJ = "\u200d"
_KEYCAP = "\u20e3"
# One emoji: a pictograph with its presentation selector, skin tone and tags (🏴 + tags is a
# subdivision flag), a flag (two regional indicators), or a keycap (1️⃣); ZWJ joins them (👩‍🔬).
_ELEMENT = (
    rf"(?:[{_char_class(_PICTOGRAPHIC)}][\ufe0e\ufe0f\U0001f3fb-\U0001f3ff]*"
    rf"(?:[\U000e0020-\U000e007e]+\U000e007f)?"
    rf"|[\U0001f1e6-\U0001f1ff]{{1,2}}"
    rf"|[0-9#*]\ufe0f?{_KEYCAP})"
)
_EMOJI = re.compile(rf"{_ELEMENT}(?:{_ZWJ}{_ELEMENT})*")
# Whether text can hold an emoji at all, cheaply: the emoji pattern costs about 0.25 µs per
# character, a third of a millisecond for an abstract; a class of the emoji in the Basic
# Multilingual Plane alone is a lookup table, 10 ns per character.
_BMP_EMOJI_CHAR = re.compile(rf"[{_char_class(_PICTOGRAPHIC, below=0x10000)}{_KEYCAP}]")
_WORD = re.compile(r"[^\W_]+")
# Emoji first at each position; a word stops before the digit of a keycap ("21️⃣" is 2 and 1️⃣).
_WORD_OR_EMOJI = re.compile(rf"({_EMOJI.pattern})|(?:[^\W_](?!\ufe0f?{_KEYCAP}))+")
# Presentation selectors and skin tones: 👍🏽 and 👍️ are the same symbol as 👍.
_EMOJI_VARIANTS = dict.fromkeys([0xFE0E, 0xFE0F, *range(0x1F3FB, 0x1F400)])
_UNSAFE = {"Cc", "Cf", "Zl", "Zp"}
_ASCII_CONTROLS = dict.fromkeys([*range(0x20), 0x7F], " ")

_PIECE = re.compile(r'(-?)(?:(\w+):)?(?:"([^"]*)"?|(\S+))', re.UNICODE)
_BARE_FILTER = re.compile(r"(\w+):")
_FILTERS = {"author", "by", "org", "since", "until", "has"}
_FILTER_EXAMPLES = {
    "author": 'a name right after it, e.g. author:hinton or author:"Geoffrey Hinton"',
    "by": "a name right after it, e.g. by:hinton",
    "org": "a name right after it, e.g. org:nvidia",
    "since": "a date right after it, e.g. since:2025-01-01",
    "until": "a date right after it, e.g. until:2025-06-30",
    "has": "code right after it: has:code",
}


class QueryError(ValueError):
    """A query paperboy will not run; the message is for the user."""


@dataclass(frozen=True, slots=True)
class SearchQuery:
    terms: tuple[Term, ...] = ()
    excluded: tuple[Term, ...] = ()
    authors: tuple[Term, ...] = ()
    orgs: tuple[Term, ...] = ()
    since: dt.date | None = None
    until: dt.date | None = None
    has_code: bool = False
    # Words and phrases left out as too common to search for ("the", "not").
    skipped: tuple[Term, ...] = ()
    # Papers with any of the terms, best bm25 first, instead of every term: how search by
    # words takes part in a natural-language question (bot.hybrid).
    match_any: bool = False

    @property
    def has_text(self) -> bool:
        """True when the full-text index has something to match."""
        return bool(self.terms or self.authors or self.orgs)

    @property
    def is_empty(self) -> bool:
        return not (self.has_text or self.excluded or self.since or self.until or self.has_code)


def is_emoji(token: str) -> bool:
    """True for an emoji token of `tokens()`; words start with a letter or digit and a keycap
    (1⃣) ends with its enclosing mark."""
    return not token[0].isalnum() or token[-1] == _KEYCAP


def _may_hold_emoji(text: str) -> bool:
    if text.isascii():  # the common case, and ingest's (see emoji_text)
        return False
    # Characters beyond the BMP take two UTF-16 units: a C-speed test, unlike max(text).
    beyond_bmp = len(text.encode("utf-16-le", "surrogatepass")) > 2 * len(text)
    return beyond_bmp or _BMP_EMOJI_CHAR.search(text) is not None


def tokens(text: str) -> Term:
    """Lower-cased letter/digit runs, the unit both FTS5 and PostgreSQL index, and emoji, each
    one symbol without its skin tone or presentation selector."""
    if not _may_hold_emoji(text):
        return tuple(token.lower() for token in _WORD.findall(text))
    return tuple(
        match[1].translate(_EMOJI_VARIANTS) if match[1] else match[0].lower()
        for match in _WORD_OR_EMOJI.finditer(text)
    )


def emoji_token(emoji: str) -> str:
    """An emoji as a word both FTS5 (porter) and PostgreSQL index unchanged: "emoji" and each code
    point as six decimal digits (ZWJ left out). It ends in a digit, so no stemmer touches it."""
    return "emoji" + "".join(f"{ord(char):06d}" for char in emoji if char != _ZWJ)


def emoji_text(*texts: str) -> str:
    """The index words (emoji_token) of every emoji in `texts`, in order: papers.emoji_text."""
    return " ".join(
        emoji_token(match[0].translate(_EMOJI_VARIANTS))
        for text in texts
        if _may_hold_emoji(text)
        for match in _EMOJI.finditer(text)
    )


def clean_text(text: str) -> str:
    """NUL and other control or format characters (U+202E, U+200B...) as spaces, except the
    joiners and tags inside an emoji (👩‍🔬, 🏴󠁧󠁢󠁳󠁣󠁴󠁿)."""
    if text.isascii():
        return text.translate(_ASCII_CONTROLS)
    if not _may_hold_emoji(text):
        return _clean(text)
    parts: list[str] = []
    start = 0
    for match in _EMOJI.finditer(text):
        parts.append(_clean(text[start : match.start()]))
        parts.append(match[0])
        start = match.end()
    parts.append(_clean(text[start:]))
    return "".join(parts)


def _clean(text: str) -> str:
    return "".join(" " if unicodedata.category(ch) in _UNSAFE else ch for ch in text)


def _date(name: str, value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise QueryError(f"{name}: needs a date like 2025-01-31, not {value[:20]!r}") from None


def _missing(key: str) -> QueryError:
    return QueryError(f"{key}: needs {_FILTER_EXAMPLES[key]}.")


def _name(key: str, value: str) -> Term:
    """The words of an author: or org: filter (emoji are never part of a name)."""
    term = tuple(token for token in tokens(value) if not is_emoji(token))
    if not term:
        raise _missing(key)
    return term


def _searchable(term: Term) -> Term:
    """`term` without the stopwords at the ends of its words (emoji aside: the words are matched
    as a phrase, each emoji on its own); empty when nothing else is left."""
    words = [index for index, token in enumerate(term) if not is_emoji(token)]
    content = [index for index in words if term[index] not in STOPWORDS]
    dropped = {index for index in words if not content or index < content[0] or index > content[-1]}
    return tuple(token for index, token in enumerate(term) if index not in dropped)


def parse_query(text: str) -> SearchQuery:
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(f"Query too long: {len(text):,} characters; the limit is {MAX_QUERY_CHARS}.")
    text = clean_text(text)
    terms: list[Term] = []
    excluded: list[Term] = []
    skipped: list[Term] = []
    authors: list[Term] = []
    orgs: list[Term] = []
    since: dt.date | None = None
    until: dt.date | None = None
    has_code = False

    for match in _PIECE.finditer(text):
        negate, prefix, quoted, bare = match.groups()
        key = prefix.lower() if prefix else None
        value = quoted if quoted is not None else (bare or "")
        if key is None and (alone := _BARE_FILTER.fullmatch(value)) and alone[1].lower() in _FILTERS:
            # `author:` at the end, or before a space: not a search for the word "author".
            raise _missing(alone[1].lower())
        if key not in _FILTERS:
            # `foo:bar` that is not a filter is plain text, e.g. "title:x" or "12:30".
            value = f"{prefix}:{value}" if prefix else value
            key = None
        elif negate:
            # Dropping the minus would search for the opposite of what was asked.
            raise QueryError(f"-{key}: cannot exclude; filters only narrow a search ({key}:… keeps papers).")
        if key is None:
            if term := tokens(value):
                if searchable := _searchable(term):
                    (excluded if negate else terms).append(searchable)
                else:
                    skipped.append(term)
        elif key in {"author", "by"}:
            authors.append(_name(key, value))
        elif key == "org":
            orgs.append(_name(key, value))
        elif key in {"since", "until"}:
            if not value.strip():
                raise _missing(key)
            day = _date(key, value.strip())
            since, until = (day, until) if key == "since" else (since, day)
        elif key == "has":
            if value.strip().lower() not in {"code", "github", "repo"}:
                raise QueryError("has: supports only has:code")
            has_code = True
    if len(terms) + len(excluded) + len(authors) + len(orgs) > MAX_TERMS:
        raise QueryError(f"Too many search terms; use at most {MAX_TERMS}.")
    if since and until and since > until:
        raise QueryError("since: is after until:, so nothing can match")
    query = SearchQuery(
        terms=tuple(terms),
        excluded=tuple(excluded),
        authors=tuple(authors),
        orgs=tuple(orgs),
        since=since,
        until=until,
        has_code=has_code,
        skipped=tuple(skipped),
    )
    if query.is_empty and not query.skipped:
        raise QueryError(NOTHING_TO_SEARCH)
    if query.excluded and not query.has_text and not skipped:
        raise QueryError(ONLY_EXCLUSIONS)
    return query


def _fts_string(words: Term) -> str:
    # Tokens are letters and digits only, so wrapping them in quotes is always a valid
    # FTS5 string: no operator, column name or quote can come from the user.
    return '"' + " ".join(words) + '"'


FTS_TEXT_COLUMNS = "{title authors_text keywords_text abstract}"


def _fts_term(term: Term, columns: str = FTS_TEXT_COLUMNS) -> str:
    """One term: its words as a phrase in `columns`, and each of its emoji in emoji_text."""
    words = tuple(token for token in term if not is_emoji(token))
    parts = [f"{columns} : {_fts_string(words)}"] if words else []
    parts += [f'emoji_text : "{emoji_token(token)}"' for token in term if is_emoji(token)]
    return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"


def to_fts5(query: SearchQuery) -> str:
    """An FTS5 MATCH expression; call only when `query.has_text`."""
    parts = [_fts_term(term) for term in query.terms]
    if query.match_any and len(parts) > 1:
        parts = ["(" + " OR ".join(parts) + ")"]
    parts += [f"authors_text : {_fts_string(term)}" for term in query.authors]
    parts += [f"org_text : {_fts_string(term)}" for term in query.orgs]
    expression = " AND ".join(parts)
    if query.excluded:
        negated = " OR ".join(_fts_term(term) for term in query.excluded)
        expression = f"({expression}) NOT ({negated})"
    return expression


def to_fts5_names(query: SearchQuery) -> str:
    """The author: and org: filters as an FTS5 MATCH expression on paper_names, the index of
    names as written (not stemmed: "adams" is not "adam"); call only when there are some."""
    parts = [f"authors_text : {_fts_string(term)}" for term in query.authors]
    parts += [f"org_text : {_fts_string(term)}" for term in query.orgs]
    return " AND ".join(parts)


def websearch_term(term: Term) -> str:
    """One term as text for PostgreSQL's websearch_to_tsquery (which never raises on any input):
    its words as a quoted phrase, so that a word such as "or" is never read as an operator, and
    each of its emoji as the word it is indexed as."""
    words = " ".join(token for token in term if not is_emoji(token))
    parts = [f'"{words}"'] if words else []
    parts += [emoji_token(token) for token in term if is_emoji(token)]
    return " ".join(parts)


def to_websearch(query: SearchQuery) -> str:
    """The words and phrases to match, for websearch_to_tsquery; exclusions are separate
    conditions (websearch_term), so that they do not take part in ranking."""
    joint = " or " if query.match_any else " "
    return joint.join(websearch_term(term) for term in query.terms)
