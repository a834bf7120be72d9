"""Votes from reactions: one per user per paper per community, hashed, and only on our posts."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text

from adapters.app import Core
from bot.types import ChannelRef, Command, PostRef, Reaction, UserRef
from tests.fake_hf import FakeHF
from tests.fakes import FakeClock, RecordingPublisher, sample_items

TEAM_A = ChannelRef("test", "team-a", "C-a1")
TEAM_A2 = ChannelRef("test", "team-a", "C-a2")
TEAM_B = ChannelRef("test", "team-b", "C-b1")


def user(name: str, community: str = "team-a") -> UserRef:
    return UserRef("test", community, name)


async def post_digest(core: Core, channel: ChannelRef) -> None:
    admin = UserRef("test", channel.community, "admin")
    await core.bot.handle_command(Command("digest", "here", admin, channel, can_manage=True))
    await core.bot.post_digest(channel)


async def cards(core: Core, fake_hf: FakeHF, publisher: RecordingPublisher, *channels: ChannelRef) -> dict:  # type: ignore[type-arg]
    fake_hf.set_day("2025-11-20", sample_items(3, day=dt.date(2025, 11, 20)))
    for channel in channels:
        await post_digest(core, channel)
    return {c: [p for p in publisher.paper_posts() if p.channel == c] for c in channels}


async def react(
    core: Core, ref: PostRef, who: UserRef, emoji: str = "👍", added: bool = True, by_bot: bool = False
) -> object:
    return await core.bot.handle_reaction(Reaction(ref, who, emoji, added, by_bot=by_bot))


async def top_text(core: Core, channel: ChannelRef, period: str = "week") -> str:
    reply = await core.bot.handle_command(Command("top", period, user("x", channel.community), channel))
    return reply.text + "\n" + "\n".join(f"{i.title} | {i.detail}" for i in reply.items)


async def test_add_remove_add_nets_one(core: Core, fake_hf: FakeHF, publisher: RecordingPublisher) -> None:
    posted = await cards(core, fake_hf, publisher, TEAM_A)
    ref = posted[TEAM_A][1].ref
    alice = user("alice")
    for added in (True, False, True, True):
        await react(core, ref, alice, added=added)
    tally = await core.votes.tally("test", "team-a", posted[TEAM_A][1].paper_id or "")
    assert (tally.up, tally.down) == (1, 0)
    listing = await top_text(core, TEAM_A)
    assert f"{posted[TEAM_A][1].text} | 👍 1 · ▲" in listing


async def test_one_vote_per_user_across_channels_and_removal(
    core: Core, fake_hf: FakeHF, publisher: RecordingPublisher
) -> None:
    posted = await cards(core, fake_hf, publisher, TEAM_A, TEAM_A2)
    alice, bob = user("alice"), user("bob")
    same_paper_a1 = posted[TEAM_A][0]
    same_paper_a2 = next(p for p in posted[TEAM_A2] if p.paper_id == same_paper_a1.paper_id)
    await react(core, same_paper_a1.ref, alice)
    await react(core, same_paper_a2.ref, alice)
    await react(core, same_paper_a2.ref, bob)
    tally = await core.votes.tally("test", "team-a", same_paper_a1.paper_id or "")
    assert tally.up == 2
    await react(core, same_paper_a1.ref, alice, added=False)  # still reacting in the other channel
    assert (await core.votes.tally("test", "team-a", same_paper_a1.paper_id or "")).up == 2


async def test_communities_are_kept_apart(core: Core, fake_hf: FakeHF, publisher: RecordingPublisher) -> None:
    posted = await cards(core, fake_hf, publisher, TEAM_A, TEAM_B)
    await react(core, posted[TEAM_A][0].ref, user("alice"))
    await react(core, posted[TEAM_B][1].ref, user("carol", "team-b"))
    await react(core, posted[TEAM_B][1].ref, user("dave", "team-b"))
    a, b = await top_text(core, TEAM_A), await top_text(core, TEAM_B)
    assert posted[TEAM_A][0].text in a and posted[TEAM_A][1].text not in a
    assert f"{posted[TEAM_B][1].text} | 👍 2" in b and posted[TEAM_B][0].text not in b


async def test_bot_reactions_foreign_messages_and_other_emoji_are_ignored(
    core: Core, fake_hf: FakeHF, publisher: RecordingPublisher
) -> None:
    posted = await cards(core, fake_hf, publisher, TEAM_A)
    header_ref = next(p for p in publisher.posts if not p.paper_id).ref
    assert await react(core, posted[TEAM_A][0].ref, user("paperboy"), by_bot=True) is None
    assert await react(core, PostRef(TEAM_A, "someone-elses-message"), user("alice")) is None
    assert await react(core, header_ref, user("alice")) is None
    assert await react(core, posted[TEAM_A][0].ref, user("alice"), "🎉") is None
    assert "No votes in the last 7 days" in await top_text(core, TEAM_A)


async def test_thumbs_down_is_counted_apart_and_skin_tones_are_the_same_vote(
    core: Core, fake_hf: FakeHF, publisher: RecordingPublisher
) -> None:
    posted = await cards(core, fake_hf, publisher, TEAM_A)
    card = posted[TEAM_A][0]
    await react(core, card.ref, user("alice"), "👍🏽")
    await react(core, card.ref, user("bob"), "👎")
    await react(core, card.ref, user("carol"), "👎🏿")
    tally = await core.votes.tally("test", "team-a", card.paper_id or "")
    assert (tally.up, tally.down) == (1, 2)
    assert "👍 1 · 👎 2" in await top_text(core, TEAM_A)
    only_down = posted[TEAM_A][1]
    await react(core, only_down.ref, user("bob"), "👎")
    assert only_down.text not in await top_text(core, TEAM_A)  # nobody voted it up


async def test_removing_one_of_two_reactions_keeps_the_vote_the_other_makes(
    core: Core, fake_hf: FakeHF, publisher: RecordingPublisher
) -> None:
    posted = await cards(core, fake_hf, publisher, TEAM_A)
    card = posted[TEAM_A][0]
    await react(core, card.ref, user("alice"), "👍")
    await react(core, card.ref, user("alice"), "👍🏽")  # a second reaction, one vote
    assert (await core.votes.tally("test", "team-a", card.paper_id or "")).up == 1
    await react(core, card.ref, user("alice"), "👍🏽", added=False)
    assert (await core.votes.tally("test", "team-a", card.paper_id or "")).up == 1  # 👍 is still there
    await react(core, card.ref, user("alice"), "👍", added=False)
    assert (await core.votes.tally("test", "team-a", card.paper_id or "")).up == 0


async def test_user_ids_are_stored_only_as_keyed_hashes(
    core: Core, fake_hf: FakeHF, publisher: RecordingPublisher
) -> None:
    posted = await cards(core, fake_hf, publisher, TEAM_A)
    await react(core, posted[TEAM_A][0].ref, user("U0SECRETID"))
    async with core.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT * FROM reactions"))).all()
        key = (await conn.execute(text("SELECT value FROM app_secrets"))).scalar()
    assert rows and "U0SECRETID" not in repr(rows)
    assert key and len(key) == 64
    assert rows[0]._mapping["user_hash"] == core.votes.user_hash(user("U0SECRETID"))


async def test_top_periods_and_bad_period(core: Core, fake_hf: FakeHF, publisher: RecordingPublisher) -> None:
    posted = await cards(core, fake_hf, publisher, TEAM_A)
    await react(core, posted[TEAM_A][0].ref, user("alice"))
    for period in ("week", "month", "all"):
        assert posted[TEAM_A][0].text in await top_text(core, TEAM_A, period)
    bad = await core.bot.handle_command(Command("top", "decade", user("a"), TEAM_A))
    assert not bad.ok and "top takes week, month or all" in bad.text


async def test_a_retried_event_counts_once(
    core: Core, fake_hf: FakeHF, publisher: RecordingPublisher
) -> None:
    posted = await cards(core, fake_hf, publisher, TEAM_A)
    ref = posted[TEAM_A][0].ref
    for _ in range(4):
        await core.bot.handle_reaction(Reaction(ref, user("alice"), "👍", True, event_id="Ev1"))
    await core.bot.handle_reaction(Reaction(ref, user("alice"), "👍", False, event_id="Ev2"))
    await core.bot.handle_reaction(Reaction(ref, user("alice"), "👍", False, event_id="Ev2"))
    await core.bot.handle_reaction(Reaction(ref, user("alice"), "👍", True, event_id="Ev1"))  # a late retry
    assert (await core.votes.tally("test", "team-a", posted[TEAM_A][0].paper_id or "")).up == 0


async def test_a_reaction_reported_in_the_thread_counts_for_the_post(
    core: Core, fake_hf: FakeHF, publisher: RecordingPublisher
) -> None:
    posted = await cards(core, fake_hf, publisher, TEAM_A)
    card = posted[TEAM_A][0]
    assert card.ref.thread  # posted in the header's thread
    in_thread = PostRef(ChannelRef("test", "team-a", card.ref.thread), card.ref.message_id)
    assert await react(core, in_thread, user("alice")) is not None
    assert (await core.votes.tally("test", "team-a", card.paper_id or "")).up == 1


async def test_top_week_counts_the_votes_cast_this_week_whatever_the_list_day(
    core: Core, fake_hf: FakeHF, publisher: RecordingPublisher, clock: FakeClock
) -> None:
    # A digest of an older list (posted by hand), voted on today: that is this week's vote.
    fake_hf.set_day("2025-11-10", sample_items(2, day=dt.date(2025, 11, 10)))
    admin = UserRef("test", TEAM_A.community, "admin")
    await core.bot.handle_command(Command("digest", "here", admin, TEAM_A, can_manage=True))
    await core.bot.post_digest(TEAM_A, day=dt.date(2025, 11, 10))
    [first, second] = publisher.paper_posts()
    await react(core, first.ref, user("alice"))
    await react(core, second.ref, user("bob"))
    week = await top_text(core, TEAM_A)
    assert first.text in week and second.text in week
    clock.advance(days=8)  # a week later those votes are no longer this week's
    assert "No votes in the last 7 days yet" in await top_text(core, TEAM_A)
    assert first.text in await top_text(core, TEAM_A, "month")


async def test_a_repeated_reaction_or_removal_changes_nothing_and_says_so(
    core: Core, fake_hf: FakeHF, publisher: RecordingPublisher
) -> None:
    posted = await cards(core, fake_hf, publisher, TEAM_A)
    ref = posted[TEAM_A][0].ref
    first = await core.bot.handle_reaction(Reaction(ref, user("alice"), "👍", True))
    again = await core.bot.handle_reaction(Reaction(ref, user("alice"), "👍", True))
    removed = await core.bot.handle_reaction(Reaction(ref, user("alice"), "👍", False))
    nothing = await core.bot.handle_reaction(Reaction(ref, user("alice"), "👍", False))
    assert first is not None and first.changed
    assert again is not None and not again.changed
    assert removed is not None and removed.changed
    assert nothing is not None and not nothing.changed
