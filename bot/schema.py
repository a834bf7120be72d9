"""What the command line needs to know about the database before it loads the database
libraries: where a SQLite URL's file is, the newest migration, and a SQLite file's revision."""

from __future__ import annotations

import sqlite3
from pathlib import Path

MIGRATIONS = Path(__file__).with_name("migrations")


def sqlite_path(url: str) -> str | None:
    """The file a `sqlite:///…` URL names, as SQLAlchemy reads it (`sqlite:///x.db` is x.db in
    the working directory, `sqlite:////tmp/x.db` is /tmp/x.db); None for an in-memory one."""
    _scheme, _, rest = url.partition(":")
    if not rest.startswith("///"):
        return None
    path = rest[3:].split("?", 1)[0]
    return None if path in {"", ":memory:"} else path


def head_revision() -> str:
    """The newest migration's revision: revision ids are the files' number prefixes (0007_…),
    so a database already there is checked without loading Alembic."""
    versions = (MIGRATIONS / "versions").glob("[0-9]*.py")
    return max(path.name.split("_", 1)[0] for path in versions)


def known_revisions() -> frozenset[str]:
    """Every revision this version of paperboy has a migration for."""
    return frozenset(path.name.split("_", 1)[0] for path in (MIGRATIONS / "versions").glob("[0-9]*.py"))


def sqlite_revision(path: str) -> str | None:
    """A SQLite file's schema revision, read with sqlite3 alone; None before the first migration.
    Opening a path that cannot be opened raises sqlite3's own error, plainly."""
    connection = sqlite3.connect(path)
    try:
        has_version = connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
        ).fetchone()
        row = None
        if has_version:
            row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    finally:
        connection.close()
    return str(row[0]) if row else None
