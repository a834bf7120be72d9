"""The fake Discord against the real discord.py: login, command sync, gateway, interactions, REST
errors and a server-side disconnect with RESUME."""

from __future__ import annotations

import asyncio
import contextlib
import warnings
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import yarl

from tests.fake_discord import (
    APP_ID,
    BOT_USER_ID,
    CHANNEL_ID,
    GUILD_ID,
    USER_ID,
    DiscordLimits,
    FakeDiscord,
    RouteLimit,
    route_shape,
)

with warnings.catch_warnings():
    # discord.player imports audioop (deprecated since Python 3.11); pytest runs with -W error.
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    import discord
    from discord import app_commands


class PaperClient(discord.Client):
    def __init__(self, **options: Any) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        intents.guild_reactions = True
        super().__init__(intents=intents, allowed_mentions=discord.AllowedMentions.none(), **options)
        self.tree = app_commands.CommandTree(self)
        self.raw_reactions: list[discord.RawReactionActionEvent] = []
        self.resumed_count = 0

        paper = app_commands.Group(name="paper", description="Hugging Face Daily Papers")

        @paper.command(name="search", description="Search papers")
        async def search(interaction: discord.Interaction, query: str) -> None:
            await interaction.response.defer(ephemeral=True)
            await interaction.followup.send("found " + query, ephemeral=True)

        async def topics(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
            return [
                app_commands.Choice(name=t, value=t) for t in ("llm", "diffusion") if t.startswith(current)
            ]

        @paper.command(name="follow", description="Follow a topic")
        @app_commands.autocomplete(topic=topics)
        async def follow(
            interaction: discord.Interaction, topic: str, days: int = 7, loud: bool = False
        ) -> None:
            await interaction.response.send_message(f"following {topic} for {days} days, loud={loud}")

        self.tree.add_command(paper)

    async def setup_hook(self) -> None:
        await self.tree.sync()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """discord.py sleeps 5 s before every IDENTIFY but the first (identify rate limit)."""

    async def on_raw_reaction_add(self, payload: discord.RawReactionActionEvent) -> None:
        self.raw_reactions.append(payload)

    async def on_resumed(self) -> None:
        self.resumed_count += 1


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@contextlib.asynccontextmanager
async def running(fake: FakeDiscord, bot: discord.Client) -> AsyncIterator[None]:
    """`bot.start()` in a background task until ready; closed and awaited on the way out."""
    task = asyncio.create_task(bot.start("fake-token"))
    try:
        await fake.wait_for(lambda: bot.is_ready() or task.done())
        if task.done():
            task.result()  # raises what went wrong during login/connect
        yield
    finally:
        await bot.close()
        await asyncio.wait_for(task, 5)


@pytest.fixture
def redirected(fake: FakeDiscord, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(discord.http.Route, "BASE", fake.api_base)
    monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(fake.ws_url))


@pytest.fixture
async def client(fake: FakeDiscord, redirected: None) -> AsyncIterator[PaperClient]:
    bot = PaperClient(guild_ready_timeout=0.05)
    async with running(fake, bot):
        yield bot


async def test_login_and_command_sync(fake: FakeDiscord, client: PaperClient) -> None:
    assert client.user is not None and client.user.id == BOT_USER_ID
    assert client.application_id == APP_ID
    assert fake.requests_to("GET", "/users/@me")[0].headers["Authorization"] == "Bot fake-token"
    assert fake.requests_to("GET", "/oauth2/applications/@me")

    (sync,) = fake.requests_to("PUT", f"/applications/{APP_ID}/commands")
    (paper,) = sync.json_body
    assert paper["name"] == "paper"
    subcommands = {o["name"]: o for o in paper["options"]}
    assert subcommands["search"]["type"] == 1
    assert [(o["name"], o["type"]) for o in subcommands["search"]["options"]] == [("query", 3)]
    assert [c["name"] for c in fake.commands] == ["paper"]

    assert fake.identifies == 1 and fake.resumes == 0
    assert fake.identify_payloads[0]["token"] == "fake-token"
    guild = client.get_guild(GUILD_ID)
    assert guild is not None and guild.me is not None
    assert isinstance(client.get_channel(CHANNEL_ID), discord.TextChannel)


async def test_deferred_ephemeral_command_with_followup(fake: FakeDiscord, client: PaperClient) -> None:
    payload = fake.interaction(["paper", "search"], {"query": "x"}, user_id=USER_ID, permissions=0)
    await fake.dispatch("INTERACTION_CREATE", payload)
    await fake.wait_for(lambda: fake.requests_to("POST", f"/webhooks/{APP_ID}/"))

    (callback,) = fake.requests_to("POST", f"/interactions/{payload['id']}/")
    assert callback.query["with_response"] == "1"
    assert callback.json_body == {"type": 5, "data": {"flags": 64}}

    (followup,) = fake.requests_to("POST", f"/webhooks/{APP_ID}/{payload['token']}")
    assert followup.json_body["content"] == "found x"
    assert followup.json_body["flags"] == 64
    # The first followup after a defer replaces the "thinking…" placeholder.
    (message,) = fake.followups[payload["token"]]
    assert message["id"] == fake.original_responses[payload["token"]]["id"]
    assert message["content"] == "found x" and message["flags"] == 64


async def test_channel_send_is_recorded(fake: FakeDiscord, client: PaperClient) -> None:
    channel = client.get_channel(CHANNEL_ID)
    assert isinstance(channel, discord.TextChannel)
    sent = await channel.send("today's papers")

    (post,) = fake.requests_to("POST", f"/channels/{CHANNEL_ID}/messages")
    assert post.json_body["content"] == "today's papers"
    assert post.json_body["allowed_mentions"] == {"parse": []}
    assert [m["id"] for m in fake.messages[CHANNEL_ID]] == [str(sent.id)]
    assert sent.author.id == BOT_USER_ID and sent.channel.id == CHANNEL_ID

    await sent.add_reaction("👍")
    thread = await sent.create_thread(name="discussion")
    assert thread.id == sent.id and thread.parent_id == CHANNEL_ID
    assert fake.bot_reactions == [("PUT", CHANNEL_ID, sent.id, "👍")]


async def test_rate_limited_send_is_retried_once(fake: FakeDiscord, client: PaperClient) -> None:
    channel = client.get_channel(CHANNEL_ID)
    assert isinstance(channel, discord.TextChannel)
    fake.fail_next("POST", f"/channels/{CHANNEL_ID}/messages", 429)

    sent = await channel.send("digest")

    assert len(fake.requests_to("POST", f"/channels/{CHANNEL_ID}/messages")) == 2
    assert [m["id"] for m in fake.messages[CHANNEL_ID]] == [str(sent.id)]


async def test_forbidden_raises(fake: FakeDiscord, client: PaperClient) -> None:
    channel = client.get_channel(CHANNEL_ID)
    assert isinstance(channel, discord.TextChannel)
    fake.fail_next("POST", f"/channels/{CHANNEL_ID}/messages", 403)

    with pytest.raises(discord.Forbidden) as caught:
        await channel.send("digest")

    assert caught.value.code == 50001
    assert fake.messages[CHANNEL_ID] == []


async def test_raw_reaction_on_uncached_message(fake: FakeDiscord, client: PaperClient) -> None:
    message_id = fake.snowflake()
    await fake.react(True, message_id=message_id, user_id=USER_ID)
    await fake.wait_for(lambda: client.raw_reactions)

    (event,) = client.raw_reactions
    assert (event.message_id, event.user_id, event.channel_id, event.guild_id) == (
        message_id,
        USER_ID,
        CHANNEL_ID,
        GUILD_ID,
    )
    assert str(event.emoji) == "👍" and event.event_type == "REACTION_ADD"
    assert event.member is not None and event.member.id == USER_ID


async def test_resume_after_server_side_drop(fake: FakeDiscord, client: PaperClient) -> None:
    missed_id, later_id = fake.snowflake(), fake.snowflake()
    await fake.drop_connection(missed=[("MESSAGE_REACTION_ADD", fake.reaction(True, message_id=missed_id))])
    await fake.react(True, message_id=later_id)  # waits until the client has RESUMEd
    await fake.wait_for(lambda: len(client.raw_reactions) == 2)

    assert [e.message_id for e in client.raw_reactions] == [missed_id, later_id]
    assert fake.identifies == 1 and fake.resumes == 1
    assert client.resumed_count == 1


async def test_unresumable_drop_identifies_again(fake: FakeDiscord, client: PaperClient) -> None:
    await fake.drop_connection(resumable=False)
    await fake.react(True, message_id=fake.snowflake())
    await fake.wait_for(lambda: client.raw_reactions)

    assert fake.resumes == 1 and fake.identifies == 2


async def test_immediate_response_and_autocomplete(fake: FakeDiscord, client: PaperClient) -> None:
    typing = fake.autocomplete(["paper", "follow"], {"topic": "l"}, "topic")
    await fake.dispatch("INTERACTION_CREATE", typing)
    await fake.wait_for(lambda: int(typing["id"]) in fake.callbacks)
    assert fake.callbacks[int(typing["id"])] == {
        "type": 8,
        "data": {"choices": [{"name": "llm", "value": "llm"}]},
    }

    command = fake.interaction(["paper", "follow"], {"topic": "llm", "days": 3, "loud": True})
    assert [o["type"] for o in command["data"]["options"][0]["options"]] == [3, 4, 5]
    assert command["data"]["id"] == fake.commands[0]["id"]
    await fake.dispatch("INTERACTION_CREATE", command)
    await fake.wait_for(lambda: int(command["id"]) in fake.callbacks)

    callback = fake.callbacks[int(command["id"])]
    assert callback["type"] == 4
    assert callback["data"]["content"] == "following llm for 3 days, loud=True"
    assert fake.original_responses[command["token"]]["content"] == callback["data"]["content"]


async def test_auto_sharded_client(fake: FakeDiscord, redirected: None) -> None:
    bot = discord.AutoShardedClient(intents=discord.Intents.none(), guild_ready_timeout=0.05)
    async with running(fake, bot):
        assert fake.requests_to("GET", "/gateway/bot")
        assert fake.identify_payloads[0]["shard"] == [0, 1]
        assert bot.shard_count == 1 and bot.get_guild(GUILD_ID) is not None


# --- rate limits -------------------------------------------------------------------------------
class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def limited() -> AsyncIterator[tuple[FakeDiscord, ManualClock, aiohttp.ClientSession]]:
    clock = ManualClock()
    server = FakeDiscord(limits=DiscordLimits(), clock=clock)
    await server.start()
    try:
        async with aiohttp.ClientSession(headers={"Authorization": "Bot fake-token"}) as session:
            yield server, clock, session
    finally:
        await server.stop()


async def test_route_shapes_and_major_parameters() -> None:
    assert route_shape("POST", f"/channels/{CHANNEL_ID}/messages") == (
        "POST /channels/{id}/messages",
        str(CHANNEL_ID),
    )
    assert route_shape("PUT", "/channels/1/messages/2/reactions/%F0%9F%91%8D/@me") == (
        "PUT /channels/{id}/messages/{id}/reactions/{emoji}/@me",
        "1",
    )
    assert route_shape("GET", "/users/@me") == ("GET /users/@me", "")


async def test_a_channel_bucket_sends_discords_headers_and_refuses_the_sixth_message(
    limited: tuple[FakeDiscord, ManualClock, aiohttp.ClientSession],
) -> None:
    fake, clock, session = limited
    url = f"{fake.api_base}/channels/{CHANNEL_ID}/messages"
    remaining = []
    for _ in range(5):
        async with session.post(url, json={"content": "x"}) as response:
            assert response.status == 200
            assert response.headers["X-RateLimit-Limit"] == "5"
            assert float(response.headers["X-RateLimit-Reset-After"]) == 5.0
            remaining.append(response.headers["X-RateLimit-Remaining"])
            bucket = response.headers["X-RateLimit-Bucket"]
    assert remaining == ["4", "3", "2", "1", "0"]

    clock.now += 2
    async with session.post(url, json={"content": "x"}) as response:
        assert response.status == 429
        assert await response.json() == {
            "message": "You are being rate limited.",
            "retry_after": 3.0,
            "global": False,
        }
        assert response.headers["X-RateLimit-Scope"] == "user"
        assert response.headers["X-RateLimit-Bucket"] == bucket
        assert response.headers["Retry-After"] == "3" and response.headers["Via"] == "1.1 google"
    other = fake.add_text_channel()
    async with session.post(f"{fake.api_base}/channels/{other}/messages", json={"content": "x"}) as response:
        assert response.status == 200  # another channel, another bucket (same hash)
        assert response.headers["X-RateLimit-Bucket"] == bucket
    clock.now += 3
    async with session.post(url, json={"content": "x"}) as response:
        assert response.status == 200 and response.headers["X-RateLimit-Remaining"] == "4"
    assert [scope for scope, _ in fake.rate_limited] == ["user"]
    assert len(fake.messages[CHANNEL_ID]) == 6


async def test_the_global_limit_counts_bot_requests_in_any_second_but_not_interactions(
    limited: tuple[FakeDiscord, ManualClock, aiohttp.ClientSession],
) -> None:
    fake, clock, session = limited
    start = clock.now
    for step in range(50):
        clock.now = start + step / 128  # binary fractions: exact clock arithmetic
        async with session.get(f"{fake.api_base}/channels/{CHANNEL_ID + step}") as response:
            assert response.status in (200, 404)  # each its own route bucket
    clock.now = start + 127 / 128  # still inside the first request's second
    async with session.get(f"{fake.api_base}/users/@me") as response:
        assert response.status == 429
        body = await response.json()
        assert body["global"] is True and body["retry_after"] == 0.008  # 1/128 s, up to the ms
        assert response.headers["X-RateLimit-Global"] == "true"
        assert response.headers["X-RateLimit-Scope"] == "global"
    payload = fake.interaction(["paper", "help"], {})
    callback = f"{fake.api_base}/interactions/{payload['id']}/{payload['token']}/callback"
    async with session.post(callback, json={"type": 5}) as response:
        assert response.status == 204  # interaction endpoints are not bound to the global limit
    clock.now = start + 1  # the first request has left the window
    async with session.get(f"{fake.api_base}/users/@me") as response:
        assert response.status == 200
    assert fake.rate_limited_count("global") == 1 and fake.rate_limited_count("user") == 0
    assert fake.peak_global_window() == 51  # the refused one arrived too


async def test_discord_py_waits_for_a_bucket_from_the_headers(fake: FakeDiscord, redirected: None) -> None:
    fake.limits = DiscordLimits(routes={"POST /channels/{id}/messages": RouteLimit(2, 0.2)})
    bot = PaperClient(guild_ready_timeout=0.05)
    async with running(fake, bot):
        channel = bot.get_channel(CHANNEL_ID)
        assert isinstance(channel, discord.TextChannel)
        for number in range(5):
            await channel.send(f"paper {number}")
    assert fake.rate_limited == []
    assert [m["content"] for m in fake.messages[CHANNEL_ID]] == [f"paper {n}" for n in range(5)]
