"""Core messages to Discord messages and embeds: escaped, and within Discord's limits.

Every message is also sent with `allowed_mentions` set to none, so nothing pings even if an
escape were missed; escaping is what makes `@everyone`, `<@&123>`, `||spoiler||`, masked links
and code fences in a title *show* literally. Limits: content 2,000; embed title 256,
description 4,096, 25 fields of 256/1,024, 6,000 characters per embed, 10 embeds a message.
"""

from __future__ import annotations

import re
from urllib.parse import quote

import discord

from bot.cards import cut_at_word, cut_escaped, escaped_chunks, hf_counts_line, votes_line
from bot.ports import Outgoing
from bot.types import Action, Notice, Post, Reply

MAX_CONTENT = 2000
MAX_TITLE = 256
MAX_DESCRIPTION = 4096
MAX_FIELD_VALUE = 1024
MAX_EMBED_TOTAL = 6000
MAX_EMBEDS = 10
EMBED_COLOUR = 0xFFD21E  # Hugging Face yellow
MAX_CUSTOM_ID = 100
MAX_OPTION = 100  # a select option's label and value
MAX_ROWS = 5
CUSTOM_ID_PREFIX = "paper:"  # every component paperboy sends: `paper:<command>[:<args>]`

# Characters Discord reads as markdown or mention syntax; a backslash shows them literally.
_SPECIAL = re.compile(r"([\\*_~|`>\[\]<])")
_LINE_START = re.compile(r"^(\s*)([#-])", re.MULTILINE)  # headings and list items


def escape(text: str) -> str:
    """Markdown and mentions shown literally (`@everyone` also gets a zero-width space)."""
    escaped = _LINE_START.sub(r"\1\\\2", _SPECIAL.sub(r"\\\1", text))
    return discord.utils.escape_mentions(escaped)


def _fit(text: str, limit: int) -> str:
    return cut_escaped(text, limit, escape)


_URL = re.compile(r"https?://[^\s<>]+")


def escape_keeping_links(text: str) -> str:
    """`escape`, except that web addresses stay whole (a feed address's `_` escaped as `\\_`
    is another address); an address cannot carry markup: brackets and backticks are encoded."""
    parts: list[str] = []
    end = 0
    for match in _URL.finditer(text):
        parts += [escape(text[end : match.start()]), safe_url(match.group())]
        end = match.end()
    parts.append(escape(text[end:]))
    return "".join(parts)


def safe_url(url: str) -> str:
    """A URL that cannot break out of a masked link: brackets, spaces and quotes encoded."""
    return quote(url, safe=":/?#@!$&'*+,;=%~.-_")


def masked(label: str, url: str) -> str:
    return f"[{escape(label)}]({safe_url(url)})"


def post_embed(post: Post) -> discord.Embed:
    embed = discord.Embed(
        title=_fit(post.title, MAX_TITLE),
        url=safe_url(post.link),
        description=_fit(post.summary, MAX_DESCRIPTION) if post.summary else None,
        colour=EMBED_COLOUR,
    )
    if post.authors:
        embed.add_field(name="Authors", value=_fit(post.authors, MAX_FIELD_VALUE), inline=False)
    if post.organization:
        embed.add_field(name="Organization", value=_fit(post.organization, MAX_FIELD_VALUE), inline=True)
    embed.add_field(name="On Hugging Face", value=hf_counts_line(post), inline=True)
    if votes := votes_line(post):
        embed.add_field(name="Votes here", value=votes, inline=True)
    links = " · ".join(masked(link.label, link.url) for link in post.links)
    embed.add_field(name="Links", value=cut_at_word(links, MAX_FIELD_VALUE), inline=False)
    if post.thumbnail:
        embed.set_thumbnail(url=safe_url(post.thumbnail))
    return embed


def post_fallback(post: Post) -> str:
    """A card as one line of text: title, upvotes and link."""
    return _fit(f"{post.title} · ▲ {post.upvotes} · ", MAX_CONTENT - len(post.link) - 1) + safe_url(post.link)


def notice_contents(notice: Notice) -> list[str]:
    """A notice as one or more messages of at most 2,000 characters, split between lines.

    An alert listing twenty papers, or a recap of long titles, is longer than one message; cut
    to one, its last papers would never be seen (and alerts are not sent twice).
    """
    messages = ("\n".join(chunk) for chunk in escaped_chunks(notice.text, MAX_CONTENT, escape))
    return [message for message in messages if message.strip()] or [""]


Message = tuple[str | None, list[discord.Embed]]


