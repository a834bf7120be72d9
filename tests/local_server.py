"""Serving a fake on 127.0.0.1 with a random port: what every fake server in tests/ does."""

from __future__ import annotations

from aiohttp import web


async def serve(app: web.Application) -> tuple[web.AppRunner, int]:
    """Start `app` on 127.0.0.1, on a port the OS picks; returns the runner and the port."""
    # A fake's handler still waiting (an injected delay) is cancelled at once at the end of a
    # test, not waited for as a real server would.
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, int(port)
