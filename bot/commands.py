"""`/paper …`: one grammar for every platform, parsed and answered here.

Adapters turn a slash command into a `Command` (Slack passes its text; Discord joins its typed
options into the same text) and render the `Reply`. Unknown or malformed input gets a short
usage line, never a traceback.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from dataclasses import dataclass

from bot.cards import authors_line, cut_at_word, day_label, paper_actions, paper_card
from bot.digest_jobs import DigestSchedule
from bot.feeds import FEED_USAGE, DigestFeeds
from bot.follows import DuplicateSavedSearch, SavedSearches, TooManySavedSearches
from bot.hybrid import HybridSearch
from bot.lookups import PaperLookup
from bot.ports import Clock
from bot.post_calendar import next_post
from bot.publishers import Publishers
from bot.query import QueryError, clean_text, parse_query, tokens
from bot.questions import answer as answer_question
from bot.reading_commands import EXPORT_USAGE, READING_COMMANDS, ReadingCommands, paper_named
from bot.semantic import SemanticIndex
from bot.store import PaperStore
from bot.subscriptions import MAX_SIZE, TASTE, UPVOTES, Subscription, SubscriptionStore, resolve_timezone
from bot.taste import MIN_VOTES, Tastes
from bot.types import Action, ChannelRef, Command, ListItem, Paper, Reply, SearchResults
from bot.votes import PERIODS, VoteBook

USAGE = (
    "Usage: /paper search QUERY · show ID · abstract ID · similar ID · save ID · saved · unsave ID · "
    f"{EXPORT_USAGE} · recommend · today · top [week|month|all] · "
    "digest here [HH:MM] [TIMEZONE] [top N] [min-upvotes N] [+word] [-word] [flat] [rank taste] · "
    f"digest off · digest status · {FEED_USAGE} · follow QUERY · unfollow N · following · help"
)
HELP = """paperboy brings Hugging Face Daily Papers here.

/paper search QUERY: search the archive by words and by meaning: describe what you remember,
    or use "exact phrase", -exclude, author:NAME, org:NAME, since:YYYY-MM-DD,
    until:YYYY-MM-DD, has:code
/paper show ID_OR_URL: one paper (arXiv id, arxiv.org or huggingface.co link)
/paper ask QUESTION: the papers that best fit a question (also: mention the bot with it)
/paper abstract ID_OR_URL: one paper's full abstract
/paper similar ID_OR_URL: the papers nearest in meaning to one paper
/paper save ID_OR_URL: keep a paper in your reading list (again: take it out);
    /paper saved lists it, /paper unsave ID removes one
/paper export bibtex [saved | top week|month|all | search QUERY]: a .bib file of your
    reading list, this team's most-voted papers or a search
/paper recommend: recent papers this team has not voted on, most like what it votes 👍 first
/paper today: the newest Daily Papers list
/paper top [week|month|all]: this team's most-voted papers, by the votes cast in the last 7
    days, 30 days or ever (react 👍 on a posted paper to vote for it, 👎 for "not interested")
/paper digest here [HH:MM] [TIMEZONE] [top N] [min-upvotes N] [+keyword] [-keyword] [flat]
    [rank taste]: post the daily list in this channel on weekdays (default 09:00 UTC, top 10,
    in a thread; "flat" posts straight into the channel; "rank taste" orders it by what this
    team votes 👍). Channel managers only.
/paper digest off: stop this channel's digest. Channel managers only.
/paper digest status: when the next digest comes and why a day had none
/paper digest feed: this channel's digest as an Atom feed for feed readers (reset: a new
    address, the old one stops working; channel managers only)
