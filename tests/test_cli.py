"""`paperboy` as a user runs it: a real subprocess against the fake HF API."""

from __future__ import annotations

import json

import pytest
from alembic.script import ScriptDirectory

from adapters.app import build_core
from bot.config import Settings
from bot.db import alembic_config
from bot.types import ChannelRef, Command, UserRef
from tests.cli_runner import Result, run_paperboy
from tests.fake_hf import FakeHF, Fault
from tests.fakes import RecordingPublisher

REQUIRED_KEYS = {"id", "title", "authors", "published", "upvotes", "url", "arxiv_url"}


@pytest.fixture
def run_cli(fake_hf: FakeHF, database_url: str):  # type: ignore[no-untyped-def]
    async def run(*args: str, env: dict[str, str] | None = None) -> Result:
        environment = {
            "PAPERBOY_DATABASE_URL": database_url,
            "PAPERBOY_HF_BASE_URL": fake_hf.url,
            "PAPERBOY_HF_RETRY_BUDGET_SECONDS": "2",
            **(env or {}),
        }
        return await run_paperboy(*args, env=environment)

    return run


async def test_backfill_then_search_and_show(run_cli, fake_hf: FakeHF) -> None:  # type: ignore[no-untyped-def]
    fetched = await run_cli("fetch", "--since", "2025-05-01", "--until", "2025-05-31")
    assert fetched.code == 0, fetched.err
    may = [i for d, items in fake_hf.days.items() if d.startswith("2025-05") for i in items]
    assert f"Fetched 31 days: {len(may)} listings, {len(may)} new papers" in fetched.out
    assert "without papers" in fetched.out  # weekends
    assert len(fake_hf.requests_to("/api/daily_papers")) == 31

    again = await run_cli("fetch", "--since", "2025-05-01", "--until", "2025-05-31")
    assert f"{len(may)} listings, 0 new papers" in again.out

    found = await run_cli("search", "learning", "from", "peers", "--json")
    assert found.code == 0, found.err
    hits = json.loads(found.out)
    assert hits[0]["id"] == "2505.07787"
    assert REQUIRED_KEYS <= hits[0].keys()
    assert hits[0]["url"] == "https://huggingface.co/papers/2505.07787"
    assert hits[0]["arxiv_url"] == "https://arxiv.org/abs/2505.07787"
    assert isinstance(hits[0]["authors"], list) and hits[0]["published"] == "2025-05-12"

    plain = await run_cli("search", "peers", "--limit", "1")
    assert plain.out.startswith("2505.07787") and "Learning from Peers" in plain.out

    # As a shell passes it: `-peers` is a query word (an exclusion), not an option.
    with_peers = await run_cli("search", "learning", "--json")
    without = await run_cli("search", "learning", "-peers", "-transformer", "--json")
    assert without.code == 0, without.err
    ids = [hit["id"] for hit in json.loads(without.out)]
    assert "2505.07787" in [hit["id"] for hit in json.loads(with_peers.out)] and "2505.07787" not in ids

    shown = await run_cli("show", "https://arxiv.org/pdf/2505.07787v2")
    assert shown.code == 0 and "Learning from Peers" in shown.out and "https://github.com/" in shown.out

    none = await run_cli("search", "zzzzqqq")
    assert none.code == 0 and "No papers match." in none.out


async def test_show_fetches_unknown_papers_on_demand(run_cli, fake_hf: FakeHF) -> None:  # type: ignore[no-untyped-def]
    shown = await run_cli("show", "2512.06421", "--json")
    assert shown.code == 0, shown.err
    assert json.loads(shown.out)[0]["id"] == "2512.06421"
    assert len(fake_hf.requests_to("/api/papers/")) == 1
    stored = await run_cli("search", "author:" + json.loads(shown.out)[0]["authors"][0].split()[-1], "--json")
    assert "2512.06421" in [hit["id"] for hit in json.loads(stored.out)]
    await run_cli("show", "2512.06421")
    assert len(fake_hf.requests_to("/api/papers/")) == 1  # served from the store the second time


