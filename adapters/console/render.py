"""Pure renderings for the console: the core's posts and replies as plain text."""

from __future__ import annotations

from bot.cards import card_text
from bot.ports import Outgoing
from bot.types import Notice, Reply


def render_outgoing(message: Outgoing) -> str:
    return message.text if isinstance(message, Notice) else card_text(message)


def render_reply(reply: Reply) -> str:
    parts = [reply.text] if reply.text else []
    for number, item in enumerate(reply.items, 1):
        parts.append(f"{number}. {item.title}\n   {item.detail}\n   {item.url}")
    parts += [card_text(post) for post in reply.posts]
    return "\n".join(parts)
