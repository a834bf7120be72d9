"""A fake Slack: the Web API, response_url sinks and a Socket Mode websocket on 127.0.0.1.

Every Web API call is recorded with its merged parameters (query string, form or JSON body).
Failures can be queued per method: a 429 with Retry-After, or an `{"ok": false, "error": …}`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import WSMsgType, web

from tests.local_server import serve

BOT_USER = "UBOT"
TEAM = "T1"


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    token: str | None
    at: float
    connection: tuple[str, int] | None = None  # the caller's address and port: one per connection


@dataclass
class Failure:
    status: int = 200
    error: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def sign(secret: str, body: str, timestamp: int | None = None) -> dict[str, str]:
    """Headers exactly as Slack signs a request: v0=HMAC_SHA256(secret, "v0:{ts}:{body}")."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


class FakeSlack:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.responses: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.failures: dict[str, list[Failure]] = defaultdict(list)
        self.failures_on_call: dict[tuple[str, int], Failure] = {}
        self.holds: dict[tuple[str, int], asyncio.Event] = {}
        self.admins: set[str] = {"UADMIN"}
        self.response_times: dict[str, float] = {}  # when each response_url was first answered
        self.answered: dict[str, asyncio.Event] = {}  # set when a response_url is answered
        self.response_connections: list[tuple[str, int] | None] = []  # each answer's caller address
        # Image URLs Slack "cannot download": it then refuses the whole message (invalid_blocks).
        self.unreachable_images: set[str] = set()
        self.socket_acks: list[dict[str, Any]] = []
        self.uploads: dict[str, bytes] = {}  # file id → the bytes posted to its upload URL
        self.url = ""
        self._ts = itertools.count(1)
        self._response_ids = itertools.count(1)
        self._sockets: list[web.WebSocketResponse] = []
        self._socket_ready = asyncio.Event()
        self._runner: web.AppRunner | None = None

    # --- control -----------------------------------------------------------------------------
    def fail_next(self, method: str, *failures: Failure) -> None:
        self.failures[method].extend(failures)

    def hold_on_call(self, method: str, number: int) -> asyncio.Event:
        """Keep the `number`th call of `method` waiting until the returned event is set (a Slack
        that stops answering mid-digest)."""
        release = asyncio.Event()
        self.holds[(method, number)] = release
        return release

    def fail_on_call(self, method: str, number: int, failure: Failure) -> None:
        """Answer the `number`th call of `method` (1-based) with `failure`."""
        self.failures_on_call[(method, number)] = failure

    def calls_to(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    def new_response_url(self) -> tuple[str, str]:
        key = str(next(self._response_ids))
        return key, f"{self.url}/response/{key}"

    async def push_socket(self, envelope: dict[str, Any]) -> None:
        await asyncio.wait_for(self._socket_ready.wait(), 10)
        await self._sockets[-1].send_str(json.dumps(envelope))

    # --- server ------------------------------------------------------------------------------
    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/response/{key}", self._response)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/socket", self._socket)
        self._runner, port = await serve(app)
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        for ws in self._sockets:
            await ws.close()
        if self._runner:
            await self._runner.cleanup()

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                params.update(await request.json())
            else:
                params.update(dict(await request.post()))
        return params

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._params(request)
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth else params.get("token")
        peer = request.transport.get_extra_info("peername") if request.transport else None
        self.calls.append(Call(method, params, token, time.monotonic(), tuple(peer[:2]) if peer else None))
        number = len(self.calls_to(method))
        if (hold := self.holds.get((method, number))) is not None:
            await hold.wait()
        failure = self.failures_on_call.pop((method, number), None)
        if failure is None and self.failures[method]:
            failure = self.failures[method].pop(0)
        if failure is not None:
            body = {"ok": False, "error": failure.error or "ratelimited"}
            return web.json_response(body, status=failure.status, headers=failure.headers)
        return web.json_response(self._answer(method, params))

    def _answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {
                "ok": True,
                "user_id": BOT_USER,
                "bot_id": "BBOT",
                "team_id": TEAM,
                "team": "Team",
                "url": "https://team.slack.example/",
            }
        if method == "chat.postMessage":
            blocks = params.get("blocks") or []
            blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
            for index, block in enumerate(blocks):
                if (block.get("accessory") or {}).get("image_url") in self.unreachable_images:
                    pointer = f"/blocks/{index}/accessory/image_url"
                    return {
                        "ok": False,
                        "error": "invalid_blocks",
                        "errors": [f"downloading image failed [json-pointer:{pointer}]"],
                    }
            ts = f"1700000000.{next(self._ts):06d}"
            return {"ok": True, "channel": params.get("channel"), "ts": ts, "message": {"ts": ts}}
        if method == "files.getUploadURLExternal":
            file_id = f"F{next(self._ts):06d}"
            return {"ok": True, "file_id": file_id, "upload_url": f"{self.url}/upload/{file_id}"}
        if method == "files.completeUploadExternal":
            files = params.get("files") or "[]"
            files = json.loads(files) if isinstance(files, str) else files
            return {"ok": True, "files": [{"id": f["id"], "title": f.get("title")} for f in files]}
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": f"D{params.get('users')}"}}
        if method == "users.info":
            user = str(params.get("user"))
            return {"ok": True, "user": {"id": user, "is_admin": user in self.admins, "is_owner": False}}
        if method == "apps.connections.open":
            return {"ok": True, "url": self.url.replace("http", "ws") + "/socket"}
        if method == "oauth.v2.access":
            return {
                "ok": True,
                "access_token": "xoxb-installed",
                "token_type": "bot",
                "scope": "commands,chat:write",
                "bot_user_id": BOT_USER,
                "app_id": "A1",
                "team": {"id": "T2", "name": "Other Team"},
                "enterprise": None,
                "is_enterprise_install": False,
                "authed_user": {"id": "UINSTALLER", "scope": "", "access_token": None, "token_type": None},
            }
        return {"ok": True}

    async def _upload(self, request: web.Request) -> web.Response:
        self.uploads[request.match_info["file_id"]] = await request.read()
        return web.Response(text="OK - uploaded")

    async def _response(self, request: web.Request) -> web.Response:
        self.responses[request.match_info["key"]].append(await request.json())
        peer = request.transport.get_extra_info("peername") if request.transport else None
        self.response_connections.append(tuple(peer[:2]) if peer else None)
        self.response_times.setdefault(request.match_info["key"], time.monotonic())
        self.answered.setdefault(request.match_info["key"], asyncio.Event()).set()
        return web.json_response({"ok": True})

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_str(json.dumps({"type": "hello", "num_connections": 1}))
        self._socket_ready.set()
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                self.socket_acks.append(json.loads(message.data))
        return ws


