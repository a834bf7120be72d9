"""Emoji become searchable, and both databases split text into words where Python does.

- papers.emoji_text holds the emoji of title, keywords and abstract as index words
  (bot.query.emoji_text: 🦙 is "emoji129433"); neither FTS5 nor PostgreSQL indexes emoji.
  Stored papers are filled in here, new ones by the store.
- SQLite: the column joins the FTS5 index. An external-content FTS5 table cannot gain a column,
  so it is made again (with migration 0005's tuning) and rebuilt, with its update and delete
  triggers (migration 0004 left the inserts to the store). Its unicode61 tokenizer knows Unicode
  6.1 only and took later symbols for letters: "🦙LLaMA" was the one word "🦙llama", so `llama`
  missed it; the `separators` option now names the symbols of _SEPARATORS.
- PostgreSQL: search_tsv takes in emoji_text, and all three tsvectors index text whose
  _SEPARATORS are spaces (paperboy_search_words). PostgreSQL's own parser kept "GPT-3.5" as
  'gpt' and '-3.5', "MATH-500" as 'math' and '-500', and a URL as one word, so a query split
  into words as on SQLite ("gpt 3 5") found nothing; under lc_ctype C it also read emoji and
  curly quotes as letters ("🦙llama", "model’s"). Words are stemmed by the text search
  configuration paperboy_english: 'english' with Porter's stemmer, FTS5's, instead of
  Snowball's English one (Porter2). Of 74,466 distinct words (the sample papers and the
  source of installed Python packages), Porter2 stemmed 1,811 unlike FTS5 ("LLMs" stayed
  'llms' while "LLM" is 'llm'; "nearly" became 'near'), Porter's 68 (2-letter words, which
  FTS5 leaves alone, and FTS5's -bli/-logi rules). A generated column cannot be altered on
  PostgreSQL 15, so the three are dropped and added again, with their GIN indexes.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Connection

from bot.query import emoji_text

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_OLD_FTS_COLUMNS = ("title", "authors_text", "keywords_text", "abstract", "org_text")
_NEW_FTS_COLUMNS = (*_OLD_FTS_COLUMNS, "emoji_text")
# Migration 0005's FTS5 tuning, set again on the new index.
_HASHSIZE = 32 * 1024 * 1024
_AUTOMERGE = 16
_BACKFILL_CHUNK = 1_000

# Characters that are neither letters nor digits (Unicode 14 categories other than L*, N*, Co),
# from ASCII, Latin-1, punctuation and symbols, CJK punctuation, variation selectors, full-width
# punctuation, emoji and tags: where bot.query.tokens splits words, and now both databases too.
_SEPARATORS = (
    "1-2F 3A-40 5B-60 7B-A9 AB-B1 B4 B6-B8 BB BF D7 F7 2000-206F 2072-2073 207A-207E 208A-208F "
    "209D-2101 2103-2106 2108-2109 2114 2116-2118 211E-2123 2125 2127 2129 212E 213A-213B "
    "2140-2144 214A-214D 214F 218A-245F 249C-24E9 2500-2775 2794-2BFF 3000-3004 3008-3020 "
    "302A-3030 3036-3037 303D-303F 3297 3299 FE00-FE6F FF00-FF0F FF1A-FF20 FF3B-FF40 FF5B-FF65 "
    "1F000-1F0FF 1F10D-1FAFF 1FC00-1FFFD E0000-E007F"
)


def _code_points(ranges: str) -> list[tuple[int, int]]:
    pairs = (item.partition("-") for item in ranges.split())
    return [(int(low, 16), int(high or low, 16)) for low, _, high in pairs]


def _fts5_tokenizer(*, separators: bool) -> str:
    tokenizer = "porter unicode61 remove_diacritics 2"
    if separators:
        # ASCII punctuation already separates words in unicode61, so no quote is needed here.
        # Highest first: FTS5 inserts each into a sorted array, scanning from the start, so this
        # order makes opening the index on a connection cost 0.7 ms more instead of 4 ms.
        codes = [code for low, high in _code_points(_SEPARATORS) for code in range(max(low, 0x80), high + 1)]
        tokenizer += f" separators ''{''.join(chr(code) for code in reversed(codes))}''"
    return tokenizer


def _regex_class(ranges: str) -> str:
    """A PostgreSQL regex bracket expression, every character a \\u or \\U escape (so no quote,
    colon or bracket of the SQL around it appears in it)."""

    def escape(code: int) -> str:
        return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"

    return (
        "["
        + "".join(
            escape(low) + ("" if low == high else "-" + escape(high)) for low, high in _code_points(ranges)
        )
        + "]"
    )


# The stopwords stay PostgreSQL's english list, which bot.query.STOPWORDS copies.
_TEXT_SEARCH_CONFIGURATION = (
    "CREATE TEXT SEARCH DICTIONARY paperboy_porter "
    "(TEMPLATE = snowball, Language = porter, StopWords = english)",
    "CREATE TEXT SEARCH CONFIGURATION paperboy_english (COPY = pg_catalog.english)",
    "ALTER TEXT SEARCH CONFIGURATION paperboy_english ALTER MAPPING FOR asciiword, word, numword, "
    "asciihword, hword, hword_asciipart, hword_part, hword_numpart, numhword WITH paperboy_porter",
)

_SEARCH_WORDS_FUNCTION = (
    "CREATE FUNCTION paperboy_search_words(value text) RETURNS text "
    "LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE "
    f"AS $$ SELECT regexp_replace(value, '{_regex_class(_SEPARATORS)}+', ' ', 'g') $$"
)

_OLD_TSVECTORS = {
    "search_tsv": (
        "setweight(to_tsvector('english', title), 'A') || "
        "setweight(to_tsvector('english', keywords_text), 'B') || "
        "setweight(to_tsvector('english', authors_text), 'C') || "
        "setweight(to_tsvector('english', abstract), 'D')"
    ),
    "authors_tsv": "to_tsvector('simple', authors_text)",
    "org_tsv": "to_tsvector('simple', org_text)",
}
_NEW_TSVECTORS = {
    "search_tsv": (
        "setweight(to_tsvector('paperboy_english', paperboy_search_words(title)), 'A') || "
        "setweight(to_tsvector('paperboy_english', paperboy_search_words(keywords_text)), 'B') || "
        "setweight(to_tsvector('paperboy_english', paperboy_search_words(authors_text)), 'C') || "
        "setweight(to_tsvector('paperboy_english', paperboy_search_words(abstract)), 'D') || "
        "setweight(to_tsvector('simple', emoji_text), 'B')"
    ),
    "authors_tsv": "to_tsvector('simple', paperboy_search_words(authors_text))",
    "org_tsv": "to_tsvector('simple', paperboy_search_words(org_text))",
}


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        _drop_sqlite_index()
        op.add_column("papers", sa.Column("emoji_text", sa.Text, nullable=False, server_default=""))
        _fill_emoji_text(bind)
        _create_sqlite_index(_NEW_FTS_COLUMNS, separators=True)
    else:
        _drop_tsvectors()
        op.add_column("papers", sa.Column("emoji_text", sa.Text, nullable=False, server_default=""))
        _fill_emoji_text(bind)
        op.execute(_SEARCH_WORDS_FUNCTION)
        for statement in _TEXT_SEARCH_CONFIGURATION:
            op.execute(statement)
        _add_tsvectors(_NEW_TSVECTORS)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _drop_sqlite_index()
        # Native DROP COLUMN (SQLite 3.35+): a batch copy of the table would lose nothing here but
        # rewrite every paper.
        op.execute("ALTER TABLE papers DROP COLUMN emoji_text")
        _create_sqlite_index(_OLD_FTS_COLUMNS, separators=False)
    else:
        _drop_tsvectors()
        op.execute("DROP FUNCTION paperboy_search_words(text)")
        op.execute("DROP TEXT SEARCH CONFIGURATION paperboy_english")
        op.execute("DROP TEXT SEARCH DICTIONARY paperboy_porter")
        op.drop_column("papers", "emoji_text")
        _add_tsvectors(_OLD_TSVECTORS)


def _fill_emoji_text(bind: Connection) -> None:
    """emoji_text for the stored papers, in chunks; only text with a non-ASCII character can
    hold an emoji, and byte and character lengths tell them apart in SQL."""
    text = "title || keywords_text || abstract"
    if bind.dialect.name == "sqlite":
        non_ascii = f"length(CAST({text} AS BLOB)) <> length({text})"
    else:
        non_ascii = f"octet_length({text}) <> char_length({text})"
    select = sa.text(
        f"SELECT seq, title, keywords_text, abstract FROM papers WHERE seq > :after AND {non_ascii} "
        "ORDER BY seq LIMIT :chunk"
    )
    update = sa.text("UPDATE papers SET emoji_text = :emoji WHERE seq = :seq")
    after = -1
    while rows := bind.execute(select, {"after": after, "chunk": _BACKFILL_CHUNK}).all():
        # keywords_text is the keywords joined by ", ": the same emoji as the store finds in them.
        found = [
            {"seq": seq, "emoji": emoji_text(title, keywords, abstract)}
            for seq, title, keywords, abstract in rows
        ]
        if changed := [row for row in found if row["emoji"]]:
            bind.execute(update, changed)
        after = rows[-1][0]


def _drop_sqlite_index() -> None:
    for trigger in ("papers_fts_delete", "papers_fts_update"):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute("DROP TABLE IF EXISTS paper_fts")


def _create_sqlite_index(columns: tuple[str, ...], *, separators: bool) -> None:
    names = ", ".join(columns)
    new = ", ".join(f"new.{column}" for column in columns)
    old = ", ".join(f"old.{column}" for column in columns)
    changed = " OR ".join(f"old.{column} IS NOT new.{column}" for column in columns)
    # As migration 0001 made it: external content, row id papers.seq (arXiv order).
    op.execute(
        f"CREATE VIRTUAL TABLE paper_fts USING fts5({names}, content='papers', "
        f"content_rowid='seq', tokenize='{_fts5_tokenizer(separators=separators)}')"
    )
    op.execute(f"INSERT INTO paper_fts(paper_fts, rank) VALUES('hashsize', {_HASHSIZE})")
    op.execute(f"INSERT INTO paper_fts(paper_fts, rank) VALUES('automerge', {_AUTOMERGE})")
    op.execute("INSERT INTO paper_fts(paper_fts) VALUES('rebuild')")
    op.execute(
        f"CREATE TRIGGER papers_fts_delete AFTER DELETE ON papers BEGIN "
        f"INSERT INTO paper_fts(paper_fts, rowid, {names}) VALUES ('delete', old.seq, {old}); END"
    )
    op.execute(
        f"CREATE TRIGGER papers_fts_update AFTER UPDATE ON papers WHEN {changed} BEGIN "
        f"INSERT INTO paper_fts(paper_fts, rowid, {names}) VALUES ('delete', old.seq, {old}); "
        f"INSERT INTO paper_fts(rowid, {names}) VALUES (new.seq, {new}); END"
    )


def _drop_tsvectors() -> None:
    for column in ("search_tsv", "authors_tsv", "org_tsv"):
        op.execute(f"DROP INDEX IF EXISTS ix_papers_{column}")
        op.execute(f"ALTER TABLE papers DROP COLUMN {column}")


def _add_tsvectors(expressions: dict[str, str]) -> None:
    # One ALTER TABLE: the table is rewritten once for the three columns.
    op.execute(
        "ALTER TABLE papers "
        + ", ".join(
            f"ADD COLUMN {column} tsvector GENERATED ALWAYS AS ({expression}) STORED"
            for column, expression in expressions.items()
        )
    )
    for column in expressions:
        op.execute(f"CREATE INDEX ix_papers_{column} ON papers USING gin ({column})")
