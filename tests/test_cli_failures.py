"""Every failure a user meets on the command line is one or two clear lines, never a traceback:
bad settings and `.env` files (exit 2), a database that cannot be opened (exit 2) or reached
(exit 1), from every command."""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import sys
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.db import create_engine, upgrade
from tests.cli_runner import Result, run_paperboy
from tests.conftest import POSTGRES_URL
from tests.paperboy_process import PROJECT_ROOT, spawn

COMMANDS = [
    ("search", "reasoning"),
    ("fetch", "--date", "2025-05-13"),
    ("show", "2505.07787"),
    ("db", "upgrade"),
    ("channels",),
    ("digest", "post", "--platform", "console", "--channel", "console"),
    ("run",),
]

Cli = Callable[..., Awaitable[Result]]


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """`paperboy …` in this process; `run`, or `process=True`, as a real child process."""

    async def run(*args: str, env: dict[str, str] | None = None, process: bool = False) -> Result:
        overrides = {"PAPERBOY_HF_BASE_URL": "http://127.0.0.1:9", **(env or {})}
        if not process and args[0] != "run":
            return await run_paperboy(*args, env=overrides)
        environment = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("PAPERBOY_", "SLACK_", "DISCORD_"))
        }
        child = await spawn(*args, env=environment | overrides, cwd=tmp_path, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(child.communicate(), timeout=60)
        assert child.returncode is not None
        return Result(child.returncode, out.decode(), err.decode())

    return run


def one_clear_line(result: Result, *needles: str) -> None:
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert "Traceback" not in result.err + result.out, result.err
    assert 1 <= len(lines) <= 2, result.err
    assert all(needle in result.err for needle in needles), result.err


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c[:2]))
async def test_a_sqlite_file_that_cannot_be_opened_is_one_line_from_every_command(
    cli: Cli, command: tuple[str, ...]
) -> None:
    result = await cli(*command, env={"PAPERBOY_DATABASE_URL": "sqlite:////no/such/folder/paperboy.db"})
    assert result.code == 2
    one_clear_line(result, "/no/such/folder/paperboy.db", "PAPERBOY_DATABASE_URL")


@pytest.mark.slow  # a paperboy process
async def test_a_sqlite_file_that_cannot_be_opened_leaves_no_thread_behind(cli: Cli) -> None:
    # aiosqlite stopped its worker thread after the error was raised; at exit the thread called
    # into the closed event loop and printed a traceback under the one line (a process shows it).
    result = await cli(
        "db", "upgrade", env={"PAPERBOY_DATABASE_URL": "sqlite:////no/such/folder/paperboy.db"}, process=True
    )
    assert result.code == 2
    one_clear_line(result, "/no/such/folder/paperboy.db", "PAPERBOY_DATABASE_URL")


async def test_postgresql_down_is_one_line_and_exit_1(cli: Cli) -> None:
    # Port 9 (discard) has no PostgreSQL on any machine this runs on: the connection is refused.
    result = await cli(
        "search", "x", env={"PAPERBOY_DATABASE_URL": "postgresql://paperboy:s3cret@127.0.0.1:9/db"}
    )
    assert result.code == 1
    one_clear_line(result, "PostgreSQL at 127.0.0.1:9 is not answering", "PAPERBOY_DATABASE_URL")
    assert "s3cret" not in result.err


@pytest.mark.skipif(not POSTGRES_URL, reason="needs a PostgreSQL server (PAPERBOY_TEST_POSTGRES_URL)")
async def test_a_postgresql_database_that_does_not_exist_is_one_line_and_exit_2(cli: Cli) -> None:
    assert POSTGRES_URL
    missing = make_url(POSTGRES_URL).set(database="paperboy_no_such_db").render_as_string(hide_password=False)
    for command in (("run",), ("db", "upgrade")):
        result = await cli(*command, env={"PAPERBOY_DATABASE_URL": missing})
        assert result.code == 2
        one_clear_line(result, 'no database "paperboy_no_such_db"', "createdb paperboy_no_such_db")


