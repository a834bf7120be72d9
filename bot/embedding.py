"""Text embeddings for search by meaning, behind one small interface.

The shipped model is WordLlama's static 256-d "l2_supercat" embeddings (package `wordllama`,
MIT): its weights come inside the wheel, so it runs offline with numpy alone, embeds hundreds
of abstracts a second on two cores and a query in well under a millisecond (BENCHMARKS.md,
"Search by meaning"). Another model, or a remote endpoint, is another `Embedder`.

Calls are synchronous and CPU-bound: callers run them in a worker thread.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Vectors = npt.NDArray[np.float32]

WORDLLAMA_MODEL = "wordllama-l2_supercat-256"
# The weights this version of paperboy was measured with (wordllama 0.4.0.post1's wheel).
WORDLLAMA_WEIGHTS_SHA256 = "64b47a2dc493cb8e85944076601189739852d7b64e0e1eedcb1937a251cd9fd5"
# Title and abstract are what a paper is about; a 10k-character abstract says no more than its
# first few thousand characters, and a static model averages its tokens anyway.
MAX_TEXT_CHARS = 4000


class EmbeddingUnavailable(RuntimeError):
    """The model cannot be loaded (not installed, or weights that are not the measured ones)."""


class Embedder(Protocol):
    name: str  # stored with each vector: vectors of another model are never compared
    dimensions: int

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One normalised float32 row per text."""
        ...


def paper_text(title: str, abstract: str) -> str:
    return f"{title}. {abstract}"[:MAX_TEXT_CHARS]


class WordLlamaEmbedder:
    name = WORDLLAMA_MODEL
    dimensions = 256

    def __init__(self) -> None:
        self._model: object | None = None
        self._loading = threading.Lock()

    def _loaded(self) -> object:
        with self._loading:
            if self._model is None:
                self._model = _load_wordllama()
            return self._model

    def embed(self, texts: Sequence[str]) -> Vectors:
        import numpy as np

        model = self._loaded()
        vectors = model.embed(list(texts), norm=True)  # type: ignore[attr-defined]
        return np.ascontiguousarray(vectors, dtype=np.float32)


@functools.cache  # read-only weights: one copy per process, however many embedders
def _load_wordllama() -> object:
    """The package's own weights, never a download: `cache_dir` is the package folder (where
    the wheel puts weights/ and tokenizers/) and downloads are disabled."""
    try:
        import wordllama
        from wordllama import WordLlama
    except ImportError as exc:
        raise EmbeddingUnavailable(f"the wordllama package is not installed ({exc})") from None
    package = Path(wordllama.__file__).parent
    weights = package / "weights" / "l2_supercat_256.safetensors"
    try:
        digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    except OSError as exc:
        raise EmbeddingUnavailable(f"wordllama's weights are missing ({exc})") from None
    if digest != WORDLLAMA_WEIGHTS_SHA256:
        raise EmbeddingUnavailable(f"wordllama's weights are not the ones paperboy knows ({digest[:12]}…)")
    return WordLlama.load(cache_dir=package, disable_download=True)
