"""The Discord adapter end to end: a real discord.py client against a fake Discord on 127.0.0.1."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import discord
import pytest
import yarl

from adapters.app import Core
from adapters.discord.adapter import GLOBAL_RATE, PERMISSIONS, DiscordAdapter, DiscordConfig, invite_url
from bot.cards import paper_card
from bot.hf_parse import parse_daily_items
from bot.types import ChannelRef
from tests.fake_discord import (
    APP_ID,
    BOT_USER_ID,
    CHANNEL_ID,
    EPHEMERAL,
    GUILD_ID,
    MEMBER_PERMISSIONS,
    USER_ID,
    FakeDiscord,
)
from tests.fake_hf import FakeHF
from tests.fakes import sample_items
from tests.paperboy_process import PROJECT_ROOT, spawn, stop

MANAGE_CHANNELS = 1 << 4
CHANNEL = ChannelRef("discord", str(GUILD_ID), str(CHANNEL_ID))


@pytest.fixture
async def fake_discord(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord()
    await fake.start()
    monkeypatch.setattr(discord.http.Route, "BASE", fake.api_base)
    monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(fake.ws_url))
    try:
        yield fake
    finally:
        await fake.stop()


@pytest.fixture
async def adapter(core: Core, fake_discord: FakeDiscord) -> AsyncIterator[DiscordAdapter]:
    adapter = DiscordAdapter(core.bot, DiscordConfig(token="fake-token", guild_ready_timeout=0.05))
    core.bot.attach(adapter)
    await adapter.start()
    await asyncio.wait_for(adapter.wait_ready(), 10)
    try:
        yield adapter
    finally:
        await adapter.stop()


async def slash(
    fake: FakeDiscord,
    path: list[str],
    options: dict[str, Any] | None = None,
    *,
    permissions: int = MEMBER_PERMISSIONS,
    user_id: int = USER_ID,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run `/paper …` and return (the callback body, the followup message)."""
    payload = fake.interaction(["paper", *path], options or {}, permissions=permissions, user_id=user_id)
    await fake.dispatch("INTERACTION_CREATE", payload)
    token = payload["token"]
    followups = await fake.wait_for(lambda: fake.followups.get(token), timeout=10)
    return fake.callbacks[int(payload["id"])], followups[0]


def embed_text(message: dict[str, Any]) -> str:
    return repr(message.get("embeds")) + str(message.get("content"))


async def test_login_syncs_the_paper_command_tree(adapter: DiscordAdapter, fake_discord: FakeDiscord) -> None:
    (paper,) = [command for command in fake_discord.commands if command["name"] == "paper"]
    subcommands = {option["name"]: option for option in paper["options"]}
    assert set(subcommands) == {
        "search",
        "show",
        "similar",
        "recommend",
        "today",
        "top",
        "digest",
        "follow",
        "unfollow",
        "following",
        "help",
        "abstract",
        "save",
        "unsave",
        "saved",
        "export",
    }
    assert {o["name"] for o in subcommands["digest"]["options"]} == {"here", "off", "status", "feed"}
    here = next(o for o in subcommands["digest"]["options"] if o["name"] == "here")
    timezone = next(o for o in here["options"] if o["name"] == "timezone")
    assert timezone["autocomplete"] is True
    rank = next(o for o in here["options"] if o["name"] == "rank")
    assert [c["value"] for c in rank["choices"]] == ["upvotes", "taste"]
    period = subcommands["top"]["options"][0]
    assert [c["value"] for c in period["choices"]] == ["week", "month", "all"]
    identify = fake_discord.identify_payloads[0]
    # guilds, guild messages (mentions) and guild reactions: no privileged intent
    assert identify["intents"] == (1 << 0) | (1 << 9) | (1 << 10)


