"""The Discord adapter: a `/paper` command group, embeds and raw reaction votes over discord.py.

It only translates: typed options become the core's `/paper` text, the core's replies become
followups, and the core's posts become messages in a channel or in a thread under the header.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import logging
import re
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal
from zoneinfo import available_timezones

import aiohttp
import discord
import yarl
from discord import app_commands

from adapters.discord.render import (
    outgoing_messages,
    parse_custom_id,
    post_fallback,
    post_view,
    reply_message,
    reply_view,
)
from adapters.pacing import Pacer
from bot.cards import BUTTON_COMMANDS, UNKNOWN_BUTTON
from bot.commands import parse_command
from bot.config import Settings
from bot.leases import Leases
from bot.paperbot import PaperBot
from bot.ports import ChannelUnavailable, MessageRejected, Outgoing, PublishFailed
from bot.rate_budget import RateBudget
from bot.types import ChannelRef, Command, Post, PostRef, Reaction, Reply, UserRef

log = logging.getLogger(__name__)

PLATFORM = "discord"
THREAD_NAME = "Daily Papers"
THREADS_KEPT = 512
THREAD_ALREADY_EXISTS = 160004
# "Cannot execute action on this channel type": no threads inside a thread or a voice channel's chat.
NO_THREADS_HERE = 50024
# Only non-privileged intents: guilds (channels, threads), guild reactions (votes) and guild
# messages (mentions of the bot: Discord gives their content without the privileged intent).
INTENTS = discord.Intents.none()
INTENTS.guilds = True
INTENTS.guild_reactions = True
INTENTS.guild_messages = True
# Exactly what the bot does: read and post in channels and threads, with embeds.
PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    create_public_threads=True,
    embed_links=True,
    read_message_history=True,
)
SCOPES = ("bot", "applications.commands")
_ZONES = sorted(available_timezones())
GLOBAL_LIMIT = 50
"""Discord's global rate limit: requests per second per bot, across all routes."""
GLOBAL_RATE = 45.0
"""The pace of paperboy's bot requests, per second. The pacer never lets more than 46 go in one
second at 45/s (its timetable tolerance is a quarter interval), which leaves about 100 ms for
arrivals to bunch (event-loop lag, network jitter) before a second at Discord could see 51. In the
fan-out benchmark (BENCHMARKS.md, "Discord fan-out") 50/s drew 61 global 429s and 48/s reached
exactly 50 in one second; 45/s peaked at 47 and costs about 11% of the throughput."""
GLOBAL_BUDGET = "discord-global"
"""The shared budget's name (bot.rate_budget): one bot per deployment's database."""
# Interaction callbacks and followups are not bound to the global limit (Discord's rate-limit docs).
_INTERACTION_ROUTE = re.compile(r"/api/v\d+/(?:interactions/\d+/[^/]+/callback|webhooks/\d+/[^/]+)")


class DiscordLoginError(RuntimeError):
    """Discord refused the token: a setting to fix."""


class DiscordUnreachable(RuntimeError):
    """Discord could not be reached: a service unavailable for now."""


@dataclass(frozen=True)
class DiscordConfig:
    token: str
    api_base_url: str | None = None  # e.g. a nirn-proxy, or the tests' fake
    gateway_url: str | None = None
    shards: int | None = None
    shard_ids: tuple[int, ...] | None = None  # this process's shards, in a cluster
    identify_interval: float = 5.0  # Discord allows one IDENTIFY per 5 s per bucket
    sync_commands: bool = True
    guild_ready_timeout: float = 2.0
    global_rate: float | None = GLOBAL_RATE  # None: no pacing (discord.py alone, 429s and all)


def config_from(settings: Settings) -> DiscordConfig:
    if settings.discord_token is None:
        raise DiscordLoginError("the Discord adapter needs DISCORD_TOKEN")
    return DiscordConfig(
        token=settings.discord_token.get_secret_value(),
        api_base_url=settings.discord_api_base_url,
        gateway_url=settings.discord_gateway_url,
        shards=settings.discord_shards,
        shard_ids=settings.shard_ids(),
    )


async def recommended_shards(config: DiscordConfig) -> int:
    """Discord's own shard recommendation (about one per 1,000 guilds), from /gateway/bot."""
    point_at(config)
    http = discord.http.HTTPClient(asyncio.get_running_loop())
    try:
        await http.static_login(config.token)
        shards, _url, _limits = await http.get_bot_gateway()
        return int(shards)
    finally:
        await http.close()


