"""The search query language, parsed once in the core for every platform.

    diffusion "video generation" -survey author:hinton org:nvidia since:2025-01-01 has:code

Words must all match; "quoted text" is an exact phrase; -word or -"phrase" excludes; author:,
org:, since:, until: and has:code filter. Any text is accepted: each word is reduced to its
letters and digits, so FTS operators, quotes, SQL and punctuation are just text (see
../shared/docs/reliability-perf.md §4). Too long a query gets `QueryError`, never an exception
from the database.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

MAX_QUERY_CHARS = 500
MAX_TERMS = 24

Term = tuple[str, ...]  # the word tokens of one word or one phrase, lower-cased

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
_PIECE = re.compile(r'(-?)(?:(\w+):)?(?:"([^"]*)"?|(\S+))', re.UNICODE)
_FILTERS = {"author", "by", "org", "since", "until", "has"}


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

    @property
    def has_text(self) -> bool:
        """True when the full-text index has something to match."""
        return bool(self.terms or self.authors or self.orgs)

    @property
    def is_empty(self) -> bool:
        return not (self.has_text or self.excluded or self.since or self.until or self.has_code)


def tokens(text: str) -> Term:
    """Lower-cased letter/digit runs, the unit both FTS5 and PostgreSQL index."""
    return tuple(token.lower() for token in _TOKEN.findall(text))


def clean_text(text: str) -> str:
    """NUL and other control or format characters (U+202E, U+200B...) as spaces."""
    return "".join(" " if unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp"} else ch for ch in text)


def _date(name: str, value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise QueryError(f"{name}: needs a date like 2025-01-31, not {value[:20]!r}") from None


def parse_query(text: str) -> SearchQuery:
    if len(text) > MAX_QUERY_CHARS:
        raise QueryError(f"Query too long: {len(text):,} characters; the limit is {MAX_QUERY_CHARS}.")
    text = clean_text(text)
    terms: list[Term] = []
    excluded: list[Term] = []
    authors: list[Term] = []
    orgs: list[Term] = []
    since: dt.date | None = None
    until: dt.date | None = None
    has_code = False

    for match in _PIECE.finditer(text):
        negate, prefix, quoted, bare = match.groups()
        key = prefix.lower() if prefix else None
        value = quoted if quoted is not None else (bare or "")
        if key not in _FILTERS:
            # `foo:bar` that is not a filter is plain text, e.g. "title:x" or "12:30".
            value = f"{prefix}:{value}" if prefix else value
            key = None
        if key is None:
            term = tokens(value)
            if term:
                (excluded if negate else terms).append(term)
        elif key in {"author", "by"}:
            if term := tokens(value):
                authors.append(term)
        elif key == "org":
            if term := tokens(value):
                orgs.append(term)
        elif key == "since":
            since = _date("since", value.strip())
        elif key == "until":
            until = _date("until", value.strip())
        elif key == "has":
            if value.strip().lower() not in {"code", "github", "repo"}:
                raise QueryError("has: supports only has:code")
            has_code = True
    if len(terms) + len(excluded) + len(authors) + len(orgs) > MAX_TERMS:
        raise QueryError(f"Too many search terms; use at most {MAX_TERMS}.")
    if since and until and since > until:
        raise QueryError("since: is after until:, so nothing can match")
    return SearchQuery(
        terms=tuple(terms),
        excluded=tuple(excluded),
        authors=tuple(authors),
        orgs=tuple(orgs),
        since=since,
        until=until,
        has_code=has_code,
    )


def _fts_string(term: Term) -> str:
    # Tokens are letters and digits only, so wrapping them in quotes is always a valid
    # FTS5 string: no operator, column name or quote can come from the user.
    return '"' + " ".join(term) + '"'


FTS_TEXT_COLUMNS = "{title authors_text keywords_text abstract}"


def to_fts5(query: SearchQuery) -> str:
    """An FTS5 MATCH expression; call only when `query.has_text`."""
    parts = [f"{FTS_TEXT_COLUMNS} : {_fts_string(term)}" for term in query.terms]
    parts += [f"authors_text : {_fts_string(term)}" for term in query.authors]
    parts += [f"org_text : {_fts_string(term)}" for term in query.orgs]
    expression = " AND ".join(parts)
    if query.excluded:
        negated = " OR ".join(f"{FTS_TEXT_COLUMNS} : {_fts_string(t)}" for t in query.excluded)
        expression = f"({expression}) NOT ({negated})"
    return expression


def to_websearch(query: SearchQuery) -> str:
    """Text for PostgreSQL's websearch_to_tsquery (which never raises on any input)."""
    # Every term is quoted so that a word such as "or" is never read as an operator.
    words = [f'"{" ".join(term)}"' for term in query.terms]
    words += [f'-"{" ".join(term)}"' for term in query.excluded]
    return " ".join(words)
