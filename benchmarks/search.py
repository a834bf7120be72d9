"""Search and ingest benchmark on a synthetic archive: ranked FTS (bot.search) against LIKE.

    .venv/bin/python -m benchmarks.search                      # SQLite, 10^5 papers
    .venv/bin/python -m benchmarks.search --million            # SQLite, 10^6 papers
    .venv/bin/python -m benchmarks.search --postgres postgresql://postgres@127.0.0.1:5432/test
    .venv/bin/python -m benchmarks.search --cap 2000 --cap 1000 --cap 5000   # first cap is judged
    .venv/bin/python -m benchmarks.search --typographic 0.3   # 30% non-ASCII text, 3% emoji

The archive is generated from a seeded RNG (same seed, same papers): a Zipf vocabulary of
synthetic words, realistic title/abstract/author/keyword counts, and arXiv ids whose YYMM
matches the publication month. Papers go in through `PaperStore.upsert_papers` in batches;
queries go through `PaperSearch.search(parse_query(text))`, exactly as the bot runs them.
Query words are picked by their document frequency in the generated data, and the same words
are run as `LIKE '%word%'` over title and abstract for the baseline, in two forms (see
`like_sql`). A table goes to stdout and a JSON file to benchmarks/results/. See BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import calendar
import dataclasses
import datetime as dt
import itertools
import json
import multiprocessing
import os
import pickle
import platform
import random
import resource
import shutil
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db import create_engine, upgrade
from bot.query import parse_query, to_fts5, to_websearch
from bot.search import DEFAULT_CANDIDATE_CAP, PaperSearch
from bot.store import PaperStore
from bot.types import Paper

RESULTS_DIR = Path(__file__).with_name("results")
NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
FIRST_MONTH = (2023, 5)
LAST_MONTH = (2026, 11)
LIMIT = 10

# Word shapes chosen so that the stemmer (Porter's, on both databases) changes none of them:
# vocabulary words alternate consonant/vowel and end in "a" or "o"; names end in a consonant
# and use no "s" or "f", so a name can never stem into a vocabulary word.
_CONSONANTS = "bdghklmnprtvz"
_VOWELS = "aeiou"
_WORD_ENDINGS = "ao"
_NAME_CONSONANTS = "bdghklmnprtvz"
_NAME_ENDINGS = "nrkml"

TARGET_FAST_P95_MS = 5.0
TARGET_SPEEDUP = 20.0
TARGET_COMMON_P95_MS = 50.0
TARGET_INGEST_PER_S = 5_000.0


# --------------------------------------------------------------------------- synthetic archive


def _months() -> list[tuple[int, int]]:
    months: list[tuple[int, int]] = []
    year, month = FIRST_MONTH
    while (year, month) <= LAST_MONTH:
        months.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _split(total: int, weights: Sequence[float]) -> list[int]:
    """`total` split in proportion to `weights` (largest remainder, so the parts sum to total)."""
    scale = total / sum(weights)
    exact = [weight * scale for weight in weights]
    parts = [int(value) for value in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: exact[i] - parts[i], reverse=True)
    for index in by_remainder[: total - sum(parts)]:
        parts[index] += 1
    return parts


def _word(rng: random.Random, syllables: int) -> str:
    body = "".join(rng.choice(_CONSONANTS) + rng.choice(_VOWELS) for _ in range(syllables - 1))
    return body + rng.choice(_CONSONANTS) + rng.choice(_WORD_ENDINGS)


def _name(rng: random.Random, syllables: int) -> str:
    body = "".join(rng.choice(_NAME_CONSONANTS) + rng.choice(_VOWELS) for _ in range(syllables))
    return (body + rng.choice(_NAME_ENDINGS)).capitalize()


@dataclass(slots=True)
class CorpusStats:
    """What generation saw: document frequencies, the data the query terms are picked from."""

    doc_freq: list[int]  # per vocabulary rank: papers whose title/abstract/keywords hold the word
    bigram_freq: Counter[tuple[int, int]]  # adjacent frequent-word pairs, in a sample of papers
    bigram_sample: int  # papers in that sample

    def add(self, other: CorpusStats) -> None:
        self.doc_freq = [a + b for a, b in zip(self.doc_freq, other.doc_freq, strict=True)]
        self.bigram_freq.update(other.bigram_freq)
        self.bigram_sample += other.bigram_sample


class Corpus:
    """A deterministic synthetic archive: the same papers for the same seed and size.

    Each month is generated from its own seed, so months can be generated in parallel worker
    processes (`generate`) and still give identical papers; they are pickled to a scratch
    directory and replayed by `batches`, so generation is neither timed nor held in memory.
    """

    BIGRAM_RANKS = 300  # phrases are built from the most frequent words, like "language model"
    BIGRAM_SAMPLE = 5_000

    def __init__(
        self, papers: int, *, seed: int, vocabulary: int, exponent: float, typographic: float = 0.0
    ) -> None:
        self.papers = papers
        self.typographic = typographic
        self.seed = seed
        self.vocabulary = vocabulary
        self.exponent = exponent
        rng = random.Random(seed)
        words: set[str] = set()
        while len(words) < vocabulary:
            words.add(_word(rng, rng.choice((2, 3, 3, 4))))
        # Frequent words are short, as in real text; ties broken by the seeded RNG.
        ordered = sorted(words)
        rng.shuffle(ordered)
        self.words: list[str] = sorted(ordered, key=len)
        self.cum_weights = list(
            itertools.accumulate(1.0 / rank**exponent for rank in range(1, vocabulary + 1))
        )
        self._population = range(vocabulary)
        names: set[str] = set()
        while len(names) < 20_000:
            names.add(f"{_name(rng, rng.choice((1, 2)))} {_name(rng, rng.choice((2, 3)))}")
        self.authors = sorted(names)
        # ai_keywords: 1-3 word phrases of topical (mid-frequency) words.
        self.keywords: list[tuple[int, ...]] = [
            tuple(rng.randrange(100, 5_000) for _ in range(rng.choice((1, 2, 2, 3)))) for _ in range(5_000)
        ]
        self.orgs = sorted({_name(rng, 2) + " " + rng.choice(("Lab", "AI", "Research")) for _ in range(300)})
        months = _months()
        # More papers per month as time goes on (1x in 2023-05, 2.5x in 2026-11).
        weights = [1.0 + 1.5 * i / (len(months) - 1) for i in range(len(months))]
        self.per_month = list(zip(months, _split(papers, weights), strict=True))
        if max(count for _, count in self.per_month) > 99_999:
            raise SystemExit("too many papers per month for 5-digit arXiv numbers")
        self.sample_every = max(1, papers // self.BIGRAM_SAMPLE)
        self.stats: CorpusStats | None = None
        self.files: list[Path] = []

    def _tokens(self, rng: random.Random, count: int) -> list[int]:
        return rng.choices(self._population, cum_weights=self.cum_weights, k=count)

    def _sentences(self, rng: random.Random, tokens: list[int]) -> str:
        words = [self.words[index] for index in tokens]
        sentences: list[str] = []
        start = 0
        while start < len(words):
            end = start + rng.randint(12, 28)
            sentence = words[start:end]
            sentence[0] = sentence[0].capitalize()
            sentences.append(" ".join(sentence) + ".")
            start = end
        return " ".join(sentences)

    def month(self, index: int) -> tuple[list[Paper], CorpusStats]:
        """The papers of month `index`, in arXiv order, and their statistics."""
        (year, month), count = self.per_month[index]
        rng = random.Random(self.seed * 1_000 + index)
        doc_freq = [0] * len(self.words)
        bigrams: Counter[tuple[int, int]] = Counter()
        sampled = 0
        papers: list[Paper] = []
        days = sorted(rng.randint(1, calendar.monthrange(year, month)[1]) for _ in range(count))
        for number, day in enumerate(days, start=1):
            title_tokens = self._tokens(rng, rng.randint(8, 15))
            abstract_tokens = self._tokens(rng, rng.randint(150, 250))
            keywords = rng.sample(self.keywords, rng.randint(0, 8))
            seen = set(title_tokens)
            seen.update(abstract_tokens)
            for keyword in keywords:
                seen.update(keyword)
            for word in seen:
                doc_freq[word] += 1
            if number % self.sample_every == 0:
                sampled += 1
                limit = self.BIGRAM_RANKS
                bigrams.update(
                    {
                        (a, b)
                        for a, b in itertools.pairwise(abstract_tokens)
                        if a < limit and b < limit and a != b
                    }
                )
            has_code = rng.random() < 0.5
            owner = rng.choice(self.authors).split()[-1].lower()
            papers.append(
                Paper(
                    id=f"{year % 100:02d}{month:02d}.{number:05d}",
                    title=" ".join(self.words[word].capitalize() for word in title_tokens),
                    abstract=self._sentences(rng, abstract_tokens),
                    authors=tuple(rng.sample(self.authors, rng.randint(3, 12))),
                    organization=rng.choice(self.orgs) if rng.random() < 0.4 else None,
                    published=dt.date(year, month, day),
                    upvotes=int(rng.paretovariate(1.2)) - 1,
                    comments=rng.randint(0, 5),
                    github_repo=f"https://github.com/{owner}/{self.words[title_tokens[0]]}"
                    if has_code
                    else None,
                    github_stars=rng.randint(0, 3_000) if has_code else None,
                    project_page=f"https://{owner}.github.io/" if rng.random() < 0.2 else None,
                    # A one-sentence summary; drawn from the abstract's words to keep generation cheap.
                    ai_summary=self._sentences(rng, abstract_tokens[-rng.randint(20, 40) :]),
                    ai_keywords=tuple(" ".join(self.words[word] for word in keyword) for keyword in keywords),
                    thumbnail=f"https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{year}.png",
                )
            )
        if self.typographic:
            papers = self._typographic(index, papers)
        return papers, CorpusStats(doc_freq=doc_freq, bigram_freq=bigrams, bigram_sample=sampled)

    _PUNCTUATION = ("\u2019s", " \u2014", " \u201cso\u201d", " \u00d7")
    _EMOJI = (
        "\U0001f999",
        "\U0001f916",
        "\U0001f469\u200d\U0001f52c",
        "\U0001f44d\U0001f3fd",
        "\u2764\ufe0f",
    )

    def _typographic(self, index: int, papers: list[Paper]) -> list[Paper]:
        """A share of the papers with non-ASCII text as real abstracts have (curly quotes, dashes),
        and a tenth of those with an emoji in the title too. Drawn from an RNG of its own, so
        that the words, and the query terms picked from them, stay those of --typographic 0."""
        rng = random.Random(self.seed * 7_919 + index)
        out: list[Paper] = []
        for paper in papers:
            if rng.random() < self.typographic:
                words = paper.abstract.split(" ")
                spot = rng.randrange(len(words))
                words[spot] += rng.choice(self._PUNCTUATION)
                title = paper.title
                if rng.random() < 0.1:
                    title = f"{rng.choice(self._EMOJI)} {title}"
                paper = dataclasses.replace(paper, title=title, abstract=" ".join(words))
            out.append(paper)
        return out

    def generate(self, directory: Path, workers: int) -> None:
        """Generate every month into `directory` (one pickle per month) and fill `self.stats`."""
        directory.mkdir(parents=True, exist_ok=True)
        indices = range(len(self.per_month))
        jobs = [(index, directory / f"month-{index:03d}.pickle") for index in indices]
        stats = CorpusStats(doc_freq=[0] * len(self.words), bigram_freq=Counter(), bigram_sample=0)
        _WORKER["corpus"] = self
        if workers <= 1:
            parts = [_write_month(job) for job in jobs]
        else:
            context = multiprocessing.get_context("fork")  # workers inherit this Corpus
            with context.Pool(workers) as pool:
                parts = pool.map(_write_month, jobs, chunksize=1)
        for part in parts:
            stats.add(part)
        self.stats = stats
        self.files = [path for _, path in jobs]

    def batches(self, size: int) -> Iterator[list[Paper]]:
        """All papers in arXiv order, `size` at a time, read back from `generate`'s files."""
        pending: list[Paper] = []
        for path in self.files:
            with path.open("rb") as handle:
                while True:
                    try:
                        pending.extend(pickle.load(handle))  # our own scratch file
                    except EOFError:
                        break
                    while len(pending) >= size:
                        yield pending[:size]
                        pending = pending[size:]
        if pending:
            yield pending