def point_at(config: DiscordConfig) -> None:
    """Send REST and gateway traffic elsewhere (discord.py keeps both as class attributes)."""
    if config.api_base_url:
        discord.http.Route.BASE = config.api_base_url.rstrip("/")
    if config.gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(config.gateway_url)


def counts_toward_global_limit(url: yarl.URL, headers: Mapping[str, str]) -> bool:
    """A request made with the bot's token, other than an interaction's callback or followups."""
    if not headers.get("Authorization", "").startswith("Bot "):
        return False  # the gateway websocket, CDN downloads, interaction webhooks
    return _INTERACTION_ROUTE.search(url.path) is None


def paced_trace(pacer: Pacer) -> aiohttp.TraceConfig:
    """An aiohttp trace that holds each bot request until its slot, just before it is sent.

    discord.py waits for a route's bucket (X-RateLimit-* headers) and then sends; this runs at
    that moment, for every attempt including discord.py's own retries. Pacing any earlier (around
    `HTTPClient.request`) would let requests held back by their route's bucket go out together.
    """

    async def on_request_start(
        _session: aiohttp.ClientSession, _context: object, params: aiohttp.TraceRequestStartParams
    ) -> None:
        if counts_toward_global_limit(params.url, params.headers):
            await pacer.wait()

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_request_start)
    return trace


def invite_url(application_id: int) -> str:
    return discord.utils.oauth_url(application_id, permissions=PERMISSIONS, scopes=SCOPES)


def _private_unless_manager(interaction: discord.Interaction) -> bool:
    """A digest change is announced in the channel; a refusal (no Manage Channels) only to its
    author. Discord fixes the answer's visibility at the defer, before the core has decided."""
    return not interaction.permissions.manage_channels


