"""`python -m adapters.cli …` as a real child process, as a user would start paperboy."""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]


async def spawn(
    *args: str,
    env: dict[str, str],
    cwd: Path,
    stdin: Any = asyncio.subprocess.DEVNULL,
    stderr: Any = asyncio.subprocess.STDOUT,
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "adapters.cli",
        *args,
        stdin=stdin,
        stdout=asyncio.subprocess.PIPE,
        stderr=stderr,
        env=env,
        cwd=cwd,
    )


async def stop(process: asyncio.subprocess.Process, *, seen: str = "", timeout: float = 30) -> str:
    """SIGTERM, then the rest of its output. One that does not stop dumps its stacks (SIGUSR1),
    is killed, and fails the test with everything it printed."""
    process.send_signal(signal.SIGTERM)
    try:
        rest, _ = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.send_signal(signal.SIGUSR1)
        await asyncio.sleep(1)
        process.kill()
        rest, _ = await process.communicate()
        raise AssertionError("paperboy did not stop on SIGTERM:\n" + seen + rest.decode()) from None
    return seen + rest.decode()
