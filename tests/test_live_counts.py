"""Live counts: a digest card's HF upvotes and this community's 👍 count are refreshed in place
for two days (the core's LiveCounts through the recording platform, then real Bolt's
chat.update and real discord.py's message edit against the fakes), only when they changed,
never as a new message."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

from adapters.app import Core
from adapters.discord.adapter import DiscordAdapter
from bot.ports import ChannelUnavailable, PublishFailed
from bot.types import ChannelRef, Post
from tests.fake_discord import CHANNEL_ID, GUILD_ID, FakeDiscord
from tests.fake_hf import FakeHF
from tests.fake_slack import TEAM, reaction_event
from tests.fakes import FakeClock, RecordingPublisher, sample_items
from tests.test_discord import CHANNEL as DISCORD_CHANNEL
from tests.test_discord import subscribe as discord_subscribe
from tests.test_slack import CHANNEL, SlackHarness, subscribe_and_post
from tests.test_slack_actions import assert_valid_block_kit, blocks_of
from tests.test_votes import TEAM_A, TEAM_B, cards, react, user

pytest_plugins = ["tests.test_slack", "tests.test_discord"]

DAY = "2025-11-20"


def raise_upvotes(fake_hf: FakeHF, paper_id: str, upvotes: int) -> None:
    for item in fake_hf.days[DAY]:
        if item["paper"]["id"] == paper_id:
            item["paper"]["upvotes"] = upvotes


async def test_changed_counts_edit_the_card_in_place_once(
    core: Core, fake_hf: FakeHF, publisher: RecordingPublisher, clock: FakeClock
) -> None:
    posted = await cards(core, fake_hf, publisher, TEAM_A, TEAM_B)
    before = len(publisher.posts)
    assert await core.bot.update_live_counts() == 0  # nothing changed since they were posted

    first, second, _third = posted[TEAM_A]
    await react(core, first.ref, user("alice"))
    await react(core, first.ref, user("bob"))
    await react(core, posted[TEAM_B][1].ref, user("carol", "team-b"))  # another team's vote
    raise_upvotes(fake_hf, second.paper_id or "", 99)
    await core.ingestor.fetch_days([dt.date(2025, 11, 20)])
    # alice and bob's card; `second` in both teams (carol voted on team B's)
    assert await core.bot.update_live_counts() == 3
    edits = {(ref.channel, ref.message_id): card for ref, card in publisher.edits}
    assert edits[(TEAM_A, first.ref.message_id)].votes == 2
    assert edits[(TEAM_A, second.ref.message_id)].upvotes == 99
    assert edits[(TEAM_B, posted[TEAM_B][1].ref.message_id)].upvotes == 99
    assert edits[(TEAM_B, posted[TEAM_B][1].ref.message_id)].votes == 1
    assert all(ref.thread == first.thread.message_id for ref, _ in publisher.edits if ref.channel == TEAM_A)
    assert [a.label for a in edits[(TEAM_A, first.ref.message_id)].actions] == ["Abstract", "Similar", "Save"]
    assert len(publisher.posts) == before  # edits, never new messages

    assert await core.bot.update_live_counts() == 0  # already shown
    # A refresh edits too: it reads the upvotes again first.
    raise_upvotes(fake_hf, first.paper_id or "", 500)
    await core.bot.refresh()
    assert publisher.edits[-1][1].upvotes == 500

    # After two days the cards are left as they are.
    clock.advance(days=2, minutes=1)
    await react(core, second.ref, user("dave"))
    assert await core.bot.update_live_counts() == 0


async def test_a_failed_edit_is_tried_again_and_a_gone_card_is_not(
    core: Core, fake_hf: FakeHF, publisher: RecordingPublisher
) -> None:
    posted = await cards(core, fake_hf, publisher, TEAM_A)
    first, second, _ = posted[TEAM_A]
    await react(core, first.ref, user("alice"))
    await react(core, second.ref, user("alice"))
    publisher.edit_failures = [PublishFailed("Slack said internal_error"), ChannelUnavailable("message gone")]
    assert await core.bot.update_live_counts() == 0
    assert await core.bot.update_live_counts() == 1  # the transient failure, again; not the gone one
    ((ref, card),) = publisher.edits
    assert ref.message_id == first.ref.message_id and card.votes == 1
    assert await core.bot.update_live_counts() == 0


def test_the_votes_show_on_the_card_once_there_are_some() -> None:
    from bot.cards import counts_line

    post = Post("1", "t", "u", "", None, 3, 1, "", ())
    assert counts_line(post) == "▲ 3 upvotes · 💬 1 comment"
    assert counts_line(Post("1", "t", "u", "", None, 1, 0, "", (), votes=2)) == (
        "▲ 1 upvote · 💬 0 comments · 👍 2 here"
    )
    assert json.dumps(counts_line(post))  # plain text


async def test_slack_cards_are_updated_with_chat_update(slack: SlackHarness, fake_hf: FakeHF) -> None:
    posts = await subscribe_and_post(slack, fake_hf)
    rows = await slack.core.ledger.of_day(ChannelRef("slack", TEAM, CHANNEL), dt.date(2025, 11, 20))
    card = min((row for row in rows if row.kind == "paper"), key=lambda row: row.position)
    ts, paper_id = str(card.message_id), card.paper_id
    event = reaction_event(
        "reaction_added", user="U5", reaction="+1", channel=CHANNEL, ts=ts, event_id="EvR1"
    )
    assert await slack.event(event) == 200

    async def voted() -> bool:
        return (await slack.core.votes.tally("slack", TEAM, paper_id)).up == 1

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while not await voted():
        assert loop.time() < deadline
        await asyncio.sleep(0.02)
    assert await slack.core.bot.update_live_counts() == 1
    (update,) = slack.fake.calls_to("chat.update")
    assert update.params["channel"] == CHANNEL and update.params["ts"] == ts
    blocks = blocks_of(update.params)
    assert_valid_block_kit(blocks)
    assert "👍 1 here" in json.dumps(blocks, ensure_ascii=False)
    assert any(block["type"] == "actions" for block in blocks)  # the buttons stay
    assert len(slack.fake.calls_to("chat.postMessage")) == len(posts)  # no new message


async def test_discord_cards_are_edited_in_their_thread(
    core: Core, adapter: DiscordAdapter, fake_discord: FakeDiscord, fake_hf: FakeHF
) -> None:
    fake_hf.set_day(DAY, sample_items(3, day=dt.date(2025, 11, 20)))
    await discord_subscribe(fake_discord)
    await core.bot.post_digest(DISCORD_CHANNEL)
    thread_id = int(fake_discord.messages[CHANNEL_ID][-1]["id"])
    card = fake_discord.messages[thread_id][0]
    paper_id = card["embeds"][0]["url"].rsplit("/", 1)[1]
    await fake_discord.react(True, message_id=int(card["id"]), channel_id=thread_id)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while (await core.votes.tally("discord", str(GUILD_ID), paper_id)).up != 1:
        assert loop.time() < deadline
        await asyncio.sleep(0.02)
    sent = len(fake_discord.requests_to("POST", "/channels/"))
    assert await core.bot.update_live_counts() == 1
    (edit,) = fake_discord.requests_to("PATCH", f"/channels/{thread_id}/messages/")
    fields = {f["name"]: f["value"] for f in edit.json_body["embeds"][0]["fields"]}
    assert fields["Votes here"] == "👍 1 here"
    assert edit.json_body["components"]  # the buttons stay
    assert fake_discord.messages[thread_id][0]["embeds"][0]["fields"] == edit.json_body["embeds"][0]["fields"]
    assert len(fake_discord.requests_to("POST", "/channels/")) == sent  # no new message
