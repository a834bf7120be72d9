"""Search by meaning, as users meet it: plain-words questions, keyword precision kept, filters
exact, /paper similar, and the embedding backfill. The shipped model runs for real, on SQLite
and PostgreSQL."""

from __future__ import annotations

import copy
import datetime as dt
from collections import defaultdict
from typing import Any

import pytest
from sqlalchemy import text

import bot.semantic
from adapters.app import Core
from bot.commands import RELATED, parse_command
from bot.deliveries import PostedPaper
from bot.embedding import EmbeddingUnavailable, WordLlamaEmbedder
from bot.semantic import SemanticIndex
from bot.types import ChannelRef, Command, PostRef, Reply, UserRef
from bot.votes import DOWN, UP
from tests.fake_hf import load_sample
from tests.fakes import MemorySource, RecordingPublisher

CHANNEL = ChannelRef("test", "team-1", "C1")
USER = UserRef("test", "team-1", "U1")
DEBATE = "Encouraging Divergent Thinking in Large Language Models through Multi-Agent Debate"
QUESTION = "several chatbots argue with each other to reach better answers"


async def run(core: Core, line: str) -> Reply:
    name, args = parse_command(line)
    return await core.bot.handle_command(Command(name, args, USER, CHANNEL))


async def stock(core: Core, source: MemorySource) -> None:
    """The 60 sample papers stored, as the daily lists they came on, and embedded."""
    await store_sample(core, source)
    assert await core.bot.embed_new() == 60


async def store_sample(core: Core, source: MemorySource) -> None:
    """The 60 sample papers stored as the daily lists they came on (not embedded)."""
    days: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in load_sample():
        days[item["publishedAt"][:10]].append(item)
    for day, items in days.items():
        source.set_day(day, items)
    await core.ingestor.fetch_days([dt.date.fromisoformat(day) for day in days])


async def test_a_question_in_plain_words_finds_the_paper_it_describes(
    semantic_core: Core, memory_source: MemorySource
) -> None:
    await stock(semantic_core, memory_source)
    reply = await run(semantic_core, f"search {QUESTION}")
    # The paper it describes is listed, found by meaning: no paper has all these words, and
    # bm25 over any of them ranks it nowhere. (Among the 10, not first: the shipped model
    # puts it first by meaning alone, but bm25's papers that share a few words outrank it in
    # the fusion tuned on the evaluation set; BENCHMARKS.md, "Search by meaning".)
    found = {item.title: item for item in reply.items}
    assert reply.ok and DEBATE in found and found[DEBATE].detail.startswith(RELATED)


async def test_without_search_by_meaning_the_same_question_finds_nothing(
    offline_core: Core, memory_source: MemorySource
) -> None:
    await store_sample(offline_core, memory_source)
    assert (await run(offline_core, f"search {QUESTION}")).text.startswith("No papers match")
    refused = await run(offline_core, "similar 2305.90001")
    assert not refused.ok and "PAPERBOY_SEMANTIC=off" in refused.text


async def test_words_keep_their_precision(semantic_core: Core, memory_source: MemorySource) -> None:
    await stock(semantic_core, memory_source)
    title = await run(semantic_core, "search learning from peers")
    assert title.items[0].title == "Learning from Peers in Reasoning Models"
    assert not title.items[0].detail.startswith(RELATED)
    phrase = await run(semantic_core, 'search "divergent thinking"')
    assert phrase.items[0].title == DEBATE and not phrase.items[0].detail.startswith(RELATED)
    # Nonsense is near no paper: no made-up relation, the words' own answer stands.
    assert (await run(semantic_core, "search xyzzy plugh")).text.startswith("No papers match")


@pytest.mark.parametrize(
    "narrowing",
    ["since:2024-01-01", "until:2023-01-01", "-debate", "author:Tongxu", "org:nowhere", "has:code"],
)
async def test_filters_apply_to_what_meaning_finds(
    semantic_core: Core, memory_source: MemorySource, narrowing: str
) -> None:
    await stock(semantic_core, memory_source)
    assert DEBATE in [item.title for item in (await run(semantic_core, f"search {QUESTION}")).items]
    narrowed = await run(semantic_core, f"search {QUESTION} {narrowing}")
    assert DEBATE not in [item.title for item in narrowed.items]  # published 2023-05-30, no code