_WORKER: dict[str, Corpus] = {}
_PICKLE_SLICE = 500


def _write_month(job: tuple[int, Path]) -> CorpusStats:
    index, path = job
    papers, stats = _WORKER["corpus"].month(index)
    with path.open("wb") as handle:  # in slices, so reading back never holds a whole month
        for start in range(0, len(papers), _PICKLE_SLICE):
            pickle.dump(papers[start : start + _PICKLE_SLICE], handle, protocol=pickle.HIGHEST_PROTOCOL)
    return stats


# --------------------------------------------------------------------------- query terms


@dataclass(frozen=True, slots=True)
class BenchQuery:
    kind: str  # rare | mid | common | two-word | phrase
    text: str  # as a user would type it
    like_terms: tuple[str, ...]  # every one must appear in title or abstract for the LIKE scan
    runs: int  # FTS repetitions


def _closest(candidates: Sequence[int], key: list[int], target: float, taken: set[int]) -> int:
    best = min((i for i in candidates if i not in taken), key=lambda i: (abs(key[i] - target), i))
    taken.add(best)
    return best


def pick_queries(corpus: Corpus, runs: int, common_runs: int) -> list[BenchQuery]:
    """Words by document frequency in the generated data, so every class is what it claims."""
    assert corpus.stats is not None
    df = corpus.stats.doc_freq
    n = corpus.papers
    words = corpus.words
    ranks = range(len(words))
    taken: set[int] = set()
    # Keyword phrases add words to documents, so only consider words the DF says are present.
    rare = sorted((i for i in ranks if df[i] > 0), key=lambda i: (df[i], i))[:3]
    taken.update(rare)
    mid_pool = [i for i in ranks if 0.005 * n <= df[i] <= 0.02 * n]
    mid = [_closest(mid_pool, df, share * n, taken) for share in (0.006, 0.01, 0.018)]
    common_pool = [i for i in ranks if df[i] >= 0.3 * n]
    common = [_closest(common_pool, df, share * n, taken) for share in (0.35, 0.6, 1.0)]
    queries = [BenchQuery("rare", words[i], (words[i],), runs) for i in rare]
    queries += [BenchQuery("mid", words[i], (words[i],), runs) for i in mid]
    queries += [BenchQuery("common", words[i], (words[i],), common_runs) for i in common]
    pair = (words[mid[1]], words[common[1]])
    queries.append(BenchQuery("two-word", " ".join(pair), pair, runs))
    # A phrase of two frequent words found in ~1% of the sampled abstracts ("language model").
    bigrams, sample = corpus.stats.bigram_freq, corpus.stats.bigram_sample
    first, second = min(bigrams, key=lambda pair: (abs(bigrams[pair] / sample - 0.01), pair))
    phrase = f"{words[first]} {words[second]}"
    queries.append(BenchQuery("phrase", f'"{phrase}"', (phrase,), common_runs))
    return queries


