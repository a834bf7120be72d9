"""Pure renderings for the console: the core's posts and replies as plain text. A card's and a
list's buttons are shown as the commands that do the same."""

from __future__ import annotations

from bot.cards import card_text
from bot.ports import Outgoing
from bot.types import Notice, Post, Reply


def _card(post: Post) -> str:
    text = card_text(post)
    if post.actions:
        text += "\n" + " · ".join(action.text for action in post.actions)
    return text


def render_outgoing(message: Outgoing) -> str:
    return message.text if isinstance(message, Notice) else _card(message)


def render_reply(reply: Reply) -> str:
    parts = [reply.text] if reply.text else []
    for number, item in enumerate(reply.items, 1):
        parts.append(f"{number}. {item.title}\n   {item.detail}\n   {item.url}")
    if any(item.actions for item in reply.items):
        parts.append("On any of these: /paper abstract ID · /paper similar ID · /paper save ID")
    parts += [_card(post) for post in reply.posts]
    if reply.more is not None:
        parts.append(f"{reply.more.label}: {reply.more.text}")
    return "\n".join(parts)