async def test_similar_lists_the_nearest_other_papers(
    semantic_core: Core, memory_source: MemorySource
) -> None:
    await stock(semantic_core, memory_source)
    reply = await run(semantic_core, "similar https://arxiv.org/abs/2305.90001")
    assert reply.ok and reply.text.startswith("Papers like Encouraging Divergent Thinking")
    assert len(reply.items) == 10 and DEBATE not in [item.title for item in reply.items]
    shares = [int(item.detail.split("%")[0]) for item in reply.items]
    assert shares == sorted(shares, reverse=True) and "% alike" in reply.items[0].detail
    unknown = await run(semantic_core, "similar 2505.99999")
    assert not unknown.ok and "2505.99999 was not found" in unknown.text
    assert not (await run(semantic_core, "similar")).ok


async def test_an_interrupted_backfill_resumes_where_it_stopped(
    semantic_core: Core, memory_source: MemorySource, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store_sample(semantic_core, memory_source)
    semantic = semantic_core.semantic
    assert semantic is not None
    monkeypatch.setattr(bot.semantic, "EMBED_BATCH", 25)

    def stop_after_first_batch(done: int) -> None:
        raise KeyboardInterrupt  # the operator's Ctrl-C during `paperboy embed`

    with pytest.raises(KeyboardInterrupt):
        await semantic.embed_missing(progress=stop_after_first_batch)
    assert await semantic.missing() == 35  # the first batch was committed
    seen: list[int] = []
    assert await semantic.embed_missing(progress=seen.append) == 35
    assert seen == [25, 35] and await semantic.missing() == 0
    async with semantic_core.engine.connect() as conn:
        rows = (
            await conn.execute(text("SELECT count(*), count(DISTINCT paper_id) FROM paper_embeddings"))
        ).one()
    assert tuple(rows) == (60, 60)


async def test_another_process_embeddings_are_searched_too(
    semantic_core: Core, memory_source: MemorySource
) -> None:
    await stock(semantic_core, memory_source)
    # A second instance on the same database (PostgreSQL scale-out) loads what is stored.
    other = SemanticIndex(semantic_core.engine, WordLlamaEmbedder())
    nearest = await other.nearest(QUESTION, 1)
    assert await other.load_new(force=True) == 0 and len(other.index) == 60
    paper = await semantic_core.store.get_paper(nearest[0][0])
    assert paper is not None and paper.title == DEBATE


VISION_LIKED = ["2310.90001", "2504.90001", "2503.90001"]  # vision transformers, retrieval, style transfer
OVERTHINKING_DISLIKED = ["2502.90003", "2504.90004", "2508.90003"]
# Papers about vision, images or network design, as the liked ones are.
VISUAL = {"2512.06421", "2507.90001", "2504.90002", "2511.90001", "2412.90002", "2308.90001", "2406.90001"}


async def vote(core: Core, paper_id: str, voter: str, kind: str) -> None:
    post = PostRef(CHANNEL, f"msg-{paper_id}")
    posted = PostedPaper(CHANNEL.community, paper_id, dt.date(2025, 11, 20))
    user = UserRef("test", CHANNEL.community, voter)
    emoji = "👍" if kind == UP else "👎"
    now = dt.datetime(2025, 11, 21, tzinfo=dt.UTC)
    assert await core.votes.record(
        post=post, posted=posted, user=user, kind=kind, emoji=emoji, added=True, now=now
    )


async def test_recommend_learns_what_a_team_votes_up(
    semantic_core: Core, memory_source: MemorySource
) -> None:
    await stock(semantic_core, memory_source)
    for paper_id in VISION_LIKED[:2]:
        await vote(semantic_core, paper_id, "ann", UP)
    early = await run(semantic_core, "recommend")
    assert early.ok and early.text.startswith("Recommendations learn from this team's 👍 and 👎")
    assert "2 of 5 votes so far" in early.text and len(early.items) == 10
    await vote(semantic_core, VISION_LIKED[2], "bob", UP)
    for paper_id in OVERTHINKING_DISLIKED:
        await vote(semantic_core, paper_id, "ann", DOWN)
    reply = await run(semantic_core, "recommend")
    assert reply.text == "Recent papers for this team, learned from its 6 votes:"
    titles = [item.url.rsplit("/", 1)[1] for item in reply.items]
    assert not set(titles) & {*VISION_LIKED, *OVERTHINKING_DISLIKED}  # voted papers are not news
    assert titles[0] in VISUAL and len(set(titles[:3]) & VISUAL) >= 2
    assert reply.items[0].detail.startswith("for this team")
    # Another team's taste is its own: it has no votes yet.
    other = await semantic_core.bot.handle_command(
        Command("recommend", "", UserRef("test", "team-2", "U9"), ChannelRef("test", "team-2", "C9"))
    )
    assert "0 of 5 votes so far" in other.text


async def test_a_digest_ranked_by_taste_puts_what_the_team_likes_first(
    semantic_core: Core, memory_source: MemorySource, publisher: RecordingPublisher
) -> None:
    await stock(semantic_core, memory_source)
    # Thursday's list: the overthinking papers have the most upvotes, the visual ones the fewest.
    listed = ["2508.90002", "2505.90001", "2507.90002", "2512.06421", "2504.90002", "2507.90001"]
    by_id = {item["paper"]["id"]: copy.deepcopy(item) for item in load_sample()}
    items = [by_id[paper_id] for paper_id in listed]
    for upvotes, item in zip(range(60, 0, -10), items, strict=True):
        item["paper"]["upvotes"] = upvotes
    memory_source.set_day("2025-11-20", items)
    on = await semantic_core.bot.handle_command(
        Command("digest", "here 09:00 UTC top 3 rank taste", USER, CHANNEL, can_manage=True)
    )
    assert "ranked by this channel's votes (by upvotes until it has cast 5)" in on.text
    for paper_id in VISION_LIKED:
        await vote(semantic_core, paper_id, "ann", UP)
    for paper_id in OVERTHINKING_DISLIKED:
        await vote(semantic_core, paper_id, "bob", DOWN)
    await semantic_core.bot.post_digest(CHANNEL, day=dt.date(2025, 11, 20))
    header, *cards = publisher.posts
    assert header.text == "Daily Papers · Thu 20 Nov 2025 · 3 of 6 · ranked for this channel"
    assert {card.paper_id for card in cards} == {"2512.06421", "2504.90002", "2507.90001"}
    # Another team with no votes yet gets Hugging Face's order, and no claim of a ranking.
    team_b = ChannelRef("test", "team-2", "C2")
    await semantic_core.bot.handle_command(
        Command("digest", "here 09:00 UTC top 3 rank taste", USER, team_b, can_manage=True)
    )
    await semantic_core.bot.post_digest(team_b, day=dt.date(2025, 11, 20))
    header_b, *cards_b = [post for post in publisher.posts if post.channel == team_b]
    assert header_b.text == "Daily Papers · Thu 20 Nov 2025 · 3 of 6"
    assert [card.paper_id for card in cards_b] == listed[:3]


async def test_a_saved_search_alerts_papers_related_by_meaning_and_says_so(
    semantic_core: Core, memory_source: MemorySource, publisher: RecordingPublisher
) -> None:
    by_id = {item["paper"]["id"]: copy.deepcopy(item) for item in load_sample()}
    # A style-transfer paper (no word of "picture editing"), and two about reasoning.
    memory_source.set_day("2025-11-20", [by_id[i] for i in ("2503.90001", "2502.90003", "2505.90001")])
    followed = await run(semantic_core, "follow picture editing")
    assert followed.ok, followed.text
    await semantic_core.bot.refresh()
    assert len(publisher.dms) == 1
    text = publisher.dms[0][1].text  # type: ignore[union-attr]
    assert "AttenST" in text and "(related by meaning)" in text
    assert "Overthinking" not in text


async def test_a_model_that_cannot_load_leaves_search_by_words_working(
    semantic_core: Core, memory_source: MemorySource, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable(self: WordLlamaEmbedder, texts: object) -> object:
        raise EmbeddingUnavailable("wordllama's weights are missing")

    monkeypatch.setattr(WordLlamaEmbedder, "embed", unavailable)
    await store_sample(semantic_core, memory_source)
    assert await semantic_core.bot.embed_new() == 0
    reply = await run(semantic_core, "search learning from peers")
    assert reply.ok and reply.items[0].title == "Learning from Peers in Reasoning Models"
