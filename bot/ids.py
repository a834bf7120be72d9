"""arXiv ids: one canonical form for every way a user or the API spells a paper."""

from __future__ import annotations

import re
import zlib

# New-style ids (YYMM.NNNN until 2014, YYMM.NNNNN since), optional version suffix.
_NEW_STYLE = re.compile(r"(?<![\w.])(\d{4})\.(\d{4,5})(?:v\d+)?(?![\w.])")
# Old-style ids such as hep-th/9901001 or math.GT/0611800v2.
_OLD_STYLE = re.compile(r"(?<![\w.-])([a-z-]+(?:\.[A-Z]{2})?)/(\d{7})(?:v\d+)?(?!\w)")
_URL_PREFIX = re.compile(
    r"^(?:https?://)?(?:www\.|export\.)?"
    r"(?:arxiv\.org/(?:abs|pdf|html)/|huggingface\.co/papers/|hf\.co/papers/)",
    re.IGNORECASE,
)
_ARXIV_PREFIX = re.compile(r"^arxiv:\s*", re.IGNORECASE)


class InvalidPaperId(ValueError):
    """The text names no arXiv paper."""


def normalize_paper_id(text: str) -> str:
    """Return the bare arXiv id (no version) that `text` names.

    Accepts `2505.07787`, `2505.07787v2`, `arXiv:2505.07787`, and arxiv.org abs/pdf/html or
    huggingface.co / hf.co paper URLs (with or without scheme, `.pdf`, query or fragment).
    """
    candidate = text.strip()
    candidate = _ARXIV_PREFIX.sub("", candidate)
    candidate = _URL_PREFIX.sub("", candidate)
    candidate = re.split(r"[?#]", candidate, maxsplit=1)[0].rstrip("/")
    if candidate.lower().endswith(".pdf"):
        candidate = candidate[:-4]
    match = _NEW_STYLE.fullmatch(candidate)
    if match and 1 <= int(match.group(1)[2:]) <= 12:
        return f"{match.group(1)}.{match.group(2)}"
    match = _OLD_STYLE.fullmatch(candidate)
    if match:
        return f"{match.group(1)}/{match.group(2)}"
    raise InvalidPaperId(f"{text.strip()[:80]!r} is not an arXiv id or a paper URL")


def arxiv_order(paper_id: str) -> int:
    """An integer that sorts papers by arXiv submission order (newest largest).

    New-style ids encode year and month, so `2505.07787` becomes 20250507787. The search index
    uses this as its row id, which lets it walk the newest matches first without sorting.
    """
    match = _NEW_STYLE.fullmatch(paper_id)
    if match:
        yymm, number = match.group(1), int(match.group(2))
        return (2000_00 + int(yymm)) * 100_000 + number
    match = _OLD_STYLE.fullmatch(paper_id)
    if match:
        digits = match.group(2)
        yy, mm = int(digits[:2]), int(digits[2:4])
        year = 1900 + yy if yy >= 91 else 2000 + yy
        # Old ids repeat numbers across archives; a checksum of the archive keeps them apart.
        archive = zlib.crc32(match.group(1).encode()) % 100
        return (year * 100 + mm) * 100_000 + archive * 1000 + int(digits[4:]) % 1000
    raise InvalidPaperId(f"{paper_id!r} is not a canonical arXiv id")


def hf_paper_url(paper_id: str) -> str:
    return f"https://huggingface.co/papers/{paper_id}"


def arxiv_abs_url(paper_id: str) -> str:
    return f"https://arxiv.org/abs/{paper_id}"


def arxiv_pdf_url(paper_id: str) -> str:
    return f"https://arxiv.org/pdf/{paper_id}"


_LINK_SEPARATORS = re.compile(r"[\s<>|()\[\],;\"']+")


def paper_ids_in(text: str) -> list[str]:
    """The arXiv papers a message names, in order, once each: bare ids and arxiv.org or
    huggingface.co links among its words (Slack wraps links as `<url|label>`)."""
    found: list[str] = []
    for word in _LINK_SEPARATORS.split(text):
        try:
            paper_id = normalize_paper_id(word.rstrip(".!?:"))
        except InvalidPaperId:
            continue
        if paper_id not in found:
            found.append(paper_id)
    return found
