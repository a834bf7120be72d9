"""The core's shared vocabulary: small immutable types that never carry HF or platform fields."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from bot.ids import arxiv_abs_url, arxiv_pdf_url, hf_paper_url


@dataclass(frozen=True, slots=True)
class Paper:
    """One paper as paperboy knows it, keyed by its bare arXiv id."""

    id: str
    title: str
    abstract: str = ""
    authors: tuple[str, ...] = ()
    organization: str | None = None  # display name, e.g. "Google DeepMind"
    organization_slug: str | None = None  # HF org name, e.g. "google"
    published: dt.date | None = None  # arXiv publication date
    # None: the source did not say (the store then keeps what it had); stored papers always
    # have both.
    upvotes: int | None = 0
    comments: int | None = 0
    github_repo: str | None = None
    github_stars: int | None = None
    project_page: str | None = None
    ai_summary: str | None = None
    ai_keywords: tuple[str, ...] = ()
    thumbnail: str | None = None
    first_seen: dt.datetime | None = None
    last_refreshed: dt.datetime | None = None

    @property
    def url(self) -> str:
        return hf_paper_url(self.id)

    @property
    def arxiv_url(self) -> str:
        return arxiv_abs_url(self.id)

    @property
    def pdf_url(self) -> str:
        return arxiv_pdf_url(self.id)


@dataclass(frozen=True, slots=True)
class DailyList:
    """The papers that were on one UTC day's Daily Papers list, best rank first."""

    day: dt.date
    papers: tuple[Paper, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class SearchResults:
    """What a search gives back: papers, best first, or a message saying why there are none."""

    papers: tuple[Paper, ...] = ()
    message: str | None = None
    truncated_candidates: bool = False  # the query was broad; ranking used the newest matches
    by_meaning: frozenset[str] = frozenset()  # ids found by meaning, not by the query's words
    some_words: frozenset[str] = frozenset()  # ids with some of the query's words, not all


@dataclass(frozen=True, slots=True)
class FetchReport:
    """What one ingest run did."""

    days: int = 0
    papers: int = 0
    new_papers: int = 0
    empty_days: tuple[dt.date, ...] = ()
    skipped_items: int = 0


@dataclass(frozen=True, slots=True)
class Alert:
    """New papers for one of a user's saved searches (`query` as they typed it), best first."""

    query: str
    papers: tuple[Paper, ...]
    by_meaning: frozenset[str] = frozenset()  # ids matched by meaning, not by the search's words


# --- chat vocabulary: what adapters translate to and from -----------------------------------


@dataclass(frozen=True, slots=True)
class ChannelRef:
    """A place to post: platform ("slack", "discord", "console"), community (Slack workspace or
    Discord guild) and channel id, all opaque strings."""

    platform: str
    community: str
    channel: str


def channel_key(channel: ChannelRef) -> str:
    """One string for a channel, for job ids and per-channel locks."""
    return f"{channel.platform}:{channel.community}:{channel.channel}"


@dataclass(frozen=True, slots=True)
class UserRef:
    platform: str
    community: str
    user: str


@dataclass(frozen=True, slots=True)
class PostRef:
    """Where a message went: its channel plus the platform's message id (a Slack ts, a Discord
    snowflake). `thread` is set when it was posted in a thread under another message."""

    channel: ChannelRef
    message_id: str
    thread: str | None = None


@dataclass(frozen=True, slots=True)
class Link:
    label: str
    url: str


@dataclass(frozen=True, slots=True)
class Action:
    """A button on a card or a list: pressing it runs `/paper <command> <args>` for whoever
    pressed it, answered to them alone. Adapters show it as the platform's button (Slack Block
    Kit, Discord components); the console shows the command to type."""

    command: str
    args: str
    label: str

    @property
    def text(self) -> str:
        return f"/paper {self.command} {self.args}".strip()


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file a reply carries (a BibTeX export): uploaded by Slack and Discord, written by the
    console."""

    filename: str
    content: bytes
    mime: str = "text/plain"


@dataclass(frozen=True, slots=True)
class Post:
    """A paper card. Every text field is plain, unescaped text: adapters escape and mark it up."""

    paper_id: str
    title: str
    link: str
    authors: str
    organization: str | None
    upvotes: int
    comments: int
    summary: str
    links: tuple[Link, ...]
    thumbnail: str | None = None
    published: dt.date | None = None
    actions: tuple[Action, ...] = ()
    votes: int | None = None  # this community's 👍 count, shown on digest cards once there is one


@dataclass(frozen=True, slots=True)
class Notice:
    """A plain text message, such as a digest header."""

    text: str


@dataclass(frozen=True, slots=True)
class ListItem:
    """One line of a list reply: a linked title and a short detail."""

    title: str
    url: str
    detail: str
    paper_id: str | None = None  # the paper it is, for the actions a list offers on each item
    actions: tuple[Action, ...] = ()


@dataclass(frozen=True, slots=True)
class Reply:
    """The core's answer to a command. `text` is plain; `items` a list, `posts` full cards;
    `more` the button that shows the next page; `attachment` a file to send with it."""

    text: str
    items: tuple[ListItem, ...] = ()
    posts: tuple[Post, ...] = ()
    ephemeral: bool = True
    ok: bool = True
    more: Action | None = None
    attachment: Attachment | None = None


@dataclass(frozen=True, slots=True)
class Command:
    """`/paper <name> <args>` from anyone on any platform. `can_manage`: the caller may change
    this channel's digest, as the platform told the adapter (Discord's Manage Channels, a Slack
    workspace admin); adapters fill it in before the core sees the command."""

    name: str
    args: str
    user: UserRef
    channel: ChannelRef
    can_manage: bool = False


@dataclass(frozen=True, slots=True)
class Reaction:
    """A reaction added to or removed from a message, as the platform reported it."""

    post: PostRef
    user: UserRef
    emoji: str
    added: bool
    by_bot: bool = False  # the reacting user is this bot itself
    event_id: str | None = None  # the platform's delivery id, when it retries deliveries


@dataclass(frozen=True, slots=True)
class Vote:
    """A reaction the core counted: for `paper_id` in `community`, `kind` "up" or "down".
    `changed` is False for a repeat: a reaction already counted, or removed when there was none."""

    paper_id: str
    community: str
    kind: str
    added: bool
    changed: bool = True
