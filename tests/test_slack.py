"""The Slack adapter end to end: real AsyncApp over real HTTP, Web API calls to a fake Slack."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from sqlalchemy import text

from adapters.app import Core
from adapters.slack.adapter import SlackAdapter, SlackConfig
from bot.types import ChannelRef, Notice
from tests.cli_runner import run_paperboy
from tests.fake_hf import FakeHF
from tests.fake_slack import BOT_USER, TEAM, Failure, FakeSlack, command_body, reaction_event, sign
from tests.fakes import sample_items
from tests.paperboy_process import PROJECT_ROOT, spawn, stop

SECRET = "test-signing-secret"
CHANNEL = "CPAPERS"


async def until(predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not (result := predicate()):
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)
    return result


class SlackHarness:
    def __init__(
        self, core: Core, fake: FakeSlack, adapter: SlackAdapter, http: aiohttp.ClientSession
    ) -> None:
        self.core, self.fake, self.adapter, self.http = core, fake, adapter, http

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.adapter.port}/slack/events"

    async def post(
        self, body: str, content_type: str, headers: dict[str, str] | None = None
    ) -> aiohttp.ClientResponse:
        all_headers = {"Content-Type": content_type, **sign(SECRET, body), **(headers or {})}
        async with self.http.post(self.url, data=body.encode(), headers=all_headers) as response:
            await response.read()
            return response

    async def command(self, text_: str, user: str = "UADMIN", channel: str = CHANNEL) -> dict[str, Any]:
        return await self.answered(
            lambda response_url: command_body(text_, user=user, channel=channel, response_url=response_url)
        )

    async def answered(self, body_for: Callable[[str], str]) -> dict[str, Any]:
        """Post the form body made for a new response_url (a slash command, a button press) and
        return the first answer the bot sends to that response_url."""
        key, response_url = self.fake.new_response_url()
        response = await self.post(body_for(response_url), "application/x-www-form-urlencoded")
        assert response.status == 200
        answers = await until(lambda: self.fake.responses.get(key))
        return dict(answers[0])

    async def event(self, payload: dict[str, Any], headers: dict[str, str] | None = None) -> int:
        response = await self.post(json.dumps(payload), "application/json", headers)
        return response.status


@pytest.fixture
async def fake_slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


def config(fake: FakeSlack, **overrides: Any) -> SlackConfig:
    values: dict[str, Any] = {
        "api_base_url": fake.url + "/api/",
        "signing_secret": SECRET,
        "bot_token": "xoxb-test",
        "channel_interval": 0.01,
        "edit_interval": 0.01,
    }
    values.update(overrides)
    return SlackConfig(**values)


@pytest.fixture
async def slack(core: Core, fake_slack: FakeSlack) -> AsyncIterator[SlackHarness]:
    adapter = SlackAdapter(core.bot, config(fake_slack), core.engine, http=core.http)
    core.bot.attach(adapter.publisher)
    await adapter.start()
    async with aiohttp.ClientSession() as http:
        try:
            yield SlackHarness(core, fake_slack, adapter, http)
        finally:
            await adapter.stop()


def blocks_text(message: dict[str, Any]) -> str:
    return json.dumps(message.get("blocks", []), ensure_ascii=False)


async def test_url_verification_echoes_the_challenge(slack: SlackHarness) -> None:
    body = json.dumps({"type": "url_verification", "challenge": "c-123", "token": "x"})
    headers = {"Content-Type": "application/json", **sign(SECRET, body)}
    async with slack.http.post(slack.url, data=body, headers=headers) as response:
        assert response.status == 200
        assert "c-123" in await response.text()


@pytest.mark.parametrize("tamper", ["forged", "stale", "one_byte", "missing"])
async def test_bad_signatures_get_401_and_do_nothing(
    slack: SlackHarness, tamper: str, caplog: pytest.LogCaptureFixture
) -> None:
    _key, response_url = slack.fake.new_response_url()
    body = command_body("digest here 08:00", user="UADMIN", channel=CHANNEL, response_url=response_url)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if tamper == "forged":
        headers |= sign("not-the-secret", body)
    elif tamper == "stale":
        headers |= sign(SECRET, body, int(time.time()) - 301)
    elif tamper == "one_byte":
        headers |= sign(SECRET, body)
        body = body.replace("08%3A00", "09%3A00")
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="slack_bolt.RequestVerification")
    async with slack.http.post(slack.url, data=body, headers=headers) as response:
        assert response.status == 401
    assert await slack.core.subscriptions.get(ChannelRef("slack", TEAM, CHANNEL)) is None
    assert slack.fake.responses == {} and slack.fake.calls == []
    assert "digest+here" not in caplog.text and "response_url" not in caplog.text
    if tamper != "missing":
        assert "Rejected a request with a bad Slack signature" in caplog.text


async def test_every_subcommand_answers_through_response_url(slack: SlackHarness, fake_hf: FakeHF) -> None:
    await slack.core.ingestor.fetch_days([dt.date(2025, 5, 13)])
    answer = await slack.command("help")
    assert answer["response_type"] == "ephemeral" and "/paper search QUERY" in answer["text"]
    answer = await slack.command("search learning from peers")
    assert answer["response_type"] == "ephemeral"
    assert (
        "<https://huggingface.co/papers/2505.07787|Learning from Peers in Reasoning Models>"
        in blocks_text(answer)
    )
    answer = await slack.command("show 2505.07787")
    assert answer["response_type"] == "ephemeral" and "github.com/tongxuluo/LeaP" in blocks_text(answer)
    answer = await slack.command("today")
    assert "Daily Papers · Tue 13 May 2025" in answer["text"]
    answer = await slack.command("top")
    assert answer["response_type"] == "ephemeral" and "No votes" in answer["text"]
    answer = await slack.command("follow reasoning", user="U1")
    assert "Saved search #1" in answer["text"]
    answer = await slack.command("following", user="U1")
    assert answer["response_type"] == "ephemeral" and "1. reasoning" in answer["text"]
    answer = await slack.command("unfollow 1", user="U1")
    assert "Stopped following" in answer["text"]
    answer = await slack.command("digest here 08:30 Europe/Berlin top 5")
    assert answer["response_type"] == "in_channel" and "Daily digest on" in answer["text"]
    answer = await slack.command("digest status", user="U1")
    assert "08:30 Europe/Berlin" in answer["text"]
    answer = await slack.command("digest off", user="U1")  # not an admin
    assert "Only Slack workspace admins and owners can change" in answer["text"]
    answer = await slack.command("digest off")
    assert answer["response_type"] == "in_channel" and answer["text"] == "Daily digest off for this channel."
    answer = await slack.command("bogus <!channel>")
    assert "Unknown command" in answer["text"]
    assert [c.params["user"] for c in slack.fake.calls_to("users.info")] == ["UADMIN", "U1", "UADMIN"]


async def test_the_command_is_acked_before_any_slow_work(
    slack: SlackHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = asyncio.Event()
    real = slack.core.bot.handle_command

    async def slow(command):  # type: ignore[no-untyped-def]
        await release.wait()  # a database or Hugging Face call that takes its time
        return await real(command)

    monkeypatch.setattr(slack.core.bot, "handle_command", slow)
    key, response_url = slack.fake.new_response_url()
    response = await slack.post(
        command_body("help", user="U1", channel=CHANNEL, response_url=response_url),
        "application/x-www-form-urlencoded",
    )
    assert response.status == 200 and key not in slack.fake.responses  # acked while work is pending
    release.set()
    await until(lambda: slack.fake.responses.get(key))


async def subscribe_and_post(
    slack: SlackHarness, fake_hf: FakeHF, items: list[dict[str, Any]] | None = None
) -> list[Any]:
    fake_hf.set_day("2025-11-20", items or sample_items(12, day=dt.date(2025, 11, 20)))
    await slack.command("digest here 09:00 UTC")
    await slack.core.bot.post_digest(ChannelRef("slack", TEAM, CHANNEL))
    return slack.fake.calls_to("chat.postMessage")


async def test_digest_is_a_header_then_block_kit_cards_in_its_thread(
    slack: SlackHarness, fake_hf: FakeHF
) -> None:
    posts = await subscribe_and_post(slack, fake_hf)
    header, *cards = posts
    assert len(cards) == 10
    header_blocks = (
        json.loads(header.params["blocks"])
        if isinstance(header.params["blocks"], str)
        else header.params["blocks"]
    )
    assert header_blocks[0]["type"] == "header"
    assert header.params["text"] == "Daily Papers · Thu 20 Nov 2025 · 10 of 12"
    header_ts = "1700000000.000001"
    for card in cards:
        assert card.params["thread_ts"] == header_ts
        assert card.params["channel"] == CHANNEL and card.token == "xoxb-test"
        blocks = card.params["blocks"]
        blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
        section = blocks[0]
        assert section["text"]["text"].startswith("*<https://huggingface.co/papers/")
        assert "▲" in section["text"]["text"] and "💬" in section["text"]["text"]
        assert section["accessory"]["type"] == "image"
        assert "<https://arxiv.org/abs/" in blocks[1]["elements"][0]["text"]
        assert card.params["text"]  # notification fallback


async def test_reactions_become_votes_and_retries_count_once(slack: SlackHarness, fake_hf: FakeHF) -> None:
    posts = await subscribe_and_post(slack, fake_hf)
    card_ts = "1700000000.000002"  # the first card after the header
    events = [
        reaction_event(
            "reaction_added", user="U1", reaction="+1", channel=CHANNEL, ts=card_ts, event_id="Ev1"
        ),
        reaction_event(
            "reaction_added",
            user="U2",
            reaction="thumbsup::skin-tone-3",
            channel=CHANNEL,
            ts=card_ts,
            event_id="Ev2",
        ),
        reaction_event(
            "reaction_added", user=BOT_USER, reaction="+1", channel=CHANNEL, ts=card_ts, event_id="Ev3"
        ),
        reaction_event(
            "reaction_added",
            user="U3",
            reaction="+1",
            channel=CHANNEL,
            ts="1600000000.000001",
            event_id="Ev4",
        ),
        reaction_event(
            "reaction_added", user="U3", reaction="-1", channel=CHANNEL, ts=card_ts, event_id="Ev5"
        ),
    ]

    async def state() -> tuple[int, int, set[str]]:
        async with slack.core.engine.connect() as conn:
            rows = (await conn.execute(text("SELECT kind, count(*) FROM reactions GROUP BY kind"))).all()
            seen = set((await conn.execute(text("SELECT event_id FROM processed_events"))).scalars())
        counts = {row[0]: row[1] for row in rows}
        return counts.get("up", 0), counts.get("down", 0), seen

    async def settle(up: int, down: int, seen: set[str]) -> None:
        # Events are acked first and handled after, so wait for each one to land.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while (current := await state())[:2] != (up, down) or not seen <= current[2]:
            assert loop.time() < deadline, f"stuck at {current}"
            await asyncio.sleep(0.02)

    expected = [(1, 0, {"Ev1"}), (2, 0, {"Ev2"}), (2, 0, set()), (2, 0, {"Ev4"}), (2, 1, {"Ev5"})]
    for event, (up, down, seen) in zip(events, expected, strict=True):
        assert await slack.event(event) == 200
        await settle(up, down, seen)
    for retry in (1, 2, 3):  # Slack redelivers Ev1 with retry headers
        headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        assert await slack.event(events[0], headers) == 200
    removal = reaction_event(  # Slack names a removed reaction as it was added, skin tone included
        "reaction_removed",
        user="U2",
        reaction="thumbsup::skin-tone-3",
        channel=CHANNEL,
        ts=card_ts,
        event_id="Ev6",
    )
    assert await slack.event(removal) == 200
    await settle(1, 1, {"Ev6"})
    for retry in (1, 2, 3):  # a late redelivery of U2's removed vote must not bring it back
        headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        assert await slack.event(events[1], headers) == 200
    sentinel = reaction_event(
        "reaction_added", user="U4", reaction="-1", channel=CHANNEL, ts=card_ts, event_id="Ev7"
    )
    assert await slack.event(sentinel) == 200
    await settle(1, 2, {"Ev7"})
    assert "Ev3" not in (await state())[2]  # the bot's own reaction never reached the core
    answer = await slack.command("top", user="U9")
    assert "👍 1 · 👎 2" in blocks_text(answer)
    assert posts[1].params["text"].split(" · ")[0] in blocks_text(answer)


async def test_a_429_midway_through_a_digest_loses_and_duplicates_nothing(
    slack: SlackHarness, fake_hf: FakeHF
) -> None:
    fake_hf.set_day("2025-11-20", sample_items(6, day=dt.date(2025, 11, 20)))
    await slack.command("digest here 09:00 UTC")
    slack.fake.fail_on_call("chat.postMessage", 4, Failure(429, headers={"Retry-After": "1"}))
    outcome = await slack.core.bot.post_digest(ChannelRef("slack", TEAM, CHANNEL))
    posts = slack.fake.calls_to("chat.postMessage")
    assert outcome.posted == 7  # header and six cards
    assert len(posts) == 8  # plus the one call answered 429 and retried
    texts = [p.params["text"] for p in posts]
    assert texts[3] == texts[4] and len(set(texts)) == 7
    assert posts[4].at - posts[3].at >= 1.0  # the retry waited for Retry-After


async def test_hostile_titles_render_literally_and_within_limits(
    slack: SlackHarness, fake_hf: FakeHF
) -> None:
    items = sample_items(2, day=dt.date(2025, 11, 20))
    items[0]["paper"]["title"] = "<!channel> <!here> <@U123> <https://evil.example|ok> & **bold** @everyone"
    items[0]["paper"]["summary"] = "word " * 2500  # 12,500 characters
    items[0]["paper"].pop("ai_summary", None)
    items[0]["paper"]["authors"] = [{"name": f"<!subteam^S{n}>"} for n in range(200)]
    posts = await subscribe_and_post(slack, fake_hf, items)
    card = next(p for p in posts[1:] if "evil" in json.dumps(p.params["blocks"]))
    blocks = card.params["blocks"]
    raw = json.dumps(blocks, ensure_ascii=False)
    assert "&lt;!channel&gt; &lt;!here&gt; &lt;@U123&gt; &lt;https://evil.example|ok&gt; &amp;" in raw
    assert "<!channel>" not in raw and "<!here>" not in raw and "<@U123>" not in raw
    assert "<!channel>" not in card.params["text"] and "&lt;!channel&gt;" in card.params["text"]
    assert card.params.get("link_names") in (None, False, "0", "false")
    assert len(blocks) <= 50 and len(raw) <= 12_000
    for block in blocks:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000


async def test_authors_links_and_ampersands_cannot_push_a_text_past_slacks_limit(
    slack: SlackHarness, fake_hf: FakeHF
) -> None:
    # Escaping makes "&" five characters, and project pages and repos are author-supplied URLs of
    # up to 2,000 characters: every text object must still be within 3,000 or Slack refuses it.
    items = sample_items(2, day=dt.date(2025, 11, 20))
    items[0]["paper"]["title"] = "R&D agents " + "& " * 240
    items[0]["paper"]["authors"] = [{"name": "&&&&&&&&&&"} for _ in range(40)]
    items[0]["paper"]["projectPage"] = "https://example.org/" + "a&" * 990
    items[0]["paper"]["githubRepo"] = "https://github.com/" + "b" * 1980
    posts = await subscribe_and_post(slack, fake_hf, items)
    card = next(p for p in posts[1:] if "R&amp;D" in json.dumps(p.params["blocks"]))
    blocks = card.params["blocks"]
    assert blocks[0]["text"]["text"].startswith(
        "*<https://huggingface.co/papers/2205.90001|R&amp;D agents &amp;"
    )
    assert len(blocks[0]["text"]["text"]) <= 3000
    links = blocks[1]["elements"][0]["text"]
    assert len(links) <= 3000 and "<https://arxiv.org/abs/" in links
    found = await slack.command("search agents")
    sections = [b for b in found["blocks"] if b["type"] == "section"]
    assert any("|R&amp;D agents &amp;" in b["text"]["text"] for b in sections)
    assert all(len(b["text"]["text"]) <= 3000 for b in sections)


async def test_a_card_whose_thumbnail_slack_cannot_fetch_still_goes_out(
    slack: SlackHarness, fake_hf: FakeHF
) -> None:
    items = sample_items(3, day=dt.date(2025, 11, 20))
    items[1]["thumbnail"] = "https://cdn.example/gone.png"
    slack.fake.unreachable_images.add("https://cdn.example/gone.png")
    posts = await subscribe_and_post(slack, fake_hf, items)
    refused = [p for p in posts if "gone.png" in json.dumps(p.params.get("blocks"))]
    assert len(refused) == 1  # Slack refused the card with its image ...
    retried = posts[posts.index(refused[0]) + 1]
    assert retried.params["text"] == refused[0].params["text"]
    assert "accessory" not in retried.params["blocks"][0]  # ... so it went out without it
    outcome = await slack.core.bot.post_digest(ChannelRef("slack", TEAM, CHANNEL))
    rows = await slack.core.ledger.of_day(ChannelRef("slack", TEAM, CHANNEL), dt.date(2025, 11, 20))
    assert outcome.posted == 0 and len(rows) == 4 and all(row.message_id for row in rows)


async def test_a_revoked_token_pauses_the_subscription(slack: SlackHarness, fake_hf: FakeHF) -> None:
    fake_hf.set_day("2025-11-20", sample_items(3, day=dt.date(2025, 11, 20)))
    await slack.command("digest here 09:00 UTC")
    slack.fake.fail_next("chat.postMessage", Failure(200, error="token_revoked"))
    outcome = await slack.core.bot.post_digest(ChannelRef("slack", TEAM, CHANNEL))
    assert outcome.note.startswith("Paused: Slack said token_revoked")
    assert len(slack.fake.calls_to("chat.postMessage")) == 1  # no retry loop
    again = await slack.core.bot.post_digest(ChannelRef("slack", TEAM, CHANNEL))
    assert again.posted == 0 and len(slack.fake.calls_to("chat.postMessage")) == 1
    status = await slack.command("digest status")
    assert "Paused: Slack said token_revoked" in status["text"]


async def test_saved_search_alerts_arrive_as_direct_messages(slack: SlackHarness, fake_hf: FakeHF) -> None:
    await slack.command("follow reasoning", user="U7")
    fake_hf.set_day("2025-11-21", sample_items(12, day=dt.date(2025, 11, 21)))
    await slack.core.bot.refresh()
    opened = slack.fake.calls_to("conversations.open")
    assert [c.params["users"] for c in opened] == ["U7"]
    dms = [c for c in slack.fake.calls_to("chat.postMessage") if c.params["channel"] == "DU7"]
    assert len(dms) == 1 and dms[0].params["text"].startswith("Saved search “reasoning” · ")


async def test_socket_mode_answers_slash_commands(core: Core, fake_slack: FakeSlack, fake_hf: FakeHF) -> None:
    adapter = SlackAdapter(core.bot, config(fake_slack, app_token="xapp-test"), core.engine)
    core.bot.attach(adapter.publisher)
    await adapter.start()
    try:
        key, response_url = fake_slack.new_response_url()
        await fake_slack.push_socket(
            {
                "envelope_id": "env-1",
                "type": "slash_commands",
                "accepts_response_payload": True,
                "payload": {
                    "team_id": TEAM,
                    "channel_id": CHANNEL,
                    "user_id": "U1",
                    "command": "/paper",
                    "text": "help",
                    "response_url": response_url,
                    "api_app_id": "A1",
                },
            }
        )
        answer = await until(lambda: fake_slack.responses.get(key))
        assert "/paper search QUERY" in answer[0]["text"]
        await until(lambda: any(ack.get("envelope_id") == "env-1" for ack in fake_slack.socket_acks))
    finally:
        await adapter.stop()


async def test_oauth_install_stores_the_installation(core: Core, fake_slack: FakeSlack) -> None:
    adapter = SlackAdapter(
        core.bot,
        config(fake_slack, bot_token=None, client_id="111.222", client_secret="shh"),
        core.engine,
        http=core.http,
    )
    core.bot.attach(adapter.publisher)
    await adapter.start()
    try:
        base = f"http://127.0.0.1:{adapter.port}"
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/slack/install", allow_redirects=False) as install:
                assert install.status in (200, 302)
                page = await install.text()
                location = install.headers.get("Location", "") + page
                state = location.split("state=")[1].split("&")[0].split('"')[0]
                # The state cookie is Secure, which a browser would send over https; send it by hand.
                cookie = "; ".join(f"{name}={morsel.value}" for name, morsel in install.cookies.items())
            redirect = f"{base}/slack/oauth_redirect?code=the-code&state={state}"
            async with http.get(redirect, headers={"Cookie": cookie}) as done:
                assert done.status == 200, await done.text()
        assert fake_slack.calls_to("oauth.v2.access")
        client = await adapter._client_for("T2")
        assert client.token == "xoxb-installed"
        ref = await adapter.publisher.publish(ChannelRef("slack", "T2", "C9"), Notice("hi"))
        assert ref.message_id and fake_slack.calls_to("chat.postMessage")[-1].token == "xoxb-installed"
    finally:
        await adapter.stop()


async def test_healthz(slack: SlackHarness) -> None:
    async with slack.http.get(f"http://127.0.0.1:{slack.adapter.port}/healthz") as response:
        assert response.status == 200 and (await response.json()) == {"ok": True}


@pytest.mark.slow  # a paperboy process
async def test_paperboy_run_serves_slack_over_http_with_just_two_settings(
    fake_slack: FakeSlack, fake_hf: FakeHF, tmp_path: Any
) -> None:
    import os
    import re

    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": "xoxb-from-env",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_BASE_URL": fake_slack.url + "/api/",
        "PAPERBOY_HTTP_HOST": "127.0.0.1",
        "PAPERBOY_HTTP_PORT": "0",
        "PAPERBOY_HF_BASE_URL": fake_hf.url,
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    process = await spawn("run", env=env, cwd=tmp_path)
    assert process.stdout
    lines: list[str] = []
    try:
        port = None
        while port is None:
            try:
                raw = await asyncio.wait_for(process.stdout.readline(), 60)
            except TimeoutError:
                raise AssertionError("no Slack server line within 60 s; output:\n" + "".join(lines)) from None
            assert raw, "paperboy run exited:\n" + "".join(lines)
            lines.append(raw.decode())
            if match := re.search(r"serving HTTP on 127\.0\.0\.1:(\d+)/slack/events", lines[-1]):
                port = int(match.group(1))
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/healthz") as health:
                assert health.status == 200
            key, response_url = fake_slack.new_response_url()
            body = command_body("help", user="U1", channel=CHANNEL, response_url=response_url)
            headers = {"Content-Type": "application/x-www-form-urlencoded", **sign(SECRET, body)}
            async with http.post(
                f"http://127.0.0.1:{port}/slack/events", data=body, headers=headers
            ) as response:
                assert response.status == 200
        answer = await until(lambda: fake_slack.responses.get(key))
        assert "/paper search QUERY" in answer[0]["text"]
    finally:
        output = await stop(process, seen="".join(lines))
    assert process.returncode == 0, output
    assert "xoxb-from-env" not in output and SECRET not in output


def test_the_manifest_asks_for_exactly_the_scopes_the_app_uses() -> None:
    from pathlib import Path

    import yaml

    from adapters.slack.adapter import BOT_SCOPES

    manifest = yaml.safe_load(
        (Path(__file__).resolve().parents[1] / "adapters/slack/manifest.yml").read_text()
    )
    assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == sorted(BOT_SCOPES)
    assert manifest["features"]["slash_commands"][0]["command"] == "/paper"
    assert manifest["features"]["slash_commands"][0]["url"].endswith("/slack/events")
    assert manifest["settings"]["interactivity"]["is_enabled"] is True  # the buttons on cards
    assert manifest["settings"]["interactivity"]["request_url"].endswith("/slack/events")
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == {
        "app_mention",
        "link_shared",
        "reaction_added",
        "reaction_removed",
    }
    assert {"arxiv.org", "huggingface.co"} <= set(manifest["features"]["unfurl_domains"])


async def test_digest_posts_keep_to_one_message_per_interval_per_channel(
    core: Core, fake_slack: FakeSlack
) -> None:
    adapter = SlackAdapter(core.bot, config(fake_slack, channel_interval=0.2), core.engine)
    channel = ChannelRef("slack", TEAM, CHANNEL)
    other = ChannelRef("slack", TEAM, "COTHER")
    for target in (channel, channel, other, channel):
        await adapter.publisher.publish(target, Notice("hello"))
    calls = fake_slack.calls_to("chat.postMessage")
    same = [c.at for c in calls if c.params["channel"] == CHANNEL]
    assert all(later - earlier >= 0.2 for earlier, later in itertools.pairwise(same))
    assert (
        calls[2].params["channel"] == "COTHER" and calls[2].at - calls[1].at < 0.2
    )  # other channels do not wait


async def test_digest_post_from_the_cli_needs_only_the_bot_token(
    slack: SlackHarness, fake_hf: FakeHF, database_url: str
) -> None:
    fake_hf.set_day("2025-11-20", sample_items(2, day=dt.date(2025, 11, 20)))
    await slack.command("digest here 09:00 UTC")
    env = {
        "SLACK_API_BASE_URL": slack.fake.url + "/api/",
        "PAPERBOY_DATABASE_URL": database_url,
        "PAPERBOY_HF_BASE_URL": fake_hf.url,
    }
    args = ("digest", "post", "--platform", "slack", "--channel", CHANNEL, "--date", "2025-11-20")

    async def cli(extra: dict[str, str]) -> tuple[int, str]:
        result = await run_paperboy(*args, env=env | extra)
        return result.code, result.out + result.err

    code, out = await cli({})
    assert code == 2 and "Slack needs SLACK_BOT_TOKEN" in out and "Traceback" not in out
    code, out = await cli({"SLACK_BOT_TOKEN": "xoxb-cli"})  # no signing secret: posting needs none
    assert code == 0, out
    posts = slack.fake.calls_to("chat.postMessage")
    assert len(posts) == 3 and {post.token for post in posts} == {"xoxb-cli"}


@pytest.mark.slow  # Slack's one message per second per channel, for real
async def test_digest_post_retries_a_failed_send_and_a_rerun_completes_what_it_gave_up(
    slack: SlackHarness, fake_hf: FakeHF, database_url: str
) -> None:
    fake_hf.set_day("2025-11-20", sample_items(4, day=dt.date(2025, 11, 20)))
    await slack.command("digest here 09:00 UTC")
    env = {
        "SLACK_API_BASE_URL": slack.fake.url + "/api/",
        "SLACK_BOT_TOKEN": "xoxb-cli",
        "PAPERBOY_DATABASE_URL": database_url,
        "PAPERBOY_HF_BASE_URL": fake_hf.url,
        # The shortest lease: tries of a failed send 0.07 s and 0.3 s apart instead of 2 and 10 s.
        "PAPERBOY_CLAIM_LEASE_SECONDS": "10",
    }
    args = ("digest", "post", "--platform", "slack", "--channel", CHANNEL, "--date", "2025-11-20")

    async def cli() -> tuple[int, str]:
        result = await run_paperboy(*args, env=env)
        return result.code, result.out + result.err

    # One HTTP 500 is tried again within the run.
    slack.fake.fail_on_call("chat.postMessage", 2, Failure(500, error="internal_error"))
    # The third paper fails on every try: the run gives up on it and says so in one line.
    for call in (5, 6, 7):
        slack.fake.fail_on_call("chat.postMessage", call, Failure(200, error="internal_error"))
    code, out = await cli()
    assert code == 1 and "Traceback" not in out, out
    assert out.strip().splitlines()[-1] == (
        "Thu 20 Nov 2025's digest is incomplete: 2 of 5 messages could not be sent "
        "(Slack said internal_error; tried 3 times); the next run sends them."
    )
    listed = await slack.command("digest status")
    assert "Last post: none yet." in blocks_text(listed)

    code, out = await cli()  # at once: the first run gave its claims back
    assert code == 0 and out.strip().splitlines()[-1] == "Posted Thu 20 Nov 2025's list (4 papers).", out
    delivered = slack.fake.calls_to("chat.postMessage")
    ok_texts = [
        call.params["text"]
        for number, call in enumerate(delivered, 1)
        if number not in (2, 5, 6, 7)  # the calls answered with a failure
    ]
    assert len(ok_texts) == 5 and len(set(ok_texts)) == 5  # a header and four cards, none twice
    header_ts = {call.params.get("thread_ts") for call in delivered[1:]}
    assert len(header_ts) == 1 and None not in header_ts  # every card in the header's thread


async def test_a_card_slack_refuses_for_good_is_left_out_at_once(
    slack: SlackHarness, fake_hf: FakeHF
) -> None:
    fake_hf.set_day("2025-11-20", sample_items(3, day=dt.date(2025, 11, 20)))
    await slack.command("digest here 09:00 UTC")
    slack.fake.fail_on_call("chat.postMessage", 3, Failure(200, error="msg_too_long"))
    outcome = await slack.core.bot.post_digest(ChannelRef("slack", TEAM, CHANNEL))
    assert outcome.complete and "1 left out, refused for good: Slack said msg_too_long" in outcome.note
    assert len(slack.fake.calls_to("chat.postMessage")) == 4  # header, 3 cards: the refused one once


@pytest.mark.slow  # a paperboy process, stopped with a signal
async def test_digest_post_stopped_by_sigterm_gives_its_claims_back(
    slack: SlackHarness, fake_hf: FakeHF, database_url: str, tmp_path: Any
) -> None:
    import os
    import signal

    fake_hf.set_day("2025-11-20", sample_items(3, day=dt.date(2025, 11, 20)))
    await slack.command("digest here 09:00 UTC")
    release = slack.fake.hold_on_call("chat.postMessage", 2)  # Slack stops answering at the first card
    env = {key: value for key, value in os.environ.items() if not key.startswith(("SLACK_", "PAPERBOY_"))} | {
        "SLACK_API_BASE_URL": slack.fake.url + "/api/",
        "SLACK_BOT_TOKEN": "xoxb-cli",
        "PAPERBOY_DATABASE_URL": database_url,
        "PAPERBOY_HF_BASE_URL": fake_hf.url,
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    args = ("digest", "post", "--platform", "slack", "--channel", CHANNEL, "--date", "2025-11-20")
    process = await spawn(*args, env=env, cwd=tmp_path)
    await until(lambda: len(slack.fake.calls_to("chat.postMessage")) == 2, timeout=30)
    process.send_signal(signal.SIGTERM)
    out, _ = await asyncio.wait_for(process.communicate(), 30)
    release.set()
    assert process.returncode == 143 and "Traceback" not in out.decode(), out.decode()
    # Given back, so the next run sends the rest at once instead of after the five-minute lease.
    rerun = await run_paperboy(
        *args, env={key: env[key] for key in env if key.startswith(("SLACK_", "PAPERBOY_"))}
    )
    assert rerun.code == 0 and "Posted Thu 20 Nov 2025's list (3 papers)." in rerun.err, rerun.err


async def test_answers_to_commands_reuse_one_connection(slack: SlackHarness) -> None:
    for _ in range(5):
        assert "/paper search" in str(await slack.command("help"))
    # Bolt's own `respond` opens a session, and a connection, for every answer.
    assert len(slack.fake.response_connections) == 5
    assert len(set(slack.fake.response_connections)) == 1


async def test_a_digest_reuses_one_connection_to_slack(slack: SlackHarness, fake_hf: FakeHF) -> None:
    posts = await subscribe_and_post(slack, fake_hf)
    assert len(posts) == 11
    # One pooled connection, not a new one (a TLS handshake with Slack) per message.
    assert len({call.connection for call in posts}) == 1
