"""Buttons and menus on paperboy's Discord messages, through real discord.py and the fake
gateway: component interactions (type 3), deferred ephemerally and answered with a followup."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pybtex.database

from adapters.app import Core
from adapters.discord.adapter import DiscordAdapter
from tests.fake_discord import CHANNEL_ID, EPHEMERAL, FakeDiscord
from tests.fake_hf import FakeHF
from tests.fakes import sample_items
from tests.test_discord import CHANNEL, slash, subscribe

pytest_plugins = ["tests.test_discord"]

OTHER_USER = 4242


async def press(
    fake: FakeDiscord,
    custom_id: str,
    *,
    values: list[str] | None = None,
    user_id: int | None = None,
    **extra: Any,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Press a component; (the callback body, the followup message)."""
    options: dict[str, Any] = {"values": values, **extra}
    if user_id is not None:
        options["user_id"] = user_id
    payload = fake.component_interaction(custom_id, **options)
    await fake.dispatch("INTERACTION_CREATE", payload)
    followups = await fake.wait_for(lambda: fake.followups.get(payload["token"]), timeout=10)
    return fake.callbacks[int(payload["id"])], followups[0]


def components(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for row in message.get("components") or [] for c in row["components"]]


async def test_digest_cards_carry_buttons_that_answer_the_presser_alone(
    core: Core, adapter: DiscordAdapter, fake_discord: FakeDiscord, fake_hf: FakeHF
) -> None:
    fake_hf.set_day("2025-11-20", sample_items(3, day=dt.date(2025, 11, 20)))
    await subscribe(fake_discord, time="09:00", flat=True)
    await core.bot.post_digest(CHANNEL)
    cards = [m for m in fake_discord.messages[CHANNEL_ID] if m.get("embeds")]
    assert len(cards) == 3
    buttons = components(cards[0])
    assert [b["label"] for b in buttons] == ["Abstract", "Similar", "Save"]
    assert all(b["type"] == 2 and len(b["custom_id"]) <= 100 for b in buttons)
    paper_id = buttons[0]["custom_id"].rsplit(":", 1)[1]
    paper = await core.store.get_paper(paper_id)
    assert paper is not None
    sent_before = len(fake_discord.messages[CHANNEL_ID])

    callback, answer = await press(fake_discord, buttons[0]["custom_id"], message=cards[0])
    assert callback["type"] == 5 and callback["data"]["flags"] & EPHEMERAL
    assert answer["flags"] & EPHEMERAL
    assert " ".join(paper.abstract.split())[:200] in answer["content"]

    _, saved = await press(fake_discord, buttons[2]["custom_id"], message=cards[0])
    assert "Saved to your reading list" in saved["content"]
    _, other = await press(fake_discord, buttons[2]["custom_id"], message=cards[0], user_id=OTHER_USER)
    assert "Saved to your reading list" in other["content"]  # their own list
    _, again = await press(fake_discord, buttons[2]["custom_id"], message=cards[0])
    assert "Removed from your reading list" in again["content"]
    _, similar = await press(fake_discord, buttons[1]["custom_id"], message=cards[0])
    assert "turned off" in similar["content"]  # these tests run without the model
    assert len(fake_discord.messages[CHANNEL_ID]) == sent_before  # nothing new in the channel
    followups = fake_discord.requests_to("POST", "/webhooks/")
    assert all(r.json_body.get("allowed_mentions") == {"parse": []} for r in followups)


async def test_a_search_offers_menus_and_more_shows_the_next_page_privately(
    core: Core, adapter: DiscordAdapter, fake_discord: FakeDiscord, fake_hf: FakeHF
) -> None:
    day = dt.date(2025, 11, 20)
    fake_hf.set_day(day, sample_items(30, day=day))
    await core.ingestor.fetch_days([day])
    _, first = await slash(fake_discord, ["search"], {"query": "language models"})
    rows = first["components"]
    assert len(rows) <= 5
    menus = [c for c in components(first) if c["type"] == 3]
    assert [m["placeholder"] for m in menus] == ["Abstract…", "Similar…", "Save…"]
    assert all(len(m["options"]) == 10 and len(m["options"]) <= 25 for m in menus)
    assert all(len(o["label"]) <= 100 and len(o["value"]) <= 100 for m in menus for o in m["options"])
    (more,) = [c for c in components(first) if c["type"] == 2]
    assert more["label"] == "More results" and more["custom_id"] == "paper:page:2 language models"

    _, second = await press(fake_discord, more["custom_id"])
    assert second["flags"] & EPHEMERAL and second["content"].startswith("Results 11-")

    save_menu = menus[2]
    chosen = save_menu["options"][0]["value"]
    _, saved = await press(fake_discord, save_menu["custom_id"], values=[chosen])
    assert "Saved to your reading list" in saved["content"]
    _, listed = await slash(fake_discord, ["saved"])
    assert chosen in repr(listed["embeds"])


async def test_a_button_for_a_gone_paper_or_an_unknown_command_answers_privately(
    adapter: DiscordAdapter, fake_discord: FakeDiscord
) -> None:
    _, gone = await press(fake_discord, "paper:save:2501.99999")
    assert gone["flags"] & EPHEMERAL and "not found" in gone["content"]
    _, odd = await press(fake_discord, "paper:digest:off")
    assert "older paperboy" in odd["content"]


async def test_export_bibtex_is_an_ephemeral_attachment(
    core: Core, adapter: DiscordAdapter, fake_discord: FakeDiscord, fake_hf: FakeHF
) -> None:
    day = dt.date(2025, 11, 20)
    items = sample_items(2, day=day)
    items[0]["paper"]["title"] = "@everyone <@&123> {oops} ||spoiler|| 50% & $x$"
    fake_hf.set_day(day, items)
    await core.ingestor.fetch_days([day])
    for item in items:
        await slash(fake_discord, ["save"], {"paper": item["paper"]["id"]})
    _, answer = await slash(fake_discord, ["export"])
    assert answer["flags"] & EPHEMERAL
    (attachment,) = answer["attachments"]
    assert attachment["filename"] == "paperboy-saved.bib"
    content = fake_discord.files[int(attachment["id"])]
    bib = pybtex.database.parse_string(content.decode(), "bibtex")
    assert len(bib.entries) == 2
    assert any("@everyone <@\\&123> \\textbraceleft{}oops" in e.fields["title"] for e in bib.entries.values())