def outgoing_messages(message: Outgoing) -> list[Message]:
    """Content and embeds for a digest header, a recap, an alert (possibly several messages) or
    a paper card."""
    if isinstance(message, Notice):
        return [(content, []) for content in notice_contents(message)]
    return [(None, [post_embed(message)])]


def reply_message(reply: Reply) -> tuple[str, list[discord.Embed]]:
    """A command's answer: escaped text, a list embed for items, then paper cards."""
    content = cut_escaped(reply.text, MAX_CONTENT, escape_keeping_links) if reply.text else ""
    embeds: list[discord.Embed] = []
    if reply.items:
        lines: list[str] = []
        size = 0
        for number, item in enumerate(reply.items, 1):
            line = f"{number}. {masked(cut_at_word(item.title, 200), item.url)}\n{_fit(item.detail, 300)}"
            if size + len(line) + 1 > MAX_DESCRIPTION:
                break
            lines.append(line)
            size += len(line) + 1
        embeds.append(discord.Embed(description="\n".join(lines), colour=EMBED_COLOUR))
    embeds += [post_embed(post) for post in reply.posts]
    return content, fit_embeds(embeds)


def fit_embeds(embeds: list[discord.Embed]) -> list[discord.Embed]:
    """At most 10 embeds and 6,000 characters in all, as Discord requires."""
    kept: list[discord.Embed] = []
    total = 0
    for embed in embeds[:MAX_EMBEDS]:
        if total + len(embed) > MAX_EMBED_TOTAL:
            break
        kept.append(embed)
        total += len(embed)
    return kept


# --- components: a card's buttons, a list's menus, a search's More -------------------------


def custom_id(action: Action) -> str | None:
    """`paper:<command>:<args>`, or None when it would pass Discord's 100 characters (a More
    button for a very long query)."""
    value = f"{CUSTOM_ID_PREFIX}{action.command}:{action.args}"
    return value if len(value) <= MAX_CUSTOM_ID else None


def parse_custom_id(value: str, chosen: list[str]) -> tuple[str, str] | None:
    """The command and arguments a pressed button or a chosen menu option stands for."""
    if not value.startswith(CUSTOM_ID_PREFIX):
        return None
    command, _, args = value.removeprefix(CUSTOM_ID_PREFIX).partition(":")
    return command, chosen[0] if chosen else args


def _view(rows: list[list[discord.ui.Item[discord.ui.View]]]) -> discord.ui.View | None:
    """Components to send with a message. The view is stopped before it is sent: discord.py then
    keeps no copy in memory for each digest card, and every press arrives as an interaction."""
    if not rows:
        return None
    view = discord.ui.View(timeout=None)
    for row, items in enumerate(rows[:MAX_ROWS]):
        for item in items:
            item.row = row
            view.add_item(item)
    view.stop()
    return view


def _button(action: Action) -> discord.ui.Button[discord.ui.View] | None:
    identifier = custom_id(action)
    if identifier is None:
        return None
    return discord.ui.Button(
        label=action.label[:80], custom_id=identifier, style=discord.ButtonStyle.secondary
    )


def _buttons(actions: tuple[Action, ...]) -> list[discord.ui.Item[discord.ui.View]]:
    return [button for action in actions[:5] if (button := _button(action)) is not None]


def post_view(post: Post) -> discord.ui.View | None:
    return _view([row] if (row := _buttons(post.actions)) else [])


def reply_view(reply: Reply) -> discord.ui.View | None:
    """A list's actions as one menu each ("Abstract of…", a line per paper: ten results times
    three buttons would pass Discord's 25 components), a card's as buttons, then More."""
    rows: list[list[discord.ui.Item[discord.ui.View]]] = []
    menus: dict[str, tuple[str, list[discord.SelectOption]]] = {}
    for number, item in enumerate(reply.items[:25], 1):
        for action in item.actions:
            label, options = menus.setdefault(action.command, (action.label, []))
            options.append(
                discord.SelectOption(
                    label=f"{number}. {item.title}"[:MAX_OPTION], value=action.args[:MAX_OPTION]
                )
            )
    for command, (label, options) in menus.items():
        rows.append(
            [
                discord.ui.Select(
                    custom_id=f"{CUSTOM_ID_PREFIX}{command}", placeholder=f"{label}…", options=options
                )
            ]
        )
    rows += [row for post in reply.posts if (row := _buttons(post.actions))]
    if reply.more is not None and (more := _button(reply.more)) is not None:
        rows.append([more])
    return _view(rows[:MAX_ROWS])