async def test_exit_codes_and_messages(run_cli) -> None:  # type: ignore[no-untyped-def]
    missing = await run_cli("show", "2505.99999")
    assert missing.code == 1 and "2505.99999 was not found on Hugging Face" in missing.err
    bad_id = await run_cli("show", "not-a-paper")
    assert bad_id.code == 2 and "not an arXiv id" in bad_id.err
    too_long = await run_cli("search", "x" * 10_000)
    assert too_long.code == 2 and "Query too long" in too_long.err
    future = await run_cli("fetch", "--date", "2999-01-01")
    assert future.code == 2 and "future" in future.err
    future_digest = await run_cli(
        "digest", "post", "--platform", "console", "--channel", "C1", "--date", "2999-01-01"
    )
    assert (
        future_digest.code == 2
        and "in the future" in future_digest.err
        and "Traceback" not in future_digest.err
    )
    bad_date = await run_cli("fetch", "--since", "last week")
    assert bad_date.code == 2 and "--since needs a date" in bad_date.err
    usage = await run_cli("search", "x", "--limit", "0")
    assert usage.code == 2


async def test_outage_gives_one_clear_line_and_never_leaks_the_token(run_cli) -> None:  # type: ignore[no-untyped-def]
    down = await run_cli(
        "fetch",
        "--date",
        "2025-05-13",
        env={
            "PAPERBOY_HF_BASE_URL": "http://127.0.0.1:9",
            "HF_TOKEN": "hf_supersecret",
            "PAPERBOY_LOG_LEVEL": "DEBUG",
        },
    )
    assert down.code == 1
    assert "Hugging Face is unavailable" in down.err and "127.0.0.1:9/api/daily_papers" in down.err
    assert "Traceback" not in down.err
    assert "hf_supersecret" not in down.out + down.err


async def test_db_upgrade_reports_the_revision(empty_database_url: str) -> None:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()

    async def upgrade() -> str:
        result = await run_paperboy("db", "upgrade", env={"PAPERBOY_DATABASE_URL": empty_database_url})
        assert result.code == 0, result.err
        return result.out

    assert await upgrade() == f"Created paperboy's tables in an empty database (revision {head}).\n"
    assert await upgrade() == f"Database is at revision {head}; nothing to upgrade.\n"


