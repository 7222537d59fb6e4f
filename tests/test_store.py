"""The retrieval stores: the same protocol tests over FAISS and over Milvus Lite, and Milvus against FAISS.

The Milvus index is built by the real build path (``store="milvus"``) into Milvus Lite in a temporary folder.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from conftest import CORPUS

from qa.answer import Pipeline
from qa.evaluate import evaluate, load_questions
from qa.index import build_index, load_index
from qa.query import QueryAnalyzer
from qa.retrieve import HybridRetriever
from qa.store import Rows
from qa.stores.faiss_store import FLAT_MAX_ROWS, FaissStore, _bm25_scores
from qa.text import index_terms

pytest.importorskip("pymilvus", reason="the Milvus store needs the [milvus] extra (pymilvus, milvus-lite)")

QUESTIONS = CORPUS.parent / "tests" / "data" / "questions.jsonl"
DEV = CORPUS.parent.parent / "shared" / "eval" / "dev.jsonl"


@pytest.fixture(scope="module")
def milvus_index(settings, manifest, tmp_path_factory):
    milvus = dataclasses.replace(settings, store="milvus", index_dir=tmp_path_factory.mktemp("milvus") / "index")
    build_index(milvus, progress=False)
    index = load_index(milvus)
    yield index
    index.store.close()


@pytest.fixture(params=["faiss", "milvus"])
def store_index(request, index, milvus_index):
    return index if request.param == "faiss" else milvus_index


def _question_vector(index, text="How do exosomes help tumours evade the immune system?"):
    return index.embed([text])


def test_a_store_counts_what_the_build_wrote(store_index):
    assert store_index.store.count("passages") == len(store_index.passages)
    assert store_index.store.count("units") == len(store_index.units)


def test_dense_top_k_is_best_first_and_filtered_by_document(store_index):
    store = store_index.store
    ranked = store.dense("passages", _question_vector(store_index), 10)[0]
    assert len(ranked.positions) == 10 and list(ranked.scores) == sorted(ranked.scores, reverse=True)
    only_bae = store.dense("passages", _question_vector(store_index), 10, doc="bae2018")[0]
    assert len(only_bae.positions) == 10
    assert {store_index.passages[p].doc for p in only_bae.positions} == {"bae2018"}


def test_lexical_top_k_finds_the_rows_with_the_words(store_index):
    store = store_index.store
    ranked = store.lexical("units", index_terms("adrenomedullin"), 5)
    assert len(ranked.positions) >= 1 and (ranked.scores > 0).all()
    assert all("drenomedullin" in store_index.units[p].text for p in ranked.positions)
    assert len(store.lexical("units", index_terms("adrenomedullin"), 5, doc="bae2018").positions) == 0
    assert len(store.lexical("units", [], 5).positions) == 0


def test_fused_top_k_ranks_rows_both_sides_like(store_index):
    store = store_index.store
    vector = _question_vector(store_index, "Adrenomedullin in pancreatic cancer exosomes")[0]
    fused = store.fused("units", vector, index_terms("adrenomedullin pancreatic cancer"), 5)
    assert len(fused.positions) == 5 and "drenomedullin" in store_index.units[fused.positions[0]].text


def test_the_faiss_store_searches_a_large_collection_approximately_and_still_finds_the_nearest(index, tmp_path):
    units = index.embed([u.text for u in index.units[:50]])
    rng = np.random.default_rng(0)
    noisy = np.repeat(units, FLAT_MAX_ROWS // 50 + 1, axis=0) + 0.01 * rng.standard_normal((50 * (FLAT_MAX_ROWS // 50 + 1), units.shape[1]))
    vectors = (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype("float32")
    store = FaissStore(tmp_path)
    store.write("passages", Rows(["synthetic"] * len(vectors), [["exosom"]] * len(vectors), vectors))
    assert store.describe()["passages"]["type"] == "IVF-Flat"
    exact = vectors @ vectors[:20].T
    found = store.dense("passages", vectors[:20], 10)
    recall = np.mean([len(set(f.positions) & set(np.argsort(-exact[:, i])[:10])) / 10 for i, f in enumerate(found)])
    assert recall >= 0.95


def _top10(index, questions):
    analyzer = QueryAnalyzer(index.documents.values(), index.lexicon)
    retriever = HybridRetriever(index)
    return [[h.passage.id for h in retriever.search(analyzer.analyze(q["question"], q.get("history") or []), k=10).hits]
            for q in questions]


def test_the_faiss_stores_bm25_scores_are_bm25s_own(index):
    bm25 = index.store._bm25_index("units")
    for question in load_questions(QUESTIONS):
        terms = index_terms(question["question"]) + ["unknownterm"]
        expected = np.asarray(bm25.get_scores(terms), dtype="float32")
        assert np.array_equal(_bm25_scores(bm25, terms), expected)


def test_milvus_top10_passages_overlap_the_faiss_stores(index, milvus_index):
    questions = load_questions(QUESTIONS)
    overlaps = [len(set(a) & set(b)) / 10 for a, b in zip(_top10(index, questions), _top10(milvus_index, questions))]
    assert np.mean(overlaps) >= 0.9


@pytest.mark.skipif(not DEV.is_file(), reason=f"the dev questions are not at {DEV}")
def test_dev_answers_through_milvus_score_within_three_points(pipeline, milvus_index):
    questions = load_questions(DEV)
    default = evaluate(pipeline, questions)["overall"]["answer"]
    milvus = evaluate(Pipeline(milvus_index), questions)["overall"]["answer"]
    assert abs(milvus - default) <= 0.03
