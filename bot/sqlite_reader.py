"""Read-only SQLite queries on worker threads: one hop between the event loop and a thread.

Through SQLAlchemy and aiosqlite, one query makes about five hops (cursor, execute, fetch, close,
rollback): 1.5 ms at p50 and 3 ms at p95 for `SELECT 1` on the benchmark machine, several times
what FTS5 needs for a rare word (BENCHMARKS.md). Search runs here instead: each worker thread has
its own connection, and a query runs and fetches in one call.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

Params = Mapping[str, Any] | Sequence[Any]


class SQLiteReader:
    def __init__(self, path: str, *, threads: int = 2, busy_timeout_ms: int = 10_000) -> None:
        if not path or path == ":memory:":
            raise ValueError("a SQLite reader needs a database file, not an in-memory database")
        self.path = path
        self._busy_timeout_ms = busy_timeout_ms
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="paperboy-sqlite-read")
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            # check_same_thread=False only so that close() can close it from another thread.
            connection = sqlite3.connect(self.path, check_same_thread=False)
            connection.execute(f"PRAGMA busy_timeout={int(self._busy_timeout_ms)}")
            connection.execute("PRAGMA query_only=ON")
            with self._lock:
                self._connections.append(connection)
            self._local.connection = connection
        return connection

    def _fetch_all(self, sql: str, params: Params) -> list[tuple[Any, ...]]:
        connection = self._connection()
        # Each call reads one consistent snapshot and ends its read transaction at once, so
        # the WAL can be checkpointed past it.
        return connection.execute(sql, params).fetchall()

    async def fetch_all(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        if self._closed:
            raise RuntimeError("the SQLite reader is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._fetch_all, sql, params)

    async def aclose(self) -> None:
        """Wait for running queries, then close every connection."""
        if self._closed:
            return
        self._closed = True
        await asyncio.get_running_loop().run_in_executor(None, self._executor.shutdown, True)
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.close()