async def test_a_utf16_env_file_names_the_file_and_the_fix(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("PAPERBOY_REFRESH_MINUTES=15\n", encoding="utf-16")
    result = await cli("channels")
    assert result.code == 2
    one_clear_line(result, ".env", "UTF-16", "save it as UTF-8")


async def test_an_env_line_that_cannot_be_read_names_its_line_but_never_its_value(
    cli: Cli, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text(
        'PAPERBOY_REFRESH_MINUTES=15\nSLACK_BOT_TOKEN="xoxb-1234-SECRET\n', encoding="utf-8"
    )
    result = await cli("search", "x")
    assert result.code == 2
    one_clear_line(result, ".env line 2 cannot be read (the line of SLACK_BOT_TOKEN)", "NAME=value")
    assert "xoxb" not in result.err + result.out  # a token in a broken line stays secret


async def test_a_bad_database_url_is_shown_without_its_password(cli: Cli) -> None:
    result = await cli("channels", env={"PAPERBOY_DATABASE_URL": "mysql://paperboy:hunter2@db/papers"})
    assert result.code == 2
    one_clear_line(result, "PAPERBOY_DATABASE_URL: must be a sqlite:/// or postgresql:// URL")
    assert "mysql://paperboy:***@db/papers" in result.err and "hunter2" not in result.err


async def test_an_env_file_with_a_byte_order_mark_is_read(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("PAPERBOY_DATABASE_URL=sqlite:///bom.db\n", encoding="utf-8-sig")
    result = await cli("db", "upgrade")
    assert result.code == 0, result.err
    assert (tmp_path / "bom.db").exists()


async def test_unknown_paperboy_names_get_a_warning_naming_the_closest(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("PAPERBOY_REFRESH_MINUTS=15\n", encoding="utf-8")
    result = await cli(
        "channels",
        env={"PAPERBOY_DATABSE_URL": "sqlite:///x.db", "PAPERBOY_HF_TOKEN": "t", "PAPERBOY_FOO": "1"},
    )
    assert result.code == 0, result.err
    assert (
        "unknown setting PAPERBOY_DATABSE_URL in the environment; did you mean PAPERBOY_DATABASE_URL?"
        in result.err
    )
    assert (
        "unknown setting PAPERBOY_REFRESH_MINUTS in .env; did you mean PAPERBOY_REFRESH_MINUTES?"
        in result.err
    )
    assert "unknown setting PAPERBOY_HF_TOKEN in the environment; did you mean HF_TOKEN?" in result.err
    assert "unknown setting PAPERBOY_FOO in the environment; .env.example lists every setting" in result.err


@pytest.mark.parametrize(
    ("votes", "downs", "needle"),
    [
        (" , ", "👎", "PAPERBOY_VOTE_EMOJI: needs at least one emoji"),
        ("👍,🔥", "🔥", "both list 🔥"),
        ("👍", "👍🏽", "both list 👍"),  # a skin tone is the same reaction
    ],
)
async def test_vote_emoji_must_be_set_and_differ_from_down_emoji(
    cli: Cli, votes: str, downs: str, needle: str
) -> None:
    result = await cli("channels", env={"PAPERBOY_VOTE_EMOJI": votes, "PAPERBOY_DOWN_EMOJI": downs})
    assert result.code == 2
    one_clear_line(result, needle)


def test_env_example_documents_every_setting() -> None:
    from bot.config import setting_names

    example = (Path(__file__).resolve().parents[1] / ".env.example").read_text(encoding="utf-8")
    documented = {
        line.split("=", 1)[0] for line in example.splitlines() if "=" in line and not line.startswith("#")
    }
    assert documented == setting_names()


HEAVY = ("sqlalchemy", "alembic", "discord", "slack_bolt", "slack_sdk", "aiohttp", "httpx", "apscheduler")
LOADED = f"""
import sys
from adapters.cli import main
try:
    main()
except SystemExit:
    pass
print(sorted({{name.split(".")[0] for name in sys.modules}} & set({HEAVY!r})))
"""


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--help"], []),
        (["search", "reasoning"], []),  # a SQLite file at the newest revision: sqlite3 alone
        (["show", "2505.07787"], ["apscheduler", "httpx", "sqlalchemy"]),  # no platform, no Alembic
    ],
)
@pytest.mark.slow  # paperboy processes
async def test_commands_load_only_the_libraries_they_use(
    tmp_path: Path, args: list[str], expected: list[str]
) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PAPERBOY_")}
    env |= {"PAPERBOY_HF_BASE_URL": "http://127.0.0.1:9", "PYTHONPATH": str(PROJECT_ROOT)}
    upgraded = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "adapters.cli", "db", "upgrade", cwd=tmp_path, env=env
    )
    assert await upgraded.wait() == 0
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        LOADED,
        *args,
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    *answer, loaded = out.decode().strip().splitlines()
    assert answer and ("Usage:" not in "\n".join(answer)) == (args != ["--help"])  # the command ran
    assert loaded == repr(expected)


async def test_a_database_upgraded_by_a_newer_paperboy_is_one_line(cli: Cli, empty_database_url: str) -> None:
    # A database of its own: the shared migrated one must stay at this paperboy's revision.
    database_url = empty_database_url
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    finally:
        await engine.dispose()
    result = await cli("channels", env={"PAPERBOY_DATABASE_URL": database_url})
    assert result.code == 2
    one_clear_line(result, "the database is at revision 9999, newer than this paperboy knows")


@pytest.mark.slow  # waits out SQLite's busy timeout (5 s)
async def test_a_locked_sqlite_file_is_an_unavailable_service_not_a_bad_setting(
    cli: Cli, tmp_path: Path
) -> None:
    path = tmp_path / "busy.db"
    holder = sqlite3.connect(path)
    try:
        holder.execute("CREATE TABLE t (x)")
        holder.commit()
        holder.execute("BEGIN EXCLUSIVE")  # another program writing, for as long as it likes
        result = await cli("channels", env={"PAPERBOY_DATABASE_URL": f"sqlite:///{path}"})
    finally:
        holder.close()
    assert result.code == 1
    one_clear_line(result, "busy.db is locked by another program", "try again")


@pytest.mark.skipif(not POSTGRES_URL, reason="needs a PostgreSQL server (PAPERBOY_TEST_POSTGRES_URL)")
async def test_a_postgresql_user_who_may_not_create_tables_is_one_line(cli: Cli) -> None:
    assert POSTGRES_URL
    name = f"paperboy_nocreate_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f"CREATE ROLE {name} LOGIN"))
            await conn.execute(text(f"CREATE DATABASE {name}"))  # owned by the admin, not the role
        url = make_url(POSTGRES_URL).set(username=name, database=name).render_as_string(hide_password=False)
        result = await cli("channels", env={"PAPERBOY_DATABASE_URL": url})
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f"DROP DATABASE IF EXISTS {name}"))
            await conn.execute(text(f"DROP ROLE IF EXISTS {name}"))
        await admin.dispose()
    assert result.code == 2
    one_clear_line(result, f"PostgreSQL user '{name}' may not create paperboy's tables", "GRANT CREATE")


