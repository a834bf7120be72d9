"""Settings, read once from the environment and `.env`, validated at start.

`load_settings` is the way in: a `.env` that is not UTF-8 or has a line that cannot be read, and
any value that fails validation, become one `SettingsError` naming the setting (or the file and
line) and what to do; unknown PAPERBOY_* names become warnings naming the closest real one.
"""

from __future__ import annotations

import difflib
import io
import os
import re
from pathlib import Path
from typing import Self

from dotenv.parser import parse_stream
from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.reactions import normalize_emoji
from bot.schema import sqlite_path
from bot.search import DEFAULT_CANDIDATE_CAP

ENV_FILE = ".env"
# Read by the test suite, not by paperboy: never reported as unknown.
TEST_ONLY_NAMES = frozenset({"PAPERBOY_TEST_POSTGRES_URL"})

DEFAULT_DATABASE_URL = "sqlite:///paperboy.db"
ALL_INTERFACES = "0.0.0.0"  # noqa: S104  (Slack's HTTP endpoints must be reachable from outside)


class Settings(BaseSettings):
    """Everything paperboy can be told; `.env.example` documents each field."""

    model_config = SettingsConfigDict(
        env_file=ENV_FILE,
        env_file_encoding="utf-8-sig",  # a byte-order mark (Windows editors) is not part of a name
        env_ignore_empty=True,
        extra="ignore",
    )

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        validation_alias="PAPERBOY_DATABASE_URL",
    )
    hf_base_url: str = Field(
        default="https://huggingface.co",
        validation_alias="PAPERBOY_HF_BASE_URL",
    )
    hf_token: SecretStr | None = Field(default=None, validation_alias="HF_TOKEN")
    # Upper bound on the time spent retrying one Hugging Face request (429s, 5xx, resets).
    hf_retry_budget_seconds: float = Field(
        default=60.0,
        gt=0,
        validation_alias="PAPERBOY_HF_RETRY_BUDGET_SECONDS",
    )
    hf_timeout_seconds: float = Field(
        default=15.0,
        gt=0,
        validation_alias="PAPERBOY_HF_TIMEOUT_SECONDS",
    )
    # The budget of a lookup someone waits for (`/paper show` of an unstored paper): a short one,
    # so that with Hugging Face down the answer says so in seconds, not after a minute of retries.
    hf_interactive_seconds: float = Field(
        default=5.0, gt=0, le=60, validation_alias="PAPERBOY_HF_INTERACTIVE_SECONDS"
    )
    # Unset: warnings only for the console and CLI; servers log at INFO.
    log_level: str | None = Field(default=None, validation_alias="PAPERBOY_LOG_LEVEL")
    # Reactions that count as a vote (comma-separated) and as "not interested".
    vote_emoji: str = Field(default="👍", validation_alias="PAPERBOY_VOTE_EMOJI")
    down_emoji: str = Field(default="👎", validation_alias="PAPERBOY_DOWN_EMOJI")
    # Key for hashing user ids in votes; generated into the database on first start when unset.
    vote_secret: SecretStr | None = Field(default=None, validation_alias="PAPERBOY_VOTE_SECRET")
    refresh_minutes: float = Field(default=30, gt=0, validation_alias="PAPERBOY_REFRESH_MINUTES")
    # How long a digest message claimed by a process that stopped answering stays its own before
    # another process may send it; a single send is given up after half of it.
    claim_lease_seconds: float = Field(
        default=300, ge=10, le=86_400, validation_alias="PAPERBOY_CLAIM_LEASE_SECONDS"
    )
    # Search by meaning (bot.semantic): on, papers are embedded with the model shipped in the
    # wordllama package, offline; off (also false/0/no) leaves search to the words alone.
    semantic: bool = Field(default=True, validation_alias="PAPERBOY_SEMANTIC")
    # Search ranks within the newest this many matches of a query (see BENCHMARKS.md).
    search_candidates: int = Field(
        default=DEFAULT_CANDIDATE_CAP,
        ge=100,
        le=1_000_000,
        validation_alias="PAPERBOY_SEARCH_CANDIDATES",
    )
    # Which adapters `paperboy run` starts: console, slack, discord (comma-separated).
    # Unset: the ones whose credentials are set, or the console when none are.
    adapters: str | None = Field(default=None, validation_alias="PAPERBOY_ADAPTERS")
    # Platform credentials: secrets, never logged. Setting them enables that adapter.
    slack_bot_token: SecretStr | None = Field(default=None, validation_alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(default=None, validation_alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(default=None, validation_alias="SLACK_APP_TOKEN")
    slack_client_id: str | None = Field(default=None, validation_alias="SLACK_CLIENT_ID")
    slack_client_secret: SecretStr | None = Field(default=None, validation_alias="SLACK_CLIENT_SECRET")
    slack_api_base_url: str = Field(
        default="https://slack.com/api/",
        validation_alias="SLACK_API_BASE_URL",
    )
    # The HTTP server: Slack's Events API, slash commands and OAuth, digest feeds, /healthz.
    # It runs with Slack or Discord, or when PAPERBOY_PUBLIC_URL is set.
    public_url: str | None = Field(default=None, validation_alias="PAPERBOY_PUBLIC_URL")
    http_host: str = Field(default=ALL_INTERFACES, validation_alias="PAPERBOY_HTTP_HOST")
    http_port: int = Field(default=3000, ge=0, le=65535, validation_alias="PAPERBOY_HTTP_PORT")
    discord_token: SecretStr | None = Field(default=None, validation_alias="DISCORD_TOKEN")
    discord_api_base_url: str | None = Field(default=None, validation_alias="DISCORD_API_BASE_URL")
    discord_gateway_url: str | None = Field(default=None, validation_alias="DISCORD_GATEWAY_URL")
    # The bot's shard count; with DISCORD_SHARD_IDS ("0-3", "4,5") this process runs only those
    # shards (a cluster of a bot whose shards are split across processes).
    discord_shards: int | None = Field(
        default=None, ge=1, validation_alias=AliasChoices("DISCORD_SHARD_COUNT", "DISCORD_SHARDS")
    )
    discord_shard_ids: str | None = Field(default=None, validation_alias="DISCORD_SHARD_IDS")
    console_user: str = Field(default="you", validation_alias="PAPERBOY_CONSOLE_USER")

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql", "postgres")):
            raise ValueError("PAPERBOY_DATABASE_URL must be a sqlite:/// or postgresql:// URL")
        if value.startswith("sqlite") and sqlite_path(value) is None:
            # Several connections (writer, search readers) must see one database.
            raise ValueError("PAPERBOY_DATABASE_URL must name a SQLite file, e.g. sqlite:///paperboy.db")
        return value

    @field_validator("hf_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("PAPERBOY_HF_BASE_URL must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("PAPERBOY_PUBLIC_URL must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("discord_shard_ids")
    @classmethod
    def _shard_ids(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parse_shard_ids(value)  # raises ValueError with what is wrong
        return value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str | None) -> str | None:
        if value is None:
            return None
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("PAPERBOY_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR")
        return level

    @field_validator("adapters")
    @classmethod
    def _adapters(cls, value: str | None) -> str | None:
        if value is None:
            return None
        names = [name.strip().lower() for name in value.split(",") if name.strip()]
        unknown = sorted(set(names) - {"console", "slack", "discord"})
        if unknown or not names:
            raise ValueError("PAPERBOY_ADAPTERS takes console, slack and/or discord, comma-separated")
        return ",".join(names)

    @field_validator("vote_emoji", "down_emoji")
    @classmethod
    def _some_emoji(cls, value: str) -> str:
        if not any(emoji.strip() for emoji in value.split(",")):
            raise ValueError("needs at least one emoji, e.g. 👍 (several: 👍,🔥)")
        return value

    @model_validator(mode="after")
    def _shards_fit(self) -> Self:
        ids = self.shard_ids()
        if ids is None:
            return self
        if self.discord_shards is None:
            raise ValueError("DISCORD_SHARD_IDS needs DISCORD_SHARD_COUNT, the bot's number of shards")
        if max(ids) >= self.discord_shards:
            raise ValueError(
                f"DISCORD_SHARD_IDS lists shard {max(ids)}, but shards are numbered 0 to "
                f"{self.discord_shards - 1} (DISCORD_SHARD_COUNT={self.discord_shards})"
            )
        return self

    @model_validator(mode="after")
    def _votes_and_downs_differ(self) -> Self:
        both = {normalize_emoji(e) for e in self.vote_emojis()} & {
            normalize_emoji(e) for e in self.down_emojis()
        }
        if both:
            raise ValueError(
                f"PAPERBOY_VOTE_EMOJI and PAPERBOY_DOWN_EMOJI both list {' '.join(sorted(both))}: "
                "a reaction cannot be a vote and 'not interested' at once"
            )
        return self

    def shard_ids(self) -> tuple[int, ...] | None:
        """The shards this process runs (DISCORD_SHARD_IDS), None for all of them."""
        return parse_shard_ids(self.discord_shard_ids) if self.discord_shard_ids else None

    def slack_enabled(self) -> bool:
        return bool(self.slack_bot_token or (self.slack_client_id and self.slack_client_secret))

    def discord_enabled(self) -> bool:
        return self.discord_token is not None

    def vote_emojis(self) -> frozenset[str]:
        return frozenset(e.strip() for e in self.vote_emoji.split(",") if e.strip())

    def down_emojis(self) -> frozenset[str]:
        return frozenset(e.strip() for e in self.down_emoji.split(",") if e.strip())


class SettingsError(ValueError):
    """Settings paperboy cannot start with; the message names the setting or the file and line."""


def setting_names() -> frozenset[str]:
    """Every environment name paperboy reads."""
    names: set[str] = set()
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(str(choice) for choice in alias.choices)
        elif alias:
            names.add(str(alias))
    return frozenset(names)


def parse_shard_ids(text: str) -> tuple[int, ...]:
    """`0-3` → (0, 1, 2, 3); `4,6-7` → (4, 6, 7); ValueError saying what is wrong."""
    ids: set[int] = set()
    for part in text.replace(" ", "").split(","):
        low, dash, high = part.partition("-")
        if not (low.isdigit() and (not dash or high.isdigit())):
            raise ValueError(
                f"DISCORD_SHARD_IDS takes shard numbers and ranges like 0-3 or 4,6-7, not {text!r}"
            )
        first, last = int(low), int(high) if dash else int(low)
        if last < first:
            raise ValueError(f"DISCORD_SHARD_IDS has a range that runs backwards: {part}")
        ids.update(range(first, last + 1))
    return tuple(sorted(ids))


def _read_env_file(path: Path) -> dict[str, str | None]:
    """The names and values in `.env`, or a SettingsError saying which line to fix and how."""
    raw = path.read_bytes()
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in raw[:200]:
        raise SettingsError(
            f"{path} is saved as UTF-16 (as Windows Notepad may save it): save it as UTF-8 "
            "(in Notepad: Save As, Encoding UTF-8)."
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SettingsError(
            f"{path} line {line} is not UTF-8 text (byte 0x{raw[exc.start]:02x}): save the file as UTF-8."
        ) from None
    values: dict[str, str | None] = {}
    for binding in parse_stream(io.StringIO(text)):
        if binding.error:
            # The line's value is never shown: it may be a token.
            name = _LEADING_NAME.match(binding.original.string.strip())
            what = f" (the line of {name.group(1)})" if name else ""
            raise SettingsError(
                f"{path} line {binding.original.line} cannot be read{what}. Write NAME=value, one "
                'per line; quote a value that has spaces or # in it, and close every quote (NAME="…").'
            )
        if binding.key is not None:
            values[binding.key] = binding.value
    return values


def _unknown_names(names: set[str], where: str) -> list[str]:
    known = setting_names()
    # Compared without the prefix, so PAPERBOY_HF_TOKEN finds HF_TOKEN and PAPERBOY_FOO nothing.
    bare = {name.removeprefix("PAPERBOY_"): name for name in known}
    warnings = []
    for name in sorted(names - known - TEST_ONLY_NAMES):
        close = difflib.get_close_matches(name.removeprefix("PAPERBOY_"), sorted(bare), n=1, cutoff=0.75)
        hint = f"; did you mean {bare[close[0]]}?" if close else "; .env.example lists every setting"
        warnings.append(f"unknown setting {name} {where}{hint}")
    return warnings


def load_settings(env_file: str | Path = ENV_FILE) -> tuple[Settings, list[str]]:
    """Settings from the environment and `env_file`, plus warnings about names paperboy ignores."""
    path = Path(env_file)
    file_values = _read_env_file(path) if path.is_file() else {}
    prefixes = ("PAPERBOY_", "SLACK_", "DISCORD_", "HF_")
    warnings = _unknown_names({n for n in os.environ if n.startswith("PAPERBOY_")}, "in the environment")
    warnings += _unknown_names({n for n in file_values if n.startswith(prefixes)}, f"in {path}")
    try:
        settings = Settings(_env_file=path if path.is_file() else None)  # type: ignore[call-arg]
    except ValidationError as exc:
        raise SettingsError(_validation_message(exc)) from None
    return settings, warnings


def _validation_message(exc: ValidationError) -> str:
    secrets = {
        str(f.validation_alias) for f in Settings.model_fields.values() if f.annotation == SecretStr | None
    }
    problems = []
    for error in exc.errors():
        name = ".".join(str(part) for part in error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ").removeprefix(f"{name} ")
        if not name:
            problems.append(message)
            continue
        given = error.get("input")
        # A secret is never shown, nor a password inside a URL.
        if isinstance(given, str) and name not in secrets:
            message += f" (given {_without_password(given)!r})"
        problems.append(f"{name}: {message}")
    return "; ".join(problems)


def _without_password(value: str) -> str:
    return _PASSWORD.sub(lambda match: match.group(1) + "***@", value)


_LEADING_NAME = re.compile(r"(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=")
_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")
