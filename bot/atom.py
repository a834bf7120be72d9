"""The Atom document (RFC 4287) of a digest channel's feed: a pure function of its entries.

Paper text comes from Hugging Face and is untrusted: ElementTree escapes markup, and the
characters XML 1.0 cannot carry at all (NUL, other C0 controls, lone surrogates) are dropped,
so that a hostile title can neither break the document nor inject elements into it.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from bot.cards import cut_at_word, squash
from bot.types import Paper

ATOM_NS = "http://www.w3.org/2005/Atom"
MIME = "application/atom+xml; charset=utf-8"
SUMMARY_LIMIT = 4000  # an abstract is rarely longer; a 10k-character one is cut at a word
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """A paper a channel's digest posted, and when."""

    paper: Paper
    posted: dt.datetime
    digest_day: dt.date


def xml_text(text: str) -> str:
    return _NOT_XML.sub("", text)


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _add(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, tag, {key: xml_text(value) for key, value in attributes.items()})
    if text is not None:
        element.text = xml_text(text)
    return element


def atom_feed(*, title: str, feed_url: str, entries: list[FeedEntry], now: dt.datetime) -> bytes:
    """The feed, newest post first. Its `updated` is the newest post's time (`now` when empty),
    so that a reader polling an unchanged feed sees the same document."""
    feed = ET.Element("feed", {"xmlns": ATOM_NS})
    _add(feed, "id", feed_url)
    _add(feed, "title", title)
    _add(feed, "updated", _stamp(max((entry.posted for entry in entries), default=now)))
    _add(feed, "link", rel="self", type="application/atom+xml", href=feed_url)
    _add(feed, "link", rel="alternate", type="text/html", href="https://huggingface.co/papers")
    author = _add(feed, "author")
    _add(author, "name", "paperboy")
    _add(feed, "generator", "paperboy")
    for entry in sorted(entries, key=lambda e: e.posted, reverse=True):
        paper = entry.paper
        item = _add(feed, "entry")
        _add(item, "id", f"{paper.url}#digest-{entry.digest_day.isoformat()}")
        _add(item, "title", squash(paper.title) or paper.id, type="text")
        _add(item, "link", rel="alternate", type="text/html", href=paper.url)
        _add(item, "link", rel="related", type="text/html", href=paper.arxiv_url, title="arXiv")
        _add(item, "link", rel="enclosure", type="application/pdf", href=paper.pdf_url, title="PDF")
        _add(item, "updated", _stamp(entry.posted))
        _add(item, "published", _stamp(entry.posted))
        names = [name for name in paper.authors if xml_text(name).strip()]
        for name in names or ["Unknown authors"]:
            _add(_add(item, "author"), "name", name)
        summary = squash(paper.ai_summary or paper.abstract)
        if summary:
            _add(item, "summary", cut_at_word(summary, SUMMARY_LIMIT), type="text")
        for keyword in paper.ai_keywords:
            if xml_text(keyword).strip():
                _add(item, "category", term=keyword)
    ET.indent(feed)
    document: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return document
