"""Papers as BibTeX (`/paper export bibtex`): one @misc entry each, as arXiv's own export.

Every field is braced, and the characters BibTeX or LaTeX read as syntax are escaped, so a
title such as `{}\\end{document}` or `100% & $x_1$` stays text. Keys are
`<first author's surname><year><first title word>`, made unique with a, b, c…
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from bot.types import Paper

_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    # BibTeX counts braces even after a backslash: `\{` would leave one open.
    "{": r"\textbraceleft{}",
    "}": r"\textbraceright{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_SPECIAL = re.compile("|".join(re.escape(char) for char in _LATEX_SPECIAL))
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_AND = re.compile(r"\band\b", re.IGNORECASE)
_STOP_WORDS = {"a", "an", "the", "on", "of", "in", "for", "to", "and", "with", "is", "are", "do", "does"}


def escape(text: str) -> str:
    """Plain text as a BibTeX field's value: syntax escaped, control characters and line
    breaks as single spaces."""
    flat = " ".join(_CONTROL.sub(" ", text).split())
    return _SPECIAL.sub(lambda match: _LATEX_SPECIAL[match.group(0)], flat)


def _author(name: str) -> str:
    """One author; a name with the word "and" in it is braced, or BibTeX would split it."""
    escaped = escape(name)
    return f"{{{escaped}}}" if _AND.search(escaped) else escaped


def _ascii_word(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", folded.lower())


def _year(paper: Paper) -> str:
    if paper.published:
        return str(paper.published.year)
    return f"20{paper.id[:2]}" if re.match(r"^\d{4}\.", paper.id) else ""


def entry_key(paper: Paper) -> str:
    surname = _ascii_word(paper.authors[0].split()[-1]) if paper.authors and paper.authors[0].split() else ""
    words = [_ascii_word(word) for word in paper.title.split()]
    first = next((word for word in words if word and word not in _STOP_WORDS), "")
    key = f"{surname}{_year(paper)}{first}"
    return key if surname or first else "arxiv" + _ascii_word(paper.id)


def entry(paper: Paper, key: str) -> str:
    fields = [
        ("title", escape(paper.title)),
        ("author", " and ".join(_author(name) for name in paper.authors if name.strip())),
        ("year", _year(paper)),
        ("eprint", escape(paper.id)),
        ("archivePrefix", "arXiv"),
        ("url", escape(paper.arxiv_url)),
    ]
    body = ",\n".join(f"  {name} = {{{value}}}" for name, value in fields if value)
    return f"@misc{{{key},\n{body}\n}}\n"


def bibliography(papers: Sequence[Paper]) -> str:
    """Entries in the order given, each key used once."""
    used: set[str] = set()
    entries = []
    for paper in papers:
        base = key = entry_key(paper)
        suffix = 0
        while key in used:
            key = base + _suffix(suffix)
            suffix += 1
        used.add(key)
        entries.append(entry(paper, key))
    return "\n".join(entries)


def _suffix(number: int) -> str:
    """a, b, …, z, aa, ab, …"""
    letters = ""
    number += 1
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(ord("a") + rest) + letters
    return letters