# --------------------------------------------------------------------------- measurement


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * share
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(slots=True)
class Timing:
    runs: int
    p50_ms: float
    p95_ms: float
    mean_ms: float
    max_ms: float

    @classmethod
    def of(cls, samples_ms: Sequence[float]) -> Timing:
        return cls(
            runs=len(samples_ms),
            p50_ms=round(percentile(samples_ms, 0.5), 3),
            p95_ms=round(percentile(samples_ms, 0.95), 3),
            mean_ms=round(statistics.fmean(samples_ms), 3),
            max_ms=round(max(samples_ms), 3),
        )


def probe_cpu_ms() -> float:
    """Median time of a fixed pure-Python loop: a yardstick for how fast the host is right now."""
    samples = []
    for _ in range(5):
        started = time.perf_counter()
        sum(range(2_000_000))
        samples.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(samples), 1)


def peak_rss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


@dataclass(slots=True)
class QueryResult:
    kind: str
    query: str
    hits: int
    fts: dict[str, Timing] = field(default_factory=dict)  # by candidate cap
    fts_samples: dict[str, list[float]] = field(default_factory=dict)
    truncated: dict[str, bool] = field(default_factory=dict)
    like: dict[str, Timing] = field(default_factory=dict)  # by LIKE variant (see LIKE_VARIANTS)
    like_samples: dict[str, list[float]] = field(default_factory=dict)
    uncapped: Timing | None = None
    uncapped_overlap: float | None = None  # share of the uncapped top 10 also in the default-cap top 10


