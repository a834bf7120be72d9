"""The `paperboy` command line: fetch, search, show, db upgrade, channels, digest post and run.

Platform libraries (discord.py, Bolt, aiohttp) and even the core are imported inside the commands
that use them: `paperboy --help` and `paperboy search` would otherwise spend a second importing
what they never use. Every failure a user can cause or meet (bad settings, a database that
cannot be opened or reached, Hugging Face down, a platform refusing its credentials) is one
line on stderr: exit 2 for something to fix in the settings or the command, 1 for a service
that is unavailable or a thing not found.
"""

from __future__ import annotations

import datetime as dt
import faulthandler
import json
import logging
import shutil
import signal
import sys
import threading
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, cast

import typer

if TYPE_CHECKING:
    from rich.console import Console as RichConsole
    from rich.progress import Progress

    from adapters.app import Core
    from adapters.discord.adapter import DiscordAdapter
    from bot.config import Settings
    from bot.types import FetchReport, Paper, SearchResults

EXIT_NOT_FOUND = 1
EXIT_USAGE = 2
EXIT_SIGTERM = 143  # 128 + SIGTERM, as a shell reports a process it stopped

# Plain help and errors (rich_markup_mode=None): rendering them with Rich costs more to import
# than the rest of `paperboy --help` together.
app = typer.Typer(
    help="paperboy: Hugging Face Daily Papers in your chat.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(db_app, name="db")
digest_app = typer.Typer(help="Digests.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(digest_app, name="digest")
discord_app = typer.Typer(help="Discord setup.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(discord_app, name="discord")

T = TypeVar("T")


def _settings(*, server: bool = False) -> Settings:
    from adapters.app import configure_logging, wanted_adapters
    from bot.config import SettingsError, load_settings

    try:
        settings, warnings = load_settings()
    except SettingsError as exc:
        raise _fail(f"paperboy: bad settings: {exc}", EXIT_USAGE) from None
    for warning in warnings:
        typer.echo(f"paperboy: warning: {warning}", err=True)
    # The console is the interface, so it logs warnings only; a server logs what it does.
    quiet = not server or wanted_adapters(settings) == ["console"]
    configure_logging(settings.log_level or ("WARNING" if quiet else "INFO"))
    return settings


def _run(work: Callable[[Core], Awaitable[T]], settings: Settings | None = None) -> T:
    from adapters.app import build_core

    settings = settings or _settings()

    async def main() -> T:
        async with build_core(settings) as core:
            return await work(core)

    return _run_async(main(), settings)


def _run_async(main: Coroutine[Any, Any, T], settings: Settings) -> T:
    """asyncio.run, with what stops a command said in one line instead of a traceback."""
    import asyncio

    try:
        return asyncio.run(_stopped_by_sigterm(main))
    except typer.Exit:
        raise
    except asyncio.CancelledError:
        raise _fail("paperboy: stopped (SIGTERM).", EXIT_SIGTERM) from None
    except Exception as exc:
        from bot.db import database_problem

        if (problem := database_problem(exc, settings.database_url)) is not None:
            raise _fail(f"paperboy: {problem.message}", EXIT_USAGE if problem.bad_setting else 1) from None
        if type(exc).__name__ in {
            "DiscordLoginError",
            "SlackSetupError",
            "HttpSetupError",
        }:  # settings to fix
            raise _fail(f"paperboy: {exc}.", EXIT_USAGE) from None
        if type(exc).__name__ == "DiscordUnreachable":  # a service unavailable for now
            raise _fail(f"paperboy: {exc}.", EXIT_NOT_FOUND) from None
        raise


async def _stopped_by_sigterm(main: Coroutine[Any, Any, T]) -> T:
    """`main`, cancelled by SIGTERM instead of killed: cancelled, a digest gives back what it
    claimed, so a rerun need not wait for the lease. (`run` sets its own handler inside.)"""
    import asyncio

    task = asyncio.current_task()
    in_main_thread = threading.current_thread() is threading.main_thread()  # not in tests' runner
    if task is not None and in_main_thread:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    return await main


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


def _parse_day(value: str | None, option: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise _fail(f"{option} needs a date like 2025-11-21, not {value!r}", EXIT_USAGE) from None


def _summary(report: FetchReport) -> str:
    empty = f", {len(report.empty_days)} without papers" if report.empty_days else ""
    skipped = f", {report.skipped_items} unreadable items skipped" if report.skipped_items else ""
    return (
        f"Fetched {_count(report.days, 'day')}: {_count(report.papers, 'listing')}, "
        f"{report.new_papers} new paper{'s' if report.new_papers != 1 else ''}{empty}{skipped}."
    )


def _progress_bar(console: RichConsole) -> Progress:
    """A bar on stderr that goes away when done: what it counts, how many of how many, time left."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn())
    return Progress(*columns, TimeRemainingColumn(), console=console, transient=True)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'s' if number != 1 else ''}"


@app.command()
def fetch(
    date: Annotated[str | None, typer.Option("--date", help="One UTC day, YYYY-MM-DD.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="Backfill from this day.")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Backfill up to this day.")] = None,
) -> None:
    """Fetch Daily Papers lists: yesterday's and today's by default."""
    from rich.console import Console

    from bot.ingest import DAILY_PAPERS_START, days_in_range
    from bot.source import FutureDate, HFSource, HFUnavailable

    day, start, end = _parse_day(date, "--date"), _parse_day(since, "--since"), _parse_day(until, "--until")
    if day and (start or end):
        raise _fail("use either --date or --since/--until, not both", EXIT_USAGE)
    if end and not start:
        raise _fail("--until needs --since", EXIT_USAGE)
    console = Console(stderr=True)

    async def work(core: Core) -> FetchReport:
        try:
            return await fetch_into(core)
        finally:  # what was stored (all of it, or the days before an outage) is searchable by meaning
            if core.semantic is not None:
                await core.semantic.embed_missing()

    async def fetch_into(core: Core) -> FetchReport:
        assert isinstance(core.source, HFSource)
        hf = core.source
        today = core.ingestor.today()
        if day:
            if day > today:
                raise _fail(f"{day} is in the future; today is {today} (UTC).", EXIT_USAGE)
            days = [day]
        elif start:
            first, last = core.ingestor.clamp(start, end)
            if start < DAILY_PAPERS_START:
                console.print(f"Daily Papers began in May 2023; starting at {first}.")
            if first > last:
                raise _fail(f"nothing to fetch between {start} and {end or today}", EXIT_USAGE)
            days = days_in_range(first, last)
        else:
            days = [today - dt.timedelta(days=1), today]
        if not console.is_terminal or len(days) < 3:
            # No progress bar to update: a retry is one line on stderr, so a slow fetch is not silent.
            hf.on_retry = lambda note: typer.echo(note, err=True)
            return await core.ingestor.fetch_days(days)
        with _progress_bar(console) as bar:
            task = bar.add_task("Fetching days", total=len(days))

            def advanced(_day: dt.date, _papers: int) -> None:
                bar.update(task, advance=1, description="Fetching days")

            hf.on_retry = lambda note: bar.update(task, description=note)
            return await core.ingestor.fetch_days(days, progress=advanced)

    try:
        report = _run(work)
    except HFUnavailable as exc:
        raise _fail(
            f"Hugging Face is unavailable: {exc}. Days already fetched are kept; re-run to continue.",
            EXIT_NOT_FOUND,
        ) from None
    except FutureDate as exc:
        raise _fail(str(exc), EXIT_USAGE) from None
    typer.echo(_summary(report))


# Unknown options pass through as query words, so `paperboy search reasoning -survey` excludes
# "survey"; for that, the command has no short options (`-n` would swallow `-transformer`).
@app.command(context_settings={"ignore_unknown_options": True})
def search(
    query: Annotated[
        list[str], typer.Argument(help='Words, "phrases", -exclude, author:, org:, since:, until:, has:code.')
    ],
    limit: Annotated[int, typer.Option("--limit", min=1, max=100)] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Search the stored papers."""
    from adapters.cli_render import paper_json, search_line
    from bot.query import QueryError, parse_query

    text = " ".join(query)
    try:
        parsed = parse_query(text)
    except QueryError as exc:
        raise _fail(str(exc), EXIT_USAGE) from None

    from adapters.app import open_search

    settings = _settings()

    async def main() -> SearchResults:
        async with open_search(settings) as archive:
            return await archive.search(parsed, limit=limit)

    results = _run_async(main(), settings)
    if as_json:
        typer.echo(json.dumps([paper_json(paper) for paper in results.papers], ensure_ascii=False, indent=2))
        return
    if not results.papers:
        typer.echo(results.message or "No papers match.")
        return
    # A title longer than the terminal is cut there, so each hit stays one line; a pipe gets it whole.
    width = shutil.get_terminal_size().columns if sys.stdout.isatty() else None
    for paper in results.papers:
        typer.echo(search_line(paper, width=width))


@app.command()
def status() -> None:
    """What the bot is doing: processes and the leader, each channel's digest, today's posts."""
    from bot.status import deployment_status, status_lines

    settings = _settings()

    async def work(core: Core) -> list[str]:
        found = await deployment_status(
            core.engine,
            core.subscriptions,
            core.leases,
            now=core.bot.leadership.clock.now(),
            refresh_minutes=settings.refresh_minutes,
        )
        return status_lines(found)

    typer.echo("\n".join(_run(work, settings)))


@app.command()
def show(
    paper: Annotated[str, typer.Argument(help="arXiv id or arxiv.org / huggingface.co URL.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show one paper, fetching it from Hugging Face when it is not stored yet."""
    from adapters.cli_render import detail_lines, paper_json
    from bot.ids import InvalidPaperId, normalize_paper_id
    from bot.source import HFUnavailable

    try:
        paper_id = normalize_paper_id(paper)
    except InvalidPaperId as exc:
        raise _fail(str(exc), EXIT_USAGE) from None

    async def work(core: Core) -> Paper | None:
        return await core.lookup.paper(paper_id)

    try:
        found = _run(work)
    except HFUnavailable as exc:
        raise _fail(
            f"{paper_id} is not stored yet and Hugging Face is not answering ({exc}); try again later.",
            EXIT_NOT_FOUND,
        ) from None
    if found is None:
        raise _fail(f"Paper {paper_id} was not found on Hugging Face.", EXIT_NOT_FOUND)
    if as_json:
        typer.echo(json.dumps([paper_json(found)], ensure_ascii=False, indent=2))
        return
    typer.echo("\n".join(detail_lines(found)))


@app.command()
def similar(
    paper: Annotated[str, typer.Argument(help="arXiv id or arxiv.org / huggingface.co URL.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100, help="How many papers.")] = 10,
) -> None:
    """The papers nearest in meaning to one paper (not the paper itself)."""
    from adapters.cli_render import paper_json, search_line
    from bot.ids import InvalidPaperId, normalize_paper_id
    from bot.source import HFUnavailable

    try:
        paper_id = normalize_paper_id(paper)
    except InvalidPaperId as exc:
        raise _fail(str(exc), EXIT_USAGE) from None
    settings = _settings()
    if not settings.semantic:
        raise _fail("Search by meaning is turned off (PAPERBOY_SEMANTIC=off).", EXIT_USAGE)

    async def work(core: Core) -> tuple[Paper | None, list[tuple[Paper, float]]]:
        assert core.semantic is not None
        found = await core.lookup.paper(paper_id)
        if found is None:
            return None, []
        await core.semantic.embed_missing()  # papers stored by other commands, not embedded yet
        nearest = await core.semantic.similar_to(found, limit)
        papers = await core.store.get_papers([other for other, _ in nearest])
        return found, [(papers[i], score) for i, score in nearest if i in papers]

    try:
        found, nearest = _run(work, settings)
    except HFUnavailable as exc:
        raise _fail(
            f"{paper_id} is not stored yet and Hugging Face is not answering ({exc}).", EXIT_NOT_FOUND
        ) from None
    if found is None:
        raise _fail(f"Paper {paper_id} was not found on Hugging Face.", EXIT_NOT_FOUND)
    if as_json:
        rows = [{**paper_json(other), "similarity": round(score, 4)} for other, score in nearest]
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not nearest:
        typer.echo(f"No other papers in the archive to compare with {paper_id} yet.")
        return
    width = shutil.get_terminal_size().columns if sys.stdout.isatty() else None
    for other, score in nearest:
        typer.echo(f"{score:.0%}  " + search_line(other, width=width - 5 if width else None))


@app.command()
def embed() -> None:
    """Embed the stored papers that have no vector yet, for search by meaning (resumable)."""
    from rich.console import Console

    settings = _settings()
    if not settings.semantic:
        raise _fail("Search by meaning is turned off (PAPERBOY_SEMANTIC=off).", EXIT_USAGE)
    console = Console(stderr=True)

    async def work(core: Core) -> int:
        assert core.semantic is not None
        missing = await core.semantic.missing()
        if not missing:
            return 0
        await core.semantic.warm_up()
        if not console.is_terminal:
            return await core.semantic.embed_missing()
        with _progress_bar(console) as bar:
            task = bar.add_task("Embedding papers", total=missing)
            return await core.semantic.embed_missing(progress=lambda done: bar.update(task, completed=done))

    done = _run(work, settings)
    typer.echo(f"Embedded {_count(done, 'paper')}." if done else "Every stored paper is embedded already.")


@app.command()
def run() -> None:
    """Start the bot: the scheduler plus the adapters whose credentials are set (console by default)."""
    from adapters.app import run_bot, wanted_adapters

    settings = _settings(server=True)
    names = wanted_adapters(settings)

    import asyncio

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signal_number in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signal_number, stop.set)
        await run_bot(settings, names, stop)

    _run_async(main(), settings)


@digest_app.command("post")
def digest_post(
    platform: Annotated[str, typer.Option("--platform", help="console, slack or discord.")],
    channel: Annotated[str, typer.Option("--channel", help="The subscribed channel's id.")],
    date: Annotated[
        str | None, typer.Option("--date", help="The list's UTC day; default: newest closed.")
    ] = None,
) -> None:
    """Post a channel's digest now. Idempotent; exits 0 only when the whole digest is in the channel."""
    from adapters.app import PLATFORMS, NoSubscription, post_digest_now

    if platform not in PLATFORMS:
        raise _fail(f"Unknown platform {platform!r}: use {', '.join(PLATFORMS)}.", EXIT_USAGE)
    day = _parse_day(date, "--date")
    if day is not None and day > dt.datetime.now(dt.UTC).date():
        raise _fail(f"--date {day} is in the future (UTC); its list does not exist yet.", EXIT_USAGE)
    if day is not None and day.weekday() >= 5:
        raise _fail(
            f"--date {day} is a {day:%A}: Hugging Face publishes no Daily Papers lists at weekends "
            "(Monday's digest carries Friday's list).",
            EXIT_USAGE,
        )
    settings = _settings()
    # The outcome is printed below in one line; the digester's own warnings would repeat it.
    logging.getLogger("bot.digest").setLevel(logging.ERROR)
    try:
        outcome = _run_async(post_digest_now(settings, platform, channel, day), settings)
    except NoSubscription as exc:
        raise _fail(f"{exc}; subscribe it with /paper digest here.", EXIT_NOT_FOUND) from None
    typer.echo(outcome.note, err=True)
    if not outcome.complete:  # exit 0 means the whole digest is in the channel
        raise typer.Exit(EXIT_NOT_FOUND)


@app.command()
def channels() -> None:
    """List the channels with a daily digest."""

    async def work(core: Core) -> list[str]:
        lines = []
        for sub in await core.subscriptions.all():
            c = sub.channel
            state = f"paused: {sub.paused_reason}" if sub.paused_reason else "active"
            last = str(sub.last_posted_day) if sub.last_posted_day else "not yet"
            lines.append(
                f"{c.platform}\t{c.community}\t{c.channel}\t{sub.post_time:%H:%M} {sub.timezone}"
                f"\t{sub.size}\t{state}\t{last}"
            )
        return lines

    lines = _run(work)
    if not lines:
        typer.echo("No channel has a digest yet.")
        return
    typer.echo("platform\tcommunity\tchannel\tposts at\ttop\tstate\tlast posted list")
    typer.echo("\n".join(lines))


def _discord_adapter(settings: Settings) -> AbstractAsyncContextManager[DiscordAdapter]:
    """Discord's adapter logged in over REST, for the setup commands."""
    from adapters.app import posting_adapter

    if settings.discord_token is None:
        raise _fail("DISCORD_TOKEN is not set.", EXIT_USAGE)
    return cast("AbstractAsyncContextManager[DiscordAdapter]", posting_adapter(settings, "discord"))


@discord_app.command("sync")
def discord_sync(
    guild: Annotated[int | None, typer.Option("--guild", help="Sync to this guild only (instant).")] = None,
) -> None:
    """Register the /paper commands with Discord (globally, or in one guild for testing)."""
    settings = _settings()

    async def main() -> list[str]:
        async with _discord_adapter(settings) as adapter:
            return await adapter.sync_commands(guild)

    names = _run_async(main(), settings)
    where = f"guild {guild}" if guild else "all guilds (may take up to an hour to appear)"
    typer.echo(f"Synced /{', /'.join(names)} to {where}.")


@discord_app.command("invite-url")
def discord_invite_url() -> None:
    """Print the OAuth2 URL that invites the bot with exactly the permissions it needs."""
    from adapters.discord.adapter import invite_url

    settings = _settings()

    async def main() -> str:
        async with _discord_adapter(settings) as adapter:
            application_id = adapter.client.application_id
            assert application_id is not None
            return invite_url(application_id)

    typer.echo(_run_async(main(), settings))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply database migrations (also done automatically on every start)."""
    from bot.db import create_engine, current_revision, upgrade

    settings = _settings()

    async def main() -> tuple[str | None, str | None]:
        engine = create_engine(settings.database_url)
        try:
            before = await upgrade(engine)
            return before, await current_revision(engine)
        finally:
            await engine.dispose()

    before, after = _run_async(main(), settings)
    if before is None:
        typer.echo(f"Created paperboy's tables in an empty database (revision {after}).")
    elif before == after:
        typer.echo(f"Database is at revision {after}; nothing to upgrade.")
    else:
        typer.echo(f"Upgraded the database from revision {before} to {after}.")


def main() -> None:
    # `kill -USR1 PID` prints every thread's stack to stderr: how to see what a stuck bot waits on.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
