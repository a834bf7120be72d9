"""Typing on a real terminal: a prompt with line editing, history and tab completion.

prompt_toolkit edits the line (arrow keys, Home/End, Ctrl-R search...), so only the finished
line reaches the adapter; `patch_stdout` prints the bot's output above the prompt, so an answer
that arrives while a line is being typed neither breaks nor loses that line. History is kept in
$XDG_STATE_HOME/paperboy/history (default ~/.local/state/paperboy/history), or in memory for the
session when that file cannot be written.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.history import FileHistory, History, InMemoryHistory

log = logging.getLogger(__name__)

PROMPT = "paperboy> "

# What Tab completes: each word leads to the words that may follow it (None: free text follows).
CommandTree = Mapping[str, "CommandTree | None"]
COMMANDS: CommandTree = {
    "/paper": {
        "search": None,
        "show": None,
        "today": None,
        "top": {"week": None, "month": None, "all": None},
        "digest": {"here": None, "off": None, "status": None},
        "follow": None,
        "following": None,
        "unfollow": None,
        "help": None,
    },
    "/react": None,
    "/unreact": None,
    "/quit": None,
}


def interactive(stdin: TextIO, out: TextIO) -> bool:
    """A person at a terminal: both ends are a tty (a pipe or a file on either side is a script)."""
    try:
        return stdin.isatty() and out.isatty()
    except (AttributeError, ValueError):  # a closed or stand-in stream
        return False


class CommandCompleter(Completer):
    """Completes the console's commands word by word, case-insensitively, after COMMANDS."""

    def __init__(self, tree: CommandTree = COMMANDS) -> None:
        self.tree = tree

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterable[Completion]:
        *done, partial = document.text_before_cursor.lstrip().split(" ")
        level: CommandTree | None = self.tree
        for word in filter(None, done):
            level = _lookup(level, word)
        if level is None:
            return
        for option in level:
            if option.startswith(partial.lower()):
                yield Completion(option, start_position=-len(partial))


def _lookup(level: CommandTree | None, word: str) -> CommandTree | None:
    return None if level is None else level.get(word.lower())


def history_path(environ: Mapping[str, str] = os.environ) -> Path:
    """$XDG_STATE_HOME/paperboy/history; the XDG default when it is unset or not absolute."""
    state = environ.get("XDG_STATE_HOME", "")
    base = Path(state) if os.path.isabs(state) else Path.home() / ".local" / "state"
    return base / "paperboy" / "history"


class _KeptHistory(FileHistory):
    """A history file read when this is made (before the prompt opens, off the event loop, so
    the first Up already finds it); it turns into memory-only history if a write fails."""

    def __init__(self, filename: Path) -> None:
        super().__init__(filename)
        self.loaded = list(super().load_history_strings())
        self.failed = False

    def load_history_strings(self) -> Iterable[str]:
        return self.loaded

    def store_string(self, string: str) -> None:
        if self.failed:
            return
        try:
            super().store_string(string)
        except OSError as exc:
            self.failed = True
            log.warning("command history is no longer saved to %s: %s", self.filename, exc)


def open_history(path: Path) -> History:
    """History in `path` (created private to the user), or in memory when it cannot be written.
    Reads the file: call it in a worker thread."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600))
        return _KeptHistory(path)
    except OSError as exc:
        log.warning("command history is kept for this session only (%s: %s)", path, exc)
        return InMemoryHistory()


@contextmanager
def logging_through(stream: TextIO) -> Iterator[None]:
    """Point the log handlers that write to the terminal at `stream` (the prompt's stdout proxy)."""
    terminals = {sys.__stdout__, sys.__stderr__, sys.stdout, sys.stderr}
    moved: list[tuple[logging.StreamHandler[TextIO], TextIO]] = []
    for handler in logging.getLogger().handlers:
        if type(handler) is logging.StreamHandler and handler.stream in terminals:
            moved.append((handler, handler.stream))
            handler.setStream(stream)
    try:
        yield
    finally:
        for handler, original in moved:
            handler.setStream(original)


async def typed_lines(history: History) -> AsyncIterator[str]:
    """Lines as typed at the prompt, until Ctrl-D (on an empty line) or Ctrl-C."""
    session: PromptSession[str] = PromptSession(
        history=history,
        completer=CommandCompleter(),
        complete_while_typing=False,  # Tab completes; nothing pops up while typing a query
    )
    while True:
        try:
            # SIGINT stays with the caller (it stops the bot), and so does the loop's exception
            # handler; in the prompt's raw mode Ctrl-C is a key, raising KeyboardInterrupt here.
            line = await session.prompt_async(PROMPT, handle_sigint=False, set_exception_handler=False)
        except (EOFError, KeyboardInterrupt):
            return
        yield line


async def open_history_for_user() -> History:
    return await asyncio.to_thread(open_history, history_path())