@dataclass(slots=True)
class BackendResult:
    backend: str
    server_version: str
    papers: int
    ingest_s: float = 0.0
    ingest_papers_per_s: float = 0.0
    ingest_first_tenth_per_s: float = 0.0
    ingest_last_tenth_per_s: float = 0.0
    db_bytes: int = 0
    db_detail: dict[str, int] = field(default_factory=dict)
    rss_after_ingest_mib: float = 0.0
    rss_peak_mib: float = 0.0
    load_before: float = 0.0  # 1-minute load average: other work on the machine skews figures
    load_after: float = 0.0
    # The same fixed CPU-only loop, timed before ingest, before queries and at the end: this
    # VM's host speed drifts by up to 2x minute to minute, which load average does not show.
    cpu_probe_ms: list[float] = field(default_factory=list)
    queries: list[QueryResult] = field(default_factory=list)
    classes: dict[str, dict[str, Any]] = field(default_factory=dict)
    targets: dict[str, dict[str, Any]] = field(default_factory=dict)


async def ingest(engine: AsyncEngine, corpus: Corpus, batch_size: int, result: BackendResult) -> None:
    """Time only `upsert_papers`; reading the pre-generated papers back is not counted."""
    store = PaperStore(engine)
    per_batch: list[tuple[int, float]] = []
    for batch in corpus.batches(batch_size):
        before = time.perf_counter()
        await store.upsert_papers(batch, now=NOW)
        per_batch.append((len(batch), time.perf_counter() - before))
        if len(per_batch) % 100 == 0:
            done = sum(count for count, _ in per_batch)
            print(f"  {done:>9,} papers, {done / sum(s for _, s in per_batch):,.0f}/s", flush=True)
    total = sum(seconds for _, seconds in per_batch)
    tenth = max(1, len(per_batch) // 10)
    head, tail = per_batch[:tenth], per_batch[-tenth:]
    result.ingest_s = round(total, 2)
    result.ingest_papers_per_s = round(corpus.papers / total, 1)
    result.ingest_first_tenth_per_s = round(sum(c for c, _ in head) / sum(s for _, s in head), 1)
    result.ingest_last_tenth_per_s = round(sum(c for c, _ in tail) / sum(s for _, s in tail), 1)
    print(
        f"  ingested {corpus.papers:,} papers in {total:.1f} s ({result.ingest_papers_per_s:,.0f}/s)",
        flush=True,
    )


async def count_hits(engine: AsyncEngine, query: str) -> int:
    parsed = parse_query(query)
    if engine.dialect.name == "sqlite":
        sql = "SELECT count(*) FROM paper_fts WHERE paper_fts MATCH :q"
        params = {"q": to_fts5(parsed)}
    else:
        sql = "SELECT count(*) FROM papers WHERE search_tsv @@ websearch_to_tsquery('paperboy_english', :q)"
        params = {"q": to_websearch(parsed)}
    async with engine.connect() as conn:
        return int((await conn.execute(text(sql), params)).scalar_one())


async def time_fts(search: PaperSearch, query: str, runs: int) -> tuple[list[float], list[str], bool]:
    parsed = parse_query(query)
    results = await search.search(parsed, limit=LIMIT)  # warm-up, and the ids for the overlap check
    samples: list[float] = []
    for _ in range(runs):
        started = time.perf_counter()
        await search.search(parse_query(query), limit=LIMIT)
        samples.append((time.perf_counter() - started) * 1000)
    return samples, [paper.id for paper in results.papers], results.truncated_candidates


LIKE_VARIANTS = {
    "newest": "LIKE, newest 10 (published index walk, stops at 10 matches)",
    "scan": "LIKE, full scan (every row tested, then the newest 10)",
}


def like_sql(dialect: str, terms: Sequence[str], variant: str) -> tuple[str, dict[str, str]]:
    """The LIKE baseline: title or abstract contains every term; newest first.

    "newest" is the plain query: both databases walk ix_papers_published backwards and stop at
    the tenth match, so it is fast when matches are frequent and a full walk when they are rare.
    "scan" keeps the index out (SQLite `NOT INDEXED`; PostgreSQL `NULLS LAST`, an order the
    index cannot give), so every row is tested: the cost of any LIKE search that must see all
    matches, e.g. to rank or count them.
    """
    operator = "LIKE" if dialect == "sqlite" else "ILIKE"  # SQLite's LIKE ignores ASCII case
    clauses = [f"(title {operator} :t{i} OR abstract {operator} :t{i})" for i in range(len(terms))]
    source, order = "papers", "published DESC"
    if variant == "scan":
        source, order = (
            ("papers NOT INDEXED", order) if dialect == "sqlite" else (source, order + " NULLS LAST")
        )
    sql = f"SELECT id FROM {source} WHERE {' AND '.join(clauses)} ORDER BY {order} LIMIT {LIMIT}"
    return sql, {f"t{i}": f"%{term}%" for i, term in enumerate(terms)}


async def time_like(
    engine: AsyncEngine, terms: Sequence[str], variant: str, runs: int, budget_s: float
) -> list[float]:
    """`runs` timed runs, or fewer (at least 3) once `budget_s` is spent: scans take seconds."""
    sql, params = like_sql(engine.dialect.name, terms, variant)
    statement = text(sql)
    async with engine.connect() as conn:
        await conn.execute(statement, params)  # warm-up
    samples: list[float] = []
    spent = 0.0
    while len(samples) < runs and (len(samples) < 3 or spent < budget_s):
        started = time.perf_counter()
        async with engine.connect() as conn:
            (await conn.execute(statement, params)).all()
        elapsed = time.perf_counter() - started
        spent += elapsed
        samples.append(elapsed * 1000)
    return samples


def sqlite_size(path: Path) -> dict[str, int]:
    wal = path.with_name(path.name + "-wal")
    return {"file": path.stat().st_size, "wal": wal.stat().st_size if wal.exists() else 0}


def remove_sqlite_files(path: Path) -> None:
    for leftover in path.parent.glob(path.name + "*"):  # the database, -wal and -shm
        leftover.unlink()


async def database_size(engine: AsyncEngine, sqlite_path: Path | None) -> dict[str, int]:
    if sqlite_path is not None:
        return sqlite_size(sqlite_path)
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT pg_total_relation_size('papers'), pg_relation_size('papers'), "
                    "pg_indexes_size('papers')"
                )
            )
        ).one()
    return {"total_relation": int(row[0]), "heap": int(row[1]), "indexes": int(row[2])}


