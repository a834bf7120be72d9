"""paperboy's one HTTP server: digest feeds and /healthz always, Slack's endpoints when Slack
runs over HTTP. Built by the composition root; Slack adds its routes before it starts. It runs
when Slack or Discord runs, or when PAPERBOY_PUBLIC_URL is set, so that feeds are served in
Socket Mode and on a Discord-only bot too."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from bot.atom import MIME
from bot.feeds import FEED_PATH, DigestFeeds
from bot.metrics import CONTENT_TYPE, Metrics

if TYPE_CHECKING:
    from aiohttp import web

log = logging.getLogger(__name__)


class HttpSetupError(ValueError):
    """The server cannot listen where it is told to; the message says what to set."""


class HttpServer:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        feeds: DigestFeeds,
        healthy: Callable[[], Awaitable[bool]],
        metrics: Metrics | None = None,
        public_url: str | None = None,
    ) -> None:
        self.metrics = metrics
        self.host = host
        self.healthy = healthy  # the database answers
        self.requested_port = port
        self.feeds = feeds
        self.public_url = public_url
        self._routes: list[web.RouteDef] = []
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    def add_routes(self, routes: list[web.RouteDef]) -> None:
        """Routes to serve besides feeds and /healthz (Slack's), added before `start`."""
        self._routes += routes

    @property
    def running(self) -> bool:
        return self._runner is not None

    async def start(self) -> None:
        """Listen (once: a second call, from the root after Slack started it, does nothing)."""
        if self._runner is not None:
            return
        from aiohttp import web  # here: `paperboy show` builds the core and needs no server

        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get(FEED_PATH + "{token}", self._feed)
        if self.metrics is not None:
            app.router.add_get("/metrics", self._metrics)
        app.add_routes(self._routes)
        # Connections still open at shutdown get a few seconds, not aiohttp's default minute;
        # no access log: feed URLs carry their token.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=3.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.requested_port)
        try:
            await site.start()
        except OSError as exc:  # the port is taken, or the host is no address of this machine
            await self._runner.cleanup()
            self._runner = None
            raise HttpSetupError(
                f"paperboy's HTTP server cannot listen on {self.host}:{self.requested_port} "
                f"({exc.strerror or exc}): set PAPERBOY_HTTP_PORT (or PAPERBOY_HTTP_HOST) to a "
                "free address of this machine"
            ) from None
        sockets = getattr(site._server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else self.requested_port
        self.feeds.base_url = self.public_url or f"http://{self._local_host()}:{self.port}"
        log.info("HTTP: serving on %s:%s", self.host, self.port)

    def _local_host(self) -> str:
        return "localhost" if self.host in {"0.0.0.0", "::", ""} else self.host  # noqa: S104

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _healthz(self, _request: web.Request) -> web.Response:
        from aiohttp import web

        if await self.healthy():
            return web.json_response({"ok": True})
        # Unhealthy: a load balancer stops sending Slack's events here, an orchestrator restarts.
        return web.json_response({"ok": False, "database": "unreachable"}, status=503)

    async def _metrics(self, _request: web.Request) -> web.Response:
        from aiohttp import web

        assert self.metrics is not None
        return web.Response(body=self.metrics.exposition(), headers={"Content-Type": CONTENT_TYPE})

    async def _feed(self, request: web.Request) -> web.Response:
        from aiohttp import web

        document = await self.feeds.document(request.match_info["token"])
        if document is None:
            return web.Response(status=404, text="No such feed (its address may have been reset).\n")
        # Feed readers poll: an unchanged feed costs them a 304 and no body.
        etag = '"' + hashlib.sha256(document).hexdigest()[:32] + '"'
        headers = {"Content-Type": MIME, "Cache-Control": "max-age=300", "ETag": etag}
        if etag in request.headers.get("If-None-Match", ""):
            return web.Response(status=304, headers=headers)
        return web.Response(body=document, headers=headers)
