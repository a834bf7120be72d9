"""Atom feeds of digest channels: `/paper digest feed` gives an unguessable address, paperboy's
HTTP server serves the channel's digest papers of the last 30 days there as valid Atom (read back
with feedparser), and `/paper digest feed reset` makes the old address stop working."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import aiohttp
import feedparser
import pytest

from adapters.app import Core
from bot.atom import FeedEntry, atom_feed
from bot.feeds import NOT_SERVED
from bot.types import Paper, Reply, UserRef
from tests.fake_discord import MEMBER_PERMISSIONS, FakeDiscord
from tests.fake_hf import FakeHF
from tests.fakes import FakeClock, sample_items
from tests.paperboy_process import spawn, stop
from tests.test_commands import run
from tests.test_digest import CHANNEL, subscribe
from tests.test_discord import MANAGE_CHANNELS, cli_env, slash

pytest_plugins = ["tests.test_discord"]

HOSTILE = "<!channel> </title><entry><title>injected</title></entry> & \x00\x1b[31m @everyone"
NOW = dt.datetime(2025, 11, 21, 12, tzinfo=dt.UTC)
MEMBER = UserRef("test", "team-1", "U-member")


def hostile_paper() -> Paper:
    return Paper(
        id="2511.00001",
        title=HOSTILE,
        abstract="word " * 2500 + "\x0c",
        authors=("Ada <Lovelace>", "\x01", 'Bob "Tables"'),
        ai_keywords=("agents", "\x02"),
    )


def test_hostile_text_stays_text_and_the_document_is_valid_atom() -> None:
    entries = [FeedEntry(hostile_paper(), NOW, NOW.date())]
    document = atom_feed(title="Digest <of> #general", feed_url="http://h/feeds/T", entries=entries, now=NOW)
    root = ET.fromstring(document)  # well-formed XML, no control characters
    ns = {"a": "http://www.w3.org/2005/Atom"}
    assert len(root.findall("a:entry", ns)) == 1  # the title's markup made no second entry
    parsed = feedparser.parse(document)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert parsed.feed.title == "Digest <of> #general"
    (entry,) = parsed.entries
    assert entry.title == HOSTILE.replace("\x00", "").replace("\x1b", "")
    assert entry.link == "https://huggingface.co/papers/2511.00001"
    assert {link.href for link in entry.links} >= {"https://arxiv.org/abs/2511.00001"}
    assert [author.name for author in entry.authors] == ["Ada <Lovelace>", 'Bob "Tables"']
    assert len(entry.summary) <= 4000 and entry.summary.endswith("…")
    assert entry.published_parsed[:3] == (2025, 11, 21)
    empty = feedparser.parse(atom_feed(title="t", feed_url="http://h/feeds/T", entries=[], now=NOW))
    assert not empty.bozo and empty.entries == [] and empty.feed.updated.startswith("2025-11-21")


def feed_url_in(text: str) -> str:
    match = re.search(r"(https?://\S+/feeds/\S+)", text)
    assert match, text
    return match.group(1)


async def fetch(url: str) -> tuple[int, bytes, str]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, await response.read(), response.headers.get("Content-Type", "")


async def test_a_digest_channels_feed_over_http_and_its_reset(
    core: Core, fake_hf: FakeHF, clock: FakeClock
) -> None:
    assert (await run(core, "digest feed")).text == NOT_SERVED  # no HTTP server in this process
    await core.http.start()
    none = await run(core, "digest feed")
    assert not none.ok and "No digest in this channel" in none.text

    items = sample_items(12, day=dt.date(2025, 11, 20))
    items[0]["paper"]["title"] = HOSTILE
    fake_hf.set_day("2025-11-20", items)
    await subscribe(core)
    await core.bot.post_digest(CHANNEL)

    # Any member may read the address (the digest is theirs to read) and it stays the same.
    given = await run(core, "digest feed", MEMBER, can_manage=False)
    assert given.ok and given.ephemeral
    url = feed_url_in(given.text)
    assert url.startswith(f"http://127.0.0.1:{core.http.port}/feeds/")
    assert len(url.rsplit("/", 1)[1]) >= 40  # 32 random bytes
    assert feed_url_in((await run(core, "digest feed")).text) == url

    status, body, mime = await fetch(url)
    assert status == 200 and mime.startswith("application/atom+xml")
    parsed = feedparser.parse(body)
    assert not parsed.bozo and parsed.version == "atom10"
    assert len(parsed.entries) == 10
    assert parsed.entries[0].title == HOSTILE.replace("\x00", "").replace("\x1b", "")
    assert parsed.entries[0].link == "https://huggingface.co/papers/" + items[0]["paper"]["id"]

    async with aiohttp.ClientSession() as http:
        async with http.get(url) as first:
            etag = first.headers["ETag"]
        async with http.get(url, headers={"If-None-Match": etag}) as again:
            assert again.status == 304 and not await again.read()  # unchanged: no body

    # Only a channel manager may replace the address; then the old one is gone.
    denied = await run(core, "digest feed reset", MEMBER, can_manage=False)
    assert not denied.ok and "Only" in denied.text
    assert (await fetch(url))[0] == 200
    reset = await run(core, "digest feed reset")
    new_url = feed_url_in(reset.text)
    assert new_url != url and "no longer works" in reset.text
    assert (await fetch(url))[0] == 404
    assert (await fetch(new_url))[0] == 200
    assert (await fetch(url.rsplit("/", 1)[0] + "/guess"))[0] == 404

    # A month later, the month-old digest has left the feed.
    clock.advance(days=31)
    later = feedparser.parse((await fetch(new_url))[1])
    assert not later.bozo and later.entries == []
    usage = await run(core, "digest feed please")
    assert not usage.ok and "digest feed [reset]" in usage.text


async def test_the_feed_address_uses_the_public_url(core: Core) -> None:
    core.http.public_url = "https://paperboy.example.org"
    await core.http.start()
    await subscribe(core)
    url = feed_url_in((await run(core, "digest feed")).text)
    assert url.startswith("https://paperboy.example.org/feeds/")


async def http_port_of(process: asyncio.subprocess.Process, seen: list[str]) -> int:
    """The port `paperboy run` says its HTTP server listens on (PAPERBOY_HTTP_PORT=0)."""
    assert process.stdout
    while True:
        raw = await asyncio.wait_for(process.stdout.readline(), 60)
        assert raw, "paperboy run exited:\n" + "".join(seen)
        seen.append(raw.decode())
        if match := re.search(r"HTTP: serving on 127\.0\.0\.1:(\d+)", seen[-1]):
            return int(match.group(1))


@pytest.mark.slow  # a paperboy process
async def test_a_discord_only_bot_serves_its_channels_feed(
    fake_discord: FakeDiscord, fake_hf: FakeHF, tmp_path: Path
) -> None:
    env = cli_env(fake_discord, fake_hf, "fake-token") | {
        "PAPERBOY_HTTP_HOST": "127.0.0.1",
        "PAPERBOY_HTTP_PORT": "0",
    }
    process = await spawn("run", env=env, cwd=tmp_path)
    seen: list[str] = []
    try:
        port = await http_port_of(process, seen)
        await fake_discord.wait_for(lambda: fake_discord.identifies == 1, timeout=30)
        _, answer = await slash(fake_discord, ["digest", "feed"])
        assert "No digest in this channel" in answer["content"]
        await slash(fake_discord, ["digest", "here"], permissions=MEMBER_PERMISSIONS | MANAGE_CHANNELS)
        _, answer = await slash(fake_discord, ["digest", "feed"])
        url = feed_url_in(answer["content"])
        assert url.startswith(f"http://127.0.0.1:{port}/feeds/")
        status, body, _mime = await fetch(url)
        assert status == 200 and feedparser.parse(body).version == "atom10"
        _, answer = await slash(fake_discord, ["digest", "feed"], {"reset": True})
        assert "Only members with the Manage Channels permission" in answer["content"]
        assert (await fetch(f"http://127.0.0.1:{port}/healthz"))[0] == 200
    finally:
        output = await stop(process, seen="".join(seen))
    assert process.returncode == 0, output
    assert "/feeds/" not in output  # feed addresses carry their token: never logged


def test_discord_answers_keep_web_addresses_whole_and_markup_inert() -> None:
    from adapters.discord.render import reply_message

    text = "Feed: https://h:1/feeds/a_b-c~d and *bold* `x` https://x.example/y)[click](https://evil.example)"
    content, _ = reply_message(Reply(text))
    assert "https://h:1/feeds/a_b-c~d " in content  # Discord links it as it is
    assert "\\*bold\\*" in content and "\\`x\\`" in content
    assert "[click](" not in content and "%5Bclick%5D" in content
