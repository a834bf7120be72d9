"""Accents are ignored on PostgreSQL as on SQLite; author: and org: match names as written.

- PostgreSQL: the three tsvectors index text through paperboy_fold_accents, which takes off
  the accents SQLite's FTS5 takes off (unicode61 remove_diacritics 2): "Café naïve résumé
  über José Ñúñez" is indexed as "Cafe naive resume uber Jose Nunez". Search terms go through
  the same function (bot.search). It decomposes text (Unicode NFD), drops the 25 combining
  marks FTS5 drops (_FTS5_MARKS) where they follow a Latin letter, and composes what is left
  again (NFC): of the 1,264 letters in Latin-1, Latin Extended-A/B and Latin Extended
  Additional, 3 then index unlike FTS5 (Ǡ, ǡ and ẛ, whose other marks FTS5 keeps), against 503
  before. Letters that have no accent to take off stay as they are, as on SQLite: ø, ł, đ, ß,
  æ, Greek ά and Cyrillic й are letters of their own ("lukasz" does not find "Łukasz").
  Text with nothing to decompose (ASCII, most Greek and CJK) is returned at once: a regular
  expression finds that in about 10 µs for an abstract; decomposing costs about 150 µs more.
  Built-in functions only (normalize, PostgreSQL 13+, in a UTF8 database), so no extension
  and no privilege beyond what migration 0008 needed. The `unaccent` extension was measured too
  (about 40 µs an abstract) but folds 746 letters FTS5 keeps (ø, ł, ß, æ, ά, ё…), and an
  extension lives in one schema of the database, shared by every schema that uses it.
  In a database whose encoding is not UTF8, normalize() cannot run: accents then stay as
  they were (a warning says so).
- author: and org: no longer stem on SQLite: "Adams" is not "Adam", "Williams" not
  "William", and `author:smiths` finds no Smith, as on PostgreSQL, whose author and
  organization tsvectors never stemmed ('simple'). FTS5 stems every column of an index, so
  the names get an index of their own, paper_names (authors_text and org_text, unicode61 with
  migration 0008's separators, no porter); triggers keep it in step with papers, inserts
  included (its rows are short: see the figures in the report of this change). The words of
  a free-text search still match authors by stem on both databases, as part of the text.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Callable

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

log = logging.getLogger(__name__)

# The combining marks FTS5's unicode61 drops with remove_diacritics 2 (found by indexing each
# code point with SQLite 3.40's FTS5): the accents of the Latin letters it folds.
_FTS5_MARKS = "300-304 306-30C 30F 311 31B 323-328 32D-32E 330-331"
# Decompositions, combining marks and compositions of Unicode happen in these planes.
_LAST_CODE_POINT = 0x2FFFF
_HANGUL_SYLLABLES = range(0xAC00, 0xD7A4)

# Migration 0008's separators (bot.query.tokens splits words there too), for the names index.
_SEPARATORS = (
    "1-2F 3A-40 5B-60 7B-A9 AB-B1 B4 B6-B8 BB BF D7 F7 2000-206F 2072-2073 207A-207E 208A-208F "
    "209D-2101 2103-2106 2108-2109 2114 2116-2118 211E-2123 2125 2127 2129 212E 213A-213B "
    "2140-2144 214A-214D 214F 218A-245F 249C-24E9 2500-2775 2794-2BFF 3000-3004 3008-3020 "
    "302A-3030 3036-3037 303D-303F 3297 3299 FE00-FE6F FF00-FF0F FF1A-FF20 FF3B-FF40 FF5B-FF65 "
    "1F000-1F0FF 1F10D-1FAFF 1FC00-1FFFD E0000-E007F"
)
_NAME_COLUMNS = ("authors_text", "org_text")


def _tsvectors(words: Callable[[str], str]) -> dict[str, str]:
    """The generated tsvector columns, with `words` the expression a text column is indexed by."""
    return {
        "search_tsv": (
            f"setweight(to_tsvector('paperboy_english', {words('title')}), 'A') || "
            f"setweight(to_tsvector('paperboy_english', {words('keywords_text')}), 'B') || "
            f"setweight(to_tsvector('paperboy_english', {words('authors_text')}), 'C') || "
            f"setweight(to_tsvector('paperboy_english', {words('abstract')}), 'D') || "
            "setweight(to_tsvector('simple', emoji_text), 'B')"
        ),
        "authors_tsv": f"to_tsvector('simple', {words('authors_text')})",
        "org_tsv": f"to_tsvector('simple', {words('org_text')})",
    }


# Migration 0008's columns, and the same with accents taken off.
_OLD_TSVECTORS = _tsvectors(lambda column: f"paperboy_search_words({column})")
_NEW_TSVECTORS = _tsvectors(lambda column: f"paperboy_fold_accents(paperboy_search_words({column}))")


def _code_points(ranges: str) -> list[tuple[int, int]]:
    pairs = (item.partition("-") for item in ranges.split())
    return [(int(low, 16), int(high or low, 16)) for low, _, high in pairs]


def _ranges(codes: set[int]) -> list[tuple[int, int]]:
    ranges: list[tuple[int, int]] = []
    for code in sorted(codes):
        if ranges and ranges[-1][1] == code - 1:
            ranges[-1] = (ranges[-1][0], code)
        else:
            ranges.append((code, code))
    return ranges


def _regex_class(ranges: list[tuple[int, int]]) -> str:
    """A PostgreSQL regex bracket expression of \\u and \\U escapes (as in migration 0008)."""

    def escape(code: int) -> str:
        return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"

    items = (escape(low) + ("" if low == high else "-" + escape(high)) for low, high in ranges)
    return "[" + "".join(items) + "]"


def _normalization_classes() -> tuple[str, str]:
    """Two regex classes, from Python's Unicode tables (14.0 in Python 3.11, as PostgreSQL 15's):

    - what decomposition or composition can change: characters with a canonical decomposition
      (Hangul syllables aside: decomposed and composed again, they are themselves), combining
      marks, and characters that compose with the one before them. Text with none of these is
      what paperboy_fold_accents would return anyway, so it is returned at once.
    - what composition can change in decomposed text: the last two kinds.
    """
    decomposable: set[int] = set()
    composing: set[int] = set()
    for code in range(0x80, _LAST_CODE_POINT + 1):
        char = chr(code)
        if unicodedata.combining(char):
            composing.add(code)
        decomposition = unicodedata.decomposition(char)
        if decomposition and not decomposition.startswith("<"):
            parts = decomposition.split()
            if code not in _HANGUL_SYLLABLES:
                decomposable.add(code)
            if len(parts) == 2 and int(parts[1], 16) >= 0x80:
                composing.add(int(parts[1], 16))
    return _regex_class(_ranges(decomposable | composing)), _regex_class(_ranges(composing))


def _fold_accents_function() -> str:
    changeable, composing = _normalization_classes()
    marks = _regex_class(_code_points(_FTS5_MARKS))
    return (
        "CREATE FUNCTION paperboy_fold_accents(value text) RETURNS text "
        "LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$\n"
        "DECLARE\n"
        "  folded text;\n"
        "BEGIN\n"
        f"  IF value !~ '{changeable}' THEN\n"
        "    RETURN value;\n"
        "  END IF;\n"
        f"  folded = regexp_replace(normalize(value, NFD), '([A-Za-z]){marks}+', '\\1', 'g');\n"
        f"  IF folded ~ '{composing}' THEN\n"
        "    folded = normalize(folded, NFC);\n"
        "  END IF;\n"
        "  RETURN folded;\n"
        "END\n"
        "$$"
    )


# Without UTF8, normalize() raises: accents are then left as they are.
_NO_FOLDING_FUNCTION = (
    "CREATE FUNCTION paperboy_fold_accents(value text) RETURNS text "
    "LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$ SELECT value $$"
)


def _fts5_names_tokenizer() -> str:
    # As migration 0008's paper_fts tokenizer, without porter; highest separator first (0008).
    codes = [code for low, high in _code_points(_SEPARATORS) for code in range(max(low, 0x80), high + 1)]
    return f"unicode61 remove_diacritics 2 separators ''{''.join(chr(code) for code in reversed(codes))}''"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        _create_names_index()
        return
    encoding = bind.exec_driver_sql("SELECT current_setting('server_encoding')").scalar()
    if encoding == "UTF8":
        op.execute(_fold_accents_function())
    else:
        log.warning(
            "The database's encoding is %s, not UTF8: PostgreSQL cannot take accents off its text, "
            "so searches on it will not ignore accents as they do on SQLite.",
            encoding,
        )
        op.execute(_NO_FOLDING_FUNCTION)
    _drop_tsvectors()
    _add_tsvectors(_NEW_TSVECTORS)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _drop_names_index()
        return
    _drop_tsvectors()
    op.execute("DROP FUNCTION paperboy_fold_accents(text)")
    _add_tsvectors(_OLD_TSVECTORS)


def _create_names_index() -> None:
    names = ", ".join(_NAME_COLUMNS)
    new = ", ".join(f"new.{column}" for column in _NAME_COLUMNS)
    old = ", ".join(f"old.{column}" for column in _NAME_COLUMNS)
    changed = " OR ".join(f"old.{column} IS NOT new.{column}" for column in _NAME_COLUMNS)
    op.execute(
        f"CREATE VIRTUAL TABLE paper_names USING fts5({names}, content='papers', "
        f"content_rowid='seq', tokenize='{_fts5_names_tokenizer()}')"
    )
    op.execute("INSERT INTO paper_names(paper_names) VALUES('rebuild')")
    op.execute(
        f"CREATE TRIGGER papers_names_insert AFTER INSERT ON papers BEGIN "
        f"INSERT INTO paper_names(rowid, {names}) VALUES (new.seq, {new}); END"
    )
    op.execute(
        f"CREATE TRIGGER papers_names_delete AFTER DELETE ON papers BEGIN "
        f"INSERT INTO paper_names(paper_names, rowid, {names}) VALUES ('delete', old.seq, {old}); END"
    )
    op.execute(
        f"CREATE TRIGGER papers_names_update AFTER UPDATE ON papers WHEN {changed} BEGIN "
        f"INSERT INTO paper_names(paper_names, rowid, {names}) VALUES ('delete', old.seq, {old}); "
        f"INSERT INTO paper_names(rowid, {names}) VALUES (new.seq, {new}); END"
    )


def _drop_names_index() -> None:
    for trigger in ("papers_names_insert", "papers_names_delete", "papers_names_update"):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute("DROP TABLE IF EXISTS paper_names")


def _drop_tsvectors() -> None:
    for column in ("search_tsv", "authors_tsv", "org_tsv"):
        op.execute(f"DROP INDEX IF EXISTS ix_papers_{column}")
        op.execute(f"ALTER TABLE papers DROP COLUMN {column}")


def _add_tsvectors(expressions: dict[str, str]) -> None:
    # One ALTER TABLE: the table is rewritten once for the three columns (as migration 0008).
    op.execute(
        "ALTER TABLE papers "
        + ", ".join(
            f"ADD COLUMN {column} tsvector GENERATED ALWAYS AS ({expression}) STORED"
            for column, expression in expressions.items()
        )
    )
    for column in expressions:
        op.execute(f"CREATE INDEX ix_papers_{column} ON papers USING gin ({column})")
