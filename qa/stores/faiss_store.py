"""The embedded store: FAISS for the vectors, bm25s for BM25, files in the index folder.

Each collection is ``<name>.faiss`` (the vectors), ``<name>.bm25`` (bm25s's
own folder) and ``<name>.docs.npy`` (each row's document, as a code into
``faiss_store.json``'s document list). The FAISS index type follows the
collection's size: exact search (Flat) up to ``FLAT_MAX_ROWS`` rows, an
inverted file of exact vectors (IVF-Flat) above it; the type and its search
parameters are saved beside the files and recorded in the manifest.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from qa.store import Ranked, Rows, rrf

# Largest collection searched exactly, and what is used above it: measured by scripts/bench_scale.py
# (README, "Scale"). Flat's single-query p50 was 0.3 ms at 5,000 rows and 83 ms at 10,000 on this shared
# 2-core machine (from 10k on FAISS splits one query's scan across threads, which loses to the other
# processes); above it IVF-Flat reached recall@10 >= 0.95 of Flat in under a millisecond (p50), where
# HNSW (M 32) needed efSearch 512 to pass 0.95.
FLAT_MAX_ROWS = 5_000
# Inverted lists: 4 x sqrt(rows) (the usual rule), trained by IVF_KMEANS_ITERATIONS rounds of k-means on
# IVF_TRAIN_PER_LIST rows per list (just above FAISS's warning floor of 39): training a million rows' 4,000
# lists then takes about two minutes on 2 cores instead of ten.
IVF_LISTS_PER_SQRT_ROW = 4
IVF_TRAIN_PER_LIST = 40
IVF_KMEANS_ITERATIONS = 10
# Lists searched per query: the smallest measured with recall@10 >= 0.95 of Flat at 100k and 1M rows.
IVF_NPROBE = 32
# OpenMP threads one search runs on (FAISS's setting is the calling thread's). One: with two, a single query's
# scan waits at a barrier for the second core whenever another thread or process holds it. Measured at 1M rows
# (IVF-PQ re-ranked by exact vectors, nprobe 16 and 32, another process busy, two runs each): p95 7.9-11.3 ms
# on 2 threads against 0.52-0.70 ms on 1, p50 up to 7.9 ms against at most 0.58 (README, "A million passages").
SEARCH_THREADS = 1
SETTINGS_FILE = "faiss_store.json"
# Term lists whose BM25 scores a store keeps: one question searches a collection with the same terms
# several times (the whole collection and a named paper; each paper of a comparison).
SCORED_QUERIES = 8


class FaissStore:
    """FAISS + bm25s collections in one folder (see the module docstring)."""

    kind = "faiss"

    def __init__(self, root: Path):
        self.root = Path(root)
        self._vectors: dict[str, object] = {}
        self._bm25: dict[str, object] = {}
        self._codes: dict[str, np.ndarray] = {}
        self._doc_rows: dict[tuple[str, str], np.ndarray] = {}
        self._selectors: dict[tuple[str, str], object] = {}
        self._scores = lru_cache(maxsize=SCORED_QUERIES)(self._bm25_scores)
        self._settings = (json.loads((self.root / SETTINGS_FILE).read_text())
                          if (self.root / SETTINGS_FILE).is_file() else {"documents": [], "collections": {}})

    def write(self, collection: str, rows: Rows) -> None:
        import bm25s
        import faiss

        vector_index = _vector_index(rows.vectors.shape[1], len(rows.docs))
        if not vector_index.is_trained:
            train_ivf(vector_index, rows.vectors)
        vector_index.add(rows.vectors)
        faiss.write_index(vector_index, str(self.root / f"{collection}.faiss"))
        bm25 = bm25s.BM25()
        bm25.index(rows.terms, show_progress=False)
        bm25.save(str(self.root / f"{collection}.bm25"), show_progress=False)
        documents = self._settings["documents"]
        for doc in dict.fromkeys(rows.docs):
            if doc not in documents:
                documents.append(doc)
        code = {doc: i for i, doc in enumerate(documents)}
        np.save(self.root / f"{collection}.docs.npy", np.array([code[d] for d in rows.docs], dtype="int32"))
        self._settings["collections"][collection] = {"rows": len(rows.docs), "index": _describe(vector_index)}
        (self.root / SETTINGS_FILE).write_text(json.dumps(self._settings, indent=2))

    def count(self, collection: str) -> int:
        return self._settings["collections"][collection]["rows"]

    def dense(self, collection: str, vectors: np.ndarray, k: int, doc: str | None = None) -> list[Ranked]:
        import faiss

        vector_index = self._vector_index(collection)
        k = min(k, self.count(collection))
        params = None
        if doc is not None:
            selector = self._selector(collection, doc)
            if selector is None:
                return [Ranked.empty() for _ in vectors]
            params = (faiss.SearchParametersIVF(sel=selector, nprobe=IVF_NPROBE)
                      if isinstance(vector_index, faiss.IndexIVF) else faiss.SearchParameters(sel=selector))
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(SEARCH_THREADS)
        try:
            scores, ids = vector_index.search(vectors, k, params=params)
        finally:
            faiss.omp_set_num_threads(threads)  # the thread's own count again (a build in it trains on all cores)
        return [Ranked(i[i >= 0].astype("int64"), s[i >= 0]) for s, i in zip(scores, ids)]

    def lexical(self, collection: str, terms: list[str], k: int, doc: str | None = None) -> Ranked:
        # bm25s cannot score an empty query ("what is it?" has no terms left after stop words).
        if not terms:
            return Ranked.empty()
        # The cached array is shared between searches: read it, never write it.
        scores = self._scores(collection, tuple(terms))
        if doc is not None:
            rows, in_doc = self._rows_of(collection, doc), np.zeros_like(scores)
            in_doc[rows] = scores[rows]
            scores = in_doc
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        top = top[np.argsort(-scores[top], kind="stable")]
        top = top[scores[top] > 0]
        return Ranked(top.astype("int64"), scores[top])

    def fused(self, collection: str, vector: np.ndarray, terms: list[str], k: int,
              doc: str | None = None) -> Ranked:
        return rrf([self.dense(collection, vector.reshape(1, -1), k, doc)[0], self.lexical(collection, terms, k, doc)], k)

    def describe(self) -> dict:
        return {"kind": self.kind, **{name: c["index"] for name, c in self._settings["collections"].items()}}

    def _vector_index(self, collection: str):
        if collection not in self._vectors:
            import faiss

            vector_index = faiss.read_index(str(self.root / f"{collection}.faiss"))
            if isinstance(vector_index, faiss.IndexIVF):
                vector_index.nprobe = IVF_NPROBE
            self._vectors[collection] = vector_index
        return self._vectors[collection]

    def _bm25_index(self, collection: str):
        if collection not in self._bm25:
            import bm25s

            self._bm25[collection] = bm25s.BM25.load(str(self.root / f"{collection}.bm25"))
        return self._bm25[collection]

    def _doc_codes(self, collection: str) -> np.ndarray:
        if collection not in self._codes:
            self._codes[collection] = np.load(self.root / f"{collection}.docs.npy")
        return self._codes[collection]

    def _doc_code(self, doc: str) -> int:
        documents = self._settings["documents"]
        return documents.index(doc) if doc in documents else -1

    def _rows_of(self, collection: str, doc: str) -> np.ndarray:
        """The rows of ``collection`` that belong to ``doc``, found once."""
        if (collection, doc) not in self._doc_rows:
            self._doc_rows[(collection, doc)] = np.flatnonzero(
                self._doc_codes(collection) == self._doc_code(doc)).astype("int64")
        return self._doc_rows[(collection, doc)]

    def _selector(self, collection: str, doc: str):
        if (collection, doc) not in self._selectors:
            import faiss

            rows = self._rows_of(collection, doc)
            self._selectors[(collection, doc)] = faiss.IDSelectorBatch(rows) if len(rows) else None
        return self._selectors[(collection, doc)]

    def _bm25_scores(self, collection: str, terms: tuple[str, ...]) -> np.ndarray:
        return _bm25_scores(self._bm25_index(collection), list(terms))

    def load(self) -> "FaissStore":
        """Read every collection now, so that no request pays for it."""
        for collection in self._settings["collections"]:
            self._vector_index(collection)
            self._bm25_index(collection)
            self._doc_codes(collection)
        return self

    def close(self) -> None:
        self._vectors.clear()
        self._bm25.clear()
        self._doc_rows.clear()
        self._selectors.clear()
        self._scores.cache_clear()


def _bm25_scores(bm25, terms: list[str]) -> np.ndarray:
    """Every row's BM25 score for the query ``terms``: bm25s's ``get_scores``, each term's postings added in one
    indexed add where bm25s calls ``np.add.at``. A term's postings name each row once, so the float32 sums are
    the same, term by term; at a million rows this took 8 ms of a question's 50 (README, "Scale")."""
    ids = [bm25.vocab_dict[t] for t in terms if t in bm25.vocab_dict]
    data, indices, indptr = bm25.scores["data"], bm25.scores["indices"], bm25.scores["indptr"]
    scores = np.zeros(bm25.scores["num_docs"], dtype=bm25.dtype)
    for i in ids:
        rows = indices[indptr[i]:indptr[i + 1]]
        scores[rows] += data[indptr[i]:indptr[i + 1]]
    if bm25.nonoccurrence_array is not None:
        scores += bm25.nonoccurrence_array[ids].sum()
    return scores.astype("float32", copy=False)


