"""Slack link previews: a message linking arxiv.org or huggingface.co papers gets their cards
through `link_shared` → `chat.unfurl`, over real Bolt and real HTTP. A paper Hugging Face does
not know, or Hugging Face down, means no preview for that link and nothing in the channel."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from adapters.app import Core
from tests.fake_hf import FakeHF, Fault
from tests.fake_slack import BOT_USER, TEAM
from tests.fakes import sample_items
from tests.test_slack import CHANNEL, SlackHarness, until
from tests.test_slack_actions import assert_valid_block_kit

pytest_plugins = ["tests.test_slack"]

DAY = dt.date(2025, 11, 20)
STORED = "https://arxiv.org/abs/2305.90001v2"


def link_shared(event_id: str, *urls: str, ts: str = "1700000300.000100") -> dict[str, Any]:
    return {
        "token": "legacy",
        "team_id": TEAM,
        "api_app_id": "A1",
        "type": "event_callback",
        "event_id": event_id,
        "event_time": 1700000000,
        "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}],
        "event": {
            "type": "link_shared",
            "channel": CHANNEL,
            "is_bot_user_member": True,
            "user": "U1",
            "message_ts": ts,
            "unfurl_id": f"{CHANNEL}.{ts}.abc",
            "source": "conversations_history",
            "links": [{"domain": url.split("/")[2], "url": url} for url in urls],
        },
    }


async def stock(core: Core, fake_hf: FakeHF) -> list[dict[str, Any]]:
    items = sample_items(20, day=DAY)
    stored = next(item for item in items if item["paper"]["id"] == "2305.90001")
    stored["paper"]["title"] = "<!channel> <@U999> *bold* @everyone <https://evil.example|click>"
    fake_hf.set_day(DAY, items)
    await core.ingestor.fetch_days([DAY])
    return items


async def test_paper_links_are_previewed_with_their_cards_once(slack: SlackHarness, fake_hf: FakeHF) -> None:
    await stock(slack.core, fake_hf)
    # Known to Hugging Face but not yet in the archive: fetched, then previewed.
    fake_hf.set_day(dt.date(2025, 11, 21), sample_items(1, day=dt.date(2025, 11, 21), start=30))
    unknown_id = fake_hf.days["2025-11-21"][0]["paper"]["id"]
    fetched = f"https://huggingface.co/papers/{unknown_id}"
    other = "https://arxiv.org/list/cs.CL/recent"  # on arxiv.org, but no paper
    event = link_shared("EvLINK1", STORED, fetched, other)
    assert await slack.event(event) == 200
    (call,) = await until(lambda: slack.fake.calls_to("chat.unfurl"))
    assert call.params["unfurl_id"] == event["event"]["unfurl_id"]
    assert call.params["source"] == "conversations_history"
    unfurls = call.params["unfurls"]
    unfurls = json.loads(unfurls) if isinstance(unfurls, str) else unfurls
    assert set(unfurls) == {STORED, fetched}
    for preview in unfurls.values():
        assert_valid_block_kit(preview["blocks"])
    stored_card = json.dumps(unfurls[STORED]["blocks"])
    # The hostile title is shown as text: no mass mention, no user mention, no forged link.
    for live in ("<!channel>", "<@U999>", "<https://evil.example"):
        assert live not in stored_card
    assert "&lt;!channel&gt;" in stored_card
    assert unknown_id in json.dumps(unfurls[fetched]["blocks"])
    assert "Abstract" in stored_card  # the card's buttons come with it
    # Slack's retry of the same event is not previewed twice.
    assert await slack.event(event, {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "timeout"}) == 200
    assert await slack.event(link_shared("EvLINK2", STORED, ts="1700000400.000100")) == 200
    await until(lambda: len(slack.fake.calls_to("chat.unfurl")) == 2)
    assert slack.fake.calls_to("chat.unfurl")[1].params["unfurl_id"].startswith(f"{CHANNEL}.1700000400")
    assert not slack.fake.calls_to("chat.postMessage")


async def test_hugging_face_down_means_no_preview_and_no_message(
    slack: SlackHarness, fake_hf: FakeHF
) -> None:
    await stock(slack.core, fake_hf)
    slack.core.lookup.budget = 0.5
    fake_hf.fail_next(*[Fault(503)] * 20)
    unknown = "https://arxiv.org/pdf/2511.99999"
    assert await slack.event(link_shared("EvLINK3", unknown, STORED)) == 200
    (call,) = await until(lambda: slack.fake.calls_to("chat.unfurl"))
    unfurls = call.params["unfurls"]
    unfurls = json.loads(unfurls) if isinstance(unfurls, str) else unfurls
    assert set(unfurls) == {STORED}  # the paper HF could not be asked about is left out
    assert fake_hf.requests_to("/api/papers/2511.99999")
    assert not slack.fake.calls_to("chat.postMessage")
    # Only links HF cannot answer for: no call at all, and still nothing in the channel.
    assert await slack.core.bot.link_previews([unknown]) == {}
    assert not slack.fake.calls_to("chat.postMessage")
