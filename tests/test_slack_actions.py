"""Buttons and menus on paperboy's Slack messages, pressed through real Bolt over real HTTP:
Abstract, Similar (off in these tests: it says so), Save, a list's menu, More, and the BibTeX
export uploaded to the asker's direct messages."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from slack_sdk.models.blocks import Block

from tests.fake_hf import FakeHF
from tests.fake_slack import action_body, sign
from tests.fakes import sample_items
from tests.test_slack import CHANNEL, SlackHarness, blocks_text, subscribe_and_post

pytest_plugins = ["tests.test_slack"]


def blocks_of(params: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = params.get("blocks") or []
    return json.loads(blocks) if isinstance(blocks, str) else list(blocks)


def assert_valid_block_kit(blocks: list[dict[str, Any]]) -> None:
    """What Slack would refuse (a label over 75, a value over 2,000, a menu of one option…)."""
    assert len(blocks) <= 50
    for block in blocks:
        parsed = Block.parse(block)
        assert parsed is not None
        parsed.validate_json()


async def press(
    slack: SlackHarness, action: dict[str, Any], *, user: str = "U1", channel: str = CHANNEL
) -> dict[str, Any]:
    return await slack.answered(
        lambda response_url: action_body(action, user=user, channel=channel, response_url=response_url)
    )


def button_of(blocks: list[dict[str, Any]], label: str) -> dict[str, Any]:
    for block in blocks:
        for element in block.get("elements", []) if block["type"] == "actions" else []:
            if element["text"]["text"] == label:
                return dict(element)
    raise AssertionError(f"no {label} button")


async def test_digest_cards_carry_buttons_that_answer_the_presser_alone(
    slack: SlackHarness, fake_hf: FakeHF
) -> None:
    posts = await subscribe_and_post(slack, fake_hf)
    card = blocks_of(posts[1].params)
    assert_valid_block_kit(card)
    assert [e["text"]["text"] for e in card[-1]["elements"]] == ["Abstract", "Similar", "Save"]
    paper_id = button_of(card, "Abstract")["value"]
    paper = await slack.core.store.get_paper(paper_id)
    assert paper is not None

    abstract = await press(slack, button_of(card, "Abstract"))
    assert abstract["response_type"] == "ephemeral" and abstract["replace_original"] is False
    assert " ".join(paper.abstract.split())[:200] in blocks_text(abstract)

    saved = await press(slack, button_of(card, "Save"))
    assert saved["response_type"] == "ephemeral" and "Saved to your reading list" in saved["text"]
    other = await press(slack, button_of(card, "Save"), user="U2")  # another reader: their own list
    assert "Saved to your reading list" in other["text"]
    again = await press(slack, button_of(card, "Save"))  # pressed twice: out again, and it says so
    assert "Removed from your reading list" in again["text"]
    similar = await press(slack, button_of(card, "Similar"))
    assert "turned off" in similar["text"]  # these tests run without the model (PAPERBOY_SEMANTIC)
    assert len(slack.fake.calls_to("chat.postMessage")) == len(posts)  # nothing new in the channel


async def test_a_search_lists_menus_and_more_shows_the_next_page_privately(
    slack: SlackHarness, fake_hf: FakeHF
) -> None:
    day = dt.date(2025, 11, 20)
    fake_hf.set_day(day, sample_items(30, day=day))
    await slack.core.ingestor.fetch_days([day])
    first = await slack.command("search language models", user="U1")
    blocks = first["blocks"]
    assert_valid_block_kit(blocks)
    menus = [b["accessory"] for b in blocks if b.get("accessory", {}).get("type") == "overflow"]
    assert len(menus) == 10
    more = blocks[-1]["elements"][0]
    assert more["text"]["text"] == "More results" and more["value"] == "2 language models"

    second = await press(slack, more)
    assert second["response_type"] == "ephemeral" and second["text"].startswith("Results 11-")
    assert not set(blocks_text(second).split("papers/")[1:2]) & set(blocks_text(first).split("papers/")[1:2])

    save = next(o for o in menus[0]["options"] if o["text"]["text"] == "Save")
    chosen = await press(
        slack, {"type": "overflow", "action_id": menus[0]["action_id"], "selected_option": save}
    )
    assert "Saved to your reading list" in chosen["text"]
    listed = await slack.command("saved", user="U1")
    assert save["value"].split()[1] in blocks_text(listed)


async def test_a_button_for_a_paper_that_is_gone_or_a_command_it_may_not_run(
    slack: SlackHarness, fake_hf: FakeHF
) -> None:
    gone = await press(slack, {"type": "button", "action_id": "paper_save", "value": "2501.99999"})
    assert gone["response_type"] == "ephemeral" and "not found" in gone["text"]
    odd = await press(slack, {"type": "button", "action_id": "paper_digest", "value": "off"})
    assert "older paperboy" in odd["text"]
    assert not slack.fake.calls_to("chat.postMessage")


async def test_a_forged_button_press_is_refused(slack: SlackHarness) -> None:
    body = action_body(
        {"type": "button", "action_id": "paper_save", "value": "2305.90001"},
        user="U1",
        channel=CHANNEL,
        response_url=slack.fake.new_response_url()[1],
    )
    headers = {"Content-Type": "application/x-www-form-urlencoded", **sign("wrong-secret", body)}
    async with slack.http.post(slack.url, data=body.encode(), headers=headers) as response:
        assert response.status == 401
    assert "empty" in (await slack.command("saved", user="U1"))["text"]


async def test_export_bibtex_arrives_as_a_file_in_the_askers_direct_messages(
    slack: SlackHarness, fake_hf: FakeHF
) -> None:
    import pybtex.database

    day = dt.date(2025, 11, 20)
    items = sample_items(3, day=day)
    items[0]["paper"]["title"] = "<!channel> 100% {broken & $x$ @everyone"
    fake_hf.set_day(day, items)
    await slack.core.ingestor.fetch_days([day])
    for item in items:
        await slack.command(f"save {item['paper']['id']}", user="U1")
    answer = await slack.command("export bibtex saved", user="U1")
    assert answer["response_type"] == "ephemeral"
    assert "paperboy-saved.bib is in your direct messages" in answer["text"]
    (opened,) = [c for c in slack.fake.calls_to("conversations.open") if c.params.get("users") == "U1"]
    (complete,) = slack.fake.calls_to("files.completeUploadExternal")
    assert complete.params["channel_id"] == "DU1"
    (content,) = slack.fake.uploads.values()
    bib = pybtex.database.parse_string(content.decode(), "bibtex")
    assert len(bib.entries) == 3
    titles = [entry.fields["title"] for entry in bib.entries.values()]
    assert any("<!channel> 100\\% \\textbraceleft{}broken \\& \\$x\\$ @everyone" == t for t in titles)
    assert opened.params["users"] == "U1"
