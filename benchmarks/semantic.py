"""Search by meaning: quality on the evaluation set, and speed and memory at scale.

    python -m benchmarks.semantic quality          # R@1, R@5, MRR: words, meaning, hybrid
    python -m benchmarks.semantic speed --papers 100000

Quality: the 60 sample papers (tests/fixtures) in a fresh SQLite file, and the questions of
tests/fixtures/semantic_queries.json (each describes one paper without its title's words).
Speed: synthetic papers (sample abstracts shuffled into new ones) embedded and searched in
process, query embedding included; p50/p95 over 200 queries.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import random
import resource
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from bot.db import create_engine, upgrade
from bot.embedding import WordLlamaEmbedder
from bot.hf_parse import parse_paper
from bot.hybrid import HybridSearch, rrf
from bot.query import parse_query
from bot.search import PaperSearch
from bot.semantic import SemanticIndex
from bot.store import PaperStore
from bot.types import Paper

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
NOW = __import__("datetime").datetime(2025, 11, 21, tzinfo=__import__("datetime").UTC)


def sample_papers() -> list[Paper]:
    return [parse_paper(item) for item in json.loads((FIXTURES / "daily_papers_sample.json").read_text())]


def questions() -> list[tuple[str, str]]:
    return [(q["query"], q["paper_id"]) for q in json.loads((FIXTURES / "semantic_queries.json").read_text())]


def scores(rankings: Sequence[tuple[list[str], str]]) -> dict[str, float]:
    r1 = sum(ranked[:1] == [wanted] for ranked, wanted in rankings) / len(rankings)
    r5 = sum(wanted in ranked[:5] for ranked, wanted in rankings) / len(rankings)
    mrr = sum(1 / (ranked.index(wanted) + 1) if wanted in ranked else 0 for ranked, wanted in rankings)
    return {"R@1": round(r1, 3), "R@5": round(r5, 3), "MRR": round(mrr / len(rankings), 3)}


async def quality() -> None:
    with tempfile.TemporaryDirectory() as folder:
        engine = create_engine(f"sqlite:///{folder}/eval.db")
        await upgrade(engine)
        await PaperStore(engine).upsert_papers(sample_papers(), now=NOW)
        semantic = SemanticIndex(engine, WordLlamaEmbedder())
        await semantic.embed_missing()
        lexical = PaperSearch(engine)
        hybrid = HybridSearch(lexical, semantic)
        asked = questions()
        variants: dict[str, Callable[[str], Awaitable[list[str]]]] = {}

        async def words(text: str) -> list[str]:
            return [p.id for p in (await lexical.search(parse_query(text), limit=50)).papers]

        async def words_any(text: str) -> list[str]:  # bm25 over papers with any of the words
            query = dataclasses.replace(parse_query(text), match_any=True)
            return [p.id for p in (await lexical.search(query, limit=50)).papers]

        async def meaning(text: str) -> list[str]:
            return [paper_id for paper_id, _ in await semantic.nearest(text, 50)]

        async def shipped(text: str) -> list[str]:
            return [p.id for p in (await hybrid.search(parse_query(text), limit=10)).papers]

        variants = {
            "every word (before this change)": words,
            "any word, bm25": words_any,
            "meaning only": meaning,
        }
        for k, weight in ((5, 1.0), (60, 1.0), (3, 0.5), (5, 0.5), (10, 0.5), (10, 0.35), (5, 0.2)):

            async def any_and_meaning(text: str, k: int = k, weight: float = weight) -> list[str]:
                return rrf(await words_any(text), await meaning(text), weights=(1.0, weight), k=k)

            variants[f"any word + meaning × {weight}, RRF k={k}"] = any_and_meaning
        variants["hybrid as shipped (HybridSearch)"] = shipped
        print(f"{len(asked)} questions over {len(sample_papers())} papers")
        print("| ranking | R@1 | R@5 | MRR |\n|---|---|---|---|")
        for name, rank in variants.items():
            result = scores([(await rank(text), wanted) for text, wanted in asked])
            print(f"| {name} | {result['R@1']} | {result['R@5']} | {result['MRR']} |")
        await lexical.aclose()
        await engine.dispose()


def synthetic(count: int, papers: list[Paper]) -> list[Paper]:
    """`count` papers with new ids, titles and abstracts mixed from the sample's sentences."""
    import dataclasses
    import datetime as dt

    rng = random.Random(7)
    sentences = [s for p in papers for s in p.abstract.split(". ") if s]
    out = []
    for n in range(count):
        base = papers[n % len(papers)]
        year, month = 23 + (n // 60_000), 1 + (n // 5000) % 12
        out.append(
            dataclasses.replace(
                base,
                id=f"{year:02d}{month:02d}.{n % 100_000:05d}",
                title=" ".join(rng.sample(base.title.split(), k=len(base.title.split()))),
                abstract=". ".join(rng.sample(sentences, k=6)),
                published=dt.date(2000 + year, month, 1),
            )
        )
    return out


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def speed(count: int, keep: str | None) -> None:
    papers = sample_papers()
    with tempfile.TemporaryDirectory() as folder:
        path = keep or f"{folder}/speed.db"
        reuse = keep is not None and await asyncio.to_thread(os.path.exists, keep)
        engine = create_engine(f"sqlite:///{path}")
        await upgrade(engine)
        store = PaperStore(engine)
        corpus = synthetic(count, papers)
        if not reuse:  # a kept database is searched again as it is
            for start in range(0, len(corpus), 5000):
                await store.upsert_papers(corpus[start : start + 5000], now=NOW)
        semantic = SemanticIndex(engine, WordLlamaEmbedder())
        await semantic.warm_up()
        started, cpu = time.perf_counter(), time.process_time()
        embedded = await semantic.embed_missing()
        took, cpu_took = time.perf_counter() - started, time.process_time() - cpu
        if embedded:
            rate = embedded / took
            print(f"embedded {embedded} papers in {took:.1f} s ({rate:.0f}/s; {cpu_took:.1f} CPU-s)")
        started = time.perf_counter()
        await semantic.load_new()
        print(f"loaded {len(semantic.index)} vectors in {time.perf_counter() - started:.2f} s")
        lexical = PaperSearch(engine)
        hybrid = HybridSearch(lexical, semantic)
        asked = [text for text, _ in questions()]
        timings: dict[str, list[float]] = {"words": [], "hybrid": [], "similar": []}
        for n in range(200):
            text = asked[n % len(asked)]
            for name, work in (
                ("words", lexical.search(parse_query(text), limit=10)),
                ("hybrid", hybrid.search(parse_query(text), limit=10)),
                ("similar", semantic.similar_to(corpus[(n * 7919) % len(corpus)], 10)),
            ):
                started = time.perf_counter()
                await work
                timings[name].append((time.perf_counter() - started) * 1000)
        for name, values in timings.items():
            print(f"{name}: p50 {statistics.median(values):.1f} ms, p95 {percentile(values, 0.95):.1f} ms")
        print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
        await lexical.aclose()
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="what", required=True)
    sub.add_parser("quality")
    speed_parser = sub.add_parser("speed")
    speed_parser.add_argument("--papers", type=int, default=100_000)
    speed_parser.add_argument("--keep", help="build the database at this path and keep it (for RSS of run)")
    args = parser.parse_args()
    asyncio.run(quality() if args.what == "quality" else speed(args.papers, args.keep))


if __name__ == "__main__":
    main()
