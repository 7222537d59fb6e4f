"""Retrieve: hybrid dense + BM25 search over passages and answer units.

``HybridRetriever(index).search(query)`` asks the index's store (``qa.store``)
for the dense and the BM25 candidates among passages and among answer units,
and fuses the two rankings. A collection of up to ``EXHAUSTIVE_MAX_ROWS`` rows
(the two papers: 192 passages, 478 units) is scored whole; a larger one gives
each search its top ``CANDIDATES`` rows, a row missing from one side scoring 0
there. (Letting a passage inherit its best unit's score was measured and added
nothing once the reader puts the passages it quotes first; see the README.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qa.index import Index, Unit
from qa.ingest import Passage
from qa.query import Query
from qa.store import RRF_K, Ranked

# Largest collection scored whole. Scoring 5,000 rows costs under 1 ms (scripts/bench_scale.py); beyond that
# the reader, which reads 40 units and the units of at most 50 passages, needs only the top candidates.
EXHAUSTIVE_MAX_ROWS = 5_000
# Candidates each top-k search brings at scale: 4x what the reader reads, so that fusing the dense and the
# BM25 sides can still reorder them.
CANDIDATES = 200
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
    all_hits: list[Hit]  # every candidate passage (every passage of a small corpus), best first


class HybridRetriever:
    """Dense + BM25 retrieval with a choice of fusion ("linear", "rrf"; "dense" or "bm25" alone)."""

    def __init__(self, index: Index, fusion: str = "linear", dense_weight: float = 0.6):
        self.index = index
        self.store = index.store
        self.fusion = fusion
        self.dense_weight = dense_weight
        position = {p.id: i for i, p in enumerate(index.passages)}
        self._unit_passage = np.array([position[u.passage_id] for u in index.units], dtype="int64")
        self._passage_doc = np.array([p.doc for p in index.passages])
        self._passage_table = np.array([-1 if p.table is None else p.table for p in index.passages])

    def search(self, query: Query, k: int = 10) -> Retrieval:
        vectors, _ = query_vectors(self.index, query)
        p_rows, p_dense, p_sparse = self._scored("passages", query, vectors)
        u_rows, u_dense, u_sparse = self._scored("units", query, vectors)
        if len(p_rows) < len(self.index.passages):
            # The reader re-ranks the passages its units come from: they are candidates too.
            extra = np.setdiff1d(self._unit_passage[u_rows], p_rows)
            p_rows = np.concatenate([p_rows, extra])
            p_dense, p_sparse = (np.concatenate([s, np.zeros(extra.size, dtype="float32")]) for s in (p_dense, p_sparse))
        u_fused = self._fuse(u_dense, u_sparse) * self._preference(query, self._unit_passage[u_rows])
        p_fused = self._fuse(p_dense, p_sparse) * self._preference(query, p_rows)
        order = np.argsort(-p_fused)
        hits = [Hit(self.index.passages[p_rows[i]], float(p_fused[i])) for i in order]
        unit_hits = [UnitHit(self.index.units[r], float(f), float(d), float(s))
                     for r, f, d, s in zip(u_rows, u_fused, u_dense, u_sparse)]
        unit_hits.sort(key=lambda h: -h.score)
        return Retrieval(query, hits[:k], unit_hits, hits)

    def _scored(self, collection: str, query: Query, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The candidate rows of ``collection`` (ascending), their dense and their BM25 scores.

        Dense is the cosine with the question; a follow-up mixes in the turn it leans on, weighted by how
        much the question says on its own (CONTEXT_WEIGHT).
        """
        size = self.store.count(collection)
        depth = size if size <= EXHAUSTIVE_MAX_ROWS else CANDIDATES
        dense = [[ranked] for ranked in self.store.dense(collection, vectors, depth)]
        lexical = [self.store.lexical(collection, query.terms, depth)]
        if query.doc and depth < size:
            # The named paper's best rows, however far down the whole collection's ranking they are.
            for own, ranked in zip(dense, self.store.dense(collection, vectors, depth, doc=query.doc)):
                own.append(ranked)
            lexical.append(self.store.lexical(collection, query.terms, depth, doc=query.doc))
        if depth == size:
            rows = np.arange(size)
        else:
            rows = np.unique(np.concatenate([r.positions for r in lexical + [r for own in dense for r in own]]))
        scores = [_aligned(rows, own) for own in dense]
        if query.context:
            share = CONTEXT_WEIGHT[bool(query.topic_terms)]
            scores = [(1 - share) * scores[0] + share * scores[1]]
        return rows, scores[0], _aligned(rows, lexical)

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

    def _preference(self, query: Query, passages: np.ndarray) -> np.ndarray:
        """Weights for the passages at positions ``passages`` that the question points at: a named paper,
        a named table."""
        weights = np.ones(len(passages), dtype="float32")
        in_doc = self._passage_doc[passages] == query.doc if query.doc else np.ones(len(weights), dtype=bool)
        weights[~in_doc] *= 0.3
        if query.table is not None:
            weights[(self._passage_table[passages] == query.table) & in_doc] *= 1.3
        return weights


def query_vectors(index: Index, query: Query) -> tuple[np.ndarray, np.ndarray]:
    """The vectors ``query`` searches with (its dense text, and the turn a follow-up leans on) and those of
    its unknown words (looked up among the corpus's words for paraphrases and abstention), from ONE
    embedding call: the texts are embedded together and cached as a group, so that look-up and every
    search of the question (a comparison's per-paper ones too) share that call."""
    searched = [query.dense_text, query.context] if query.context else [query.dense_text]
    vectors = index.embed(searched + query.unknown_words)
    return vectors[:len(searched)], vectors[len(searched):]


def _aligned(rows: np.ndarray, rankings: list[Ranked]) -> np.ndarray:
    """The rankings' scores at ``rows`` (ascending positions), 0 where no ranking has the row."""
    out = np.zeros(len(rows), dtype="float32")
    for ranked in rankings:
        out[np.searchsorted(rows, ranked.positions)] = ranked.scores
    return out


def _rrf(scores: np.ndarray) -> np.ndarray:
    ranks = np.empty(len(scores), dtype="float32")
    ranks[np.argsort(-scores)] = np.arange(1, len(scores) + 1)
    return 1.0 / (RRF_K + ranks)
