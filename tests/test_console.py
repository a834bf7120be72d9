"""The console adapter as a user drives it: `paperboy run` in a real subprocess, stdin and stdout."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from bot.post_calendar import newest_closed_day
from tests.fake_hf import FakeHF
from tests.paperboy_process import PROJECT_ROOT, spawn

pytestmark = pytest.mark.slow  # paperboy processes

SLOW_PAPER = (
    "2205.90001",
    "Need is All You Need: Homeostatic Neural Networks Adapt to Concept Shift",
)  # not on a recent list


class ConsoleProcess:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.seen: list[str] = []

    async def send(self, line: str) -> None:
        assert self.process.stdin
        self.process.stdin.write((line + "\n").encode())
        await self.process.stdin.drain()

    async def expect(self, pattern: str, timeout: float = 20.0) -> re.Match[str]:
        """Read stdout until a line matches `pattern` (a regex); fail after `timeout` seconds."""
        assert self.process.stdout
        regex = re.compile(pattern)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            assert remaining > 0, f"no line matched {pattern!r}; saw:\n" + "\n".join(self.seen[-40:])
            try:
                raw = await asyncio.wait_for(self.process.stdout.readline(), remaining)
            except TimeoutError:
                raise AssertionError(
                    f"no line matched {pattern!r}; saw:\n" + "\n".join(self.seen[-40:])
                ) from None
            assert raw, f"stdout closed before {pattern!r}; saw:\n" + "\n".join(self.seen[-40:])
            line = raw.decode().rstrip("\n")
            self.seen.append(line)
            if match := regex.search(line):
                return match

    async def close(self) -> int:
        assert self.process.stdin
        self.process.stdin.close()  # Ctrl-D
        return await asyncio.wait_for(self.process.wait(), 20)


async def start(args: list[str], env: dict[str, str], cwd: Path) -> ConsoleProcess:
    return ConsoleProcess(await spawn(*args, env=env, cwd=cwd, stdin=asyncio.subprocess.PIPE))


class GatedHF(FakeHF):
    """A fake Hugging Face whose /api/papers (one paper, as `/paper show` of an unstored paper
    asks) answers only once `gate` is set: a Hugging Face that hangs, for as long as a test says."""

    def __init__(self) -> None:
        super().__init__()
        self.move_day("2025-05-13", newest_closed_day(dt.datetime.now(dt.UTC)))  # a recent list
        self.gate = asyncio.Event()
        self.asked = asyncio.Event()  # a paper request has arrived and waits at the gate

    async def _paper(self, request: web.Request) -> web.Response:
        self.asked.set()
        await self.gate.wait()
        return await super()._paper(request)


@pytest.fixture
async def gated_hf() -> AsyncIterator[GatedHF]:
    fake = GatedHF()
    await fake.start()
    try:
        yield fake
    finally:
        fake.gate.set()
        await fake.stop()


def hf_env(url: str, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PAPERBOY_HF_BASE_URL": url,
        "PAPERBOY_HF_RETRY_BUDGET_SECONDS": "2",
        "PYTHONPATH": str(PROJECT_ROOT),
        "XDG_STATE_HOME": str(tmp_path / "state"),
    }


async def test_run_answers_posts_counts_votes_and_keeps_them_across_a_restart(
    fake_hf: FakeHF, tmp_path: Path
) -> None:
    today = dt.datetime.now(dt.UTC).date()
    recent = newest_closed_day(dt.datetime.now(dt.UTC))
    fake_hf.move_day("2025-05-13", recent)  # "Learning from Peers" and one more, on a recent list
    env = {
        **os.environ,
        "PAPERBOY_HF_BASE_URL": fake_hf.url,
        "PAPERBOY_HF_RETRY_BUDGET_SECONDS": "2",
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
    }
    assert recent >= today - dt.timedelta(days=6)

    bot = await start(["run"], env, tmp_path)
    await bot.expect(r"^\* First start: fetching the last 7 days of Daily Papers from Hugging Face")
    await bot.expect(r"^\* First start: fetched 2 papers from the last 7 days")
    await bot.send("/paper search learning from peers")
    await bot.expect(r"^1\. Learning from Peers in Reasoning Models$")
    await bot.send("/paper digest here 09:30 Europe/Berlin top 1")
    await bot.expect(r"Daily digest on for this channel: 09:30 Europe/Berlin on weekdays, top 1")
    await bot.send("/paper follow reasoning")
    await bot.expect(r"Saved search #1: reasoning")

    # A second process posts the digest now, while `paperboy run` holds the same SQLite file.
    poster = await start(
        ["digest", "post", "--platform", "console", "--channel", "console", "--date", recent.isoformat()],
        env,
        tmp_path,
    )
    header = await poster.expect(r"^\[([0-9a-f]{6})\] Daily Papers · .* · 1 of 2$")
    card = await poster.expect(r"^    \[([0-9a-f]{6})\] \(thread of ([0-9a-f]{6})\) (.+)$")
    assert card.group(2) == header.group(1)
    title = card.group(3)
    assert await poster.close() == 0

    repeat = await start(
        ["digest", "post", "--platform", "console", "--channel", "console", "--date", recent.isoformat()],
        env,
        tmp_path,
    )
    await repeat.expect(r"already posted")
    assert await repeat.close() == 0
    assert not any("Daily Papers ·" in line for line in repeat.seen)  # not even a header

    await bot.send(f"/react {card.group(1)} 👍")
    await bot.expect(r"Vote counted for .*: 👍 1 · 👎 0")
    await bot.send(f"/unreact {card.group(1)}")
    await bot.expect(r"Vote removed for .*: 👍 0 · 👎 0")
    await bot.send(f"/unreact {card.group(1)}")
    await bot.expect(rf"You had no 👍 reaction on {card.group(1)}; nothing changed")
    await bot.send(f"/react {card.group(1)} 👍")
    await bot.expect(r"Vote counted for .*: 👍 1 · 👎 0")
    await bot.send(f"/react {header.group(1)} 👍")
    await bot.expect(r"No vote: .* is not a paper message")
    await bot.send("/paper top")
    await bot.expect(rf"^1\. {re.escape(title)}$")
    await bot.expect(r"👍 1 · ▲")
    assert await bot.close() == 0

    again = await start(["run"], env, tmp_path)  # restart: everything is still there
    await again.send("/paper top all")
    await again.expect(rf"^1\. {re.escape(title)}$")
    await again.send("/paper following")
    await again.expect(r"^1\. reasoning$")
    await again.send("/paper digest status")
    await again.expect(r"Daily digest: 09:30 Europe/Berlin on weekdays, top 1")
    await again.send("/paper search learning from peers")
    await again.expect(r"^1\. Learning from Peers in Reasoning Models$")
    assert await again.close() == 0
    assert not any("Traceback" in line for line in again.seen + bot.seen)


async def test_unreachable_hf_is_said_once_and_the_bot_keeps_running(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PAPERBOY_HF_BASE_URL": "http://127.0.0.1:9",
        "PAPERBOY_HF_RETRY_BUDGET_SECONDS": "1",
    }
    bot = await start(["run"], env, tmp_path)
    await bot.expect(r"^\* Hugging Face is unreachable .*keeps running")
    await bot.send("/paper search anything")
    await bot.expect(r"No papers match")
    await bot.send("/paper nonsense")
    await bot.expect(r"Unknown command 'nonsense'")
    assert await bot.close() == 0
    assert sum("unreachable" in line for line in bot.seen) == 1
    assert not any("Traceback" in line for line in bot.seen)


async def test_a_slow_command_does_not_hold_up_the_next_and_the_end_of_input_waits_for_it(
    gated_hf: GatedHF, tmp_path: Path
) -> None:
    bot = await start(["run"], hf_env(gated_hf.url, tmp_path), tmp_path)
    await bot.expect(r"^\* First start: fetched 2 papers")
    await bot.send(f"/paper show {SLOW_PAPER[0]}")
    await asyncio.wait_for(gated_hf.asked.wait(), 20)  # the show waits on Hugging Face
    await bot.send("/paper search learning from peers")
    await bot.expect(r"^1\. Learning from Peers in Reasoning Models$")
    assert not any(SLOW_PAPER[1] in line for line in bot.seen)

    assert bot.process.stdin
    bot.process.stdin.close()  # end of input, with the show still running: it is waited for
    gated_hf.gate.set()
    await bot.expect(rf"^{re.escape(SLOW_PAPER[1])}$")
    assert await asyncio.wait_for(bot.process.wait(), 20) == 0
    assert not any("\x1b" in line or "Traceback" in line for line in bot.seen)  # no prompt, no escapes


async def test_quit_cancels_a_command_still_running(gated_hf: GatedHF, tmp_path: Path) -> None:
    bot = await start(["run"], hf_env(gated_hf.url, tmp_path), tmp_path)
    await bot.expect(r"^\* First start: fetched 2 papers")
    await bot.send(f"/paper show {SLOW_PAPER[0]}")
    await asyncio.wait_for(gated_hf.asked.wait(), 20)
    await bot.send("/quit")
    assert await asyncio.wait_for(bot.process.wait(), 20) == 0  # while Hugging Face still hangs
    assert bot.process.stdout
    bot.seen += (await bot.process.stdout.read()).decode().splitlines()
    # The show was cancelled, not answered late (not even with "Hugging Face is unreachable").
    assert not any(SLOW_PAPER[0] in line or "Traceback" in line for line in bot.seen), bot.seen


async def test_lines_piped_in_at_once_are_answered_in_their_order(fake_hf: FakeHF, tmp_path: Path) -> None:
    bot = await start(["run"], hf_env(fake_hf.url, tmp_path), tmp_path)
    for line in (
        "/paper follow diffusion",
        "/paper following",
        "/paper digest here 08:30 Europe/Berlin",
        "/paper digest status",
    ):
        await bot.send(line)
    await bot.expect(r"^Saved search #1: diffusion")
    await bot.expect(r"^1\. diffusion$")  # `following` saw the search saved the line before
    await bot.expect(r"^Daily digest on for this channel")
    await bot.expect(r"^Daily digest: 08:30 Europe/Berlin on weekdays")
    assert await bot.close() == 0
    assert not any("No digest in this channel" in line or "You follow no" in line for line in bot.seen)


async def test_piped_commands_on_a_fresh_store_wait_for_the_first_fetch(
    fake_hf: FakeHF, tmp_path: Path
) -> None:
    fake_hf.move_day("2025-05-13", newest_closed_day(dt.datetime.now(dt.UTC)))  # a recent list
    process = await spawn(
        "run", env=hf_env(fake_hf.url, tmp_path), cwd=tmp_path, stdin=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(process.communicate(b"/paper today\n"), 60)
    text = out.decode()
    assert process.returncode == 0, text
    assert "No Daily Papers lists are stored yet" not in text
    assert re.search(r"^Daily Papers · .* · 2 of 2$", text, re.MULTILINE), text


@pytest.mark.parametrize("stdin", ["/dev/null", "a file"])
async def test_run_with_stdin_that_cannot_be_watched_reads_it_to_the_end(
    fake_hf: FakeHF, tmp_path: Path, stdin: str
) -> None:
    # /dev/null is what a service manager or `docker run` without -i gives: epoll cannot watch
    # it (EPERM), and paperboy used to wait forever after an asyncio traceback.
    path = Path(os.devnull)
    if stdin == "a file":
        path = tmp_path / "commands.txt"
        path.write_text("/paper help\n")
    with path.open("rb") as source:
        process = await spawn("run", env=hf_env(fake_hf.url, tmp_path), cwd=tmp_path, stdin=source)
        out, _ = await asyncio.wait_for(process.communicate(), 60)
    text = out.decode()
    assert process.returncode == 0, text
    assert "Traceback" not in text
    assert ("/paper unfollow" in text) == (stdin == "a file")  # the help's answer
