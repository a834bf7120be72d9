"""A fake Discord on 127.0.0.1: the REST API under /api/v10 and a gateway websocket under /gateway.

Point the real discord.py at it before `client.start(...)`::

    monkeypatch.setattr(discord.http.Route, "BASE", f"{fake.url}/api/v10")
    monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(fake.ws_url))

REST: every request is recorded as a `Recorded` (path relative to /api/v10, e.g.
"/channels/123/messages"). Failures can be queued per method and path prefix with `fail_next`.
Messages, threads, DM channels, slash-command registrations and interaction responses are kept in
plain dicts and lists for assertions.

Rate limits (`FakeDiscord(limits=DiscordLimits())`, off by default): the global limit (50 bot
requests in any sliding second; interaction callbacks and followups exempt) and per-route buckets
(5 messages per 5 s per channel, …), with Discord's X-RateLimit-* headers on every answer and 429s
shaped like Discord's (`retry_after`, `global`, X-RateLimit-Scope). Each 429 is kept in
`rate_limited`; `peak_global_window()` is the most bot requests that arrived in any one second.

Gateway: HELLO, IDENTIFY -> READY + GUILD_CREATE, heartbeat ACKs, RESUME with replay of the events
the client missed, INVALID_SESSION for unknown sessions. Events are sent with `dispatch`; the
connection can be cut from the server side with `drop_connection`.

Shards: several connections at once, one per shard (`shard` in IDENTIFY), each told of the guilds
Discord's formula puts on it, `(guild_id >> 22) % shard_count`. `add_guild` adds a server (on a
chosen shard); `dispatch` sends an event over the connection of the shard of the event's guild
(DMs over shard 0), as Discord does, so a cluster only hears its own servers.

Payloads follow what discord.py 2.7 parses (KeyErrors on drift):
- JSON bodies carry exactly `Content-Type: application/json` (discord.py compares it literally).
- Every response carries `Via: 1.1 google`: discord.py treats a 429 without `Via` as a Cloudflare
  ban and raises instead of retrying.
- INTERACTION_CREATE needs attachment_size_limit, version, token, application_id and context;
  reactions need `type`; the interaction callback is POSTed with `?with_response=1` and answered
  with `{"interaction": {...}, "resource": {...}}`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import itertools
import json
import math
import re
import secrets
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from aiohttp import WSMsgType, web

from tests.local_server import serve

# --- identities ----------------------------------------------------------------------------------
# Realistic 19-digit snowflakes (timestamps from late 2023). The bot user id differs from the application id on purpose
# (for apps created since 2016 they are equal): code that mixes the two up fails here.
APP_ID = 1187020468418940928
BOT_USER_ID = 1187020468418940929
GUILD_ID = 1174112845316034610
CHANNEL_ID = 1174112846800830474
BOT_ROLE_ID = 1187021173758279711
OWNER_ID = 1104372158423728178
USER_ID = 1130962372873326612
"""The default member who runs commands and reacts."""

DISCORD_EPOCH_MS = 1420070400000
API_PREFIX = "/api/v10"

# Permission bits (discord.Permissions values).
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
EMBED_LINKS = 1 << 14
READ_MESSAGE_HISTORY = 1 << 16
ADD_REACTIONS = 1 << 6
USE_APPLICATION_COMMANDS = 1 << 31
CREATE_PUBLIC_THREADS = 1 << 35
SEND_MESSAGES_IN_THREADS = 1 << 38
MANAGE_GUILD = 1 << 5
ADMINISTRATOR = 1 << 3

MEMBER_PERMISSIONS = (
    VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | READ_MESSAGE_HISTORY
    | ADD_REACTIONS
    | USE_APPLICATION_COMMANDS
)
"""What an ordinary member may do in CHANNEL_ID (the `permissions` of an interaction's member)."""
BOT_PERMISSIONS = MEMBER_PERMISSIONS | CREATE_PUBLIC_THREADS | SEND_MESSAGES_IN_THREADS
"""The bot's role permissions in the guild (and `app_permissions` of interactions)."""

EPHEMERAL = 1 << 6
LOADING = 1 << 7

# Gateway opcodes.
OP_DISPATCH = 0
OP_HEARTBEAT = 1
OP_IDENTIFY = 2
OP_RESUME = 6
OP_REQUEST_MEMBERS = 8
OP_INVALID_SESSION = 9
OP_HELLO = 10
OP_HEARTBEAT_ACK = 11

JSON = dict[str, Any]


@dataclass
class Recorded:
    method: str
    path: str
    """Relative to /api/v10, e.g. "/channels/123/messages"."""
    query: dict[str, str]
    json_body: Any
    """The JSON body, the `payload_json` part of a multipart body, or None."""
    headers: dict[str, str]


@dataclass
class _Failure:
    method: str
    path_prefix: str
    status: int
    body: Any
    headers: dict[str, str]
    times: int


@dataclass(frozen=True)
class RouteLimit:
    limit: int
    per: float
    """Seconds from a bucket's first request until it refills."""


ROUTE_LIMITS: dict[str, RouteLimit] = {
    # Observed for sending messages: 5 per 5 s per channel (a thread is a channel of its own).
    "POST /channels/{id}/messages": RouteLimit(5, 5.0),
    "POST /channels/{id}/messages/{id}/threads": RouteLimit(10, 10.0),
    # One reaction per 0.25 s per channel.
    "PUT /channels/{id}/messages/{id}/reactions/{emoji}/@me": RouteLimit(1, 0.25),
    "DELETE /channels/{id}/messages/{id}/reactions/{emoji}/@me": RouteLimit(1, 0.25),
}


@dataclass(frozen=True)
class DiscordLimits:
    """Discord's rate limits as the fake enforces them.

    Global: at most `global_per_second` bot requests in any sliding second (stricter than any
    fixed-window reading of "50 per second"), 429'd requests not counted. Per route: a bucket per
    route shape and major parameter (channel, guild or webhook id), a fixed window that starts at
    the bucket's first request; `routes` by "METHOD /shape" (ids as {id}), others `default`.
    """

    global_per_second: int = 50
    routes: Mapping[str, RouteLimit] = field(default_factory=lambda: dict(ROUTE_LIMITS))
    default: RouteLimit = RouteLimit(10, 10.0)


@dataclass
class _Bucket:
    remaining: int
    reset_at: float


def route_shape(method: str, path: str) -> tuple[str, str]:
    """("METHOD /shape", major parameter) of a path: `POST /channels/{id}/messages`, "123"."""
    segments = path.strip("/").split("/")
    shape: list[str] = []
    major = ""
    for index, segment in enumerate(segments):
        if index and segments[index - 1] == "reactions":
            shape.append("{emoji}")
        elif segment.isdigit():
            if index == 1 and segments[0] in ("channels", "guilds", "webhooks"):
                major = segment
            shape.append("{id}")
        else:
            shape.append(segment)
    return f"{method} /{'/'.join(shape)}", major


def _up_to_ms(seconds: float) -> float:
    """Rounded up to the millisecond, as in Discord's headers: never earlier than the truth."""
    return math.ceil(max(seconds, 0.0) * 1000) / 1000


@dataclass
class _Session:
    id: str
    shard: list[int] | None
    seq: int = 0
    log: list[JSON] = field(default_factory=list)


@dataclass(eq=False)
class _Connection:
    ws: web.WebSocketResponse
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    session: _Session | None = None


# --- small helpers -------------------------------------------------------------------------------
def _json(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    """A JSON response whose Content-Type is exactly `application/json` (no charset)."""
    merged = {"Content-Type": "application/json", "Via": "1.1 google"}
    merged.update(headers or {})
    return web.Response(body=json.dumps(data).encode(), status=status, headers=merged)


def _no_content() -> web.Response:
    return web.Response(status=204, headers={"Via": "1.1 google"})


def _error(status: int, message: str, code: int) -> web.Response:
    return _json({"message": message, "code": code}, status=status)


def _strip_prefix(path: str) -> str:
    return path[len(API_PREFIX) :] if path.startswith(API_PREFIX) else path


def user_object(user_id: int, *, username: str | None = None, bot: bool = False) -> JSON:
    name = username or f"user{str(user_id)[-4:]}"
    return {
        "id": str(user_id),
        "username": name,
        "discriminator": "0",
        "global_name": name.title(),
        "avatar": None,
        "bot": bot,
        "public_flags": 0,
        "flags": 0,
        "banner": None,
        "accent_color": None,
        "avatar_decoration_data": None,
        "primary_guild": None,
        "collectibles": None,
    }


BOT_USER: JSON = {
    **user_object(BOT_USER_ID, username="paperboy", bot=True),
    "verified": True,
    "mfa_enabled": True,
    "locale": "en-US",
    "email": None,
}


def member_object(user_id: int, *, roles: Iterable[int] = (), permissions: int | None = None) -> JSON:
    user = BOT_USER if user_id == BOT_USER_ID else user_object(user_id)
    member: JSON = {
        "user": {k: v for k, v in user.items() if k not in {"verified", "mfa_enabled", "locale", "email"}},
        "roles": [str(r) for r in roles],
        "joined_at": "2024-01-15T09:30:00.000000+00:00",
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "flags": 0,
        "pending": False,
        "nick": None,
        "avatar": None,
        "banner": None,
        "communication_disabled_until": None,
        "unusual_dm_activity_until": None,
    }
    if permissions is not None:
        member["permissions"] = str(permissions)
    return member


def _option_type(value: object) -> int:
    if isinstance(value, bool):
        return 5
    if isinstance(value, int):
        return 4
    if isinstance(value, float):
        return 10
    if isinstance(value, str):
        return 3
    raise TypeError(f"cannot infer an application command option type for {value!r}")


def _typed_options(options: Mapping[str, object], focused: str | None = None) -> list[JSON]:
    typed: list[JSON] = []
    for name, value in options.items():
        if isinstance(value, dict) and "type" in value:  # a raw option, passed through
            typed.append({"name": name, **value})
            continue
        option: JSON = {"name": name, "type": _option_type(value), "value": value}
        if name == focused:
            option["focused"] = True
        typed.append(option)
    return typed


_CUSTOM_EMOJI = re.compile(r"<?(a?):(\w+):(\d+)>?")


def _emoji_object(emoji: str) -> JSON:
    match = _CUSTOM_EMOJI.fullmatch(emoji)
    if match:
        return {"id": match[3], "name": match[2], "animated": bool(match[1])}
    return {"id": None, "name": emoji}


class FakeDiscord:
    """One guild (GUILD_ID) with one text channel (CHANNEL_ID), more with `add_guild`; the bot is
    BOT_USER_ID in app APP_ID."""

    def __init__(
        self,
        *,
        token: str | None = None,
        heartbeat_interval: int = 45000,
        limits: DiscordLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_concurrency: int = 1,
    ) -> None:
        self.token = token
        """If set, REST calls and IDENTIFY must carry it (else 401 / close 4004)."""
        self.heartbeat_interval = heartbeat_interval
        self.limits = limits
        """If set, rate limits are enforced and X-RateLimit-* headers sent (else no limits)."""
        self.clock = clock
        """Seconds, for the rate limits (time.monotonic; tests may pass a manual clock)."""
        self.max_concurrency = max_concurrency
        """IDENTIFYs allowed per 5 s (GET /gateway/bot's session_start_limit), as for large bots."""
        self.url = ""
        self.ws_url = ""

        self.requests: list[Recorded] = []
        self.messages: defaultdict[int, list[JSON]] = defaultdict(list)
        self.guilds: dict[int, str] = {GUILD_ID: "Paper Club"}
        self.channels: dict[int, JSON] = {CHANNEL_ID: self._text_channel(CHANNEL_ID, "papers", 0)}
        self.threads: dict[int, JSON] = {}
        self.threadless_channels: set[int] = set()  # like a voice channel's chat: no threads
        self.dm_channels: dict[int, JSON] = {}
        self.users: dict[int, JSON] = {BOT_USER_ID: BOT_USER}
        self.commands: list[JSON] = []
        self.guild_commands: defaultdict[int, list[JSON]] = defaultdict(list)
        self.bot_reactions: list[tuple[str, int, int, str]] = []
        """(method, channel_id, message_id, emoji) for the bot's own PUT/DELETE …/reactions/…/@me."""
        self.interactions: dict[str, JSON] = {}
        """INTERACTION_CREATE payloads by token (filled by the factories and by `dispatch`)."""
        self.callbacks: dict[int, JSON] = {}
        self.files: dict[int, bytes] = {}  # uploaded attachments' bytes, by attachment id
        """Interaction callback bodies by interaction id."""
        self.original_responses: dict[str, JSON] = {}
        """The original response message per interaction token (type 4 message or type 5 placeholder)."""
        self.followups: defaultdict[str, list[JSON]] = defaultdict(list)
        """Followup messages per interaction token, as returned to the client."""

        self.identifies = 0
        self.resumes = 0
        self.identify_payloads: list[JSON] = []
        self.gateway_received: list[JSON] = []
        self.gateway_queries: list[dict[str, str]] = []
        self.member_requests: list[JSON] = []

        self.rate_limited: list[tuple[str, Recorded]] = []
        """Every 429 the limits gave: ("global" or "user", the request)."""
        self.global_arrivals: list[float] = []
        """Clock times of the requests that count towards the global limit, 429'd or not."""

        self._failures: list[_Failure] = []
        self._global_window: deque[float] = deque()
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._ids = itertools.count(1)
        self._last_snowflake = 0
        self._command_ids: dict[tuple[int | None, str], int] = {}
        self._sessions: dict[str, _Session] = {}
        self._connections: set[_Connection] = set()
        self._live: list[_Connection] = []  # sent READY or RESUMED, newest last
        self._live_changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._routes: list[tuple[str, re.Pattern[str], Callable[..., Awaitable[web.Response]]]] = []
        self._add_routes()

    # --- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._rest)
        app.router.add_get("/gateway", self._gateway)
        self._runner, port = await serve(app)
        self.url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}/gateway"
        return self.url

    async def stop(self) -> None:
        self._set_live(None, clear=True)
        for conn in list(self._connections):
            await conn.ws.close(code=1001, message=b"fake discord stopping")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def api_base(self) -> str:
        """The value for `discord.http.Route.BASE`."""
        return self.url + API_PREFIX

    # --- ids -----------------------------------------------------------------------------------
    def snowflake(self) -> int:
        """A fresh, increasing snowflake with the current time in it (19 digits)."""
        now = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
        self._last_snowflake = max(now | (next(self._ids) & 0xFFF), self._last_snowflake + 1)
        return self._last_snowflake

    # --- fault injection and queries -----------------------------------------------------------
    def fail_next(
        self,
        method: str,
        path_prefix: str,
        status: int,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next `times` requests matching `method` ("*" for any) and `path_prefix`
        (with or without /api/v10) with `status`. Without a body, Discord's own for the status:
        429 rate limit (retry_after 0.05 s, with the X-RateLimit-* headers), 401, 403 Missing
        Access, 404 Unknown Channel, 5xx."""
        default_body, default_headers = self._default_failure(status)
        merged = dict(default_headers)
        merged.update(headers or {})
        self._failures.append(
            _Failure(
                method.upper(),
                _strip_prefix(path_prefix),
                status,
                default_body if body is None else body,
                merged,
                times,
            )
        )

    @staticmethod
    def _default_failure(status: int) -> tuple[Any, dict[str, str]]:
        if status == 429:
            retry_after = 0.05
            return (
                {"message": "You are being rate limited.", "retry_after": retry_after, "global": False},
                {
                    "Retry-After": "1",
                    "X-RateLimit-Limit": "5",
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
                    "X-RateLimit-Reset-After": f"{retry_after:.3f}",
                    "X-RateLimit-Bucket": "3c5e0b7a2f1d4e6b8a9c0d1e2f3a4b5c",
                    "X-RateLimit-Scope": "user",
                },
            )
        known = {
            400: {"message": "400: Bad Request", "code": 0},
            401: {"message": "401: Unauthorized", "code": 0},
            403: {"message": "Missing Access", "code": 50001},
            404: {"message": "Unknown Channel", "code": 10003},
        }
        if status in known:
            return known[status], {}
        return {"message": f"{status}: Server Error", "code": 0}, {}

    def add_text_channel(self, name: str | None = None, *, guild_id: int = GUILD_ID) -> int:
        """Another text channel in a guild (sent in GUILD_CREATE, so add it before connecting)."""
        channel_id = self.snowflake()
        self.channels[channel_id] = self._text_channel(
            channel_id, name or f"papers-{len(self.channels)}", len(self.channels), guild_id=guild_id
        )
        return channel_id

    def add_guild(self, name: str | None = None, *, shard: tuple[int, int] | None = None) -> tuple[int, int]:
        """Another server with one text channel: (guild id, channel id). `shard` = (shard id,
        shard count) picks an id Discord puts on that shard. Add it before connecting."""
        guild_id = self.snowflake()
        if shard is not None:
            shard_id, count = shard
            while (guild_id >> 22) % count != shard_id:
                guild_id += 1 << 22  # a millisecond later
            self._last_snowflake = max(self._last_snowflake, guild_id)
        self.guilds[guild_id] = name or f"Server {len(self.guilds)}"
        return guild_id, self.add_text_channel("papers", guild_id=guild_id)

    def guild_of(self, channel_id: int) -> int | None:
        """The guild of a channel or thread; None for a DM or an unknown channel."""
        channel = self._channel(channel_id)
        return int(channel["guild_id"]) if channel is not None and channel.get("guild_id") else None

    def rate_limited_count(self, scope: str) -> int:
        """429s given for the global limit ("global") or a route's bucket ("user")."""
        return sum(1 for given, _ in self.rate_limited if given == scope)

    def peak_global_window(self, seconds: float = 1.0) -> int:
        """The most requests counting towards the global limit that arrived in any `seconds`."""
        arrivals = sorted(self.global_arrivals)
        peak, start = 0, 0
        for end, arrived in enumerate(arrivals):
            while arrived - arrivals[start] >= seconds:
                start += 1
            peak = max(peak, end - start + 1)
        return peak

    def requests_to(self, method: str, path_prefix: str) -> list[Recorded]:
        """Recorded requests for `method` ("*" for any) whose path starts with `path_prefix`."""
        prefix = _strip_prefix(path_prefix)
        return [
            r
            for r in self.requests
            if (method == "*" or r.method == method.upper()) and r.path.startswith(prefix)
        ]

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Poll `predicate` until it returns something truthy, and return that; TimeoutError after
        `timeout` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not (result := predicate()):
            if loop.time() >= deadline:
                raise TimeoutError(f"condition not met within {timeout} s")
            await asyncio.sleep(0.005)
        return result

    # --- REST ----------------------------------------------------------------------------------
    def _add_routes(self) -> None:
        snow = r"(\d+)"
        table: list[tuple[str, str, Callable[..., Awaitable[web.Response]]]] = [
            ("GET", r"/users/@me", self._get_me),
            ("GET", r"/oauth2/applications/@me", self._get_app),
            ("GET", r"/gateway", self._get_gateway),
            ("GET", r"/gateway/bot", self._get_gateway_bot),
            ("GET", rf"/users/{snow}", self._get_user),
            ("POST", r"/users/@me/channels", self._create_dm),
            ("PUT", rf"/applications/{snow}/commands", self._put_commands),
            ("GET", rf"/applications/{snow}/commands", self._get_commands),
            ("PUT", rf"/applications/{snow}/guilds/{snow}/commands", self._put_commands),
            ("GET", rf"/applications/{snow}/guilds/{snow}/commands", self._get_commands),
            ("GET", rf"/channels/{snow}", self._get_channel),
            ("POST", rf"/channels/{snow}/messages", self._create_message),
            ("GET", rf"/channels/{snow}/messages/{snow}", self._get_message),
            ("PATCH", rf"/channels/{snow}/messages/{snow}", self._edit_message),
            ("DELETE", rf"/channels/{snow}/messages/{snow}", self._delete_message),
            ("POST", rf"/channels/{snow}/messages/{snow}/threads", self._thread_from_message),
            ("POST", rf"/channels/{snow}/threads", self._thread_without_message),
            ("PUT", rf"/channels/{snow}/messages/{snow}/reactions/([^/]+)/@me", self._own_reaction),
            ("DELETE", rf"/channels/{snow}/messages/{snow}/reactions/([^/]+)/@me", self._own_reaction),
            ("POST", rf"/interactions/{snow}/([^/]+)/callback", self._interaction_callback),
            ("POST", rf"/webhooks/{snow}/([^/]+)", self._followup),
            ("GET", rf"/webhooks/{snow}/([^/]+)/messages/(@original|\d+)", self._get_webhook_message),
            ("PATCH", rf"/webhooks/{snow}/([^/]+)/messages/(@original|\d+)", self._edit_webhook_message),
            ("DELETE", rf"/webhooks/{snow}/([^/]+)/messages/(@original|\d+)", self._delete_webhook_message),
        ]
        self._routes = [(method, re.compile(pattern), handler) for method, pattern, handler in table]

    async def _read_body(self, request: web.Request) -> tuple[Any, list[JSON]]:
        """The JSON body (or multipart payload_json) and attachment objects for uploaded files."""
        if not request.can_read_body:
            return None, []
        if request.content_type.startswith("multipart/"):
            form = await request.post()
            files: list[JSON] = []
            body: Any = None
            for name, value in form.items():
                if name == "payload_json":
                    body = json.loads(str(value))
                elif isinstance(value, web.FileField):
                    content = value.file.read()
                    attachment_id = self.snowflake()
                    self.files[attachment_id] = content
                    files.append(
                        {
                            "id": str(attachment_id),
                            "filename": value.filename,
                            "size": len(content),
                            "url": f"{self.url}/attachments/{attachment_id}/{value.filename}",
                            "proxy_url": f"{self.url}/attachments/{attachment_id}/{value.filename}",
                            "content_type": value.content_type,
                        }
                    )
            return body, files
        raw = await request.text()
        if not raw:
            return None, []
        try:
            return json.loads(raw), []
        except json.JSONDecodeError:
            return raw, []

    def _take_failure(self, method: str, path: str) -> _Failure | None:
        for failure in self._failures:
            if failure.method in ("*", method) and path.startswith(failure.path_prefix):
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.remove(failure)
                return failure
        return None

    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        body, files = await self._read_body(request)
        recorded = Recorded(request.method, path, dict(request.query), body, dict(request.headers))
        self.requests.append(recorded)

        failure = self._take_failure(request.method, path)
        if failure is not None:
            return _json(failure.body, status=failure.status, headers=failure.headers)

        interaction = path.startswith(("/interactions/", "/webhooks/"))
        if not interaction:
            auth = request.headers.get("Authorization", "")
            if not auth.startswith("Bot ") or (self.token is not None and auth != f"Bot {self.token}"):
                return _error(401, "401: Unauthorized", 0)

        limit_headers: dict[str, str] = {}
        if self.limits is not None and not interaction:  # interactions: not bound to the global limit
            refused, limit_headers = self._rate_limit(self.limits, recorded)
            if refused is not None:
                return refused

        response = _error(404, "404: Not Found", 0)
        for method, pattern, handler in self._routes:
            match = pattern.fullmatch(path)
            if method == request.method and match:
                response = await handler(request, body, files, *match.groups())
                break
        response.headers.update(limit_headers)
        return response

    def _rate_limit(
        self, limits: DiscordLimits, recorded: Recorded
    ) -> tuple[web.Response | None, dict[str, str]]:
        """(a 429, {}) when a limit refuses the request, else (None, its X-RateLimit-* headers)."""
        now = self.clock()
        self.global_arrivals.append(now)
        window = self._global_window
        while window and now - window[0] >= 1.0:
            window.popleft()
        if len(window) >= limits.global_per_second:
            retry_after = _up_to_ms(window[0] + 1.0 - now)
            self.rate_limited.append(("global", recorded))
            body = {"message": "You are being rate limited.", "retry_after": retry_after, "global": True}
            headers = {
                "Retry-After": str(math.ceil(retry_after)),
                "X-RateLimit-Global": "true",
                "X-RateLimit-Scope": "global",
            }
            return _json(body, status=429, headers=headers), {}
        window.append(now)

        shape, major = route_shape(recorded.method, recorded.path)
        rule = limits.routes.get(shape, limits.default)
        bucket_hash = hashlib.sha1(shape.encode(), usedforsecurity=False).hexdigest()[:32]
        bucket = self._buckets.get((shape, major))
        if bucket is None or now >= bucket.reset_at:
            bucket = self._buckets[(shape, major)] = _Bucket(rule.limit, now + rule.per)
        reset_after = _up_to_ms(bucket.reset_at - now)
        headers = {
            "X-RateLimit-Limit": str(rule.limit),
            "X-RateLimit-Remaining": str(max(bucket.remaining - 1, 0)),
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": bucket_hash,
        }
        if bucket.remaining <= 0:
            self.rate_limited.append(("user", recorded))
            body = {"message": "You are being rate limited.", "retry_after": reset_after, "global": False}
            headers.update({"Retry-After": str(math.ceil(reset_after)), "X-RateLimit-Scope": "user"})
            return _json(body, status=429, headers=headers), {}
        bucket.remaining -= 1
        return None, headers

    async def _get_me(self, *_: Any) -> web.Response:
        return _json(BOT_USER)

    async def _get_app(self, *_: Any) -> web.Response:
        return _json(
            {
                "id": str(APP_ID),
                "name": "paperboy",
                "icon": None,
                "description": "Hugging Face Daily Papers",
                "summary": "",
                "type": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "verify_key": "a" * 64,
                "flags": 0,
                "owner": user_object(OWNER_ID, username="owner"),
                "team": None,
                "bot": BOT_USER,
                "rpc_origins": [],
                "tags": [],
                "redirect_uris": [],
                "interactions_endpoint_url": None,
                "approximate_guild_count": 1,
                "integration_types_config": {"0": {}},
            }
        )

    async def _get_gateway(self, *_: Any) -> web.Response:
        return _json({"url": self.ws_url})

    async def _get_gateway_bot(self, *_: Any) -> web.Response:
        return _json(
            {
                "url": self.ws_url,
                "shards": 1,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 14400000,
                    "max_concurrency": self.max_concurrency,
                },
            }
        )

    async def _get_user(self, _request: web.Request, _body: Any, _files: Any, user_id: str) -> web.Response:
        return _json(self.users.get(int(user_id)) or user_object(int(user_id)))

    async def _create_dm(self, _request: web.Request, body: Any, _files: Any) -> web.Response:
        recipient = int(body["recipient_id"])
        channel = self.dm_channels.get(recipient)
        if channel is None:
            channel = {
                "id": str(self.snowflake()),
                "type": 1,
                "last_message_id": None,
                "flags": 0,
                "recipients": [self.users.get(recipient) or user_object(recipient)],
            }
            self.dm_channels[recipient] = channel
        return _json(channel)

    # commands
    async def _put_commands(
        self, _request: web.Request, body: Any, _files: Any, app_id: str, guild_id: str | None = None
    ) -> web.Response:
        if int(app_id) != APP_ID:
            return _error(404, "Unknown Application", 10002)
        guild = int(guild_id) if guild_id else None
        stored: list[JSON] = []
        for command in body:
            key = (guild, command["name"])
            command_id = self._command_ids.setdefault(key, self.snowflake())
            full: JSON = {
                "type": 1,
                "default_member_permissions": None,
                "nsfw": False,
                "options": [],
                **command,
                "id": str(command_id),
                "application_id": str(APP_ID),
                "version": str(self.snowflake()),
            }
            if guild is not None:
                full["guild_id"] = str(guild)
            stored.append(full)
        if guild is None:
            self.commands = stored
        else:
            self.guild_commands[guild] = stored
        return _json(stored)

    async def _get_commands(
        self, _request: web.Request, _body: Any, _files: Any, app_id: str, guild_id: str | None = None
    ) -> web.Response:
        if int(app_id) != APP_ID:
            return _error(404, "Unknown Application", 10002)
        return _json(self.commands if guild_id is None else self.guild_commands[int(guild_id)])

    # channels and messages
    def _text_channel(self, channel_id: int, name: str, position: int, *, guild_id: int = GUILD_ID) -> JSON:
        return {
            "id": str(channel_id),
            "type": 0,
            "guild_id": str(guild_id),
            "name": name,
            "position": position,
            "permission_overwrites": [],
            "parent_id": None,
            "topic": None,
            "nsfw": False,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "default_auto_archive_duration": 1440,
            "flags": 0,
        }

    def _channel(self, channel_id: int) -> JSON | None:
        if channel_id in self.channels:
            return self.channels[channel_id]
        if channel_id in self.threads:
            return self.threads[channel_id]
        return next((c for c in self.dm_channels.values() if int(c["id"]) == channel_id), None)

    def _find_message(self, channel_id: int, message_id: int) -> JSON | None:
        return next((m for m in self.messages.get(channel_id, []) if int(m["id"]) == message_id), None)

    def message_object(
        self,
        channel_id: int,
        body: Mapping[str, Any] | None,
        *,
        message_id: int | None = None,
        attachments: list[JSON] | None = None,
        msg_type: int = 0,
        webhook: bool = False,
    ) -> JSON:
        """A message as the REST API returns it (no guild_id/member: those come with the gateway)."""
        body = body or {}
        message: JSON = {
            "id": str(message_id or self.snowflake()),
            "type": msg_type,
            "channel_id": str(channel_id),
            "content": body.get("content") or "",
            "author": {
                k: v for k, v in BOT_USER.items() if k not in {"verified", "mfa_enabled", "locale", "email"}
            },
            "timestamp": dt.datetime.now(dt.UTC).isoformat(),
            "edited_timestamp": None,
            "tts": bool(body.get("tts", False)),
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "mention_channels": [],
            "attachments": list(attachments or []),
            "embeds": list(body.get("embeds") or []),
            "components": list(body.get("components") or []),
            "reactions": [],
            "pinned": False,
            "flags": int(body.get("flags") or 0),
            "sticker_items": [],
        }
        if "nonce" in body:
            message["nonce"] = body["nonce"]
        if webhook:
            message["webhook_id"] = str(APP_ID)
            message["application_id"] = str(APP_ID)
        reference = body.get("message_reference")
        if reference:
            message["type"] = 19
            ref_channel = int(reference.get("channel_id") or channel_id)
            message["message_reference"] = {
                "type": reference.get("type", 0),
                "message_id": str(reference["message_id"]),
                "channel_id": str(ref_channel),
                "guild_id": str(self.guild_of(ref_channel) or GUILD_ID),
            }
            message["referenced_message"] = self._find_message(ref_channel, int(reference["message_id"]))
        return message

    async def _get_channel(
        self, _request: web.Request, _body: Any, _files: Any, channel_id: str
    ) -> web.Response:
        channel = self._channel(int(channel_id))
        if channel is None:
            return _error(404, "Unknown Channel", 10003)
        return _json(channel)

    async def _create_message(
        self, _request: web.Request, body: Any, files: list[JSON], channel_id: str
    ) -> web.Response:
        cid = int(channel_id)
        if self._channel(cid) is None:
            return _error(404, "Unknown Channel", 10003)
        if not isinstance(body, dict):
            body = {}
        if not (body.get("content") or body.get("embeds") or body.get("components") or files):
            return _error(400, "Cannot send an empty message", 50006)
        message = self.message_object(cid, body, attachments=files)
        self.messages[cid].append(message)
        channel = self._channel(cid)
        if channel is not None:
            channel["last_message_id"] = message["id"]
        return _json(message)

    async def _get_message(
        self, _request: web.Request, _body: Any, _files: Any, channel_id: str, message_id: str
    ) -> web.Response:
        message = self._find_message(int(channel_id), int(message_id))
        if message is None:
            return _error(404, "Unknown Message", 10008)
        return _json(message)

    @staticmethod
    def _apply_edit(message: JSON, body: Any) -> None:
        if not isinstance(body, dict):
            return
        for key in ("content", "embeds", "components", "flags"):
            if key in body and body[key] is not None:
                message[key] = body[key]
        message["flags"] = int(message.get("flags") or 0) & ~LOADING
        message["edited_timestamp"] = dt.datetime.now(dt.UTC).isoformat()

    async def _edit_message(
        self, _request: web.Request, body: Any, _files: Any, channel_id: str, message_id: str
    ) -> web.Response:
        message = self._find_message(int(channel_id), int(message_id))
        if message is None:
            return _error(404, "Unknown Message", 10008)
        self._apply_edit(message, body)
        return _json(message)

    async def _delete_message(
        self, _request: web.Request, _body: Any, _files: Any, channel_id: str, message_id: str
    ) -> web.Response:
        message = self._find_message(int(channel_id), int(message_id))
        if message is None:
            return _error(404, "Unknown Message", 10008)
        self.messages[int(channel_id)].remove(message)
        return _no_content()

    def _thread_object(
        self, thread_id: int, parent_id: int, body: Mapping[str, Any], thread_type: int
    ) -> JSON:
        return {
            "id": str(thread_id),
            "type": thread_type,
            "guild_id": str(self.guild_of(parent_id) or GUILD_ID),
            "parent_id": str(parent_id),
            "owner_id": str(BOT_USER_ID),
            "name": body.get("name", "thread"),
            "last_message_id": None,
            "rate_limit_per_user": body.get("rate_limit_per_user") or 0,
            "message_count": 0,
            "member_count": 1,
            "total_message_sent": 0,
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": body.get("auto_archive_duration") or 1440,
                "archive_timestamp": dt.datetime.now(dt.UTC).isoformat(),
                "locked": False,
                "create_timestamp": dt.datetime.now(dt.UTC).isoformat(),
                **({"invitable": body.get("invitable", True)} if thread_type == 12 else {}),
            },
            "member": {
                "id": str(thread_id),
                "user_id": str(BOT_USER_ID),
                "join_timestamp": dt.datetime.now(dt.UTC).isoformat(),
                "flags": 1,
            },
        }

    async def _thread_from_message(
        self, _request: web.Request, body: Any, _files: Any, channel_id: str, message_id: str
    ) -> web.Response:
        cid, mid = int(channel_id), int(message_id)
        if cid not in self.channels:
            return _error(404, "Unknown Channel", 10003)
        message = self._find_message(cid, mid)
        if cid in self.threadless_channels:
            return _error(400, "Cannot execute action on this channel type", 50024)
        if mid in self.threads:
            return _error(400, "A thread has already been created for this message", 160004)
        # Discord's rule: a thread started from a message has the message's id.
        thread = self._thread_object(mid, cid, body or {}, 11)
        self.threads[mid] = thread
        if message is not None:
            message["thread"] = thread
            message["flags"] = int(message.get("flags") or 0) | (1 << 5)  # HAS_THREAD
        return _json(thread)

    async def _thread_without_message(
        self, _request: web.Request, body: Any, _files: Any, channel_id: str
    ) -> web.Response:
        cid = int(channel_id)
        if cid not in self.channels:
            return _error(404, "Unknown Channel", 10003)
        body = body or {}
        thread_id = self.snowflake()
        thread = self._thread_object(thread_id, cid, body, int(body.get("type") or 12))
        self.threads[thread_id] = thread
        return _json(thread)

    async def _own_reaction(
        self, request: web.Request, _body: Any, _files: Any, channel_id: str, message_id: str, emoji: str
    ) -> web.Response:
        self.bot_reactions.append((request.method, int(channel_id), int(message_id), unquote(emoji)))
        return _no_content()

    # interactions
    def _interaction_by_id(self, interaction_id: int) -> JSON | None:
        return next((i for i in self.interactions.values() if int(i["id"]) == interaction_id), None)

    async def _interaction_callback(
        self, request: web.Request, body: Any, files: list[JSON], interaction_id: str, token: str
    ) -> web.Response:
        iid = int(interaction_id)
        interaction = self.interactions.get(token)
        if interaction is None or int(interaction["id"]) != iid:
            return _error(404, "Unknown interaction", 10062)
        if iid in self.callbacks:
            return _error(400, "Interaction has already been acknowledged.", 40060)
        self.callbacks[iid] = body
        callback_type = int(body["type"])
        data = body.get("data") or {}
        channel_id = int(interaction.get("channel_id") or CHANNEL_ID)
        message: JSON | None = None
        if callback_type == 4:
            message = self.message_object(channel_id, data, attachments=files, msg_type=20, webhook=True)
        elif callback_type == 5:
            placeholder = {"flags": (int(data.get("flags") or 0) & EPHEMERAL) | LOADING}
            message = self.message_object(channel_id, placeholder, msg_type=20, webhook=True)
        elif callback_type == 7 and "message" in interaction:
            message = dict(interaction["message"])
            self._apply_edit(message, data)
        if message is not None and callback_type in (4, 5):
            self.original_responses[token] = message
        if request.query.get("with_response") not in ("1", "true", "True"):
            return _no_content()
        flags = int(message["flags"]) if message is not None else 0
        answer: JSON = {
            "interaction": {
                "id": str(iid),
                "type": interaction["type"],
                "activity_instance_id": None,
                "response_message_id": message["id"] if message is not None else None,
                "response_message_loading": bool(flags & LOADING),
                "response_message_ephemeral": bool(flags & EPHEMERAL),
            },
            "resource": {"type": callback_type},
        }
        if message is not None and callback_type != 5:
            answer["resource"]["message"] = message
        return _json(answer)

    def _check_webhook(self, app_id: str, token: str) -> web.Response | None:
        if int(app_id) != APP_ID or token not in self.interactions:
            return _error(404, "Unknown Webhook", 10015)
        if int(self.interactions[token]["id"]) not in self.callbacks:
            return _error(404, "Unknown Webhook", 10015)  # no followups before the initial response
        return None

    async def _followup(
        self, request: web.Request, body: Any, files: list[JSON], app_id: str, token: str
    ) -> web.Response:
        error = self._check_webhook(app_id, token)
        if error is not None:
            return error
        channel_id = int(self.interactions[token].get("channel_id") or CHANNEL_ID)
        original = self.original_responses.get(token)
        if original is not None and int(original["flags"]) & LOADING:
            # The first followup after a deferral replaces the "thinking…" placeholder: same id, and
            # the ephemerality chosen at defer time wins over the followup's flags.
            self._apply_edit(original, {k: v for k, v in (body or {}).items() if k != "flags"})
            if files:  # the files sent with it replace the placeholder's (none)
                original["attachments"] = files
            original["edited_timestamp"] = None
            message = original
        else:
            message = self.message_object(channel_id, body, attachments=files, webhook=True)
        self.followups[token].append(message)
        if request.query.get("wait") in ("0", "false", "False"):
            return _no_content()
        return _json(message)

    def _webhook_message(self, app_id: str, token: str, message_id: str) -> JSON | web.Response:
        """The interaction message a webhook route names, or the error Discord would answer."""
        error = self._check_webhook(app_id, token)
        if error is not None:
            return error
        if message_id == "@original":
            message = self.original_responses.get(token)
        else:
            message = next((m for m in self.followups.get(token, []) if m["id"] == message_id), None)
        return _error(404, "Unknown Message", 10008) if message is None else message

    async def _get_webhook_message(
        self, _request: web.Request, _body: Any, _files: Any, app_id: str, token: str, message_id: str
    ) -> web.Response:
        message = self._webhook_message(app_id, token, message_id)
        return message if isinstance(message, web.Response) else _json(message)

    async def _edit_webhook_message(
        self, _request: web.Request, body: Any, _files: Any, app_id: str, token: str, message_id: str
    ) -> web.Response:
        message = self._webhook_message(app_id, token, message_id)
        if isinstance(message, web.Response):
            return message
        self._apply_edit(message, body)
        return _json(message)

    async def _delete_webhook_message(
        self, _request: web.Request, _body: Any, _files: Any, app_id: str, token: str, message_id: str
    ) -> web.Response:
        message = self._webhook_message(app_id, token, message_id)
        if isinstance(message, web.Response):
            return message
        if message_id == "@original":
            del self.original_responses[token]
        else:
            self.followups[token].remove(message)
        return _no_content()

    # --- gateway -------------------------------------------------------------------------------
    def guild_object(self, guild_id: int = GUILD_ID) -> JSON:
        """The GUILD_CREATE payload of a guild (GUILD_ID unless told)."""
        return {
            "id": str(guild_id),
            "name": self.guilds[guild_id],
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(OWNER_ID),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 1,
            "default_message_notifications": 1,
            "explicit_content_filter": 2,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "premium_progress_bar_enabled": False,
            "preferred_locale": "en-US",
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "max_members": 500000,
            "max_video_channel_users": 25,
            "application_id": None,
            "features": [],
            "emojis": [],
            "stickers": [],
            "roles": [
                {
                    "id": str(guild_id),
                    "name": "@everyone",
                    "permissions": "0",
                    "position": 0,
                    "color": 0,
                    "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
                    "hoist": False,
                    "managed": False,
                    "mentionable": False,
                    "icon": None,
                    "unicode_emoji": None,
                    "flags": 0,
                },
                {
                    "id": str(BOT_ROLE_ID),
                    "name": "paperboy",
                    "permissions": str(BOT_PERMISSIONS),
                    "position": 1,
                    "color": 0,
                    "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
                    "hoist": False,
                    "managed": True,
                    "mentionable": False,
                    "icon": None,
                    "unicode_emoji": None,
                    "flags": 0,
                    "tags": {"bot_id": str(BOT_USER_ID)},
                },
            ],
            "joined_at": "2024-01-15T09:30:00.000000+00:00",
            "large": False,
            "unavailable": False,
            "member_count": 3,
            "members": [member_object(BOT_USER_ID, roles=[BOT_ROLE_ID])],
            "voice_states": [],
            "presences": [],
            "channels": [
                {k: v for k, v in channel.items() if k != "guild_id"}
                for channel in self.channels.values()
                if channel["guild_id"] == str(guild_id)
            ],
            "threads": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "lazy": True,
        }

    def _set_live(
        self, conn: _Connection | None, *, gone: _Connection | None = None, clear: bool = False
    ) -> None:
        if clear:
            self._live.clear()
        if gone is not None and gone in self._live:
            self._live.remove(gone)
        if conn is not None:
            self._live.append(conn)
        self._live_changed.set()
        self._live_changed = asyncio.Event()

    @staticmethod
    def _on_shard(guild_id: int | None, shard: list[int] | None) -> bool:
        """Whether Discord sends a guild's events (a DM's: guild None) over a shard's connection."""
        if shard is None:
            return True
        shard_id, count = shard
        return shard_id == 0 if guild_id is None else (guild_id >> 22) % count == shard_id

    def _live_for(self, guild_id: int | None) -> _Connection | None:
        for conn in reversed(self._live):  # a newer session of the same shard wins
            if conn.session is not None and self._on_shard(guild_id, conn.session.shard):
                return conn
        return None

    async def _wait_live(self, timeout: float, guild_id: int | None = GUILD_ID) -> _Connection:
        async with asyncio.timeout(timeout):
            while (conn := self._live_for(guild_id)) is None:
                await self._live_changed.wait()
        return conn

    @property
    def connected(self) -> bool:
        """A client is connected and has been sent READY or RESUMED."""
        return bool(self._live)

    def _event_guild(self, data: JSON) -> int | None:
        if data.get("guild_id"):
            return int(data["guild_id"])
        channel_id = data.get("channel_id")
        return self.guild_of(int(channel_id)) if channel_id else None

    async def _send(self, conn: _Connection, payload: JSON) -> None:
        try:
            await conn.ws.send_str(json.dumps(payload))
        except ConnectionResetError:
            pass  # the client went away; dispatches stay in the session log for a RESUME

    async def _send_dispatch(self, conn: _Connection, event: str, data: Any) -> None:
        session = conn.session
        assert session is not None
        async with conn.lock:
            session.seq += 1
            payload = {"op": OP_DISPATCH, "t": event, "s": session.seq, "d": data}
            session.log.append(payload)
            await self._send(conn, payload)

    async def dispatch(self, event_name: str, data: JSON, *, timeout: float = 5.0) -> int:
        """Send an op 0 event once a client has been sent READY/RESUMED; returns its sequence number."""
        if event_name == "INTERACTION_CREATE":
            self.interactions[data["token"]] = data
        conn = await self._wait_live(timeout, self._event_guild(data))
        await self._send_dispatch(conn, event_name, data)
        assert conn.session is not None
        return conn.session.seq

    async def drop_connection(
        self,
        code: int = 4000,
        *,
        missed: Iterable[tuple[str, JSON]] = (),
        resumable: bool = True,
        guild_id: int = GUILD_ID,
    ) -> None:
        """Close the gateway websocket from the server side. discord.py reconnects and RESUMEs for
        non-fatal codes. `missed` events are logged into the session as if they had been sent while
        the client was away, so the RESUME replays them. With `resumable=False` the session is
        forgotten: the RESUME gets INVALID_SESSION and the client identifies again. The
        connection cut is the one of `guild_id`'s shard."""
        conn = await self._wait_live(5.0, guild_id)
        self._set_live(None, gone=conn)
        session = conn.session
        assert session is not None
        async with conn.lock:
            await conn.ws.close(code=code, message=b"dropped by the fake")
            for event_name, data in missed:
                if event_name == "INTERACTION_CREATE":
                    self.interactions[data["token"]] = data
                session.seq += 1
                session.log.append({"op": OP_DISPATCH, "t": event_name, "s": session.seq, "d": data})
        if not resumable:
            self._sessions.pop(session.id, None)

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        conn = _Connection(ws)
        self._connections.add(conn)
        self.gateway_queries.append(dict(request.query))
        try:
            await self._send(conn, {"op": OP_HELLO, "d": {"heartbeat_interval": self.heartbeat_interval}})
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                payload = json.loads(msg.data)
                self.gateway_received.append(payload)
                op, data = payload.get("op"), payload.get("d")
                if op == OP_HEARTBEAT:
                    await self._send(conn, {"op": OP_HEARTBEAT_ACK})
                elif op == OP_IDENTIFY:
                    await self._on_identify(conn, data)
                elif op == OP_RESUME:
                    await self._on_resume(conn, data)
                elif op == OP_REQUEST_MEMBERS:
                    await self._on_request_members(conn, data)
        finally:
            self._connections.discard(conn)
            if conn in self._live:
                self._set_live(None, gone=conn)
        return ws

    async def _on_identify(self, conn: _Connection, data: JSON) -> None:
        self.identifies += 1
        self.identify_payloads.append(data)
        if self.token is not None and data.get("token") != self.token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        shard = data.get("shard")
        session = _Session(uuid.uuid4().hex, shard)
        self._sessions[session.id] = session
        conn.session = session
        guilds = [guild for guild in self.guilds if shard is None or self._on_shard(guild, shard)]
        ready: JSON = {
            "v": 10,
            "user": BOT_USER,
            "guilds": [{"id": str(g), "unavailable": True} for g in guilds],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.ws_url,
            "application": {"id": str(APP_ID), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["frankfurt", "rotterdam"],
            "user_settings": {},
            "auth": {},
            "_trace": ['["gateway-prd-fake",{"micros":1000}]'],
        }
        if shard is not None:
            ready["shard"] = shard
        await self._send_dispatch(conn, "READY", ready)
        for guild in guilds:
            await self._send_dispatch(conn, "GUILD_CREATE", self.guild_object(guild))
        self._set_live(conn)

    async def _on_resume(self, conn: _Connection, data: JSON) -> None:
        self.resumes += 1
        session = self._sessions.get(str(data.get("session_id")))
        if session is None or (self.token is not None and data.get("token") != self.token):
            await self._send(conn, {"op": OP_INVALID_SESSION, "d": False})
            return
        conn.session = session
        since = int(data.get("seq") or 0)
        async with conn.lock:
            for payload in session.log:
                if payload["s"] > since:
                    await self._send(conn, payload)
        await self._send_dispatch(conn, "RESUMED", {"_trace": ['["gateway-prd-fake",{"micros":1000}]']})
        self._set_live(conn)

    async def _on_request_members(self, conn: _Connection, data: JSON) -> None:
        self.member_requests.append(data)
        chunk: JSON = {
            "guild_id": str(data.get("guild_id")),
            "members": [member_object(BOT_USER_ID, roles=[BOT_ROLE_ID])],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce"):
            chunk["nonce"] = data["nonce"]
        await self._send_dispatch(conn, "GUILD_MEMBERS_CHUNK", chunk)

    # --- payload factories ---------------------------------------------------------------------
    def _command_id(self, name: str, guild_id: int | None) -> int:
        for key in ((guild_id, name), (None, name)):
            if key in self._command_ids:
                return self._command_ids[key]
        return self._command_ids.setdefault((None, name), self.snowflake())

    def _application_command_data(
        self,
        command_path: list[str],
        options: Mapping[str, object],
        focused: str | None,
        guild_id: int | None,
    ) -> JSON:
        if not 1 <= len(command_path) <= 3:
            raise ValueError("command_path is [command], [command, sub] or [command, group, sub]")
        root, *rest = command_path
        typed = _typed_options(options, focused)
        if len(rest) == 2:
            typed = [
                {"name": rest[0], "type": 2, "options": [{"name": rest[1], "type": 1, "options": typed}]}
            ]
        elif len(rest) == 1:
            typed = [{"name": rest[0], "type": 1, "options": typed}]
        data: JSON = {
            "id": str(self._command_id(root, guild_id)),
            "name": root,
            "type": 1,
            "options": typed,
        }
        if guild_id is not None and (guild_id, root) in self._command_ids:
            data["guild_id"] = str(guild_id)
        return data

    def _interaction_base(
        self,
        interaction_type: int,
        data: JSON,
        *,
        user_id: int,
        permissions: int,
        interaction_id: int | None,
        token: str | None,
        channel_id: int,
        dm: bool,
        locale: str,
    ) -> JSON:
        token = token or f"aW50ZXJhY3Rpb246{secrets.token_urlsafe(48)}"
        payload: JSON = {
            "id": str(interaction_id or self.snowflake()),
            "application_id": str(APP_ID),
            "type": interaction_type,
            "data": data,
            "token": token,
            "version": 1,
            "locale": locale,
            "app_permissions": str(BOT_PERMISSIONS),
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        if dm:
            dm_channel = {"id": str(channel_id), "type": 1, "last_message_id": None, "flags": 0}
            dm_channel["recipients"] = [user_object(user_id)]
            payload.update(
                channel_id=str(channel_id),
                channel=dm_channel,
                user=user_object(user_id),
                context=1,
                authorizing_integration_owners={"0": str(user_id)},
            )
        else:
            channel = self._channel(channel_id) or self._text_channel(channel_id, "papers", 0)
            guild_id = channel["guild_id"]
            payload.update(
                guild_id=guild_id,
                guild={"id": guild_id, "locale": "en-US", "features": []},
                guild_locale="en-US",
                channel_id=str(channel_id),
                channel=channel,
                member=member_object(user_id, permissions=permissions),
                context=0,
                authorizing_integration_owners={"0": guild_id},
            )
        self.interactions[token] = payload
        return payload

    def member_message(self, content: str, *, mentions_bot: bool = True, user_id: int = USER_ID) -> JSON:
        """MESSAGE_CREATE data for a member's message in the channel (stored there, so a reply can
        reference it); `mentions_bot` puts the bot in its mentions, as `<@bot>` in the text does."""
        message = self.message_object(CHANNEL_ID, {"content": content})
        message["author"] = user_object(user_id)
        message["guild_id"] = str(GUILD_ID)
        message["member"] = member_object(user_id)
        if mentions_bot:
            message["mentions"] = [user_object(BOT_USER_ID, bot=True)]
        self.messages[CHANNEL_ID].append(message)
        return message

    def component_interaction(
        self,
        custom_id: str,
        *,
        values: list[str] | None = None,
        message: JSON | None = None,
        user_id: int = USER_ID,
        channel_id: int = CHANNEL_ID,
    ) -> JSON:
        """INTERACTION_CREATE for a button press (or, with `values`, a string select's choice) on
        `message`, a message object as the bot sent it."""
        data: JSON = {"custom_id": custom_id, "component_type": 2 if values is None else 3}
        if values is not None:
            data["values"] = values
        payload = self._interaction_base(
            3,
            data,
            user_id=user_id,
            permissions=MEMBER_PERMISSIONS,
            interaction_id=None,
            token=None,
            channel_id=channel_id,
            dm=False,
            locale="en-US",
        )
        if message is not None:
            payload["message"] = message
        return payload

    def interaction(
        self,
        command_path: list[str],
        options: Mapping[str, object] | None = None,
        *,
        user_id: int = USER_ID,
        permissions: int = MEMBER_PERMISSIONS,
        interaction_id: int | None = None,
        token: str | None = None,
        channel_id: int = CHANNEL_ID,
        dm: bool = False,
        locale: str = "en-US",
    ) -> JSON:
        """INTERACTION_CREATE data for a slash command, e.g. `["paper", "search"], {"query": "x"}` for
        `/paper search query:x`. Option types come from the Python values (str 3, int 4, bool 5,
        float 10); a dict value with a "type" key is passed through as a raw option. The command id
        is the one assigned at sync (guild commands first). `dm=True` makes a DM invocation (user
        instead of member, context 1)."""
        guild_id = None if dm else self.guild_of(channel_id) or GUILD_ID
        data = self._application_command_data(command_path, options or {}, None, guild_id)
        return self._interaction_base(
            2,
            data,
            user_id=user_id,
            permissions=permissions,
            interaction_id=interaction_id,
            token=token,
            channel_id=channel_id,
            dm=dm,
            locale=locale,
        )

    def autocomplete(
        self,
        command_path: list[str],
        options: Mapping[str, object],
        focused: str,
        *,
        user_id: int = USER_ID,
        permissions: int = MEMBER_PERMISSIONS,
        interaction_id: int | None = None,
        token: str | None = None,
        channel_id: int = CHANNEL_ID,
        locale: str = "en-US",
    ) -> JSON:
        """INTERACTION_CREATE data (type 4) for autocompleting option `focused` (its value is what the
        user has typed so far). The answer is the type 8 callback in `self.callbacks`."""
        if focused not in options:
            raise ValueError(f"focused option {focused!r} must be among the options")
        data = self._application_command_data(
            command_path, options, focused, self.guild_of(channel_id) or GUILD_ID
        )
        return self._interaction_base(
            4,
            data,
            user_id=user_id,
            permissions=permissions,
            interaction_id=interaction_id,
            token=token,
            channel_id=channel_id,
            dm=False,
            locale=locale,
        )

    def reaction(
        self,
        add: bool,
        *,
        message_id: int,
        channel_id: int = CHANNEL_ID,
        user_id: int = USER_ID,
        emoji: str = "👍",
        message_author_id: int = BOT_USER_ID,
    ) -> JSON:
        """MESSAGE_REACTION_ADD (add=True) or MESSAGE_REACTION_REMOVE data. `emoji` is a unicode
        emoji or a custom one as "name:id" / "<:name:id>" / "<a:name:id>"."""
        data: JSON = {
            "user_id": str(user_id),
            "type": 0,
            "message_id": str(message_id),
            "channel_id": str(channel_id),
            "guild_id": str(self.guild_of(channel_id) or GUILD_ID),
            "emoji": _emoji_object(emoji),
            "burst": False,
        }
        if add:
            data["member"] = member_object(user_id, roles=[BOT_ROLE_ID] if user_id == BOT_USER_ID else [])
            data["message_author_id"] = str(message_author_id)
            data["burst_colors"] = []
        return data

    async def react(self, add: bool, *, timeout: float = 5.0, **kwargs: Any) -> int:
        """Dispatch MESSAGE_REACTION_ADD/REMOVE built by `reaction(add, **kwargs)`."""
        event = "MESSAGE_REACTION_ADD" if add else "MESSAGE_REACTION_REMOVE"
        return await self.dispatch(event, self.reaction(add, **kwargs), timeout=timeout)