async def test_every_subcommand_is_deferred_then_answered(
    core: Core, adapter: DiscordAdapter, fake_discord: FakeDiscord
) -> None:
    await core.ingestor.fetch_days([dt.date(2025, 5, 13)])
    callback, answer = await slash(fake_discord, ["search"], {"query": "learning from peers"})
    assert callback["type"] == 5 and callback["data"]["flags"] & EPHEMERAL
    assert answer["flags"] & EPHEMERAL
    assert "Learning from Peers in Reasoning Models" in embed_text(answer)
    _, answer = await slash(fake_discord, ["show"], {"paper": "https://arxiv.org/abs/2505.07787v2"})
    assert "github.com/tongxuluo/LeaP" in embed_text(answer)
    _, answer = await slash(fake_discord, ["today"])
    assert "Daily Papers · Tue 13 May 2025" in answer["content"]
    _, answer = await slash(fake_discord, ["top"], {"period": "month"})
    assert "No votes in the last 30 days" in answer["content"]
    _, answer = await slash(fake_discord, ["follow"], {"query": "reasoning"})
    assert "Saved search #1" in answer["content"]
    _, answer = await slash(fake_discord, ["following"])
    assert "1. reasoning" in answer["content"]
    _, answer = await slash(fake_discord, ["unfollow"], {"number": 1})
    assert "Stopped following" in answer["content"]
    _, answer = await slash(fake_discord, ["help"])
    assert "/paper search QUERY" in answer["content"]
    _, answer = await slash(fake_discord, ["digest", "status"])
    assert "No digest in this channel" in answer["content"]

    callback, answer = await slash(
        fake_discord, ["digest", "here"], {"time": "08:30", "timezone": "Europe/Berlin"}
    )
    assert callback["data"]["flags"] & EPHEMERAL and answer["flags"] & EPHEMERAL  # refused privately
    assert "Only members with the Manage Channels permission can change" in answer["content"]
    callback, answer = await slash(
        fake_discord,
        ["digest", "here"],
        {"time": "08:30", "timezone": "Europe/Berlin", "top": 5, "flat": True},
        permissions=MEMBER_PERMISSIONS | MANAGE_CHANNELS,
    )
    assert not callback.get("data", {}).get("flags", 0) & EPHEMERAL  # announced in the channel
    assert answer["content"].startswith(
        "Daily digest on for this channel: 08:30 Europe/Berlin on weekdays, top 5"
    )
    assert "straight in the channel" in answer["content"]
    _, answer = await slash(fake_discord, ["digest", "off"], permissions=MEMBER_PERMISSIONS | MANAGE_CHANNELS)
    assert answer["content"] == "Daily digest off for this channel."
    followups = fake_discord.requests_to("POST", "/webhooks/")
    assert len(followups) == 12
    assert all(r.json_body.get("allowed_mentions") == {"parse": []} for r in followups)


async def test_timezone_autocomplete_offers_iana_names(
    adapter: DiscordAdapter, fake_discord: FakeDiscord
) -> None:
    payload = fake_discord.autocomplete(["paper", "digest", "here"], {"timezone": "berl"}, "timezone")
    await fake_discord.dispatch("INTERACTION_CREATE", payload)
    callback = await fake_discord.wait_for(lambda: fake_discord.callbacks.get(int(payload["id"])))
    assert callback["type"] == 8
    assert {"name": "Europe/Berlin", "value": "Europe/Berlin"} in callback["data"]["choices"]


async def test_bot_requests_take_a_paced_slot_but_interaction_answers_do_not(
    adapter: DiscordAdapter, fake_discord: FakeDiscord
) -> None:
    assert adapter.pacer is not None and adapter.pacer.rate == GLOBAL_RATE
    before = adapter.pacer.granted
    await slash(fake_discord, ["help"])  # a callback and a followup: exempt from the global limit
    assert adapter.pacer.granted == before
    channel = adapter.client.get_channel(CHANNEL_ID)
    assert isinstance(channel, discord.TextChannel)
    await channel.send("a bot request")
    assert adapter.pacer.granted == before + 1


async def subscribe(fake: FakeDiscord, **options: Any) -> None:
    _, answer = await slash(
        fake, ["digest", "here"], options, permissions=MEMBER_PERMISSIONS | MANAGE_CHANNELS
    )
    assert "Daily digest" in answer["content"]


async def test_digest_posts_a_header_then_embeds_in_its_thread(
    core: Core, adapter: DiscordAdapter, fake_discord: FakeDiscord, fake_hf: FakeHF
) -> None:
    fake_hf.set_day("2025-11-20", sample_items(12, day=dt.date(2025, 11, 20)))
    await subscribe(fake_discord, time="09:00")
    outcome = await core.bot.post_digest(CHANNEL)
    assert outcome.posted == 11
    (header,) = [
        m for m in fake_discord.messages[CHANNEL_ID] if m.get("content", "").startswith("Daily Papers")
    ]
    assert header["content"] == "Daily Papers · Thu 20 Nov 2025 · 10 of 12"
    thread_id = int(header["id"])
    assert thread_id in fake_discord.threads
    cards = fake_discord.messages[thread_id]
    assert len(cards) == 10
    for card in cards:
        (embed,) = card["embeds"]
        assert embed["url"].startswith("https://huggingface.co/papers/")
        assert {f["name"] for f in embed["fields"]} >= {"Authors", "On Hugging Face", "Links"}
        assert "thumbnail" in embed
    posts = fake_discord.requests_to("POST", "/channels/")
    sends = [r for r in posts if r.path.endswith("/messages")]
    assert len(sends) == 11 and all(r.json_body.get("allowed_mentions") == {"parse": []} for r in sends)