async def run_backend(
    name: str, url: str, sqlite_path: Path | None, corpus: Corpus, args: argparse.Namespace
) -> BackendResult:
    engine = create_engine(url)
    try:
        await upgrade(engine)
        async with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                version = str((await conn.execute(text("SELECT sqlite_version()"))).scalar_one())
            else:
                version = str((await conn.execute(text("SHOW server_version"))).scalar_one())
        result = BackendResult(backend=name, server_version=version, papers=corpus.papers)
        result.load_before = round(os.getloadavg()[0], 2)
        if result.load_before > 0.5:
            print(f"  warning: load average {result.load_before} before the run; figures may be skewed")
        print(
            f"\n== {name} {version}: ingesting {corpus.papers:,} papers in batches of {args.batch}",
            flush=True,
        )
        result.cpu_probe_ms.append(probe_cpu_ms())
        await ingest(engine, corpus, args.batch, result)
        result.rss_after_ingest_mib = peak_rss_mib()
        if engine.dialect.name == "postgresql":
            # What autovacuum would have done by now: planner statistics and a flushed GIN pending list.
            async with engine.connect() as conn:
                auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await auto.execute(text("VACUUM (ANALYZE) papers"))
        result.db_detail = await database_size(engine, sqlite_path)
        result.db_bytes = (
            next(iter(result.db_detail.values())) if sqlite_path is None else sum(result.db_detail.values())
        )
        print(f"  database size {result.db_bytes / 2**20:,.1f} MiB {result.db_detail}", flush=True)

        result.cpu_probe_ms.append(probe_cpu_ms())
        queries = pick_queries(corpus, args.runs, args.common_runs)
        caps: list[int] = args.cap
        default_cap = str(caps[0])
        for query in queries:
            entry = QueryResult(kind=query.kind, query=query.text, hits=await count_hits(engine, query.text))
            top_ids: list[str] = []
            for cap in caps:
                search = PaperSearch(engine, candidate_cap=cap)
                try:
                    samples, ids, truncated = await time_fts(search, query.text, query.runs)
                finally:
                    await search.aclose()
                entry.fts[str(cap)] = Timing.of(samples)
                entry.fts_samples[str(cap)] = samples
                entry.truncated[str(cap)] = truncated
                if str(cap) == default_cap:
                    top_ids = ids
            if query.kind in {"mid", "common", "two-word", "phrase"} and args.uncapped_runs > 0:
                uncapped = PaperSearch(engine, candidate_cap=max(corpus.papers, 1))
                try:
                    samples, ids, _ = await time_fts(uncapped, query.text, args.uncapped_runs)
                finally:
                    await uncapped.aclose()
                entry.uncapped = Timing.of(samples)
                entry.uncapped_overlap = round(len(set(ids) & set(top_ids)) / max(1, len(ids)), 2)
            for variant in LIKE_VARIANTS:
                like_samples = await time_like(
                    engine, query.like_terms, variant, args.like_runs, args.like_budget
                )
                entry.like[variant] = Timing.of(like_samples)
                entry.like_samples[variant] = like_samples
            result.queries.append(entry)
            fts = entry.fts[default_cap]
            print(
                f"  {query.kind:<9} {query.text!r:<24} hits {entry.hits:>8,}  "
                f"FTS p50 {fts.p50_ms:8.2f} p95 {fts.p95_ms:8.2f} ms   LIKE p50 "
                f"newest {entry.like['newest'].p50_ms:8.1f} scan {entry.like['scan'].p50_ms:8.1f} ms",
                flush=True,
            )
        summarize(result, caps)
        result.rss_peak_mib = peak_rss_mib()
        result.load_after = round(os.getloadavg()[0], 2)
        result.cpu_probe_ms.append(probe_cpu_ms())
        return result
    finally:
        await engine.dispose()


