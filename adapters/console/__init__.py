"""The console adapter: paperboy on stdin/stdout, the embedded default."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from adapters.console.adapter import ConsoleAdapter, stdin_lines

if TYPE_CHECKING:
    from adapters.app import Core

__all__ = ["ConsoleAdapter", "build"]


async def build(core: Core, *, serve: bool) -> ConsoleAdapter:
    """Serving, it reads commands from stdin and prints the core's announcements."""
    adapter = ConsoleAdapter(
        core.bot, out=sys.stdout, user=core.settings.console_user, lines=stdin_lines() if serve else None
    )
    if serve:
        core.announcer.listen(adapter.announce)
    return adapter