def command_body(text: str, *, user: str, channel: str, response_url: str, team: str = TEAM) -> str:
    return urlencode(
        {
            "token": "legacy",
            "team_id": team,
            "team_domain": "team",
            "channel_id": channel,
            "channel_name": "papers",
            "user_id": user,
            "user_name": user,
            "command": "/paper",
            "text": text,
            "response_url": response_url,
            "trigger_id": "1.2.3",
            "api_app_id": "A1",
        }
    )


def action_body(
    action: dict[str, Any], *, user: str, channel: str, response_url: str, team: str = TEAM
) -> str:
    """A block_actions interaction as Slack posts it: form-encoded, its JSON in `payload`."""
    payload = {
        "type": "block_actions",
        "team": {"id": team, "domain": "team"},
        "user": {"id": user, "username": user, "team_id": team},
        "api_app_id": "A1",
        "token": "legacy",
        "trigger_id": "1.2.3",
        "container": {"type": "message", "message_ts": "1700000000.000001", "channel_id": channel},
        "channel": {"id": channel, "name": "papers"},
        "response_url": response_url,
        "actions": [{"block_id": "b1", "action_ts": "1700000002.000001", **action}],
    }
    return urlencode({"payload": json.dumps(payload)})


def reaction_event(
    kind: str, *, user: str, reaction: str, channel: str, ts: str, event_id: str, team: str = TEAM
) -> dict[str, Any]:
    return {
        "token": "legacy",
        "team_id": team,
        "api_app_id": "A1",
        "type": "event_callback",
        "event_id": event_id,
        "event_time": 1700000000,
        "authorizations": [{"team_id": team, "user_id": BOT_USER, "is_bot": True}],
        "event": {
            "type": kind,
            "user": user,
            "reaction": reaction,
            "item_user": BOT_USER,
            "item": {"type": "message", "channel": channel, "ts": ts},
            "event_ts": "1700000001.000100",
        },
    }
