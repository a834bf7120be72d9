"""The console at a real terminal: `paperboy run` in a child process on a pseudo-terminal, typed
at key by key (arrow keys, Backspace, Tab, Ctrl-C, Ctrl-D) the way a person would."""

from __future__ import annotations

import asyncio
import fcntl
import os
import re
import struct
import sys
import termios
from collections.abc import AsyncIterator
from pathlib import Path

import pyte
import pytest

from tests.test_console import SLOW_PAPER, GatedHF, hf_env

pytestmark = pytest.mark.slow  # paperboy processes under a terminal

LEFT, RIGHT, UP = "\x1b[D", "\x1b[C", "\x1b[A"
BACKSPACE, TAB, ENTER, CTRL_C, CTRL_D = "\x7f", "\t", "\r", "\x03", "\x04"
COLUMNS, ROWS = 160, 40


class Screen(pyte.HistoryScreen):
    """A VT100 screen (pyte) that keeps the lines scrolled off its top and, like a real terminal,
    answers the program's questions (prompt_toolkit asks where the cursor is)."""

    def __init__(self, master: int) -> None:
        super().__init__(COLUMNS, ROWS, history=100_000)
        self.master = master

    def write_process_input(self, data: str) -> None:
        os.write(self.master, data.encode())

    def transcript(self) -> list[str]:
        """Every line shown so far: those scrolled away, then the screen's."""
        scrolled = ["".join(line[column].data for column in range(self.columns)) for line in self.history.top]
        return [line.rstrip() for line in scrolled + self.display]


