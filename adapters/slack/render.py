"""Core messages to Block Kit, escaped and within Slack's limits (pure functions).

Slack reads `&`, `<` and `>` as control characters in mrkdwn and in the `text` fallback, so all
untrusted text is escaped: `<!channel>` in a title shows literally and pings nobody. Limits:
50 blocks a message, 150 characters in a header, 3,000 per section text, 2,000 for image alt
text, and about 12,000 characters of blocks in all (bolt-js#2509 saw `msg_blocks_too_long`
near 13.2k). Longer text is cut at a word with an ellipsis (bot.cards.cut_at_word).
"""

from __future__ import annotations

from typing import Any

from bot.cards import byline, counts_line, cut_escaped, escaped_chunks
from bot.ports import Outgoing
from bot.types import Action, ListItem, Notice, Post, Reply

MAX_BLOCKS = 50
MAX_HEADER = 150
MAX_SECTION = 3000
MAX_ALT = 2000
MAX_TOTAL = 12_000
MAX_FALLBACK = 3000
MAX_BUTTON_VALUE = 2000
MAX_OPTION_VALUE = 75
ACTION_PREFIX = "paper_"  # every action_id paperboy puts on a message; Bolt routes them by it
ITEM_MENU = ACTION_PREFIX + "item"  # a list item's overflow menu: "<command> <paper id>"

Block = dict[str, Any]


def escape(text: str) -> str:
    """Slack's three control characters, and nothing else (api.slack.com formatting docs)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str, label: str, *, label_limit: int | None = None) -> str:
    """A mrkdwn link; `label_limit` bounds the label after escaping (escaping lengthens it)."""
    safe_url = escape(url).replace("|", "%7C")
    shown = escape(label) if label_limit is None else _escaped_within(label, label_limit)
    return f"<{safe_url}|{shown}>"


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _escaped_within(text: str, limit: int) -> str:
    return cut_escaped(text, limit, escape)


def post_blocks(post: Post, *, thumbnail: bool = True) -> list[Block]:
    lines = [f"*{link(post.link, post.title, label_limit=250)}*"]
    if line := byline(post):
        lines.append(_escaped_within(line, 300))
    lines.append(counts_line(post))
    head = "\n".join(lines)
    if post.summary:
        head += "\n" + _escaped_within(post.summary, MAX_SECTION - len(head) - 1)
    section = _section(head)
    if post.thumbnail and thumbnail:
        section["accessory"] = {
            "type": "image",
            "image_url": post.thumbnail,
            "alt_text": _escaped_within(post.title, MAX_ALT) or "thumbnail",
        }
    blocks = [section, {"type": "context", "elements": [{"type": "mrkdwn", "text": _links_line(post)}]}]
    if post.actions:
        blocks.append(actions_block(post.actions))
    return blocks


def button(action: Action) -> Block:
    """A button whose action_id names the command and whose value is its arguments."""
    return {
        "type": "button",
        "action_id": ACTION_PREFIX + action.command,
        "text": {"type": "plain_text", "text": action.label[:75], "emoji": True},
        "value": action.args,
    }


def actions_block(actions: tuple[Action, ...]) -> Block:
    return {"type": "actions", "elements": [button(action) for action in actions]}


def _item_section(number: int, item: ListItem) -> Block:
    """One list line; its actions in an overflow menu (a row of buttons under each of ten
    results would double the list's length)."""
    title = link(item.url, item.title, label_limit=250)
    section = _section(f"{number}. *{title}*\n{_escaped_within(item.detail, 500)}")
    options = [
        {"text": {"type": "plain_text", "text": action.label[:75], "emoji": True}, "value": value}
        for action in item.actions
        if len(value := f"{action.command} {action.args}") <= MAX_OPTION_VALUE
    ]
    if options:
        section["accessory"] = {"type": "overflow", "action_id": ITEM_MENU, "options": options[:5]}
    return section


def _links_line(post: Post) -> str:
    """The card's links within one text object; a link that does not fit is left out, not cut
    (project pages and repos come from paper authors and may be up to 2,000 characters)."""
    shown: list[str] = []
    size = 0
    for item in post.links:
        text = link(item.url, item.label)
        if size + len(text) + 3 > MAX_SECTION:
            continue
        shown.append(text)
        size += len(text) + 3
    return " · ".join(shown) or link(post.link, "Hugging Face")


def post_fallback(post: Post) -> str:
    return _escaped_within(f"{post.title} · ▲ {post.upvotes} · {post.link}", MAX_FALLBACK)


def notice_blocks(notice: Notice) -> list[Block]:
    text = notice.text.strip()
    if "\n" not in text and len(text) <= MAX_HEADER:
        return [{"type": "header", "text": {"type": "plain_text", "text": text, "emoji": True}}]
    return _text_sections(text)


def _text_sections(text: str) -> list[Block]:
    """Long text as several sections, each within the section limit."""
    chunks = escaped_chunks(text, MAX_SECTION, escape)
    if not any(chunks[-1]):
        chunks.pop()
    return [_section("\n".join(chunk)) for chunk in chunks]


def outgoing_message(message: Outgoing, *, thumbnail: bool = True) -> tuple[str, list[Block]]:
    """The `text` fallback and the blocks for a post or a notice."""
    if isinstance(message, Notice):
        return _escaped_within(message.text, MAX_FALLBACK), fit(notice_blocks(message))
    return post_fallback(message), fit(post_blocks(message, thumbnail=thumbnail))


def reply_message(reply: Reply) -> tuple[str, list[Block]]:
    """A command's answer: its text, then one section per list item, then paper cards."""
    blocks = _text_sections(reply.text) if reply.text else []
    blocks += [_item_section(number, item) for number, item in enumerate(reply.items, 1)]
    for post in reply.posts:
        blocks += post_blocks(post)
    more = reply.more
    if more is not None and len(more.args) <= MAX_BUTTON_VALUE:
        blocks = [*fit(blocks, reserve=1), actions_block((more,))]
        return _escaped_within(reply.text or "paperboy", MAX_FALLBACK), blocks
    fallback = reply.text or (reply.posts[0].title if reply.posts else "paperboy")
    return _escaped_within(fallback, MAX_FALLBACK), fit(blocks)


def _size(block: Block) -> int:
    return len(str(block))


def fit(blocks: list[Block], *, reserve: int = 0) -> list[Block]:
    """At most MAX_BLOCKS blocks and about MAX_TOTAL characters; a note says what was left out.
    `reserve`: blocks to leave room for (a More button after the list)."""
    kept: list[Block] = []
    total = 0
    most = MAX_BLOCKS - reserve
    for index, block in enumerate(blocks):
        too_many = len(kept) == most - 1 and index < len(blocks) - 1
        if too_many or total + _size(block) > MAX_TOTAL - 200 - 400 * reserve:
            left = len(blocks) - index
            kept.append(_section(f"…and {left} more not shown (Slack's message size limit)."))
            break
        kept.append(block)
        total += _size(block)
    return kept