/paper follow QUERY: get a direct message when new papers match QUERY
/paper following, /paper unfollow N: your saved searches"""

# Every command name the router answers (metrics count any other as "unknown").
COMMAND_NAMES = frozenset(
    {"help", "search", "page", "ask", "question", "show", "similar", "more", "recommend", "recommended"}
    | {"foryou", "today", "top", "digest", "follow", "unfollow", "following"}
    | set(READING_COMMANDS)
)
SEARCH_RESULTS = 10
SEARCH_PAGES = 5  # "More" shows up to 50 results; past that, a narrower search finds more
RECOMMEND_CANDIDATES = 300  # the newest papers a recommendation is chosen from
RELATED = "related by meaning"  # a result the query's words alone would not have found
SOME_WORDS = "some of the words"
FOR_THIS_TEAM = "for this team"
TODAY_SIZE = 10
TOP_SIZE = 10
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def parse_command(text: str) -> tuple[str, str]:
    """`"search  diffusion models"` → `("search", "diffusion models")`; a leading /paper is ok."""
    stripped = text.strip()
    if stripped.lower().startswith("/paper"):
        stripped = stripped[len("/paper") :].strip()
    name, _, rest = stripped.partition(" ")
    return name.lower(), rest.strip()


def changes_a_digest(name: str, args: str) -> bool:
    """Whether the command needs the caller's right to manage the channel (`Command.can_manage`):
    adapters whose platform must be asked (Slack's users.info) ask only for these."""
    words = args.lower().split()
    return name == "digest" and (words[:1] in (["here"], ["off"]) or words[:2] == ["feed", "reset"])


class UsageError(ValueError):
    pass


MAX_NUMBER = 100_000  # beyond any upvote count or list position; keeps numbers in an INTEGER


def _small_number(word: str) -> int | None:
    """A plain 0-9 number up to MAX_NUMBER (str.isdigit also accepts "²", which int() refuses)."""
    if not (word.isascii() and word.isdigit()) or len(word) > len(str(MAX_NUMBER)):
        return None
    number = int(word)
    return number if number <= MAX_NUMBER else None


def _keyword(word: str) -> str:
    """A +/- digest filter word, refused when it has nothing a paper's words could match."""
    if not tokens(word):
        raise UsageError(
            f"{cut_at_word(word, 40)!r} has no letters, digits or emoji to match; use a word such as +agents."
        )
    return word


def parse_digest_options(args: str, base: Subscription) -> Subscription:
    """Apply `digest here` options to `base`; unmentioned options keep their values."""
    words = args.split()
    changes: dict[str, object] = {}
    include = list(base.include_keywords)
    exclude = list(base.exclude_keywords)
    index = 0
    while index < len(words):
        word = words[index]
        lowered = word.lower()
        if match := _TIME.match(word):
            changes["post_time"] = dt.time(int(match.group(1)), int(match.group(2)))
        elif lowered in {"top", "size", "min-upvotes", "min_upvotes", "minupvotes"}:
            number = _small_number(words[index + 1]) if index + 1 < len(words) else None
            if number is None:
                raise UsageError(f"{word} needs a number, e.g. `{lowered} 5`.")
            index += 1
            if lowered in {"top", "size"}:
                if not 1 <= number <= MAX_SIZE:
                    raise UsageError(f"top must be between 1 and {MAX_SIZE}.")
                changes["size"] = number
            else:
                changes["min_upvotes"] = number
        elif lowered in {"rank", "ranking", "order"}:
            wanted = words[index + 1].lower() if index + 1 < len(words) else ""
            if wanted not in {TASTE, UPVOTES, "votes"}:
                raise UsageError("rank takes taste (this channel's votes) or upvotes, e.g. `rank taste`.")
            changes["ranking"] = UPVOTES if wanted == UPVOTES else TASTE
            index += 1
        elif lowered in {"flat", "no-thread", "nothread", "channel"}:
            changes["threaded"] = False
        elif lowered in {"thread", "threaded"}:
            changes["threaded"] = True
        elif word.startswith(("+", "include:")) and len(word) > 1:
            include.append(_keyword(word.split(":", 1)[1] if word.startswith("include:") else word[1:]))
        elif word.startswith(("-", "exclude:")) and len(word) > 1:
            exclude.append(_keyword(word.split(":", 1)[1] if word.startswith("exclude:") else word[1:]))
        elif zone := resolve_timezone(word):
            changes["timezone"] = zone
        elif "/" in word or word.isalpha():
            raise UsageError(
                f"Unknown timezone or option {cut_at_word(word, 40)!r}. "
                "Use an IANA name such as Europe/Berlin or America/New_York."
            )
        else:
            raise UsageError(f"Unknown option {cut_at_word(word, 40)!r}. Time is HH:MM, e.g. 08:30.")
        index += 1
    if len(include) > 20 or len(exclude) > 20:
        raise UsageError("Use at most 20 include and 20 exclude keywords.")
    changes["include_keywords"] = tuple(dict.fromkeys(include))
    changes["exclude_keywords"] = tuple(dict.fromkeys(exclude))
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def describe(sub: Subscription) -> str:
    parts = [f"{sub.post_time:%H:%M} {sub.timezone} on weekdays", f"top {sub.size}"]
    if sub.min_upvotes:
        parts.append(f"at least {sub.min_upvotes} upvotes")
    if sub.include_keywords:
        parts.append("only " + ", ".join(sub.include_keywords))
    if sub.exclude_keywords:
        parts.append("without " + ", ".join(sub.exclude_keywords))
    if sub.ranking == TASTE:
        parts.append(f"ranked by this channel's votes (by upvotes until it has cast {MIN_VOTES})")
    parts.append("papers in a thread under the header" if sub.threaded else "papers straight in the channel")
    return ", ".join(parts)


def next_post_line(sub: Subscription, now: dt.datetime) -> str:
    """When the next post goes out and which list it carries, as the digest job will post it.

    A list awaited because Hugging Face answered it empty goes out whenever papers appear: the
    next post announced is the one after it.
    """
    posted = max(filter(None, (sub.last_posted_day, *sub.awaited_days)), default=None)
    post = next_post(sub.post_time, sub.zone, now, last_posted_day=posted)
    listed = f"with {day_label(post.list_day)}'s list"
    if post.at <= now:
        return f"Next post: due now, {listed} (within a few minutes)"
    why = " when it closes" if post.at > post.slot else ""
    return f"Next post: {_when(post.at.astimezone(sub.zone))}, {listed}{why}"


def _when(moment: dt.datetime) -> str:
    return f"{day_label(moment.date())} {moment:%H:%M} {moment.tzname()}"


def paper_item(paper: Paper, detail_prefix: str = "") -> ListItem:
    facts = [detail_prefix] if detail_prefix else []
    facts.append(f"▲ {paper.upvotes}")
    if paper.published:
        facts.append(paper.published.isoformat())
    if paper.authors:
        facts.append(authors_line(paper.authors))
    return ListItem(
        title=cut_at_word(paper.title, 200),
        url=paper.url,
        detail=" · ".join(facts),
        paper_id=paper.id,
        actions=paper_actions(paper.id),
    )


def why_found(paper_id: str, results: SearchResults) -> str:
    """Said before a result that does not have every word of the query, so it is no surprise."""
    if paper_id in results.by_meaning:
        return RELATED
    return SOME_WORDS if paper_id in results.some_words else ""


@dataclass
class CommandRouter:
    store: PaperStore
    search: HybridSearch
    subscriptions: SubscriptionStore
    votes: VoteBook
    follows: SavedSearches
    clock: Clock
    papers: PaperLookup
    schedule: DigestSchedule  # a digest changed here is rescheduled there
    publishers: Publishers  # who may manage a digest, as each platform's users know them
    reading: ReadingCommands
    feeds: DigestFeeds
    semantic: SemanticIndex | None = None  # None: search by meaning is off (PAPERBOY_SEMANTIC)
    tastes: Tastes | None = None

    async def handle(self, command: Command) -> Reply:
        name = command.name.lower()
        # Control characters (NUL, terminal escapes) mean nothing in a command and PostgreSQL
        # refuses NUL in text; they become spaces before anything is parsed or stored.
        args = clean_text(command.args).strip()
        try:
            if name in {"", "help"}:
                return Reply(HELP)
            if name == "search":
                return await self.do_search(args)
            if name == "page":  # a search's More button: `page N QUERY`
                return await self.do_page(args)
            if name in {"ask", "question"}:
                return await answer_question(args, self.search, self.papers)
            if name in READING_COMMANDS:
                return await self.reading.handle(command, name, args)
            if name == "show":
                return await self.do_show(args)
            if name in {"similar", "more"}:
                return await self.do_similar(args)
            if name in {"recommend", "recommended", "foryou"}:
                return await self.do_recommend(command)
            if name == "today":
                return await self.do_today()
            if name == "top":
                return await self.do_top(command, args)
            if name == "digest":
                return await self.do_digest(command, args)
            if name == "follow":
                return await self.do_follow(command, args)
            if name == "unfollow":
                return await self.do_unfollow(command, args)
            if name == "following":
                return await self.do_following(command)
        except UsageError as exc:
            return Reply(f"{exc}\n{USAGE}", ok=False)
        return Reply(f"Unknown command {cut_at_word(name, 40)!r}.\n{USAGE}", ok=False)

    async def do_search(self, args: str, *, page: int = 1) -> Reply:
        if not args:
            raise UsageError("What should I search for? e.g. /paper search diffusion has:code")
        try:
            query = parse_query(args)
        except QueryError as exc:
            return Reply(str(exc), ok=False)
        skip = (page - 1) * SEARCH_RESULTS
        # One more than the page shows: whether a next page exists.
        results = await self.search.search(query, limit=skip + SEARCH_RESULTS + 1)
        shown = results.papers[skip : skip + SEARCH_RESULTS]
        echo = cut_at_word(" ".join(args.split()), 100)
        if not shown:
            if page > 1:
                return Reply(f"No more results for: {echo}")
            return Reply(f"{results.message} (searched for: {echo})")
        found = len(shown)
        if page > 1:
            heading = f"Results {skip + 1}-{skip + found} for: {echo}"
        else:
            heading = f"{found} best matches for: {echo}" if found > 1 else f"1 match for: {echo}"
        if results.truncated_candidates:
            heading += (
                " (a broad query: ranked among the newest matches; add words or since:/until: to narrow it)"
            )
        items = tuple(paper_item(paper, why_found(paper.id, results)) for paper in shown)
        more = None
        if len(results.papers) > skip + SEARCH_RESULTS and page < SEARCH_PAGES:
            more = Action("page", f"{page + 1} {' '.join(args.split())}", "More results")
        return Reply(heading, items=items, more=more)

    async def do_page(self, args: str) -> Reply:
        number, _, query = args.partition(" ")
        page = _small_number(number)
        if page is None or page < 1 or not query.strip():
            raise UsageError("page takes a page number and the search, e.g. /paper page 2 diffusion")
        if page > SEARCH_PAGES:
            return Reply(
                f"Searches show their {SEARCH_PAGES * SEARCH_RESULTS} best results; add words, "
                "since: or until: to find others.",
                ok=False,
            )
        return await self.do_search(query.strip(), page=page)

    async def do_recommend(self, command: Command) -> Reply:
        if self.tastes is None:
            return Reply(
                "Recommendations need search by meaning, turned off here (PAPERBOY_SEMANTIC=off).", ok=False
            )
        platform, community = command.channel.platform, command.channel.community
        recent = await self.search.lexical.newest(RECOMMEND_CANDIDATES)
        if not recent:
            return Reply("No papers are stored yet. Try again after the first fetch.")
        taste = await self.tastes.of(platform, community)
        if taste.direction is None:
            by_upvotes = sorted(recent, key=lambda paper: -(paper.upvotes or 0))[:SEARCH_RESULTS]
            return Reply(
                f"Recommendations learn from this team's 👍 and 👎 on posted papers: {taste.votes} of "
                f"{MIN_VOTES} votes so far. Meanwhile, the newest papers by Hugging Face upvotes:",
                items=tuple(paper_item(paper) for paper in by_upvotes),
            )
        papers = {paper.id: paper for paper in recent if paper.id not in taste.voted}
        ranked = self.tastes.rank(taste, list(papers))[:SEARCH_RESULTS]
        items = tuple(paper_item(papers[paper_id], FOR_THIS_TEAM) for paper_id, _score in ranked)
        if not items:
            return Reply("This team has voted on every recent paper already.")
        return Reply(f"Recent papers for this team, learned from its {taste.votes} votes:", items=items)

    async def do_similar(self, args: str) -> Reply:
        if not args:
            raise UsageError("Similar to which paper? e.g. /paper similar 2505.07787")
        if self.semantic is None:
            return Reply("Search by meaning is turned off here (PAPERBOY_SEMANTIC=off).", ok=False)
        paper = await paper_named(self.papers, args)
        if isinstance(paper, Reply):
            return paper
        nearest = await self.semantic.similar_to(paper, SEARCH_RESULTS)
        found = await self.store.get_papers([other for other, _ in nearest])
        items = tuple(
            paper_item(found[other], f"{score:.0%} alike") for other, score in nearest if other in found
        )
        if not items:
            return Reply(f"No other papers in the archive to compare with {paper.id} yet.")
        return Reply(f"Papers like {cut_at_word(paper.title, 100)}", items=items)

    async def do_show(self, args: str) -> Reply:
        if not args:
            raise UsageError("Which paper? e.g. /paper show 2505.07787 or an arxiv.org link")
        paper = await paper_named(self.papers, args)
        return paper if isinstance(paper, Reply) else Reply("", posts=(paper_card(paper),))

    async def do_today(self) -> Reply:
        day = await self.store.latest_listed_day()
        if day is None:
            return Reply(
                "No Daily Papers lists are stored yet: the first fetch from Hugging Face is still "
                "running, or could not reach it (the next refresh tries again)."
            )
        papers, listed = await self.store.most_upvoted(day, TODAY_SIZE)
        heading = f"Daily Papers · {day_label(day)} · {len(papers)} of {listed}"
        if not listed:
            heading = f"Daily Papers · {day_label(day)} · no papers on the list"
        return Reply(heading, items=tuple(paper_item(paper) for paper in papers))

    async def do_top(self, command: Command, args: str) -> Reply:
        period = (args.split() or ["week"])[0].lower()
        if period not in PERIODS:
            raise UsageError("top takes week, month or all.")
        days = PERIODS[period]
        # "week" is the votes cast in the last 7 days, whatever day's list the paper was on.
        since = self.clock.now() - dt.timedelta(days=days) if days else None
        channel = command.channel
        tallies = await self.votes.top(channel.platform, channel.community, cast_since=since, limit=TOP_SIZE)
        label = {"week": "in the last 7 days", "month": "in the last 30 days", "all": "of all time"}[period]
        if not tallies:
            return Reply(f"No votes {label} yet. React 👍 on a paper the bot posted to vote for it.")
        papers = await self.store.get_papers([tally.paper_id for tally in tallies])
        items = []
        for tally in tallies:
            if (paper := papers.get(tally.paper_id)) is None:
                continue
            votes = f"👍 {tally.up}" + (f" · 👎 {tally.down}" if tally.down else "")
            items.append(paper_item(paper, votes))
        return Reply(f"This team's most-voted papers {label}", items=tuple(items))

    async def do_digest(self, command: Command, args: str) -> Reply:
        action, _, options = args.partition(" ")
        action = action.lower()
        if action == "status":
            return await self.digest_status(command.channel)
        if action not in {"here", "off", "feed"}:
            raise UsageError("digest takes here, off, status or feed.")
        if action == "feed" and options.strip().lower() != "reset":
            return await self.feeds.handle(command, options)
        if not command.can_manage:
            publisher = self.publishers.get(command.channel.platform)
            who = publisher.who_manages if publisher else "channel managers"
            return Reply(f"Only {who} can change this channel's digest.", ok=False)
        if action == "feed":
            return await self.feeds.handle(command, options)
        if action == "off":
            removed = await self.subscriptions.delete(command.channel)
            await self.schedule.subscription_changed(command.channel, None)
            text = "Daily digest off for this channel." if removed else "This channel had no digest."
            return Reply(text, ephemeral=False)
        existing = await self.subscriptions.get(command.channel)
        wanted = parse_digest_options(options, existing or Subscription(channel=command.channel))
        saved = await self.subscriptions.save(wanted, now=self.clock.now())
        await self.schedule.subscription_changed(command.channel, saved)
        text = f"Daily digest {'updated' if existing else 'on'} for this channel: {describe(saved)}."
        text += f" {next_post_line(saved, self.clock.now())}."
        return Reply(text, ephemeral=False)

    async def digest_status(self, channel: ChannelRef) -> Reply:
        sub = await self.subscriptions.get(channel)
        if sub is None:
            return Reply(
                "No digest in this channel. A channel manager can start one with /paper digest here."
            )
        now = self.clock.now()
        lines = [f"Daily digest: {describe(sub)}."]
        if sub.paused_reason:
            lines.append(f"Paused: {sub.paused_reason}")
        else:
            for awaited in sub.awaited_days:
                lines.append(
                    f"Waiting for {day_label(awaited)}'s list: Hugging Face's list is empty so "
                    "far; it goes out here when papers appear."
                )
            lines.append(f"{next_post_line(sub, now)}.")
        if sub.last_posted_day and sub.last_posted_at:
            posted = sub.last_posted_at.astimezone(sub.zone)
            lines.append(f"Last post: {day_label(sub.last_posted_day)}'s list, posted {_when(posted)}.")
        else:
            lines.append("Last post: none yet.")
        if sub.last_note and sub.last_run_at:
            lines.append(f"Last run ({_when(sub.last_run_at.astimezone(sub.zone))}): {sub.last_note}")
        local_today = now.astimezone(sub.zone).date()
        if local_today.weekday() >= 5:
            lines.append(
                "No digests on Saturdays and Sundays: Hugging Face publishes no lists then; "
                "Monday's post carries Friday's list."
            )
        return Reply("\n".join(lines))

    async def do_follow(self, command: Command, args: str) -> Reply:
        if not args:
            raise UsageError("Follow what? e.g. /paper follow diffusion -survey")
        try:
            query = parse_query(args)
        except QueryError as exc:
            return Reply(str(exc), ok=False)
        if not query.has_text:
            return Reply("A saved search needs at least one word, author: or org:.", ok=False)
        try:
            number = await self.follows.add(command.user, " ".join(args.split()), now=self.clock.now())
        except TooManySavedSearches:
            return Reply("You already have 20 saved searches; /paper unfollow one first.", ok=False)
        except DuplicateSavedSearch as exc:
            return Reply(f"You already follow that search (#{exc.number} in /paper following).", ok=False)
        return Reply(
            f"Saved search #{number}: {cut_at_word(' '.join(args.split()), 200)}. "
            "You'll get a direct message when new papers match."
        )

    async def do_unfollow(self, command: Command, args: str) -> Reply:
        number = _small_number(args)
        if number is None:
            raise UsageError("unfollow takes the number /paper following shows, e.g. /paper unfollow 2")
        removed = await self.follows.remove(command.user, number)
        if removed is None:
            return Reply(f"You have no saved search #{args}. /paper following lists them.", ok=False)
        return Reply(f"Stopped following: {cut_at_word(removed, 200)}")

    async def do_following(self, command: Command) -> Reply:
        saved = await self.follows.of_user(command.user)
        if not saved:
            return Reply("You follow no searches. /paper follow QUERY saves one.")
        lines = [f"{number}. {cut_at_word(entry.query, 200)}" for number, entry in enumerate(saved, 1)]
        return Reply("Your saved searches:\n" + "\n".join(lines))
