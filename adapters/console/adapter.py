"""The console adapter: the same `/paper …` commands and reactions, typed on a terminal.

It only translates: lines in become `Command`s and `Reaction`s for the core, and the core's
posts and replies come out as plain text, each posted message with a short id to react to.

Each line runs as its own task, in order, but a slow command (a paper fetched from a Hugging Face
that does not answer) holds up the next one for a second at most; each answer is printed whole
when its command is done.
On a terminal the line is typed at a prompt with editing, history and Tab completion
(adapters/console/terminal.py); from a pipe or a file, lines are read as they come, without a
prompt or escape codes, and the end of input waits for the commands still running.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import stat
import sys
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator
from pathlib import Path
from typing import TextIO

from prompt_toolkit.patch_stdout import patch_stdout

from adapters.console.render import render_outgoing, render_reply
from adapters.console.terminal import interactive, logging_through, open_history_for_user, typed_lines
from bot.cards import counts_line
from bot.paperbot import PaperBot
from bot.ports import Outgoing
from bot.types import Attachment, ChannelRef, Command, Post, PostRef, Reaction, UserRef

log = logging.getLogger(__name__)

PLATFORM = "console"
COMMUNITY = "local"
CHANNEL = "console"
QUIT_WORDS = {"/quit", "/exit", "quit", "exit"}
# How long a command runs before the next line starts anyway (see ConsoleAdapter._serve).
SLOW_COMMAND_SECONDS = 1.0
PROMPT_HELP = "Type /paper help for commands, /react ID 👍 to vote on a posted paper, Ctrl-D to quit."


class ConsoleAdapter:
    """Publisher for the console, and the read loop that feeds the core."""

    platform = PLATFORM
    who_manages = "the console's user"

    def __init__(
        self,
        bot: PaperBot,
        *,
        out: TextIO,
        user: str = "you",
        lines: AsyncIterable[str] | None = None,
        export_dir: Path | None = None,
    ) -> None:
        """`lines`: what `start` serves (`stdin_lines()` for `paperboy run`); None only posts.
        `export_dir`: where exported files go (the working directory by default)."""
        self.bot = bot
        self.export_dir = export_dir or Path.cwd()
        self.out = out
        self.channel = ChannelRef(PLATFORM, COMMUNITY, CHANNEL)
        self.user = UserRef(PLATFORM, COMMUNITY, user)
        self._lines = lines
        self._serving: asyncio.Task[None] | None = None

    # --- lifecycle (adapters/app.py) -----------------------------------------------------------

    @property
    def publisher(self) -> ConsoleAdapter:
        return self

    async def start(self) -> None:
        if self._lines is not None:
            self._serving = asyncio.create_task(self.run(self._lines), name="console")

    async def finished(self) -> None:
        """Return when the input has ended or the user quit (every answer printed)."""
        if self._serving is None:
            await asyncio.Event().wait()  # only posting: never ends by itself
        else:
            await asyncio.shield(self._serving)

    async def stop(self) -> None:
        if self._serving is not None and not self._serving.done():
            self._serving.cancel()
            await asyncio.wait({self._serving})

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

    def serves(self, channel: ChannelRef) -> bool:
        return True

    async def edit(self, post: PostRef, message: Post) -> None:
        """A printed card cannot change: its new counts are printed under its id."""
        self._print(f"[{post.message_id}] now {counts_line(message)}")

    # --- input ------------------------------------------------------------------------------

    async def handle_line(self, line: str) -> bool:
        """Act on one typed line; False when the user asked to quit."""
        text = line.strip()
        if not text:
            return True
        if is_quit(text):
            return False
        verb, _, rest = text.partition(" ")
        verb = verb.lower()
        if verb == "/paper":
            name, _, args = rest.strip().partition(" ")
            # The person at the terminal owns the console's channel.
            command = Command(name, args.strip(), self.user, self.channel, can_manage=True)
            reply = await self.bot.handle_command(command)
            self._print(render_reply(reply))
            if reply.attachment is not None:
                path = await asyncio.to_thread(write_attachment, self.export_dir, reply.attachment)
                self._print(f"Wrote {path} ({len(reply.attachment.content):,} bytes).")
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
        tally = await self.bot.tally(PLATFORM, COMMUNITY, vote.paper_id)
        counts = f"👍 {tally.up} · 👎 {tally.down}"
        if not vote.changed:
            already = f"You had already reacted {emoji} on" if added else f"You had no {emoji} reaction on"
            self._print(f"{already} {message_id}; nothing changed ({vote.paper_id}: {counts}).")
            return
        action = "counted" if added else "removed"
        self._print(f"Vote {action} for {vote.paper_id}: {counts}")

    async def run(self, lines: AsyncIterable[str]) -> None:
        """Serve typed lines until the input ends or the user quits.

        `stdin_lines()` is read at a prompt when stdin and the output are a terminal, else line
        by line. Lines read line by line are all answered before this returns; Ctrl-D and
        Ctrl-C at the prompt, and /quit, cancel the commands still running.
        """
        self._print(PROMPT_HELP)
        if isinstance(lines, StdinLines) and interactive(sys.stdin, self.out):
            await self._serve_terminal()
        else:
            # A script's commands run once the first start has its papers (or gave up): piped
            # to a fresh store, `/paper today` would otherwise always find nothing.
            await self.bot.first_start_over()
            await self._serve(aiter(lines), finish=True)

    async def _serve_terminal(self) -> None:
        history = await open_history_for_user()
        original = self.out
        with patch_stdout():
            self.out = sys.stdout  # the proxy that prints above the prompt
            try:
                with logging_through(sys.stdout):
                    await self._serve(typed_lines(history), finish=False)
            finally:
                self.out = original

    async def _serve(self, lines: AsyncIterator[str], *, finish: bool) -> None:
        """Start a task per line; at the end of `lines`, wait for them (`finish`) or cancel them.

        A line starts when the one before it has answered, or has run for SLOW_COMMAND_SECONDS:
        commands keep their order (`digest here` then `digest status`, in a script as at the
        prompt), and only a slow one (Hugging Face not answering) lets the next go ahead.
        """
        running: set[asyncio.Task[bool]] = set()
        previous: asyncio.Task[bool] | None = None
        try:
            async for line in lines:
                if is_quit(line.strip()):
                    return
                if not line.strip():
                    continue
                if previous is not None and not previous.done():
                    await asyncio.wait({previous}, timeout=SLOW_COMMAND_SECONDS)
                task = asyncio.create_task(self.handle_line(line), name=f"console: {line.strip()}")
                previous = task
                running.add(task)
                task.add_done_callback(_finished)
                task.add_done_callback(running.discard)
            if finish and running:
                await asyncio.wait(running)
        finally:
            if isinstance(lines, AsyncGenerator):
                await lines.aclose()
            for task in running:
                task.cancel()
            if running:
                await asyncio.wait(running)


def write_attachment(folder: Path, attachment: Attachment) -> Path:
    """Write the file under its own name, never over an existing one (name-2.bib, …)."""
    stem, dot, suffix = Path(attachment.filename).name.partition(".")
    for number in range(1, 1000):
        path = folder / (f"{stem}{'' if number == 1 else f'-{number}'}{dot}{suffix}")
        try:
            with path.open("xb") as file:
                file.write(attachment.content)
        except FileExistsError:
            continue
        return path
    raise FileExistsError(f"{folder / attachment.filename} and 998 numbered copies exist")


def is_quit(text: str) -> bool:
    return text.lower() in QUIT_WORDS


def _finished(task: asyncio.Task[bool]) -> None:
    """A command that raised is logged (the console goes on); a cancelled one says nothing."""
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("console command failed: %s", task.get_name(), exc_info=exc)


class StdinLines:
    """The lines typed on stdin. `async for` reads them as they come (a pipe, a file or a
    terminal in its ordinary line mode); `ConsoleAdapter.run` reads them at a prompt instead
    when stdin and its output are a terminal."""

    def __aiter__(self) -> AsyncIterator[str]:
        return _read_stdin()


def stdin_lines() -> StdinLines:
    return StdinLines()


def _watchable(stream: TextIO) -> bool:
    """A pipe, a socket or a terminal: what the event loop can wait on. A regular file or
    /dev/null (a service manager's stdin) cannot be: epoll refuses them."""
    try:
        mode = os.fstat(stream.fileno()).st_mode
    except (OSError, ValueError):
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stream.isatty()


async def _read_stdin() -> AsyncIterator[str]:
    """Lines from stdin without blocking the event loop."""
    if not _watchable(sys.stdin):
        while line := await asyncio.to_thread(sys.stdin.readline):
            yield line
        return
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line_bytes := await reader.readline():
        yield line_bytes.decode("utf-8", errors="replace")