async def test_a_channel_that_cannot_hold_threads_gets_its_digest_flat(
    core: Core, adapter: DiscordAdapter, fake_discord: FakeDiscord, fake_hf: FakeHF
) -> None:
    fake_hf.set_day("2025-11-20", sample_items(4, day=dt.date(2025, 11, 20)))
    fake_discord.threadless_channels.add(CHANNEL_ID)
    await subscribe(fake_discord, time="09:00")
    outcome = await core.bot.post_digest(CHANNEL)
    assert outcome.posted == 5
    posted = fake_discord.messages[CHANNEL_ID]
    assert posted[-5]["content"].startswith("Daily Papers") and all(m["embeds"] for m in posted[-4:])
    assert not fake_discord.threads


async def test_a_card_discord_refuses_as_malformed_goes_out_as_text(
    core: Core, adapter: DiscordAdapter, fake_discord: FakeDiscord
) -> None:
    papers, _ = parse_daily_items(sample_items(1, day=dt.date(2025, 11, 20)), source="test")
    card = paper_card(papers[0])
    invalid = {"message": "Invalid Form Body", "code": 50035}
    fake_discord.fail_next("POST", f"/channels/{CHANNEL_ID}/messages", 400, body=invalid)
    ref = await adapter.publish(CHANNEL, card)
    posted = fake_discord.messages[CHANNEL_ID][-1]
    assert str(posted["id"]) == ref.message_id and not posted.get("embeds")
    assert posted["content"].endswith(card.link) and "▲" in posted["content"]


async def test_votes_from_raw_reactions_on_uncached_messages(
    core: Core, adapter: DiscordAdapter, fake_discord: FakeDiscord, fake_hf: FakeHF
) -> None:
    fake_hf.set_day("2025-11-20", sample_items(3, day=dt.date(2025, 11, 20)))
    await subscribe(fake_discord)
    await core.bot.post_digest(CHANNEL)
    header = fake_discord.messages[CHANNEL_ID][-1]
    thread_id = int(header["id"])
    card = fake_discord.messages[thread_id][0]
    adapter.client._connection._messages.clear()  # type: ignore[union-attr]  # as after a restart
    paper_id = card["embeds"][0]["url"].rsplit("/", 1)[1]

    async def up() -> int:
        return (await core.votes.tally("discord", str(GUILD_ID), paper_id)).up

    async def until_up(expected: int) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while await up() != expected:
            assert loop.time() < deadline
            await asyncio.sleep(0.02)

    await fake_discord.react(True, message_id=int(card["id"]), channel_id=thread_id)
    await until_up(1)
    await fake_discord.react(True, message_id=int(card["id"]), channel_id=thread_id, user_id=BOT_USER_ID)
    await fake_discord.react(
        True, message_id=int(header["id"]), channel_id=CHANNEL_ID, user_id=12345678901234567
    )
    await fake_discord.react(False, message_id=int(card["id"]), channel_id=thread_id)
    await until_up(0)
    await fake_discord.react(True, message_id=int(card["id"]), channel_id=thread_id)
    await until_up(1)

    # The gateway drops; a vote cast meanwhile is replayed on RESUME, and later ones still count.
    missed = (
        "MESSAGE_REACTION_ADD",
        fake_discord.reaction(
            True, message_id=int(card["id"]), channel_id=thread_id, user_id=222222222222222222
        ),
    )
    await fake_discord.drop_connection(missed=[missed])
    await fake_discord.wait_for(lambda: fake_discord.resumes == 1, timeout=15)
    await until_up(2)
    await fake_discord.react(
        True, message_id=int(card["id"]), channel_id=thread_id, user_id=333333333333333333
    )
    await until_up(3)
    assert fake_discord.identifies == 1


