"""The Slack adapter: slash commands, reactions and posts over slack-bolt and slack_sdk."""

from __future__ import annotations

from typing import TYPE_CHECKING

from adapters.slack.adapter import SlackAdapter, SlackConfig

if TYPE_CHECKING:
    from adapters.app import Core

__all__ = ["SlackAdapter", "SlackConfig", "build"]


async def build(core: Core, *, serve: bool) -> SlackAdapter:
    """Serving, it listens for Slack's events over HTTP or Socket Mode; else it only posts."""
    config = SlackConfig.from_settings(core.settings, serving=serve)
    return SlackAdapter(core.bot, config, core.engine, serve=serve, http=core.http)
