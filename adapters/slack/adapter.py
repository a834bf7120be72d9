"""The Slack adapter: slack-bolt's AsyncApp translating `/paper` and reactions to the core.

Two transports from one app: HTTP (Events API, slash commands and OAuth on an aiohttp server)
and Socket Mode when an app-level token is set. Single-workspace with a bot token, or
multi-workspace through Bolt's OAuth flow with its SQLAlchemy stores in paperboy's database.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, replace
from typing import Any

import aiohttp
from aiohttp import web
from pydantic import SecretStr
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.app.async_server import AsyncSlackAppServer
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.errors import SlackApiError
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.http import HttpServer
from adapters.slack.publisher import PLATFORM, SlackPublisher, make_client
from adapters.slack.render import ACTION_PREFIX, ITEM_MENU, post_blocks, reply_message
from bot.cards import BUTTON_COMMANDS, UNKNOWN_BUTTON
from bot.commands import changes_a_digest, parse_command
from bot.config import Settings
from bot.paperbot import PaperBot
from bot.ports import ChannelUnavailable
from bot.types import Attachment, ChannelRef, Command, PostRef, Reaction, Reply, UserRef

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
API_TIMEOUT_SECONDS = 30  # slack_sdk's default per call
# The least the bot needs: the slash command, posting, DMs, reactions and the admin check.
BOT_SCOPES = [
    "commands",
    "chat:write",
    "chat:write.public",
    "im:write",
    "reactions:read",
    "users:read",
    "files:write",
    "app_mentions:read",
    "links:read",
    "links:write",
]
_EMOJI = {"+1": "👍", "thumbsup": "👍", "-1": "👎", "thumbsdown": "👎"}
# Slack's skin-tone-2 … skin-tone-6 are the Fitzpatrick modifiers U+1F3FB … U+1F3FF.
_SKIN_TONES = {f"skin-tone-{n}": chr(0x1F3FB + n - 2) for n in range(2, 7)}


class _WithoutRequestBody(logging.Filter):
    """Bolt logs a rejected request's body (user ids, text, response_url); keep only the fact."""

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.msg).startswith("Invalid request signature"):
            record.msg = "Rejected a request with a bad Slack signature or a stale timestamp (401)"
            record.args = ()
        return True


