"""`@paperboy …`: a link gets its card, a question the papers that fit it, both answered where
the mention was (a Slack thread, a Discord reply). The core through `/paper ask`, then real
Bolt and real discord.py against the fakes."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from adapters.app import Core
from adapters.discord.adapter import DiscordAdapter
from bot.questions import HOW_TO_ASK, NOTHING_FITS
from tests.fake_discord import BOT_USER_ID, CHANNEL_ID, FakeDiscord
from tests.fake_hf import FakeHF
from tests.fake_slack import BOT_USER, TEAM
from tests.fakes import MemorySource, sample_items
from tests.test_commands import run
from tests.test_semantic import DEBATE, QUESTION, stock
from tests.test_slack import CHANNEL, SlackHarness, until

pytest_plugins = ["tests.test_slack", "tests.test_discord"]

DAY = dt.date(2025, 11, 20)


async def test_a_link_or_id_gets_the_card_and_a_question_the_papers_that_fit(
    core: Core, fake_hf: FakeHF
) -> None:
    fake_hf.set_day(DAY, sample_items(20, day=DAY))
    await core.ingestor.fetch_days([DAY])
    card = await run(core, "ask <@U0BOT> have you read <https://arxiv.org/abs/2305.90001v2|this one>?")
    assert [post.paper_id for post in card.posts] == ["2305.90001"] and not card.ephemeral
    assert (await run(core, "ask what about 2305.90001 and hf.co/papers/2412.90002")).posts[1].paper_id == (
        "2412.90002"
    )
    words = await run(core, "ask <@U0BOT> multi-agent debate")
    assert words.items and words.items[0].title == DEBATE and words.items[0].detail
    assert (await run(core, "ask <@U0BOT> zebra migration patterns")).text == NOTHING_FITS
    assert (await run(core, "ask <@U0BOT>")).text == HOW_TO_ASK
    gone = await run(core, "ask 2501.99999")
    assert not gone.ok and "not found" in gone.text


async def test_a_question_in_plain_words_is_answered_by_meaning(
    semantic_core: Core, memory_source: MemorySource
) -> None:
    await stock(semantic_core, memory_source)
    reply = await run(semantic_core, f"ask <@U0BOT> {QUESTION}?")
    assert DEBATE in [item.title for item in reply.items]
    assert len(reply.items) <= 3 and all(item.detail for item in reply.items)
    # No paper has all of those words: the answer says its papers are only close in meaning.
    assert reply.text.startswith("No paper has all those words; the closest in meaning to:")
    worded = await run(semantic_core, "ask <@U0BOT> multi-agent debate")
    assert worded.text.startswith("Papers about:") and worded.items[0].title == DEBATE


async def test_slack_mentions_are_answered_once_in_a_thread(slack: SlackHarness, fake_hf: FakeHF) -> None:
    fake_hf.set_day(DAY, sample_items(20, day=DAY))
    await slack.core.ingestor.fetch_days([DAY])
    event: dict[str, Any] = {
        "token": "legacy",
        "team_id": TEAM,
        "api_app_id": "A1",
        "type": "event_callback",
        "event_id": "EvMENTION1",
        "event_time": 1700000000,
        "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}],
        "event": {
            "type": "app_mention",
            "user": "U1",
            "text": f"<@{BOT_USER}> <https://arxiv.org/abs/2305.90001> <!channel> thoughts?",
            "ts": "1700000100.000200",
            "channel": CHANNEL,
            "event_ts": "1700000100.000200",
        },
    }
    assert await slack.event(event) == 200
    (posted,) = await until(lambda: slack.fake.calls_to("chat.postMessage"))
    assert posted.params["thread_ts"] == "1700000100.000200" and posted.params["channel"] == CHANNEL
    blocks = posted.params["blocks"]
    assert "2305.90001" in (blocks if isinstance(blocks, str) else json.dumps(blocks))
    assert await slack.event(event, {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "timeout"}) == 200
    question = dict(event, event_id="EvMENTION2")
    question["event"] = dict(event["event"], text=f"<@{BOT_USER}> multi-agent debate", ts="1700000200.000100")
    assert await slack.event(question) == 200
    await until(lambda: len(slack.fake.calls_to("chat.postMessage")) == 2)
    answer = slack.fake.calls_to("chat.postMessage")[1]
    assert answer.params["thread_ts"] == "1700000200.000100" and "Papers about" in answer.params["text"]
    assert len(slack.fake.calls_to("chat.postMessage")) == 2  # the retry was not answered again


async def test_discord_mentions_get_a_reply_and_other_messages_nothing(
    core: Core, adapter: DiscordAdapter, fake_discord: FakeDiscord, fake_hf: FakeHF
) -> None:
    fake_hf.set_day(DAY, sample_items(20, day=DAY))
    await core.ingestor.fetch_days([DAY])
    chatter = fake_discord.member_message("just chatting about 2305.90001", mentions_bot=False)
    await fake_discord.dispatch("MESSAGE_CREATE", chatter)
    mention = fake_discord.member_message(f"<@{BOT_USER_ID}> https://arxiv.org/pdf/2305.90001 @everyone")
    await fake_discord.dispatch("MESSAGE_CREATE", mention)
    reply = await fake_discord.wait_for(
        lambda: next((m for m in fake_discord.messages[CHANNEL_ID] if m.get("message_reference")), None)
    )
    assert reply["message_reference"]["message_id"] == mention["id"]
    assert "2305.90001" in json.dumps(reply["embeds"])
    sent = [r for r in fake_discord.requests_to("POST", "/channels/") if r.path.endswith("/messages")]
    assert len(sent) == 1  # the message that did not mention the bot got nothing
    assert sent[0].json_body.get("allowed_mentions", {}).get("parse") == []