def summarize(result: BackendResult, caps: Sequence[int]) -> None:
    """Per class: pooled p50/p95 over every run of every query of that class, per cap."""
    for kind in ("rare", "mid", "common", "two-word", "phrase"):
        entries = [q for q in result.queries if q.kind == kind]
        likes = {v: Timing.of([s for q in entries for s in q.like_samples[v]]) for v in LIKE_VARIANTS}
        summary: dict[str, Any] = {
            "queries": [q.query for q in entries],
            "hits": [q.hits for q in entries],
            "hit_share": [round(q.hits / result.papers, 5) for q in entries],
            "like": {variant: asdict(timing) for variant, timing in likes.items()},
            "fts": {},
        }
        for cap in caps:
            timing = Timing.of([s for q in entries for s in q.fts_samples[str(cap)]])
            summary["fts"][str(cap)] = {
                **asdict(timing),
                "truncated": any(q.truncated[str(cap)] for q in entries),
                "speedup": {
                    variant: {
                        "p50": round(like.p50_ms / timing.p50_ms, 1),
                        "p95": round(like.p95_ms / timing.p95_ms, 1),
                    }
                    for variant, like in likes.items()
                },
            }
        uncapped = [q.uncapped for q in entries if q.uncapped is not None]
        if uncapped:
            summary["uncapped_p50_ms"] = [t.p50_ms for t in uncapped]
            summary["uncapped_overlap"] = [q.uncapped_overlap for q in entries]
        result.classes[kind] = summary
    first_cap = str(caps[0])
    fts = {kind: result.classes[kind]["fts"][first_cap] for kind in result.classes}
    for kind in ("rare", "mid"):
        result.targets[f"{kind} p95 <= {TARGET_FAST_P95_MS:g} ms"] = {
            "value": fts[kind]["p95_ms"],
            "met": fts[kind]["p95_ms"] <= TARGET_FAST_P95_MS,
        }
        for variant in LIKE_VARIANTS:
            speedup = fts[kind]["speedup"][variant]
            worst = min(speedup["p50"], speedup["p95"])
            result.targets[f"{kind} >= {TARGET_SPEEDUP:g}x LIKE {variant}"] = {
                "value": worst,
                "met": worst >= TARGET_SPEEDUP,
            }
    result.targets[f"common p95 < {TARGET_COMMON_P95_MS:g} ms"] = {
        "value": fts["common"]["p95_ms"],
        "met": fts["common"]["p95_ms"] < TARGET_COMMON_P95_MS,
    }
    result.targets[f"ingest >= {TARGET_INGEST_PER_S:,.0f} papers/s"] = {
        "value": result.ingest_papers_per_s,
        "met": result.ingest_papers_per_s >= TARGET_INGEST_PER_S,
    }


