"""The Discord adapter: the /paper command group, embeds and reaction votes over discord.py."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from adapters.discord.adapter import DiscordAdapter, DiscordConfig, config_from, recommended_shards

if TYPE_CHECKING:
    from adapters.app import Core

__all__ = ["DiscordAdapter", "DiscordConfig", "build"]

log = logging.getLogger(__name__)


async def build(core: Core, *, serve: bool) -> DiscordAdapter:
    """Serving, it connects to the gateway, sharded when Discord recommends more than one
    shard; else it logs in over REST only."""
    config = config_from(core.settings)
    sharded = config.shards is not None
    if serve and not sharded:
        try:
            sharded = await recommended_shards(config) > 1
        except Exception as exc:  # the gateway connection will report it properly
            log.warning("Discord shard recommendation unavailable: %s", exc)
    return DiscordAdapter(
        core.bot, config, sharded=sharded, serve=serve, leases=core.leases, budget=core.rate_budget
    )