@pytest.mark.parametrize("url", ["mysql://nope", "sqlite://", "sqlite:///:memory:"])
async def test_bad_settings_are_reported_once(run_cli, url: str) -> None:  # type: ignore[no-untyped-def]
    bad = await run_cli("search", "x", env={"PAPERBOY_DATABASE_URL": url})
    assert bad.code == 2 and "PAPERBOY_DATABASE_URL" in bad.err and "Traceback" not in bad.err


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, ["console"]),
        ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s"}, ["slack"]),
        ({"SLACK_CLIENT_ID": "1.2", "SLACK_CLIENT_SECRET": "c"}, ["slack"]),
        ({"DISCORD_TOKEN": "d"}, ["discord"]),
        ({"DISCORD_TOKEN": "d", "SLACK_BOT_TOKEN": "xoxb-1"}, ["slack", "discord"]),
        ({"DISCORD_TOKEN": "d", "PAPERBOY_ADAPTERS": "console"}, ["console"]),
    ],
)
def test_run_picks_adapters_from_credentials(
    env: dict[str, str], expected: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from adapters.app import wanted_adapters
    from bot.config import Settings

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert wanted_adapters(settings) == expected
    assert "xoxb-1" not in repr(settings) and "'d'" not in repr(settings)


def test_only_paperboy_names_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # A host's own DATABASE_URL or LOG_LEVEL (another app's) must not move paperboy's database.
    from bot.config import DEFAULT_DATABASE_URL, Settings

    monkeypatch.setenv("DATABASE_URL", "postgresql://someone-else/db")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.database_url == DEFAULT_DATABASE_URL and settings.log_level is None
    monkeypatch.setenv("PAPERBOY_DATABASE_URL", "sqlite:///mine.db")
    assert Settings(_env_file=None).database_url == "sqlite:///mine.db"  # type: ignore[call-arg]


async def test_fetch_says_when_it_is_retrying(run_cli, fake_hf: FakeHF) -> None:  # type: ignore[no-untyped-def]
    fake_hf.fail_next(Fault(503), Fault(429, headers={"Retry-After": "0"}))
    fetched = await run_cli("fetch", "--date", "2025-05-13", env={"PAPERBOY_HF_RETRY_BUDGET_SECONDS": "30"})
    assert fetched.code == 0, fetched.err
    assert fetched.out == "Fetched 1 day: 2 listings, 2 new papers.\n"
    retries = [line for line in fetched.err.splitlines() if "retrying" in line]
    assert len(retries) == 2 and retries[0].startswith("Hugging Face: status 503; retrying in"), fetched.err
    assert "status 429" in retries[1]


async def test_channels_lists_subscriptions_under_a_header_row(  # type: ignore[no-untyped-def]
    run_cli, fake_hf: FakeHF, database_url: str
) -> None:
    empty = await run_cli("channels")
    assert empty.code == 0 and empty.out == "No channel has a digest yet.\n"
    settings = Settings(_env_file=None, PAPERBOY_DATABASE_URL=database_url)  # type: ignore[call-arg]
    async with build_core(settings) as core:
        core.bot.attach(RecordingPublisher())
        user, channel = UserRef("test", "team-1", "U1"), ChannelRef("test", "team-1", "C1")
        reply = await core.bot.handle_command(
            Command("digest", "here 08:30 Europe/Berlin top 5", user, channel, can_manage=True)
        )
        assert reply.ok, reply.text
    listed = await run_cli("channels")
    header, row = listed.out.splitlines()
    assert header.split("\t") == [
        "platform",
        "community",
        "channel",
        "posts at",
        "top",
        "state",
        "last posted list",
    ]
    assert row.split("\t") == ["test", "team-1", "C1", "08:30 Europe/Berlin", "5", "active", "not yet"]


async def test_fetch_embeds_and_similar_lists_the_nearest_papers(run_cli) -> None:  # type: ignore[no-untyped-def]
    fetched = await run_cli("fetch", "--since", "2023-05-01", "--until", "2023-12-31")
    assert fetched.code == 0, fetched.err
    done = await run_cli("embed")
    assert done.out.strip() == "Every stored paper is embedded already."  # fetch embedded them
    near = await run_cli("similar", "2305.90001", "--json")
    assert near.code == 0, near.err
    rows = json.loads(near.out)
    assert rows and "2305.90001" not in [row["id"] for row in rows]
    assert [row["similarity"] for row in rows] == sorted((row["similarity"] for row in rows), reverse=True)
    assert REQUIRED_KEYS <= rows[0].keys()
    off = await run_cli("similar", "2305.90001", env={"PAPERBOY_SEMANTIC": "off"})
    assert off.code == 2 and "PAPERBOY_SEMANTIC=off" in off.err
    missing = await run_cli("similar", "2505.99999")
    assert missing.code == 1 and "2505.99999 was not found on Hugging Face" in missing.err


async def test_embed_backfills_papers_stored_without_vectors(run_cli) -> None:  # type: ignore[no-untyped-def]
    off = {"PAPERBOY_SEMANTIC": "off"}
    assert (await run_cli("fetch", "--since", "2025-05-01", "--until", "2025-05-31", env=off)).code == 0
    done = await run_cli("embed")
    assert done.code == 0 and done.out.startswith("Embedded ") and done.out.strip().endswith("papers.")
    again = await run_cli("embed")
    assert again.out.strip() == "Every stored paper is embedded already."


async def test_status_shows_the_processes_and_the_digests(  # type: ignore[no-untyped-def]
    run_cli, fake_hf: FakeHF, database_url: str
) -> None:
    empty = await run_cli("status")
    assert empty.code == 0, empty.err
    assert empty.out.startswith("Processes: 0 running\n  no leader")
    assert "Channels with a digest: 0" in empty.out
    settings = Settings(_env_file=None, PAPERBOY_DATABASE_URL=database_url)  # type: ignore[call-arg]
    async with build_core(settings) as core:
        core.bot.attach(RecordingPublisher())
        await core.bot.leadership.beat()  # as `paperboy run` does at its start
        user, channel = UserRef("test", "team-1", "U1"), ChannelRef("test", "team-1", "C1")
        await core.bot.handle_command(
            Command("digest", "here 08:30 Europe/Berlin", user, channel, can_manage=True)
        )
        running = await run_cli("status")
    assert running.code == 0, running.err
    assert "Processes: 1 running" in running.out and ": leader, started" in running.out
    assert "test team-1/C1: 08:30 Europe/Berlin on weekdays" in running.out