def _vector_index(dimension: int, rows: int):
    """Exact inner-product search up to FLAT_MAX_ROWS rows, an inverted file of exact vectors above."""
    import faiss

    if rows <= FLAT_MAX_ROWS:
        return faiss.IndexFlatIP(dimension)
    return faiss.IndexIVFFlat(faiss.IndexFlatIP(dimension), dimension, ivf_lists(rows), faiss.METRIC_INNER_PRODUCT)


def ivf_lists(rows: int) -> int:
    """Inverted lists for a collection of ``rows`` rows (IVF_LISTS_PER_SQRT_ROW x sqrt(rows))."""
    return int(IVF_LISTS_PER_SQRT_ROW * np.sqrt(rows))


def train_ivf(vector_index, vectors: np.ndarray) -> None:
    """Train an inverted file's lists: IVF_KMEANS_ITERATIONS rounds of k-means on IVF_TRAIN_PER_LIST rows a
    list, the same seeded sample every time (the store and scripts/bench_scale.py build alike)."""
    vector_index.cp.niter = IVF_KMEANS_ITERATIONS
    sample = np.random.default_rng(0).choice(len(vectors), min(len(vectors), IVF_TRAIN_PER_LIST * vector_index.nlist),
                                             replace=False)
    vector_index.train(np.ascontiguousarray(vectors[np.sort(sample)]))


def _describe(vector_index) -> dict:
    import faiss

    if isinstance(vector_index, faiss.IndexIVF):
        return {"type": "IVF-Flat", "lists": vector_index.nlist, "nprobe": IVF_NPROBE}
    return {"type": "Flat"}
