"""The core's Publisher for Slack: chat.postMessage and DMs, over slack_sdk."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from adapters.slack.render import outgoing_message
from bot.ports import ChannelUnavailable, MessageRejected, Outgoing, PublishFailed
from bot.types import ChannelRef, Notice, Post, PostRef, UserRef

log = logging.getLogger(__name__)

PLATFORM = "slack"
# Errors that no retry can fix: the subscription is paused instead (reliability-perf.md §1).
PERMANENT_ERRORS = {
    "channel_not_found",
    "not_in_channel",
    "is_archived",
    "account_inactive",
    "token_revoked",
    "invalid_auth",
    "not_authed",
    "team_access_not_granted",
    "missing_scope",
}
# Errors about the message itself (chat.postMessage's reference): sending it again cannot help.
# invalid_blocks is answered by the plainer fallbacks first (_post_plainer).
MESSAGE_REFUSED = {
    "msg_too_long",
    "no_text",
    "too_many_attachments",
    "invalid_attachments",
    "invalid_arguments",
    "invalid_blocks",
    "invalid_blocks_format",
    "markdown_text_conflict",
    "metadata_too_large",
}
# chat.postMessage allows about one message per second per channel.
CHANNEL_INTERVAL = 1.0
# chat.update is a Tier 3 method: about 50 calls a minute per workspace.
EDIT_INTERVAL = 1.2
# chat.update's own errors for a card that can no longer be edited: it is left as it is.
EDIT_GONE = {"message_not_found", "cant_update_message", "edit_window_closed"}

ClientFor = Callable[[str], Awaitable[AsyncWebClient]]


def make_client(
    *, token: str | None, base_url: str, session: aiohttp.ClientSession | None = None
) -> AsyncWebClient:
    """A Web API client that waits out 429s (Retry-After) and retries dropped connections.
    `session`: the adapter's one connection pool (without it, slack_sdk opens a new session,
    and a new TLS connection, for every call)."""
    return AsyncWebClient(
        token=token,
        base_url=base_url,
        session=session,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=5),
        ],
    )


def slack_failure(exc: SlackApiError) -> str:
    """What Slack answered, in a few words: its error code, else the HTTP status."""
    error = exc.response.get("error") if isinstance(exc.response.data, dict) else None
    return f"Slack said {error}" if error else f"Slack answered HTTP {exc.response.status_code}"


class SlackPublisher:
    platform = PLATFORM
    who_manages = "Slack workspace admins and owners"

    def __init__(
        self,
        client_for: ClientFor,
        *,
        channel_interval: float = CHANNEL_INTERVAL,
        edit_interval: float = EDIT_INTERVAL,
    ) -> None:
        self._client_for = client_for
        self._interval = channel_interval
        self._edit_interval = edit_interval
        self._last_post: dict[str, float] = {}
        self._pace_locks: dict[str, asyncio.Lock] = {}
        self._last_edit: dict[str, float] = {}
        self._edit_locks: dict[str, asyncio.Lock] = {}

    @staticmethod
    async def _pace(last: dict[str, float], key: str, interval: float) -> None:
        """Wait until `interval` after the last call for `key`: one message per second per
        channel (chat.postMessage), one edit per EDIT_INTERVAL per workspace (chat.update)."""
        wait = last.get(key, float("-inf")) + interval - asyncio.get_running_loop().time()
        if wait > 0:
            await asyncio.sleep(wait)

    async def publish(
        self, channel: ChannelRef, message: Outgoing, *, thread: PostRef | None = None
    ) -> PostRef:
        client = await self._client_for(channel.community)
        text, blocks = outgoing_message(message)
        lock = self._pace_locks.setdefault(channel.channel, asyncio.Lock())
        async with lock:
            await self._pace(self._last_post, channel.channel, self._interval)
            try:
                try:
                    response = await self._post(client, channel, text, blocks, thread)
                except SlackApiError as exc:
                    if exc.response.get("error") != "invalid_blocks" or isinstance(message, Notice):
                        raise
                    response = await self._post_plainer(client, channel, message, thread, exc)
            except SlackApiError as exc:
                if exc.response.get("error") in MESSAGE_REFUSED:  # this message, for good
                    raise MessageRejected(slack_failure(exc)) from exc
                # internal_error, fatal_error, an HTTP 5xx: the core tries again, then reports it.
                raise PublishFailed(slack_failure(exc)) from exc
            finally:
                # Counted from when Slack answered, so consecutive posts arrive an interval apart.
                self._last_post[channel.channel] = asyncio.get_running_loop().time()
        return PostRef(channel, str(response["ts"]), thread.message_id if thread else None)

    async def _post_plainer(
        self,
        client: AsyncWebClient,
        channel: ChannelRef,
        post: Post,
        thread: PostRef | None,
        exc: SlackApiError,
    ) -> Any:
        """A card Slack refused: again without its thumbnail (Slack refuses a whole message when
        it cannot fetch an image), then as plain text, so that one card never stops a digest."""
        log.warning(
            "Slack refused the card for %s (%s); posting it without its thumbnail",
            post.paper_id,
            exc.response.get("errors") or "invalid_blocks",
        )
        text, blocks = outgoing_message(post, thumbnail=False)
        try:
            return await self._post(client, channel, text, blocks, thread)
        except SlackApiError as again:
            if again.response.get("error") != "invalid_blocks":
                raise
            log.warning("Slack refused the card for %s again; posting it as plain text", post.paper_id)
            return await self._post(client, channel, text, None, thread)

    async def _post(
        self,
        client: AsyncWebClient,
        channel: ChannelRef,
        text: str,
        blocks: list[Any] | None,
        thread: PostRef | None,
    ) -> Any:
        try:
            return await client.chat_postMessage(
                channel=channel.channel,
                text=text,
                blocks=blocks,
                thread_ts=thread.message_id if thread else None,
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as exc:
            error = str(exc.response.get("error", ""))
            if error in PERMANENT_ERRORS:
                raise ChannelUnavailable(f"Slack said {error}") from None
            raise

    def serves(self, channel: ChannelRef) -> bool:
        return True

    async def edit(self, post: PostRef, message: Post) -> None:
        """chat.update of a card, at most one per EDIT_INTERVAL per workspace."""
        team = post.channel.community
        client = await self._client_for(team)
        async with self._edit_locks.setdefault(team, asyncio.Lock()):
            await self._pace(self._last_edit, team, self._edit_interval)
            try:
                await self._update(client, post, message, thumbnail=True)
            except SlackApiError as exc:
                error = str(exc.response.get("error", ""))
                if error in EDIT_GONE or error in PERMANENT_ERRORS:
                    raise ChannelUnavailable(f"Slack said {error}") from None
                raise PublishFailed(slack_failure(exc)) from exc
            finally:
                self._last_edit[team] = asyncio.get_running_loop().time()

    async def _update(self, client: AsyncWebClient, post: PostRef, message: Post, *, thumbnail: bool) -> None:
        text, blocks = outgoing_message(message, thumbnail=thumbnail)
        try:
            await client.chat_update(
                channel=post.channel.channel, ts=post.message_id, text=text, blocks=blocks
            )
        except SlackApiError as exc:
            if exc.response.get("error") != "invalid_blocks" or not thumbnail:
                raise
            # The card may have gone out without its thumbnail (_post_plainer): so is its edit.
            await self._update(client, post, message, thumbnail=False)

    async def send_dm(self, user: UserRef, message: Outgoing) -> None:
        client = await self._client_for(user.community)
        opened = await client.conversations_open(users=user.user)
        dm_channel = str(opened["channel"]["id"])
        text, blocks = outgoing_message(message)
        await client.chat_postMessage(channel=dm_channel, text=text, blocks=blocks, unfurl_links=False)