async def test_hostile_titles_render_literally_and_oversize_text_fits(
    core: Core, adapter: DiscordAdapter, fake_discord: FakeDiscord, fake_hf: FakeHF
) -> None:
    items = sample_items(2, day=dt.date(2025, 11, 20))
    items[0]["paper"]["title"] = (
        "@everyone <@&123456789012345678> ||spoiler|| [click](https://evil.example) ```code"
    )
    items[0]["paper"]["summary"] = "word " * 2500
    items[0]["paper"].pop("ai_summary", None)
    items[0]["paper"]["authors"] = [{"name": "@here"}] * 200
    fake_hf.set_day("2025-11-20", items)
    await subscribe(fake_discord)
    await core.bot.post_digest(CHANNEL)
    thread_id = int(fake_discord.messages[CHANNEL_ID][-1]["id"])
    card = next(m for m in fake_discord.messages[thread_id] if "evil" in repr(m["embeds"]))
    (embed,) = card["embeds"]
    title = embed["title"]
    assert "@\u200beveryone" in title
    assert "\\<@\u200b&123456789012345678\\>" in title
    assert "\\|\\|spoiler\\|\\|" in title and "\\[click\\]" in title and "\\`\\`\\`" in title
    assert len(title) <= 256 and len(embed.get("description", "")) <= 4096
    assert (
        sum(len(str(v)) for v in (title, embed.get("description", "")))
        + sum(len(f["name"]) + len(f["value"]) for f in embed["fields"])
        <= 6000
    )
    assert all(len(f["value"]) <= 1024 for f in embed["fields"])


async def test_a_429_on_the_channel_is_honoured(
    core: Core, adapter: DiscordAdapter, fake_discord: FakeDiscord, fake_hf: FakeHF
) -> None:
    fake_hf.set_day("2025-11-20", sample_items(2, day=dt.date(2025, 11, 20)))
    await subscribe(fake_discord, flat=True)
    fake_discord.fail_next("POST", f"/channels/{CHANNEL_ID}/messages", 429)
    outcome = await core.bot.post_digest(CHANNEL)
    assert outcome.posted == 3
    attempts = fake_discord.requests_to("POST", f"/channels/{CHANNEL_ID}/messages")
    assert len(attempts) == 4  # one answered 429, retried by discord.py
    assert (
        len(
            [
                m
                for m in fake_discord.messages[CHANNEL_ID]
                if m.get("embeds") or m.get("content", "").startswith("Daily")
            ]
        )
        == 3
    )


@pytest.mark.parametrize("refusal", [403, 404, 401])  # 401: the token was revoked meanwhile
async def test_a_refusal_pauses_the_subscription_without_a_retry_loop(
    core: Core, adapter: DiscordAdapter, fake_discord: FakeDiscord, fake_hf: FakeHF, refusal: int
) -> None:
    fake_hf.set_day("2025-11-20", sample_items(2, day=dt.date(2025, 11, 20)))
    await subscribe(fake_discord)
    fake_discord.fail_next("POST", f"/channels/{CHANNEL_ID}/messages", refusal)
    outcome = await core.bot.post_digest(CHANNEL)
    assert outcome.note.startswith(f"Paused: Discord said {refusal}")
    again = await core.bot.post_digest(CHANNEL)
    assert again.posted == 0
    assert len(fake_discord.requests_to("POST", f"/channels/{CHANNEL_ID}/messages")) == 1
    _, status = await slash(fake_discord, ["digest", "status"])
    assert f"Paused: Discord said {refusal}" in status["content"]


async def test_saved_search_alerts_arrive_as_direct_messages(
    core: Core, adapter: DiscordAdapter, fake_discord: FakeDiscord, fake_hf: FakeHF
) -> None:
    await slash(fake_discord, ["follow"], {"query": "reasoning"})
    fake_hf.set_day("2025-11-21", sample_items(12, day=dt.date(2025, 11, 21)))
    await core.bot.refresh()
    assert fake_discord.requests_to("POST", "/users/@me/channels")
    (dm_channel,) = fake_discord.dm_channels.values()
    assert dm_channel["recipients"][0]["id"] == str(USER_ID)
    (dm,) = fake_discord.messages[int(dm_channel["id"])]
    assert dm["content"].startswith("Saved search “reasoning” · ")


