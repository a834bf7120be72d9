"""The console adapter: the same `/paper …` commands and reactions, typed on a terminal.

It only translates: lines in become `Command`s and `Reaction`s for the core, and the core's
posts and replies come out as plain text, each posted message with a short id to react to.
"""

from __future__ import annotations

import asyncio
import secrets
import sys
from collections.abc import AsyncIterator
from typing import TextIO

from bot.cards import card_text
from bot.paperbot import PaperBot
from bot.ports import Outgoing
from bot.types import ChannelRef, Command, Notice, PostRef, Reaction, Reply, UserRef

PLATFORM = "console"
COMMUNITY = "local"
CHANNEL = "console"
PROMPT_HELP = "Type /paper help for commands, /react ID 👍 to vote on a posted paper, Ctrl-D to quit."


def render_outgoing(message: Outgoing) -> str:
    return message.text if isinstance(message, Notice) else card_text(message)


def render_reply(reply: Reply) -> str:
    parts = [reply.text] if reply.text else []
    for number, item in enumerate(reply.items, 1):
        parts.append(f"{number}. {item.title}\n   {item.detail}\n   {item.url}")
    parts += [card_text(post) for post in reply.posts]
    return "\n".join(parts)


class ConsoleAdapter:
    """Publisher for the console, and the read loop that feeds the core."""

    platform = PLATFORM
    who_manages = "the console's user"

    def __init__(self, bot: PaperBot, *, out: TextIO, user: str = "you") -> None:
        self.bot = bot
        self.out = out
        self.channel = ChannelRef(PLATFORM, COMMUNITY, CHANNEL)
        self.user = UserRef(PLATFORM, COMMUNITY, user)
        self.bot_user = UserRef(PLATFORM, COMMUNITY, "paperboy")

    def _print(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def announce(self, text: str) -> None:
        self._print(f"* {text}")

    # --- Publisher --------------------------------------------------------------------------

    async def publish(
        self, channel: ChannelRef, message: Outgoing, *, thread: PostRef | None = None
    ) -> PostRef:
        message_id = secrets.token_hex(3)
        indent = "    " if thread else ""
        where = f" (thread of {thread.message_id})" if thread else ""
        body = render_outgoing(message).replace("\n", "\n" + indent + "         ")
        self._print(f"{indent}[{message_id}]{where} {body}")
        return PostRef(channel, message_id, thread.message_id if thread else None)

    async def send_dm(self, user: UserRef, message: Outgoing) -> None:
        self._print(f"[DM to {user.user}] {render_outgoing(message)}")

    async def can_manage(self, user: UserRef, channel: ChannelRef) -> bool:
        return True  # the person at the terminal owns the console channel

    # --- input ------------------------------------------------------------------------------

    async def handle_line(self, line: str) -> bool:
        """Act on one typed line; False when the user asked to quit."""
        text = line.strip()
        if not text:
            return True
        if text.lower() in {"/quit", "/exit", "quit", "exit"}:
            return False
        verb, _, rest = text.partition(" ")
        verb = verb.lower()
        if verb == "/paper":
            name, _, args = rest.strip().partition(" ")
            reply = await self.bot.handle_command(Command(name, args.strip(), self.user, self.channel))
            self._print(render_reply(reply))
        elif verb in {"/react", "/unreact"}:
            await self._react(rest, added=verb == "/react")
        else:
            self._print(PROMPT_HELP)
        return True

    async def _react(self, rest: str, *, added: bool) -> None:
        parts = rest.split()
        if not parts:
            self._print("Usage: /react MESSAGE_ID [EMOJI] (default 👍); /unreact MESSAGE_ID [EMOJI]")
            return
        message_id, emoji = parts[0].strip("[]"), (parts[1] if len(parts) > 1 else "👍")
        reaction = Reaction(PostRef(self.channel, message_id), self.user, emoji, added)
        vote = await self.bot.handle_reaction(reaction)
        if vote is None:
            self._print(
                f"No vote: {message_id} is not a paper message paperboy posted here, or {emoji} is no vote."
            )
            return
        tally = await self.bot.votes.tally(PLATFORM, COMMUNITY, vote.paper_id)
        action = "counted" if added else "removed"
        self._print(f"Vote {action} for {vote.paper_id}: 👍 {tally.up} · 👎 {tally.down}")

    async def run(self, lines: AsyncIterator[str]) -> None:
        self._print(PROMPT_HELP)
        async for line in lines:
            if not await self.handle_line(line):
                return


async def stdin_lines() -> AsyncIterator[str]:
    """Lines from stdin without blocking the event loop (a pipe or a terminal)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    try:
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    except (ValueError, OSError):
        # A regular file on stdin cannot be watched; read it in a worker thread instead.
        while line := await asyncio.to_thread(sys.stdin.readline):
            yield line
        return
    while line_bytes := await reader.readline():
        yield line_bytes.decode("utf-8", errors="replace")
