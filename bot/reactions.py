"""Reaction emoji as the core compares them: a skin tone or the emoji variation selector does
not change what a reaction means (👍🏽 is a 👍)."""

from __future__ import annotations

_MODIFIERS = {chr(c) for c in range(0x1F3FB, 0x1F400)} | {"\ufe0f"}


def normalize_emoji(emoji: str) -> str:
    return "".join(ch for ch in emoji.strip() if ch not in _MODIFIERS)