async def test_an_alert_longer_than_one_message_arrives_whole_in_several(
    core: Core, adapter: DiscordAdapter, fake_discord: FakeDiscord, fake_hf: FakeHF
) -> None:
    await slash(fake_discord, ["follow"], {"query": "reasoning"})
    items = sample_items(20, day=dt.date(2025, 11, 21))
    for number, item in enumerate(items):
        item["paper"]["title"] = f"Reasoning study {number} " + "with a rather long descriptive title " * 5
    fake_hf.set_day("2025-11-21", items)
    await core.bot.refresh()
    (dm_channel,) = fake_discord.dm_channels.values()
    dms = fake_discord.messages[int(dm_channel["id"])]
    assert len(dms) > 1 and all(len(dm["content"]) <= 2000 for dm in dms)
    text = "\n".join(dm["content"] for dm in dms)
    assert all(f"https://huggingface.co/papers/{item['paper']['id']}" in text for item in items)


def test_invite_url_asks_for_exactly_the_needed_scopes_and_permissions() -> None:
    url = invite_url(APP_ID)
    query = dict(yarl.URL(url).query)
    assert query["client_id"] == str(APP_ID)
    assert set(query["scope"].split()) == {"bot", "applications.commands"}
    assert int(query["permissions"]) == PERMISSIONS.value
    assert (
        not PERMISSIONS.administrator and not PERMISSIONS.mention_everyone and not PERMISSIONS.manage_messages
    )


async def test_auto_sharded_client_when_shards_are_set(core: Core, fake_discord: FakeDiscord) -> None:
    adapter = DiscordAdapter(core.bot, DiscordConfig(token="fake-token", shards=1, guild_ready_timeout=0.05))
    assert isinstance(adapter.client, discord.AutoShardedClient)
    await adapter.start()
    try:
        await asyncio.wait_for(adapter.wait_ready(), 10)
        assert fake_discord.identify_payloads[0]["shard"] == [0, 1]
    finally:
        await adapter.stop()


def cli_env(fake_discord: FakeDiscord, fake_hf: FakeHF, token: str) -> dict[str, str]:
    """The environment of a `paperboy` child process that talks to the fakes."""
    import os

    return {
        **os.environ,
        "DISCORD_TOKEN": token,
        "DISCORD_API_BASE_URL": fake_discord.api_base,
        "DISCORD_GATEWAY_URL": fake_discord.ws_url,
        "PAPERBOY_HF_BASE_URL": fake_hf.url,
        "PYTHONPATH": str(PROJECT_ROOT),
    }


async def run_cli(env: dict[str, str], cwd: Any, *args: str) -> tuple[int, str]:
    process = await spawn(*args, env=env, cwd=cwd)
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode()


@pytest.mark.slow  # a paperboy process
async def test_paperboy_run_with_a_discord_token(
    fake_discord: FakeDiscord, fake_hf: FakeHF, tmp_path: Any
) -> None:
    env = cli_env(fake_discord, fake_hf, "fake-token-from-env")

    async def cli(*args: str) -> tuple[int, str]:
        return await run_cli(env, tmp_path, *args)

    code, out = await cli("discord", "invite-url")
    assert code == 0 and f"client_id={APP_ID}" in out and "applications.commands" in out
    code, out = await cli("discord", "sync", "--guild", str(GUILD_ID))
    assert code == 0 and f"Synced /paper to guild {GUILD_ID}" in out
    assert any(c["name"] == "paper" for c in fake_discord.guild_commands[GUILD_ID])

    process = await spawn("run", env=env, cwd=tmp_path)
    try:
        await fake_discord.wait_for(lambda: fake_discord.identifies == 1, timeout=30)
        payload = fake_discord.interaction(["paper", "help"], {})
        await fake_discord.dispatch("INTERACTION_CREATE", payload, timeout=30)
        followups = await fake_discord.wait_for(
            lambda: fake_discord.followups.get(payload["token"]), timeout=30
        )
        assert "/paper search QUERY" in followups[0]["content"]
    finally:
        output = await stop(process)
    assert process.returncode == 0, output
    assert "fake-token-from-env" not in output


@pytest.mark.slow  # a paperboy process
async def test_a_refused_token_is_one_clear_line_not_a_traceback(
    fake_discord: FakeDiscord, fake_hf: FakeHF, tmp_path: Any
) -> None:
    env = cli_env(fake_discord, fake_hf, "revoked-token")
    fake_discord.fail_next("GET", "/users/@me", 401, times=100)  # every login, however many
    for args in (("discord", "invite-url"), ("run",)):
        code, text = await run_cli(env, tmp_path, *args)
        assert code == 2, text
        assert "Discord refused DISCORD_TOKEN" in text
        assert "Traceback" not in text and "Unclosed" not in text and "revoked-token" not in text