class DiscordAdapter:
    platform = PLATFORM
    who_manages = "members with the Manage Channels permission"

    def __init__(
        self,
        bot: PaperBot,
        config: DiscordConfig,
        *,
        sharded: bool = False,
        serve: bool = True,
        leases: Leases | None = None,
        budget: RateBudget | None = None,
    ) -> None:
        """`serve=False`: REST only (`paperboy digest post`, `discord sync`): no gateway.
        `leases`: in a cluster (DISCORD_SHARD_IDS), the clusters take turns to IDENTIFY.
        `budget`: several processes (PostgreSQL) pace their requests together."""
        self.leases = leases
        self._max_concurrency: int | None = None
        point_at(config)
        self.bot = bot
        self.config = config
        self.serve = serve
        options: dict[str, Any] = {
            "intents": INTENTS,
            "allowed_mentions": discord.AllowedMentions.none(),
            "guild_ready_timeout": config.guild_ready_timeout,
            "chunk_guilds_at_startup": False,
        }
        # One pacer for every request of this bot (all shards share one HTTP client): Discord's
        # global limit is reacted to by discord.py only after a 429, and each 429 counts towards
        # the ban at 10,000 invalid requests in 10 minutes. The limit counts every process of
        # the bot: with a shared budget they reserve their slots in the database.
        self.pacer = None
        if config.global_rate:
            share = None
            if budget is not None:
                share = partial(budget.reserve, GLOBAL_BUDGET, interval=1 / config.global_rate)
            self.pacer = Pacer(config.global_rate, share=share)
            options["http_trace"] = paced_trace(self.pacer)
        client_class: type[discord.Client] = discord.Client
        if sharded or config.shards:
            client_class = discord.AutoShardedClient
            if config.shards:
                options["shard_count"] = config.shards
            if config.shard_ids is not None:
                options["shard_ids"] = list(config.shard_ids)
        self.client = client_class(**options)
        self.tree = app_commands.CommandTree(self.client)
        self.tree.add_command(self._paper_group())
        self.client.setup_hook = self._setup_hook  # type: ignore[method-assign]
        if config.shard_ids is not None and leases is not None:
            self.client.before_identify_hook = self._identify_turn  # type: ignore[method-assign]
        self.client.event(self.on_interaction)
        self.client.event(self.on_message)
        self.client.event(self.on_raw_reaction_add)
        self.client.event(self.on_raw_reaction_remove)
        # The digest threads started lately, by header message id: a digest's papers all go
        # to one thread, so a few hundred cover every digest posting at once.
        self._threads: OrderedDict[int, Any] = OrderedDict()
        self._connection: asyncio.Task[None] | None = None

    async def _setup_hook(self) -> None:
        if self.config.sync_commands:
            synced = await self.tree.sync()
            log.info("Discord: synced %d application commands", len(synced))

    async def login(self) -> None:
        """REST only: enough to post digests and sync commands without the gateway."""
        try:
            await self.client.login(self.config.token)
        except discord.LoginFailure:
            await self.client.close()
            raise DiscordLoginError(
                "Discord refused DISCORD_TOKEN: copy the token again from the Bot page of the "
                "application in the Discord Developer Portal"
            ) from None
        except (aiohttp.ClientError, OSError) as exc:
            await self.client.close()
            raise DiscordUnreachable(f"Discord could not be reached ({type(exc).__name__}: {exc})") from None

    @property
    def publisher(self) -> DiscordAdapter:
        return self

    async def start(self) -> None:
        await self.login()
        if self.serve:
            self._connection = asyncio.create_task(self.client.connect(reconnect=True))

    async def finished(self) -> None:
        """Return (or raise) when the gateway connection ends for good, which only a fatal
        error does (discord.py reconnects by itself)."""
        if self._connection is None:
            await asyncio.Event().wait()
        else:
            await asyncio.shield(self._connection)

    async def sync_commands(self, guild_id: int | None = None) -> list[str]:
        """Register /paper globally, or in one guild (instant, for testing)."""
        guild = discord.Object(id=guild_id) if guild_id else None
        if guild is not None:
            self.tree.copy_global_to(guild=guild)
        synced = await self.tree.sync(guild=guild)
        return [command.name for command in synced]

    async def wait_ready(self) -> None:
        await self.client.wait_until_ready()

    async def stop(self) -> None:
        await self.client.close()
        if self.pacer is not None and self.pacer.granted:
            pacer = self.pacer
            log.info(
                "Discord pacing: %d requests, %d queued (longest %.1f s), %d shared slots missed",
                pacer.granted,
                pacer.delayed,
                pacer.longest_wait,
                pacer.missed,
            )
        task = self._connection
        if task is not None:
            try:
                await task
            except Exception:  # closing: the connection's end is not news
                log.debug("Discord connection ended", exc_info=True)

    # --- commands -----------------------------------------------------------------------------

    def _paper_group(self) -> app_commands.Group:
        paper = app_commands.Group(name="paper", description="Hugging Face Daily Papers")
        digest = app_commands.Group(name="digest", description="This channel's daily digest", parent=paper)
        run = self._run

        @paper.command(name="search", description="Search the archive")
        @app_commands.describe(query='Words, "phrases", -exclude, author:, org:, since:, until:, has:code')
        async def search(interaction: discord.Interaction, query: str) -> None:
            await run(interaction, f"search {query}")

        def one_paper_command(name: str, description: str) -> None:
            """`/paper <name> paper:<id or link>`: the commands that act on one paper."""

            @paper.command(name=name, description=description)
            @app_commands.describe(paper="arXiv id, arxiv.org or huggingface.co link")
            async def command(interaction: discord.Interaction, paper: str) -> None:
                await run(interaction, f"{name} {paper}")

        one_paper_command("show", "One paper by arXiv id or link")
        one_paper_command("similar", "The papers nearest in meaning to one paper")
        one_paper_command("abstract", "One paper's full abstract")
        one_paper_command("save", "Keep a paper in your reading list (again: take it out)")
        one_paper_command("unsave", "Take a paper out of your reading list")

        @paper.command(name="saved", description="Your reading list")
        async def saved(interaction: discord.Interaction) -> None:
            await run(interaction, "saved")

        @paper.command(
            name="export", description="A BibTeX file of your reading list, top papers or a search"
        )
        @app_commands.describe(papers="Which papers", query="The search, for papers: search")
        async def export(
            interaction: discord.Interaction,
            papers: Literal["saved", "top week", "top month", "top all", "search"] = "saved",
            query: str | None = None,
        ) -> None:
            await run(interaction, f"export bibtex {papers} {query or ''}".strip())

        @paper.command(name="recommend", description="Recent papers most like what this server votes 👍")
        async def recommend(interaction: discord.Interaction) -> None:
            await run(interaction, "recommend")

        @paper.command(name="today", description="The newest Daily Papers list")
        async def today(interaction: discord.Interaction) -> None:
            await run(interaction, "today")

        @paper.command(name="top", description="This server's most-voted papers")
        async def top(
            interaction: discord.Interaction, period: Literal["week", "month", "all"] = "week"
        ) -> None:
            await run(interaction, f"top {period}")

        @digest.command(name="here", description="Post the daily list in this channel (Manage Channels)")
        @app_commands.describe(
            time="Local time, HH:MM (default 09:00)",
            timezone="IANA timezone, e.g. Europe/Berlin (default UTC)",
            top="How many papers (1-25, default 10)",
            min_upvotes="Only papers with at least this many Hugging Face upvotes",
            include="Only papers mentioning this keyword",
            exclude="Skip papers mentioning this keyword",
            flat="Post the papers straight in the channel instead of a thread",
            rank="Order the list by Hugging Face upvotes or by what this server votes 👍",
        )
        async def here(
            interaction: discord.Interaction,
            time: str | None = None,
            timezone: str | None = None,
            top: app_commands.Range[int, 1, 25] | None = None,
            min_upvotes: app_commands.Range[int, 0, 100_000] | None = None,
            include: str | None = None,
            exclude: str | None = None,
            flat: bool | None = None,
            rank: Literal["upvotes", "taste"] | None = None,
        ) -> None:
            parts = ["digest here"]
            parts += [value for value in (time, timezone) if value]
            if top is not None:
                parts.append(f"top {top}")
            if min_upvotes is not None:
                parts.append(f"min-upvotes {min_upvotes}")
            parts += [f"+{word}" for word in (include or "").split()]
            parts += [f"-{word}" for word in (exclude or "").split()]
            if flat is not None:
                parts.append("flat" if flat else "thread")
            if rank is not None:
                parts.append(f"rank {rank}")
            await run(interaction, " ".join(parts), ephemeral=_private_unless_manager(interaction))

        @here.autocomplete("timezone")
        async def zones(_interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
            needle = current.lower()
            matches = [zone for zone in _ZONES if needle in zone.lower()][:25]
            return [app_commands.Choice(name=zone, value=zone) for zone in matches]

        @digest.command(name="off", description="Stop this channel's digest (Manage Channels)")
        async def off(interaction: discord.Interaction) -> None:
            await run(interaction, "digest off", ephemeral=_private_unless_manager(interaction))

        @digest.command(name="status", description="Next post, last post, and why a day had none")
        async def status(interaction: discord.Interaction) -> None:
            await run(interaction, "digest status")

        @digest.command(name="feed", description="This channel's digest as an Atom feed for feed readers")
        @app_commands.describe(reset="Replace the address; the old one stops working (Manage Channels)")
        async def feed(interaction: discord.Interaction, reset: bool = False) -> None:
            await run(interaction, "digest feed reset" if reset else "digest feed")

        @paper.command(name="follow", description="Get a DM when new papers match a search")
        async def follow(interaction: discord.Interaction, query: str) -> None:
            await run(interaction, f"follow {query}")

        @paper.command(name="unfollow", description="Stop a saved search (its number in /paper following)")
        async def unfollow(interaction: discord.Interaction, number: app_commands.Range[int, 1, 100]) -> None:
            await run(interaction, f"unfollow {number}")

        @paper.command(name="following", description="Your saved searches")
        async def following(interaction: discord.Interaction) -> None:
            await run(interaction, "following")

        @paper.command(name="help", description="What paperboy can do")
        async def help_(interaction: discord.Interaction) -> None:
            await run(interaction, "help")

        return paper

    async def _run(self, interaction: discord.Interaction, text: str, *, ephemeral: bool = True) -> None:
        # Defer first: Discord wants an answer within 3 seconds, and the core may need longer.
        await interaction.response.defer(ephemeral=ephemeral, thinking=True)
        guild = str(interaction.guild_id or "dm")
        channel = ChannelRef(PLATFORM, guild, str(interaction.channel_id))
        user = UserRef(PLATFORM, guild, str(interaction.user.id))
        name, args = parse_command(text)
        can_manage = interaction.permissions.manage_channels
        reply = await self.bot.handle_command(Command(name, args, user, channel, can_manage=can_manage))
        await self._answer(interaction, reply, ephemeral=ephemeral)

    async def _answer(self, interaction: discord.Interaction, reply: Reply, *, ephemeral: bool) -> None:
        content, embeds = reply_message(reply)
        extra: dict[str, Any] = {}
        if content:
            extra["content"] = content
        if (view := reply_view(reply)) is not None:
            extra["view"] = view
        if reply.attachment is not None:
            extra["file"] = discord.File(
                io.BytesIO(reply.attachment.content), filename=reply.attachment.filename
            )
        await interaction.followup.send(embeds=embeds, ephemeral=ephemeral, **extra)

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """A button or a menu on one of paperboy's messages: the command it stands for, for the
        member who pressed it, answered to them alone. (Slash commands go to the command tree.)"""
        if interaction.type is not discord.InteractionType.component:
            return
        data: Any = interaction.data or {}
        pressed = parse_custom_id(
            str(data.get("custom_id") or ""), [str(v) for v in data.get("values") or []]
        )
        if pressed is None:
            return  # not paperboy's component
        await interaction.response.defer(ephemeral=True, thinking=True)
        name, args = pressed
        guild = str(interaction.guild_id or "dm")
        user = UserRef(PLATFORM, guild, str(interaction.user.id))
        if name not in BUTTON_COMMANDS:
            await interaction.followup.send(content=UNKNOWN_BUTTON, ephemeral=True)
            return
        channel = ChannelRef(PLATFORM, guild, str(interaction.channel_id))
        reply = await self.bot.handle_command(Command(name, args, user, channel))
        await self._answer(interaction, reply, ephemeral=True)

    async def on_message(self, message: discord.Message) -> None:
        """`@paperboy <link or question>`: the answer as a reply to the mention."""
        me = self.client.user
        if me is None or message.author.bot or message.guild is None or me not in message.mentions:
            return
        guild = str(message.guild.id)
        command = Command(
            "ask",
            message.content,
            UserRef(PLATFORM, guild, str(message.author.id)),
            ChannelRef(PLATFORM, guild, str(message.channel.id)),
        )
        reply = await self.bot.handle_command(command)
        content, embeds = reply_message(reply)
        try:
            await message.reply(content=content or None, embeds=embeds, mention_author=False)
        except discord.HTTPException as exc:
            log.warning("answering a mention failed: %s %s", exc.status, exc.text)

    # --- reactions ----------------------------------------------------------------------------

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        await self._on_reaction(payload, added=True)

    async def on_raw_reaction_remove(self, payload: discord.RawReactionActionEvent) -> None:
        await self._on_reaction(payload, added=False)

    async def _on_reaction(self, payload: discord.RawReactionActionEvent, *, added: bool) -> None:
        if payload.guild_id is None:
            return
        guild = str(payload.guild_id)
        me = self.client.user
        reaction = Reaction(
            post=PostRef(ChannelRef(PLATFORM, guild, str(payload.channel_id)), str(payload.message_id)),
            user=UserRef(PLATFORM, guild, str(payload.user_id)),
            emoji=str(payload.emoji),
            added=added,
            by_bot=me is not None and payload.user_id == me.id,
        )
        await self.bot.handle_reaction(reaction)

    # --- Publisher ----------------------------------------------------------------------------

    async def _messageable(self, channel_id: int) -> Any:
        found = self.client.get_channel(channel_id)
        return found if found is not None else await self.client.fetch_channel(channel_id)

    async def _thread(self, channel: ChannelRef, header_id: int) -> Any:
        """The thread under the header message (its id is the header's id), started if need be."""
        if header_id in self._threads:
            self._threads.move_to_end(header_id)
            return self._threads[header_id]
        parent = await self._messageable(int(channel.channel))
        if isinstance(parent, discord.Thread):
            return parent  # a digest set up inside a thread posts its papers there, flat
        try:
            thread = await parent.get_partial_message(header_id).create_thread(
                name=THREAD_NAME, auto_archive_duration=1440
            )
        except discord.HTTPException as exc:
            if exc.code == NO_THREADS_HERE:
                log.info("channel %s cannot hold threads; posting the digest flat", channel.channel)
                thread = parent
            elif exc.code == THREAD_ALREADY_EXISTS:
                thread = await self._messageable(header_id)
            else:
                raise
        self._threads[header_id] = thread
        if len(self._threads) > THREADS_KEPT:
            self._threads.popitem(last=False)
        return thread

    async def publish(
        self, channel: ChannelRef, message: Outgoing, *, thread: PostRef | None = None
    ) -> PostRef:
        try:
            if thread is not None:
                target = await self._thread(channel, int(thread.message_id))
            else:
                target = await self._messageable(int(channel.channel))
            sent = [
                await self._send(target, message, content, embeds)
                for content, embeds in outgoing_messages(message)
            ]
        except discord.HTTPException as exc:
            # Retrying these gets a bot's IP banned (10,000 invalid requests in 10 minutes);
            # 401 is a token revoked while running.
            if not isinstance(exc, discord.Forbidden | discord.NotFound) and exc.status != 401:
                raise
            raise ChannelUnavailable(f"Discord said {exc.status} {exc.text or ''}".strip()) from None
        return PostRef(channel, str(sent[0].id), thread.message_id if thread else None)

    async def _send(
        self, target: Any, message: Outgoing, content: str | None, embeds: list[discord.Embed]
    ) -> Any:
        """One message; a card Discord refuses as malformed (400) goes again as plain text, so
        that one odd paper never stops a digest."""
        view = post_view(message) if isinstance(message, Post) else None
        try:
            if view is None:
                return await target.send(content=content, embeds=embeds)
            return await target.send(content=content, embeds=embeds, view=view)
        except discord.HTTPException as exc:
            if exc.status != 400:
                raise
            if not isinstance(message, Post):
                raise MessageRejected(f"Discord said 400 {exc.text}".strip()) from exc
            log.warning(
                "Discord refused the card for %s (%s); posting it as text", message.paper_id, exc.text
            )
        try:
            return await target.send(content=post_fallback(message))
        except discord.HTTPException as exc:
            if exc.status != 400:
                raise
            raise MessageRejected(f"Discord said 400 {exc.text}".strip()) from exc

    async def _identify_turn(self, shard_id: int | None, *, initial: bool = False) -> None:
        """Discord allows a bot max_concurrency IDENTIFYs per 5 s, across all its processes:
        each shard waits for its bucket's turn, a lease in the shared database, so clusters
        starting together queue instead of being refused."""
        assert self.leases is not None
        if self._max_concurrency is None:
            try:
                _shards, _url, limits = await self.client.http.get_bot_gateway()
                self._max_concurrency = int(limits.get("max_concurrency", 1))
            except (discord.HTTPException, discord.GatewayNotFound):
                self._max_concurrency = 1
        name = f"discord-identify:{(shard_id or 0) % max(1, self._max_concurrency)}"
        turn = dt.timedelta(seconds=self.config.identify_interval)
        # Polled: the turn is a row another process may hold; a tenth of a turn between looks.
        while not await self.leases.take_turn(name, ttl=turn, now=dt.datetime.now(dt.UTC)):  # noqa: ASYNC110
            await asyncio.sleep(self.config.identify_interval / 10)

    def serves(self, channel: ChannelRef) -> bool:
        """A cluster (DISCORD_SHARD_IDS) schedules the digests of its shards' servers only:
        Discord puts a server on shard (server id >> 22) % shard count."""
        if self.config.shard_ids is None or self.config.shards is None:
            return True
        try:
            return (int(channel.community) >> 22) % self.config.shards in self.config.shard_ids
        except ValueError:
            return True

    async def edit(self, post: PostRef, message: Post) -> None:
        """A card edited where it was posted: its digest's thread (whose id is the header's),
        else the channel itself (a channel that holds no threads got the digest flat)."""
        places = [post.thread, post.channel.channel] if post.thread else [post.channel.channel]
        ((content, embeds),) = outgoing_messages(message)
        view = post_view(message)
        for place in places:
            card = self.client.get_partial_messageable(int(place)).get_partial_message(int(post.message_id))
            try:
                if view is None:
                    await card.edit(content=content, embeds=embeds)
                else:
                    await card.edit(content=content, embeds=embeds, view=view)
                return
            except discord.NotFound:
                continue
            except discord.HTTPException as exc:
                if isinstance(exc, discord.Forbidden) or exc.status == 401:
                    raise ChannelUnavailable(f"Discord said {exc.status} {exc.text or ''}".strip()) from None
                raise PublishFailed(f"Discord said {exc.status} {exc.text or ''}".strip()) from exc
        raise ChannelUnavailable("Discord said 404: the card is gone")

    async def send_dm(self, user: UserRef, message: Outgoing) -> None:
        target = self.client.get_user(int(user.user)) or await self.client.fetch_user(int(user.user))
        for content, embeds in outgoing_messages(message):
            await target.send(content=content, embeds=embeds)
