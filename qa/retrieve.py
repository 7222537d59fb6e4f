"""Retrieve: hybrid dense (FAISS) + BM25 search over passages and answer units.

``HybridRetriever(index).search(query)`` scores every passage and every
answer unit both ways and fuses the two rankings. (Letting a passage inherit
its best unit's score was measured and added nothing once the reader puts the
passages it quotes first; see the README.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qa.index import Index, Unit
from qa.ingest import Passage
from qa.query import Query

# Reciprocal rank fusion constant from Cormack et al. (2009).
RRF_K = 60
# Share of a follow-up's dense score that comes from the previous turn: most of it when the question
# has no words of its own ("which reference supports that?"), some when it has ("and in melanoma?").
CONTEXT_WEIGHT = {False: 0.7, True: 0.3}


@dataclass
class Hit:
    passage: Passage
    score: float


@dataclass
class UnitHit:
    unit: Unit
    score: float
    dense: float
    sparse: float


@dataclass
class Retrieval:
    """Everything a retrieval found: passages and units best first, with their raw scores."""

    query: Query
    hits: list[Hit]  # the top k
    unit_hits: list[UnitHit]
    all_hits: list[Hit]  # every passage, best first


class HybridRetriever:
    """Dense + BM25 retrieval with a choice of fusion ("linear", "rrf"; "dense" or "bm25" alone)."""

    def __init__(self, index: Index, fusion: str = "linear", dense_weight: float = 0.6):
        self.index = index
        self.fusion = fusion
        self.dense_weight = dense_weight
        # A comparison searches each paper with the same question: its embeddings are reused.
        self._last_embedded: tuple[tuple[str, ...], np.ndarray] = ((), np.empty(0))
        position = {p.id: i for i, p in enumerate(index.passages)}
        self._unit_passage = np.array([position[u.passage_id] for u in index.units], dtype="int64")
        self._passage_doc = np.array([p.doc for p in index.passages])
        self._passage_table = np.array([-1 if p.table is None else p.table for p in index.passages])

    def search(self, query: Query, k: int = 10) -> Retrieval:
        p_dense, u_dense = self._dense(query)
        p_sparse = _bm25_scores(self.index.passage_bm25, query.terms, len(self.index.passages))
        u_sparse = _bm25_scores(self.index.unit_bm25, query.terms, len(self.index.units))
        preference = self._preference(query)
        u_fused = self._fuse(u_dense, u_sparse) * preference[self._unit_passage]
        p_fused = self._fuse(p_dense, p_sparse) * preference
        order = np.argsort(-p_fused)
        hits = [Hit(self.index.passages[i], float(p_fused[i])) for i in order]
        unit_hits = [UnitHit(u, float(f), float(d), float(s))
                     for u, f, d, s in zip(self.index.units, u_fused, u_dense, u_sparse)]
        unit_hits.sort(key=lambda h: -h.score)
        return Retrieval(query, hits[:k], unit_hits, hits)

    def _dense(self, query: Query) -> tuple[np.ndarray, np.ndarray]:
        """Cosine of every passage and unit with the question; a follow-up mixes in the turn it leans on,
        weighted by how much the question says on its own (CONTEXT_WEIGHT)."""
        if not query.context:
            vector = self._embed((query.dense_text,))
            return _dense_scores(self.index.passage_vectors, vector), _dense_scores(self.index.unit_vectors, vector)
        vectors = self._embed((query.dense_text, query.context))
        share = CONTEXT_WEIGHT[bool(query.topic_terms)]
        mixed = []
        for faiss_index in (self.index.passage_vectors, self.index.unit_vectors):
            own, borrowed = (_dense_scores(faiss_index, vectors[i:i + 1]) for i in (0, 1))
            mixed.append((1 - share) * own + share * borrowed)
        return mixed[0], mixed[1]

    def _embed(self, texts: tuple[str, ...]) -> np.ndarray:
        last_texts, last_vectors = self._last_embedded
        if texts != last_texts:
            last_vectors = self.index.embed(list(texts))
            self._last_embedded = (texts, last_vectors)
        return last_vectors

    def _fuse(self, dense: np.ndarray, sparse: np.ndarray) -> np.ndarray:
        """linear: w * dense + (1 - w) * sparse / max(sparse); rrf: sum of 1/(RRF_K + rank);
        dense or bm25: one side alone (for measuring what fusion adds)."""
        if self.fusion == "rrf":
            return (_rrf(dense) + _rrf(sparse)) * RRF_K / 2
        if self.fusion == "dense":
            return dense
        top = float(sparse.max()) if sparse.size and sparse.max() > 0 else 1.0
        if self.fusion == "bm25":
            return sparse / top
        return self.dense_weight * dense + (1 - self.dense_weight) * sparse / top

    def _preference(self, query: Query) -> np.ndarray:
        """Weights for passages the question points at: a named paper, a named table."""
        weights = np.ones(len(self.index.passages), dtype="float32")
        in_doc = self._passage_doc == query.doc if query.doc else np.ones(len(weights), dtype=bool)
        weights[~in_doc] *= 0.3
        if query.table is not None:
            weights[(self._passage_table == query.table) & in_doc] *= 1.3
        return weights


def _bm25_scores(bm25, terms: list[str], size: int) -> np.ndarray:
    # bm25s cannot score an empty query ("what is it?" has no terms left after stop words).
    if not terms:
        return np.zeros(size, dtype="float32")
    return np.asarray(bm25.get_scores(terms), dtype="float32")


def _dense_scores(faiss_index, vector: np.ndarray) -> np.ndarray:
    scores, ids = faiss_index.search(vector, faiss_index.ntotal)
    out = np.zeros(faiss_index.ntotal, dtype="float32")
    out[ids[0]] = scores[0]
    return out


def _rrf(scores: np.ndarray) -> np.ndarray:
    ranks = np.empty(len(scores), dtype="float32")
    ranks[np.argsort(-scores)] = np.arange(1, len(scores) + 1)
    return 1.0 / (RRF_K + ranks)
