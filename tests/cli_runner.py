"""`paperboy …` run in this process: the real command line (typer app, settings, core, exit
codes, stdout and stderr), without the second of imports a new process pays on every call.

The command runs on a worker thread with its own event loop (it calls asyncio.run), so fakes
serving on the test's loop keep answering. What a user would see as a traceback (an exception
the command line did not turn into a message and an exit code) fails the test. `paperboy run`
sets signal handlers, which only the main thread may: tests of it start real processes
(tests/paperboy_process.py).
"""

from __future__ import annotations

import asyncio
import os
import traceback
from collections.abc import Mapping
from dataclasses import dataclass

from typer.testing import CliRunner

from adapters.cli import app


@dataclass
class Result:
    code: int
    out: str
    err: str


def _invoke(args: tuple[str, ...], env: Mapping[str, str]) -> Result:
    result = CliRunner().invoke(app, list(args), env=dict(env))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        shown = "".join(traceback.format_exception(result.exception))
        raise AssertionError(f"paperboy {' '.join(args)} ended in a traceback:\n{shown}")
    return Result(result.exit_code, result.stdout, result.stderr)


async def run_paperboy(*args: str, env: Mapping[str, str] | None = None) -> Result:
    """`paperboy ARGS` with `env` added to this process's environment for the call."""
    environment = dict(os.environ) | dict(env or {})
    return await asyncio.to_thread(_invoke, args, environment)