class _WithoutTokenNotice(logging.Filter):
    """Bolt reads SLACK_BOT_TOKEN itself and warns that the client paperboy gives it wins; it
    is the same token, so the warning only confuses."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


def _hide_rejected_bodies() -> None:
    verification_log = logging.getLogger("slack_bolt.RequestVerification")
    if not any(isinstance(f, _WithoutRequestBody) for f in verification_log.filters):
        verification_log.addFilter(_WithoutRequestBody())
    app_log = logging.getLogger("slack_bolt.AsyncApp")
    if not any(isinstance(f, _WithoutTokenNotice) for f in app_log.filters):
        app_log.addFilter(_WithoutTokenNotice())


def reaction_emoji(name: str) -> str:
    """Slack's reaction name as an emoji (`+1::skin-tone-3` → 👍🏼): the core counts every skin
    tone as the same vote, but tells the reactions apart."""
    base, _, modifier = name.partition("::")
    emoji = _EMOJI.get(base, f":{base}:")
    tone = _SKIN_TONES.get(modifier)
    return emoji + tone if tone and not emoji.startswith(":") else emoji


class SlackSetupError(ValueError):
    """Slack settings that cannot work together; the message says what to set."""


@dataclass(frozen=True)
class SlackConfig:
    api_base_url: str
    signing_secret: str | None
    bot_token: str | None = None
    app_token: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    channel_interval: float = 1.0
    edit_interval: float = 1.2

    @property
    def multi_workspace(self) -> bool:
        return bool(self.client_id and self.client_secret)

    @classmethod
    def from_settings(cls, settings: Settings, *, serving: bool = True) -> SlackConfig:
        """`serving=False`: only to post (`paperboy digest post`), which needs no way in."""

        def secret(value: SecretStr | None) -> str | None:
            return value.get_secret_value() if value else None

        config = cls(
            api_base_url=settings.slack_api_base_url,
            signing_secret=secret(settings.slack_signing_secret),
            bot_token=secret(settings.slack_bot_token),
            app_token=secret(settings.slack_app_token),
            client_id=settings.slack_client_id,
            client_secret=secret(settings.slack_client_secret),
        )
        if serving and not config.app_token and not config.signing_secret:
            raise SlackSetupError(
                "Slack over HTTP needs SLACK_SIGNING_SECRET (or SLACK_APP_TOKEN for Socket Mode)"
            )
        if not config.bot_token and not config.multi_workspace:
            raise SlackSetupError("Slack needs SLACK_BOT_TOKEN, or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET")
        if config.app_token and config.multi_workspace:
            raise SlackSetupError("Use Socket Mode (SLACK_APP_TOKEN) or the OAuth install flow, not both")
        return config


class SlackAdapter:
    def __init__(
        self,
        bot: PaperBot,
        config: SlackConfig,
        engine: AsyncEngine,
        *,
        serve: bool = True,
        http: HttpServer | None = None,
    ) -> None:
        """`serve=False`: only to post (`paperboy digest post`): `start` opens no way in.
        `http`: paperboy's HTTP server, which Slack's endpoints join unless in Socket Mode."""
        _hide_rejected_bodies()
        self.bot = bot
        self.config = config
        self.serve = serve
        self.http = http
        self.client = make_client(token=config.bot_token, base_url=config.api_base_url)
        self.installations: AsyncSQLAlchemyInstallationStore | None = None
        kwargs: dict[str, Any] = {}
        if config.multi_workspace:
            assert config.client_id
            assert config.client_secret
            self.installations = AsyncSQLAlchemyInstallationStore(client_id=config.client_id, engine=engine)
            self._states = AsyncSQLAlchemyOAuthStateStore(expiration_seconds=600, engine=engine)
            settings = AsyncOAuthSettings(
                client_id=config.client_id,
                client_secret=config.client_secret,
                scopes=BOT_SCOPES,
                installation_store=self.installations,
                state_store=self._states,
            )
            kwargs["oauth_flow"] = AsyncOAuthFlow(
                client=make_client(token=None, base_url=config.api_base_url), settings=settings
            )
        self.app = AsyncApp(
            signing_secret=config.signing_secret or None,
            # Socket Mode needs no signing secret: Slack's websocket is authenticated by the app token.
            request_verification_enabled=bool(config.signing_secret),
            client=self.client,
            name="paperboy",
            **kwargs,
        )
        self.publisher = SlackPublisher(
            self._client_for, channel_interval=config.channel_interval, edit_interval=config.edit_interval
        )
        self.app.command("/paper")(self._on_command)
        self.app.action(re.compile("^" + ACTION_PREFIX))(self._on_action)
        self.app.event("app_mention")(self._on_mention)
        self.app.event("link_shared")(self._on_link_shared)
        self.app.event("reaction_added")(self._on_reaction)
        self.app.event("reaction_removed")(self._on_reaction)
        self._socket: AsyncSocketModeHandler | None = None
        self._session: aiohttp.ClientSession | None = None
        self._clients: dict[str, AsyncWebClient] = {}

    async def _client_for(self, team_id: str) -> AsyncWebClient:
        """The Web API client holding the bot token of `team_id`, on the adapter's one
        connection pool (a 100-channel digest is a few connections, not 1,100 handshakes)."""
        if self.installations is None:
            return self.client
        bot = await self.installations.async_find_bot(enterprise_id=None, team_id=team_id)
        if bot is None:
            raise ChannelUnavailable(f"paperboy is not installed in Slack workspace {team_id}")
        cached = self._clients.get(team_id)
        if cached is None or cached.token != bot.bot_token:  # a reinstall gives a new token
            cached = make_client(
                token=bot.bot_token, base_url=self.config.api_base_url, session=self._session
            )
            self._clients[team_id] = cached
        return cached

    # --- inbound ------------------------------------------------------------------------------

    async def _on_command(self, ack: Any, body: dict[str, Any], respond: Any) -> None:
        await ack()  # within Slack's 3 seconds, before any database or network work
        team = str(body.get("team_id") or "")
        name, args = parse_command(str(body.get("text") or ""))
        user = UserRef(PLATFORM, team, str(body.get("user_id") or ""))
        command = Command(
            name=name,
            args=args,
            user=user,
            channel=ChannelRef(PLATFORM, team, str(body.get("channel_id") or "")),
            can_manage=changes_a_digest(name, args) and await self._is_admin(user),
        )
        reply = await self.bot.handle_command(command)
        await self._answer(respond, command.user, reply)

    async def _on_action(self, ack: Any, body: dict[str, Any], action: dict[str, Any], respond: Any) -> None:
        """A button or a list item's menu on one of paperboy's messages: the command it names,
        for the user who pressed it, answered to them alone (never a change to the message
        everyone sees)."""
        await ack()
        if action.get("action_id") == ITEM_MENU:
            chosen = str((action.get("selected_option") or {}).get("value") or "")
            name, _, args = chosen.partition(" ")
        else:
            name = str(action.get("action_id") or "").removeprefix(ACTION_PREFIX)
            args = str(action.get("value") or "")
        team = str((body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id") or "")
        user = UserRef(PLATFORM, team, str((body.get("user") or {}).get("id") or ""))
        channel = ChannelRef(PLATFORM, team, str((body.get("channel") or {}).get("id") or ""))
        if name not in BUTTON_COMMANDS:
            await self._respond(
                respond, text=UNKNOWN_BUTTON, response_type="ephemeral", replace_original=False
            )
            return
        reply = await self.bot.handle_command(Command(name, args, user, channel))
        await self._answer(respond, user, replace(reply, ephemeral=True))

    async def _answer(self, respond: Any, user: UserRef, reply: Reply) -> None:
        """The reply through the command's response_url; a file goes to the user's direct
        messages (a channel would show everyone their reading list)."""
        if reply.attachment is not None:
            reply = replace(reply, text=f"{reply.text} {await self._send_file(user, reply.attachment)}")
        text, blocks = reply_message(reply)
        await self._respond(
            respond,
            text=text,
            blocks=blocks,
            response_type="ephemeral" if reply.ephemeral else "in_channel",
            replace_original=False,
        )

    async def _respond(self, respond: Any, **message: Any) -> None:
        """Post to the request's response_url over the pooled session: Bolt's `respond` opens a
        new HTTP session, and so a new connection, for every answer."""
        url = getattr(respond, "response_url", None)
        if self._session is None or not url:
            await respond(**message)
            return
        await AsyncWebhookClient(url=url, session=self._session).send(**message)

    async def _send_file(self, user: UserRef, attachment: Attachment) -> str:
        client = await self._client_for(user.community)
        try:
            opened = await client.conversations_open(users=user.user)
            await client.files_upload_v2(
                channel=str((opened.get("channel") or {}).get("id")),
                file=attachment.content,
                filename=attachment.filename,
                title=attachment.filename,
            )
        except SlackApiError as exc:
            log.warning("sending %s failed: %s", attachment.filename, exc.response.get("error"))
            return f"Slack did not take the file ({exc.response.get('error')}); try again later."
        return f"{attachment.filename} is in your direct messages with paperboy."

    async def _is_admin(self, user: UserRef) -> bool:
        """Workspace admins and owners manage digests (one users.info call, only when asked)."""
        client = await self._client_for(user.community)
        try:
            info = await client.users_info(user=user.user)
        except SlackApiError as exc:
            log.warning("users.info failed: %s", exc.response.get("error"))
            return False
        profile = info.get("user") or {}
        return bool(profile.get("is_admin") or profile.get("is_owner") or profile.get("is_primary_owner"))

    async def _on_mention(self, body: dict[str, Any], event: dict[str, Any], context: Any) -> None:
        """`@paperboy <link or question>`: the answer in a thread under the mention."""
        team = str(body.get("team_id") or context.team_id or "")
        if event.get("bot_id") or await self._delivered_before(body):
            return  # another bot's message, or Slack's retry of one already answered
        channel = ChannelRef(PLATFORM, team, str(event.get("channel") or ""))
        user = UserRef(PLATFORM, team, str(event.get("user") or ""))
        reply = await self.bot.handle_command(Command("ask", str(event.get("text") or ""), user, channel))
        text, blocks = reply_message(reply)
        client = await self._client_for(team)
        try:
            await client.chat_postMessage(
                channel=channel.channel,
                thread_ts=str(event.get("thread_ts") or event.get("ts") or "") or None,
                text=text,
                blocks=blocks,
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as exc:
            log.warning("answering a mention failed: %s", exc.response.get("error"))

    async def _delivered_before(self, body: dict[str, Any]) -> bool:
        """Slack's retry of an event already handled, by this process or another."""
        event_id = str(body.get("event_id") or "")
        return bool(event_id) and not await self.bot.first_delivery(PLATFORM, event_id)

    async def _on_link_shared(self, body: dict[str, Any], event: dict[str, Any], context: Any) -> None:
        """A message linking arxiv.org or huggingface.co papers: their cards as link previews.
        A paper that cannot be found, or Hugging Face down, means no preview and no message."""
        team = str(body.get("team_id") or context.team_id or "")
        if await self._delivered_before(body):
            return
        urls = [str(link.get("url") or "") for link in event.get("links") or []]
        cards = await self.bot.link_previews([url for url in urls if url])
        if not cards:
            return
        # No thumbnail: a preview is compact, and an image Slack cannot fetch fails it whole.
        unfurls = {url: {"blocks": post_blocks(card, thumbnail=False)} for url, card in cards.items()}
        client = await self._client_for(team)
        try:
            if event.get("unfurl_id") and event.get("source"):
                await client.chat_unfurl(
                    unfurl_id=str(event["unfurl_id"]), source=str(event["source"]), unfurls=unfurls
                )
            else:
                channel, ts = str(event.get("channel") or ""), str(event.get("message_ts") or "")
                await client.chat_unfurl(channel=channel, ts=ts, unfurls=unfurls)
        except SlackApiError as exc:
            log.warning("link preview failed: %s", exc.response.get("error"))

    async def _on_reaction(self, body: dict[str, Any], event: dict[str, Any], context: Any) -> None:
        item = event.get("item") or {}
        if item.get("type") != "message" or not item.get("channel") or not item.get("ts"):
            return
        team = str(body.get("team_id") or context.team_id or "")
        user = str(event.get("user") or "")
        reaction = Reaction(
            post=PostRef(ChannelRef(PLATFORM, team, str(item["channel"])), str(item["ts"])),
            user=UserRef(PLATFORM, team, user),
            emoji=reaction_emoji(str(event.get("reaction") or "")),
            added=event.get("type") == "reaction_added",
            by_bot=bool(user) and user == context.bot_user_id,
            event_id=str(body.get("event_id") or "") or None,
        )
        await self.bot.handle_reaction(reaction)

    # --- transports ---------------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        """/slack/events, plus /slack/install and /slack/oauth_redirect for several workspaces."""
        server = AsyncSlackAppServer(port=0, path=EVENTS_PATH, app=self.app)
        routes = [web.post(EVENTS_PATH, server.handle_post_requests)]
        if self.app.oauth_flow is not None:
            flow = self.app.oauth_flow
            routes += [
                web.get(flow.install_path, server.handle_get_requests),
                web.get(flow.redirect_uri_path, server.handle_get_requests),
            ]
        return routes

    @property
    def port(self) -> int | None:
        return self.http.port if self.http is not None else None

    async def prepare(self) -> None:
        """Create Bolt's installation and OAuth state tables (multi-workspace mode only)."""
        if self.installations is not None:
            await self.installations.create_tables()  # type: ignore[no-untyped-call]
            await self._states.create_tables()  # type: ignore[no-untyped-call]

    async def start(self) -> None:
        # One connection pool for every Web API call (slack_sdk's own timeout is per session).
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=API_TIMEOUT_SECONDS))
        self.client.session = self._session
        try:
            await self._open()
        except BaseException:  # stop() is not called for an adapter that did not start
            await self._session.close()
            raise

    async def _open(self) -> None:
        await self.prepare()
        if not self.serve:
            return
        if self.config.app_token:
            self._socket = AsyncSocketModeHandler(self.app, app_token=self.config.app_token)
            await self._socket.connect_async()  # type: ignore[no-untyped-call]
            log.info("Slack: connected in Socket Mode")
            return
        if self.http is None:
            raise SlackSetupError("Slack over HTTP needs paperboy's HTTP server")
        self.http.add_routes(self.routes())
        await self.http.start()
        log.info("Slack: serving HTTP on %s:%s%s", self.http.host, self.http.port, EVENTS_PATH)

    async def finished(self) -> None:
        await asyncio.Event().wait()  # a server never ends by itself

    async def stop(self) -> None:
        # The HTTP server is paperboy's, not Slack's: the composition root stops it.
        if self._socket is not None:
            await self._socket.close_async()  # type: ignore[no-untyped-call]
        if self._session is not None:
            await self._session.close()
