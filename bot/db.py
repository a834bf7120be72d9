"""Database engines for SQLite (embedded default) and PostgreSQL (shared by several instances)."""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.schema import MIGRATIONS, head_revision, known_revisions

if TYPE_CHECKING:
    from alembic.config import Config

SQLITE_BUSY_TIMEOUT_MS = 10_000


def async_url(url: str) -> str:
    """Map a user's database URL to the async driver paperboy uses for it."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    if backend in {"postgresql", "postgres"}:
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    raise ValueError(f"unsupported database backend {backend!r}")


def _sqlite_pragmas(dbapi_connection: Any, _record: object) -> None:
    # WAL lets `paperboy digest post` and the CLI write while `paperboy run` holds the file.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


# A PostgreSQL that takes the connection but never answers (a stuck server, a firewall that
# drops packets) would hold every command without a word: connecting gives up after this.
POSTGRES_CONNECT_TIMEOUT_SECONDS = 10
# Connections kept open per process. SQLAlchemy's default (5, and 10 more closed again after
# use) made every burst of commands open and close connections: each costs PostgreSQL a new
# backend whose first search plans and runs cold (2.8 and 15 ms against 0.25 and 9 ms warm).
POSTGRES_POOL_SIZE = 20
POSTGRES_POOL_OVERFLOW = 10


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    if make_url(url).get_backend_name() in {"postgresql", "postgres"}:
        kwargs.setdefault("connect_args", {}).setdefault("connect_timeout", POSTGRES_CONNECT_TIMEOUT_SECONDS)
        kwargs.setdefault("pool_size", POSTGRES_POOL_SIZE)
        kwargs.setdefault("max_overflow", POSTGRES_POOL_OVERFLOW)
    engine = create_async_engine(async_url(url), **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _upgrade(connection: Connection, revision: str) -> None:
    from alembic import command

    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


# Any constant: it names the lock that serialises paperboy's migrations on PostgreSQL.
MIGRATION_LOCK = 7_272_020_251_125


async def upgrade(engine: AsyncEngine, revision: str = "head") -> str | None:
    """Apply migrations up to `revision` over the engine's own async driver; returns the
    revision the database was at before (None: it had no schema yet).

    Several instances starting at once against one PostgreSQL take turns (an advisory lock held
    until the migration commits); the first applies the migrations, the others find them done.
    """
    if engine.dialect.name == "sqlite":
        await asyncio.to_thread(_probe_sqlite, engine.url.database or "")
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        before = await connection.run_sync(_current)
        if revision == "head" and before == head_revision():
            return before
        if before is not None and before not in known_revisions():
            raise DatabaseTooNew(before)
        await connection.run_sync(_upgrade, revision)
    return before


def _probe_sqlite(path: str) -> None:
    """Open the file once with sqlite3 itself: a path that cannot be opened fails here, plainly.

    Through aiosqlite, a failed open stops its worker thread after the error has already been
    raised; when the command then exits, that thread calls back into a closed event loop and
    prints a traceback under the one clear line.
    """
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA schema_version")  # "file is not a database" shows here
    finally:
        connection.close()


def _current(connection: Connection) -> str | None:
    """The database's revision, read directly (loading Alembic costs more than the query)."""
    if not connection.dialect.has_table(connection, "alembic_version"):
        return None
    value = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    return str(value) if value is not None else None


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as connection:
        return await connection.run_sync(_current)


class DatabaseTooNew(RuntimeError):
    """The database was migrated by a newer paperboy (this one was rolled back)."""

    def __init__(self, revision: str) -> None:
        super().__init__(revision)
        self.revision = revision


@dataclass(frozen=True, slots=True)
class DatabaseProblem:
    """Why the database cannot be used, for one line on the terminal."""

    message: str
    bad_setting: bool  # True: PAPERBOY_DATABASE_URL must change; False: the server is down


def database_problem(exc: BaseException, url: str) -> DatabaseProblem | None:
    """What a failure to reach or open the database means for the person running paperboy, or
    None when `exc` is not such a failure. Never shows the URL's password."""
    parsed = make_url(url)
    if isinstance(exc, DatabaseTooNew):
        return DatabaseProblem(
            f"the database is at revision {exc.revision}, newer than this paperboy knows "
            f"({head_revision()}): run the paperboy version that upgraded it, or restore a backup.",
            bad_setting=True,
        )
    original = exc.orig if isinstance(exc, DBAPIError) else exc
    # The DB-API class a driver's error derives from (psycopg's ConnectionTimeout is an
    # OperationalError, its InsufficientPrivilege a ProgrammingError).
    kinds = {cls.__name__ for cls in type(original).__mro__}
    module = type(original).__module__.split(".")[0]
    detail = " ".join(str(original).split())
    if module == "psycopg" and getattr(original, "sqlstate", None) == "42501":
        return DatabaseProblem(
            f"PostgreSQL user {parsed.username!r} may not create paperboy's tables in database "
            f"{parsed.database!r} ({_first_clause(detail)}). Start paperboy once as the database's "
            f"owner, or GRANT CREATE ON SCHEMA public TO {parsed.username}.",
            bad_setting=True,
        )
    # sqlite3's and psycopg's OperationalError (and SQLite's "file is not a database", a plain
    # DatabaseError): the connection could not be made or the file could not be used.
    connection_failure = "OperationalError" in kinds or (
        module == "sqlite3" and type(original).__name__ == "DatabaseError"
    )
    if module not in {"sqlite3", "psycopg"} or not connection_failure:
        return None
    if module == "sqlite3" and "locked" in detail:
        return DatabaseProblem(
            f"the SQLite database {parsed.database} is locked by another program ({detail}); "
            "try again when it is done.",
            bad_setting=False,
        )
    if module == "sqlite3":
        return DatabaseProblem(
            f"cannot open the SQLite database {parsed.database} ({detail}). Check PAPERBOY_DATABASE_URL: "
            "its folder must exist and be writable, and the file must be a paperboy database.",
            bad_setting=True,
        )
    where = f"{parsed.host or 'localhost'}:{parsed.port or 5432}"
    # A refused connection carries no SQLSTATE in psycopg (the server's FATAL is in the text).
    state = getattr(original, "sqlstate", None)
    if state == "3D000" or f'database "{parsed.database}" does not exist' in detail:
        return DatabaseProblem(
            f'PostgreSQL at {where} has no database "{parsed.database}". Create it (createdb '
            f"{parsed.database}) or fix PAPERBOY_DATABASE_URL.",
            bad_setting=True,
        )
    if state in {"28000", "28P01"} or "authentication failed" in detail or "role " in detail:
        return DatabaseProblem(
            f"PostgreSQL at {where} refused user {parsed.username!r} ({_first_clause(detail)}). "
            "Fix the user or password in PAPERBOY_DATABASE_URL.",
            bad_setting=True,
        )
    if "resolve host" in detail or "translate host name" in detail:
        return DatabaseProblem(
            f"PostgreSQL host {parsed.host!r} is unknown. Fix PAPERBOY_DATABASE_URL.", bad_setting=True
        )
    if state is None:
        return DatabaseProblem(
            f"PostgreSQL at {where} is not answering ({_first_clause(detail)}). Start it, or point "
            "PAPERBOY_DATABASE_URL at a running server.",
            bad_setting=False,
        )
    return None


def _first_clause(detail: str) -> str:
    """psycopg's message without the repeated 'connection to server at … failed:' prefixes."""
    return detail.rsplit("failed: ", 1)[-1][:160]