class Terminal:
    """A pseudo-terminal with `paperboy run` on its other end: keys in, the screen's lines out."""

    def __init__(self, process: asyncio.subprocess.Process, master: int) -> None:
        self.process = process
        self.master = master
        self.screen = Screen(master)
        self.stream = pyte.ByteStream(self.screen)
        self.from_line = 0  # `expect` looks from the line of its last match on
        self.changed = asyncio.Event()
        self.closed = False
        asyncio.get_running_loop().add_reader(master, self._readable)

    @classmethod
    async def start(cls, env: dict[str, str], cwd: Path) -> Terminal:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "adapters.cli",
            "run",
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
        os.close(slave)
        os.set_blocking(master, False)
        return cls(process, master)

    def _readable(self) -> None:
        try:
            data = os.read(self.master, 65536)
        except BlockingIOError:
            return
        except OSError:  # EIO: every process on the other end has closed it
            data = b""
        if not data:
            self.closed = True
            asyncio.get_running_loop().remove_reader(self.master)
        self.stream.feed(data)
        self.changed.set()

    @property
    def text(self) -> str:
        return "\n".join(self.screen.transcript())

    async def expect(self, pattern: str, timeout: float = 20.0) -> re.Match[str]:
        """Wait until a line at or below the last match shows `pattern` (a regex)."""
        regex = re.compile(pattern)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            lines = self.screen.transcript()
            for number in range(self.from_line, len(lines)):
                if match := regex.search(lines[number]):
                    self.from_line = number
                    return match
            remaining = deadline - loop.time()
            if remaining <= 0 or self.closed:
                shown = "\n".join(line for line in lines[-60:] if line)
                raise AssertionError(f"the terminal never showed {pattern!r}; it shows:\n{shown}")
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), remaining)
            except TimeoutError:
                pass

    async def type(self, *keys: str) -> None:
        for key in keys:  # one key at a time, as typed
            os.write(self.master, key.encode())

    async def wait(self, timeout: float = 20.0) -> int:
        return await asyncio.wait_for(self.process.wait(), timeout)

    async def close(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        if not self.closed:
            asyncio.get_running_loop().remove_reader(self.master)
        os.close(self.master)


@pytest.fixture
async def gated_hf() -> AsyncIterator[GatedHF]:
    fake = GatedHF()
    await fake.start()
    try:
        yield fake
    finally:
        fake.gate.set()
        await fake.stop()


def environment(hf_url: str, tmp_path: Path) -> dict[str, str]:
    return {**hf_env(hf_url, tmp_path), "TERM": "xterm-256color"}


@pytest.fixture
async def terminals() -> AsyncIterator[list[Terminal]]:
    started: list[Terminal] = []
    try:
        yield started
    finally:
        for terminal in started:
            await terminal.close()


async def test_arrow_keys_edit_the_line_and_only_the_corrected_command_reaches_the_bot(
    gated_hf: GatedHF, tmp_path: Path, terminals: list[Terminal]
) -> None:
    terminal = await Terminal.start(environment(gated_hf.url, tmp_path), tmp_path)
    terminals.append(terminal)
    await terminal.expect(r"First start: fetched 2 papers")
    await terminal.expect(r"^paperboy>")
    await terminal.type(*"/paper todya", LEFT, BACKSPACE, RIGHT, "y", ENTER)
    await terminal.expect(r"^Daily Papers · .* · 2 of 2$")
    await terminal.expect(r"^1\. Learning from Peers in Reasoning Models$")
    assert "Unknown command" not in terminal.text
    await terminal.type(CTRL_D)
    assert await terminal.wait() == 0
    assert "Traceback" not in terminal.text
    assert history_lines(tmp_path) == ["/paper today"]  # what was run, as corrected


def history_lines(tmp_path: Path) -> list[str]:
    history = (tmp_path / "state" / "paperboy" / "history").read_text(encoding="utf-8")
    return re.findall(r"^\+(.*)$", history, re.MULTILINE)


async def test_tab_completes_and_history_is_kept_for_the_next_session(
    gated_hf: GatedHF, tmp_path: Path, terminals: list[Terminal]
) -> None:
    first = await Terminal.start(environment(gated_hf.url, tmp_path), tmp_path)
    terminals.append(first)
    await first.expect(r"First start: fetched 2 papers")
    await first.expect(r"^paperboy>")
    await first.type(*"/paper he", TAB)
    await first.expect(r"^paperboy> /paper help$")  # completed (completion runs as a task: look first)
    await first.type(ENTER)
    await first.expect(r"^paperboy brings Hugging Face Daily Papers here\.$")
    await first.type(CTRL_C)
    assert await first.wait() == 0
    assert history_lines(tmp_path) == ["/paper help"]

    second = await Terminal.start(environment(gated_hf.url, tmp_path), tmp_path)
    terminals.append(second)
    await second.expect(r"^paperboy>")
    await second.type(UP, ENTER)  # the last session's command
    await second.expect(r"^paperboy brings Hugging Face Daily Papers here\.$")
    await second.type(CTRL_D)
    assert await second.wait() == 0
    assert "Traceback" not in first.text + second.text


async def test_history_stays_in_memory_when_its_file_cannot_be_written(
    gated_hf: GatedHF, tmp_path: Path, terminals: list[Terminal]
) -> None:
    (tmp_path / "state").write_text("a file where the state directory should be")
    terminal = await Terminal.start(environment(gated_hf.url, tmp_path), tmp_path)
    terminals.append(terminal)
    await terminal.expect(r"command history is kept for this session only")
    await terminal.expect(r"^paperboy>")
    await terminal.type(*"/paper help", ENTER)
    await terminal.expect(r"^paperboy brings Hugging Face Daily Papers here\.$")
    await terminal.type(*"/paper to", TAB, ENTER)  # "today" or "top": nothing to complete
    await terminal.expect(r"Unknown command 'to'")
    await terminal.type(UP, UP, ENTER)
    await terminal.expect(r"^paperboy brings Hugging Face Daily Papers here\.$")
    await terminal.type(CTRL_D)
    assert await terminal.wait() == 0


async def test_a_slow_command_leaves_the_prompt_open_and_its_answer_does_not_break_the_line_being_typed(
    gated_hf: GatedHF, tmp_path: Path, terminals: list[Terminal]
) -> None:
    terminal = await Terminal.start(environment(gated_hf.url, tmp_path), tmp_path)
    terminals.append(terminal)
    await terminal.expect(r"First start: fetched 2 papers")
    await terminal.expect(r"^paperboy>")
    await terminal.type(*f"/paper show {SLOW_PAPER[0]}", ENTER)
    await asyncio.wait_for(gated_hf.asked.wait(), 20)
    await terminal.type(*"/paper today", ENTER)
    await terminal.expect(r"^Daily Papers · .* · 2 of 2$")
    await terminal.type(*"/paper sear")  # half typed when the slow answer arrives
    await terminal.expect(r"^paperboy> /paper sear$")
    gated_hf.gate.set()
    await terminal.expect(rf"^{re.escape(SLOW_PAPER[1])}$")
    await terminal.expect(r"^paperboy> /paper sear$")  # the line is drawn again below the answer
    await terminal.type(*"ch learning from peers", ENTER)
    await terminal.expect(r"^1\. Learning from Peers in Reasoning Models$")
    await terminal.type(CTRL_D)
    assert await terminal.wait() == 0
    assert history_lines(tmp_path) == [
        f"/paper show {SLOW_PAPER[0]}",
        "/paper today",
        "/paper search learning from peers",
    ]
    assert "Traceback" not in terminal.text