# --------------------------------------------------------------------------- report


def print_report(result: BackendResult, caps: Sequence[int]) -> None:
    mib = result.db_bytes / 2**20
    print(f"\n### {result.backend} {result.server_version}, {result.papers:,} papers")
    print(
        f"ingest {result.ingest_papers_per_s:,.0f} papers/s "
        f"(first tenth {result.ingest_first_tenth_per_s:,.0f}/s, "
        f"last tenth {result.ingest_last_tenth_per_s:,.0f}/s); DB {mib:,.1f} MiB; "
        f"peak RSS {result.rss_after_ingest_mib:,.0f} MiB after ingest, {result.rss_peak_mib:,.0f} MiB at end"
    )
    print(f"load average (1 min) before/after: {result.load_before} / {result.load_after}")
    probes = " / ".join(f"{ms:.1f}" for ms in result.cpu_probe_ms)
    print(f"CPU probe (ms, lower is a faster host) before ingest / before queries / end: {probes}")
    for variant, description in LIKE_VARIANTS.items():
        print(f"  LIKE {variant}: {description}")
    header = (
        f"{'class':<9} {'hits (share)':<24} {'cap':>6} {'FTS p50':>8} {'FTS p95':>8} "
        f"{'newest p50':>10} {'p95':>7} {'scan p50':>9} {'p95':>7} "
        f"{'x newest p50/p95':>17} {'x scan p50/p95':>15}"
    )
    print(header)
    print("-" * len(header))
    for kind, summary in result.classes.items():
        shares = "/".join(f"{share:.2%}" for share in summary["hit_share"])
        newest, scan = summary["like"]["newest"], summary["like"]["scan"]
        for index, cap in enumerate(caps):
            fts = summary["fts"][str(cap)]
            first = index == 0
            likes = " " * 36
            if first:
                likes = f"{newest['p50_ms']:10.1f} {newest['p95_ms']:7.1f} "
                likes += f"{scan['p50_ms']:9.1f} {scan['p95_ms']:7.1f}"
            speed = fts["speedup"]
            print(
                f"{kind if first else '':<9} {shares if first else '':<24} {cap:>6} "
                f"{fts['p50_ms']:8.2f} {fts['p95_ms']:8.2f} {likes} "
                f"{speed['newest']['p50']:>8.1f}/{speed['newest']['p95']:<8.1f} "
                f"{speed['scan']['p50']:>7.0f}/{speed['scan']['p95']:<7.0f}"
            )
        if "uncapped_p50_ms" in summary:
            uncapped = ", ".join(f"{v:.1f}" for v in summary["uncapped_p50_ms"])
            overlap = ", ".join(f"{v:.0%}" for v in summary["uncapped_overlap"])
            print(f"{'':<9} no cap: p50 {uncapped} ms; top-10 overlap with cap {caps[0]}: {overlap}")
    print(f"targets (cap {caps[0]}):")
    for name, target in result.targets.items():
        print(f"  {'MET ' if target['met'] else 'MISS'} {name}: {target['value']}")


def machine() -> dict[str, Any]:
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "python": platform.python_version(),
        "sqlite_module": sqlite3.sqlite_version,
        "platform": platform.platform(),
    }