@pytest.mark.slow  # the connect timeout, 10 s
async def test_a_postgresql_that_never_answers_is_given_up_after_the_connect_timeout(cli: Cli) -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def accept_and_say_nothing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)
        await reader.read()  # until the client gives up

    server = await asyncio.start_server(accept_and_say_nothing, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        result = await asyncio.wait_for(
            cli("channels", env={"PAPERBOY_DATABASE_URL": f"postgresql://paperboy@127.0.0.1:{port}/db"}), 60
        )
    finally:
        server.close()
        # Server.close leaves accepted connections open (before Python 3.13): a handler still
        # reading when the test's loop closes is cancelled, and its socket is only garbage
        # collected later, as ResourceWarnings that fail whichever test is running then.
        for writer in accepted:
            writer.close()
        await asyncio.gather(*(writer.wait_closed() for writer in accepted), return_exceptions=True)
    assert result.code == 1
    one_clear_line(result, f"PostgreSQL at 127.0.0.1:{port} is not answering")


@pytest.mark.slow  # a paperboy process
async def test_slacks_http_port_taken_is_one_line_not_a_traceback(cli: Cli) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        port = taken.getsockname()[1]
        result = await cli(
            "run",
            env={
                "SLACK_BOT_TOKEN": "xoxb-test",
                "SLACK_SIGNING_SECRET": "secret",
                "SLACK_API_BASE_URL": "http://127.0.0.1:9/api/",
                "PAPERBOY_HTTP_HOST": "127.0.0.1",
                "PAPERBOY_HTTP_PORT": str(port),
            },
        )
    finally:
        taken.close()
    assert result.code == 2
    one_clear_line(result, f"paperboy's HTTP server cannot listen on 127.0.0.1:{port}", "PAPERBOY_HTTP_PORT")


async def test_discord_out_of_reach_is_an_unavailable_service(cli: Cli) -> None:
    result = await cli(
        "discord",
        "invite-url",
        env={"DISCORD_TOKEN": "token", "DISCORD_API_BASE_URL": "http://127.0.0.1:9/api/v10"},
    )
    assert result.code == 1
    one_clear_line(result, "Discord could not be reached")
