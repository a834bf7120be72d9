"""Search by meaning: paper embeddings in the database, and an exact cosine index in memory.

Vectors are stored per (paper, model) as float32 bytes (migration 0010) and loaded into one
numpy matrix; a search first loads the rows added since (by this process or another sharing
PostgreSQL). Exact cosine is a matrix-vector product: about 1 ms at 2×10^4 papers and under
10 ms at 10^5 (BENCHMARKS.md); an ANN index or pgvector can replace `VectorIndex` later.

Papers are embedded after they are stored, newest first, in committed batches: the backfill
(`paperboy embed`, or `paperboy run` in the background) resumes where it stopped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, exists, func, select

from bot.dialect import insert_for
from bot.embedding import Embedder, paper_text
from bot.models import PaperEmbeddingRow, PaperRow
from bot.types import Paper

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

EMBEDDINGS = PaperEmbeddingRow.__table__  # type: ignore[attr-defined]
PAPERS = PaperRow.__table__  # type: ignore[attr-defined]
EMBED_BATCH = 256
LOAD_INTERVAL = 1.0  # seconds
LOAD_CHUNK = 5000

Progress = Callable[[int], None]  # papers embedded so far in this run


class VectorIndex:
    """Normalised vectors by paper id; nearest by cosine (a dot product).

    The matrix grows by doubling its capacity, so that loading 10^5 vectors a chunk at a time
    copies each about once, not once per chunk: peak memory stays near the vectors' own size.
    """

    def __init__(self, dimensions: int) -> None:
        import numpy as np

        self.dimensions = dimensions
        self._ids: list[str] = []
        self._row_of: dict[str, int] = {}
        self._storage = np.zeros((0, dimensions), dtype=np.float32)
        self.last_id = 0  # the newest database row loaded

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def _matrix(self) -> npt.NDArray[np.float32]:
        return self._storage[: len(self._ids)]

    def add(self, paper_ids: Sequence[str], vectors: npt.NDArray[np.float32]) -> None:
        import numpy as np

        fresh: list[int] = []
        for index, paper_id in enumerate(paper_ids):
            row = self._row_of.get(paper_id)
            if row is None:
                fresh.append(index)
            else:
                self._storage[row] = vectors[index]
        if not fresh:
            return
        needed = len(self._ids) + len(fresh)
        if needed > len(self._storage):
            grown = np.zeros((max(needed, 2 * len(self._storage), 1024), self.dimensions), dtype=np.float32)
            grown[: len(self._ids)] = self._matrix
            self._storage = grown
        start = len(self._ids)
        self._storage[start:needed] = vectors[fresh]
        for offset, index in enumerate(fresh):
            self._row_of[paper_ids[index]] = start + offset
            self._ids.append(paper_ids[index])

    def vector(self, paper_id: str) -> npt.NDArray[np.float32] | None:
        row = self._row_of.get(paper_id)
        return None if row is None else self._matrix[row]

    def mean(self) -> npt.NDArray[np.float32] | None:
        return self._matrix.mean(axis=0) if self._ids else None

    def scores(self, vector: npt.NDArray[np.float32], paper_ids: Sequence[str]) -> dict[str, float]:
        """Cosine of `vector` with each of these papers that has a vector."""
        rows = [(paper_id, row) for paper_id in paper_ids if (row := self._row_of.get(paper_id)) is not None]
        if not rows:
            return {}
        values = self._matrix[[row for _, row in rows]] @ vector
        return {paper_id: float(value) for (paper_id, _), value in zip(rows, values, strict=True)}

    def nearest(
        self, vector: npt.NDArray[np.float32], k: int, *, exclude: str | None = None
    ) -> list[tuple[str, float]]:
        import numpy as np

        if not self._ids:
            return []
        scores = self._matrix @ vector
        if exclude is not None and (row := self._row_of.get(exclude)) is not None:
            scores[row] = -np.inf
        k = min(k, len(self._ids))
        best = np.argpartition(-scores, k - 1)[:k]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(self._ids[row], float(scores[row])) for row in best if np.isfinite(scores[row])]


class SemanticIndex:
    def __init__(self, engine: AsyncEngine, embedder: Embedder) -> None:
        self.engine = engine
        self.embedder = embedder
        self.index = VectorIndex(embedder.dimensions)
        self._loading = asyncio.Lock()
        self._embedding = asyncio.Lock()
        self._checked_at = -LOAD_INTERVAL  # monotonic time of the last look for new rows
        self._stale = True  # this process stored vectors since: look at once

    async def warm_up(self) -> None:
        """Load the model now (about a second, in a thread), not at the first question."""
        await asyncio.to_thread(self.embedder.embed, ["paperboy"])

    # --- the vectors in memory ---------------------------------------------------------------

    async def load_new(self, *, force: bool = False) -> int:
        """Load the rows stored since the last look (by any process); how many. Another
        process's new vectors are looked for at most once a LOAD_INTERVAL (a query each search
        would cost 1-3 ms); this process's own at once."""
        import numpy as np

        now = time.monotonic()
        if not (force or self._stale or now - self._checked_at >= LOAD_INTERVAL):
            return 0
        async with self._loading:
            self._checked_at, self._stale = now, False
            loaded = 0
            while True:  # in chunks: 10^5 rows at once would hold them twice over in memory
                stmt = (
                    select(EMBEDDINGS.c.id, EMBEDDINGS.c.paper_id, EMBEDDINGS.c.vector)
                    .where(EMBEDDINGS.c.model == self.embedder.name, EMBEDDINGS.c.id > self.index.last_id)
                    .order_by(EMBEDDINGS.c.id)
                    .limit(LOAD_CHUNK)
                )
                async with self.engine.connect() as conn:
                    rows = (await conn.execute(stmt)).all()
                if not rows:
                    return loaded
                vectors = np.frombuffer(b"".join(row.vector for row in rows), dtype="<f4")
                self.index.add([row.paper_id for row in rows], vectors.reshape(len(rows), -1))
                self.index.last_id = rows[-1].id
                loaded += len(rows)

    async def nearest(self, text: str, k: int) -> list[tuple[str, float]]:
        """The papers nearest in meaning to `text`, best first, with their cosine."""
        await self.load_new()
        vectors = await asyncio.to_thread(self.embedder.embed, [text])
        return await asyncio.to_thread(self.index.nearest, vectors[0], k)

    async def close_to(self, text: str, paper_ids: Sequence[str], *, minimum: float) -> list[str]:
        """The papers of `paper_ids` whose cosine with `text` is at least `minimum`, closest first."""
        await self.load_new()
        vectors = await asyncio.to_thread(self.embedder.embed, [text])
        scores = self.index.scores(vectors[0], paper_ids)
        close = [paper_id for paper_id, score in scores.items() if score >= minimum]
        return sorted(close, key=lambda paper_id: -scores[paper_id])

    async def similar_to(self, paper: Paper, k: int) -> list[tuple[str, float]]:
        """The papers nearest to `paper`, itself left out (embedded now if it has no vector yet)."""
        await self.load_new()
        vector = self.index.vector(paper.id)
        if vector is None:
            vectors = await asyncio.to_thread(self.embedder.embed, [paper_text(paper.title, paper.abstract)])
            vector = vectors[0]
        return await asyncio.to_thread(self.index.nearest, vector, k, exclude=paper.id)

    # --- embedding stored papers -------------------------------------------------------------

    def _unembedded(self) -> ColumnElement[bool]:
        embedded = exists().where(
            EMBEDDINGS.c.paper_id == PAPERS.c.id, EMBEDDINGS.c.model == self.embedder.name
        )
        return ~embedded

    async def missing(self) -> int:
        """How many stored papers have no vector of this model yet."""
        async with self.engine.connect() as conn:
            stmt = select(func.count()).select_from(PAPERS).where(self._unembedded())
            return int((await conn.execute(stmt)).scalar_one())

    async def embed_missing(self, *, progress: Progress | None = None, wait: bool = True) -> int:
        """Embed every stored paper without a vector, newest first, a committed batch at a time;
        how many. `wait=False` returns 0 at once when another embedding run of this process is
        under way (it will embed these papers too)."""
        if not wait and self._embedding.locked():
            return 0
        done = 0
        async with self._embedding:
            while True:
                stmt = (
                    select(PAPERS.c.id, PAPERS.c.title, PAPERS.c.abstract)
                    .where(self._unembedded())
                    .order_by(PAPERS.c.seq.desc())
                    .limit(EMBED_BATCH)
                )
                async with self.engine.connect() as conn:
                    rows = (await conn.execute(stmt)).all()
                if not rows:
                    return done
                texts = [paper_text(row.title, row.abstract) for row in rows]
                vectors = await asyncio.to_thread(self.embedder.embed, texts)
                insert = insert_for(self.engine)(EMBEDDINGS).on_conflict_do_nothing(
                    index_elements=[EMBEDDINGS.c.paper_id, EMBEDDINGS.c.model]
                )
                values = [
                    {
                        "paper_id": row.id,
                        "model": self.embedder.name,
                        "vector": vectors[index].astype("<f4").tobytes(),
                    }
                    for index, row in enumerate(rows)
                ]
                async with self.engine.begin() as conn:
                    await conn.execute(insert, values)
                self._stale = True
                done += len(rows)
                if progress is not None:
                    progress(done)
