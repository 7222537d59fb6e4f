"""Store: the small protocol between retrieval and the engine that holds the vectors and the BM25 index.

A store keeps named collections ("passages", "units") of rows, each row its
position in the collection (0, 1, ... in the order written), its document id,
its BM25 terms (``qa.text.index_terms`` of its text, space-joined) and its
normalised vector. It answers top-k questions about them, best first:
``dense`` (inner product), ``lexical`` (BM25) and ``fused`` (reciprocal rank
fusion of the two), each optionally restricted to one document. Query
understanding, the project's own fusion, selection and abstention stay above
the store, so only candidate retrieval differs between engines.

Two implementations, chosen by ``Settings.store``: ``faiss`` (embedded FAISS +
bm25s, ``qa.stores.faiss_store``) and ``milvus`` (``pymilvus.MilvusClient``:
Milvus Lite for a local ``.db`` path, a Standalone server or a cluster for an
``http://`` URI; ``qa.stores.milvus_store``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

# Reciprocal rank fusion constant from Cormack et al. (2009).
RRF_K = 60
COLLECTIONS = ("passages", "units")
# Where Milvus Lite keeps an index's collections when no URI is given.
MILVUS_LITE_FILE = "milvus.db"


@dataclass
class Rows:
    """What a collection holds, one entry per row in position order."""

    docs: list[str]
    terms: list[list[str]]
    vectors: np.ndarray  # float32, normalised, one row each


@dataclass
class Ranked:
    """A top-k answer: row positions best first and their scores (larger is better)."""

    positions: np.ndarray  # int64
    scores: np.ndarray  # float32

    @classmethod
    def empty(cls) -> "Ranked":
        return cls(np.empty(0, dtype="int64"), np.empty(0, dtype="float32"))


class RetrievalStore(Protocol):
    """What retrieval needs from an engine (see the module docstring)."""

    kind: str

    def write(self, collection: str, rows: Rows) -> None:
        """Store ``rows`` as the whole of ``collection`` (positions 0..n-1)."""

    def count(self, collection: str) -> int:
        """How many rows ``collection`` holds."""

    def dense(self, collection: str, vectors: np.ndarray, k: int, doc: str | None = None) -> list[Ranked]:
        """For each query vector, the k rows of largest inner product (only ``doc``'s rows if given)."""

    def lexical(self, collection: str, terms: list[str], k: int, doc: str | None = None) -> Ranked:
        """The k rows of largest BM25 score for the query ``terms`` (rows scoring 0 may be left out)."""

    def fused(self, collection: str, vector: np.ndarray, terms: list[str], k: int,
              doc: str | None = None) -> Ranked:
        """The k rows best by reciprocal rank fusion of dense and lexical: sum of 1 / (RRF_K + rank)."""

    def describe(self) -> dict:
        """What the manifest records about this store (engine, index types, URI)."""

    def load(self) -> "RetrievalStore":
        """Bring every collection into memory now, so that no request pays for it; returns the store."""

    def close(self) -> None:
        """Release the engine (files, connections); the store is not used afterwards."""


def open_store(kind: str, folder: Path, name: str, milvus_uri: str = "") -> RetrievalStore:
    """The store of ``kind`` ("faiss" or "milvus") whose files live in ``folder``.

    ``name`` is the index's name (its folder's final name), which names its Milvus collections;
    without ``milvus_uri`` Milvus is Milvus Lite in ``folder``/milvus.db.
    """
    if kind == "faiss":
        from qa.stores.faiss_store import FaissStore

        return FaissStore(folder)
    if kind == "milvus":
        from qa.stores.milvus_store import MilvusStore

        return MilvusStore(milvus_uri or str(Path(folder) / MILVUS_LITE_FILE), _collection_prefix(name))
    raise ValueError(f"Unknown store {kind!r}: use 'faiss' or 'milvus'.")


def rrf(rankings: list[Ranked], k: int) -> Ranked:
    """Reciprocal rank fusion of several rankings, the k best rows."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, position in enumerate(ranking.positions.tolist(), start=1):
            fused[position] = fused.get(position, 0.0) + 1.0 / (RRF_K + rank)
    best = sorted(fused.items(), key=lambda item: -item[1])[:k]
    return Ranked(np.array([p for p, _ in best], dtype="int64"), np.array([s for _, s in best], dtype="float32"))


def _collection_prefix(name: str) -> str:
    """Milvus collection names allow letters, digits and underscores only."""
    return "qa_" + "".join(c if c.isalnum() else "_" for c in name)