def postgres_schema_url(url: str, schema: str) -> str:
    parsed = make_url(url)
    return parsed.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    )


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    corpus = Corpus(
        args.papers,
        seed=args.seed,
        vocabulary=args.vocabulary,
        exponent=args.zipf,
        typographic=args.typographic,
    )
    report: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "config": {
            "papers": args.papers,
            "seed": args.seed,
            "vocabulary": args.vocabulary,
            "zipf_exponent": args.zipf,
            "typographic": args.typographic,
            "batch": args.batch,
            "workers": args.workers,
            "caps": args.cap,
            "runs": args.runs,
            "common_runs": args.common_runs,
            "like_runs": args.like_runs,
            "like_budget_s": args.like_budget,
            "uncapped_runs": args.uncapped_runs,
            "limit": LIMIT,
        },
        "backends": [],
    }
    results: list[BackendResult] = []
    scratch = Path(tempfile.mkdtemp(prefix="paperboy-bench-"))
    try:
        print(f"generating {args.papers:,} papers ({args.workers} processes)...", flush=True)
        started = time.perf_counter()
        corpus.generate(scratch / "papers", args.workers)
        report["generate_s"] = round(time.perf_counter() - started, 1)
        print(f"  generated in {report['generate_s']} s (not counted in ingest)", flush=True)
        results = await run_backends(corpus, scratch, args)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    for result in results:
        print_report(result, args.cap)
        backend = asdict(result)
        for query in backend["queries"]:  # raw samples stay out of the file; timings stay in
            del query["fts_samples"], query["like_samples"]
        report["backends"].append(backend)
    return report


async def run_backends(corpus: Corpus, scratch: Path, args: argparse.Namespace) -> list[BackendResult]:
    results: list[BackendResult] = []
    if not args.no_sqlite:
        path = scratch / "bench.db"
        results.append(await run_backend("sqlite", f"sqlite:///{path}", path, corpus, args))
        remove_sqlite_files(path)
    if args.postgres:
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        admin = create_engine(args.postgres)
        async with admin.begin() as conn:
            await conn.execute(text(f"CREATE SCHEMA {schema}"))
        try:
            url = postgres_schema_url(args.postgres, schema)
            results.append(await run_backend("postgresql", url, None, corpus, args))
        finally:
            async with admin.begin() as conn:
                await conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
            await admin.dispose()
    return results


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.search", description=__doc__.split("\n")[0])
    parser.add_argument("--papers", type=int, default=100_000, help="archive size (default 100000)")
    parser.add_argument("--million", action="store_true", help="10^6 papers (overrides --papers)")
    parser.add_argument("--postgres", metavar="URL", help="also run on PostgreSQL, in a throwaway schema")
    parser.add_argument("--no-sqlite", action="store_true", help="skip SQLite (with --postgres)")
    parser.add_argument(
        "--cap",
        type=int,
        action="append",
        help=f"PaperSearch candidate_cap; repeat to compare (default {DEFAULT_CANDIDATE_CAP})",
    )
    parser.add_argument("--batch", type=int, default=1_000, help="papers per upsert_papers call")
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="processes generating the papers"
    )
    parser.add_argument("--vocabulary", type=int, default=50_000)
    parser.add_argument("--zipf", type=float, default=1.1, help="Zipf exponent of word frequencies")
    parser.add_argument(
        "--typographic",
        type=float,
        default=0.0,
        help="share of papers given curly quotes or dashes, a tenth of them an emoji (default 0: "
        "ASCII only, the archive of earlier rounds)",
    )
    parser.add_argument("--runs", type=int, default=200, help="FTS runs per rare/mid/two-word query")
    parser.add_argument("--common-runs", type=int, default=50, help="FTS runs per common/phrase query")
    parser.add_argument("--like-runs", type=int, default=10, help="LIKE baseline runs per query")
    parser.add_argument(
        "--like-budget",
        type=float,
        default=6.0,
        help="seconds per LIKE query and variant after which runs stop (at least 3 runs)",
    )
    parser.add_argument("--uncapped-runs", type=int, default=5, help="runs without a cap, common queries")
    parser.add_argument("--output", type=Path, help="JSON file (default benchmarks/results/search-*.json)")
    args = parser.parse_args(argv)
    if args.million:
        args.papers = 1_000_000
    if not args.cap:
        args.cap = [DEFAULT_CANDIDATE_CAP]
    if args.no_sqlite and not args.postgres:
        parser.error("--no-sqlite needs --postgres")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    started = time.perf_counter()
    report = asyncio.run(main_async(args))
    report["elapsed_s"] = round(time.perf_counter() - started, 1)
    output: Path = args.output or RESULTS_DIR / (
        f"search-{report['date'].replace(':', '').replace('+0000', 'Z')}-{args.papers}.json"
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nresults: {output} ({report['elapsed_s']:.0f} s)")


if __name__ == "__main__":
    main()
