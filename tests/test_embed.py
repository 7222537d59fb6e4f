"""Embedding: the build's one embedding step in-process and on Ray Data; query embeddings cached and batched."""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import asdict

import numpy as np
import pytest
from conftest import CORPUS

from qa.answer import Pipeline
from qa.embed import QueryEncoder, _passes, embed_on_ray, embed_texts
from qa.evaluate import load_questions
from qa.index import load_model

QUESTIONS = CORPUS.parent / "tests" / "data" / "questions.jsonl"


def test_ray_data_embeds_the_same_vectors_as_the_plain_path(index):
    pytest.importorskip("ray", reason="embedding on Ray needs the [ray] extra")
    import ray

    texts = [u.text for u in index.units[:40]]
    try:
        on_ray = embed_on_ray(index.model_path, texts, "local")
    finally:
        ray.shutdown()
    assert np.array_equal(on_ray, embed_texts(load_model(index.model_path), texts))  # the build's model


def test_a_repeated_query_is_embedded_once(index):
    encoder = QueryEncoder(index.model)
    first = encoder.encode(("How are exosomes formed?",))
    assert encoder.encode(("How are exosomes formed?",)) is first and encoder.calls == 1
    assert not first.flags.writeable


def test_the_cache_forgets_the_least_recently_used(index):
    encoder = QueryEncoder(index.model, cache_entries=2)
    for text in ("a", "b", "a", "c", "a"):
        encoder.encode((text,))
    assert encoder.calls == 3
    encoder.encode(("b",))
    assert encoder.calls == 4


def test_a_question_and_its_short_words_are_embedded_in_passes_of_their_own(index):
    texts = ("How do exosomes from hypoxic glioblastoma cells change angiogenesis?", "hypoxic", "glioblastoma",
             "angiogenesis")
    # Longest first; a word under half the question's length does not pad to it.
    assert _passes(list(texts)) == [[0], [2, 3, 1]]
    encoder = QueryEncoder(index.model)
    vectors = encoder.encode(texts)
    alone = np.vstack([index.model.encode([text], normalize_embeddings=True) for text in texts])
    assert np.abs(vectors - alone).max() < 1e-6
    # A lone question's word pass ran beside its own, on the encoder's side thread.
    assert encoder._side is not None


def test_a_question_is_embedded_in_one_model_call(index):
    pipeline = Pipeline(dataclasses.replace(index, _encoder=None))
    # Searched text and the words abstention looks up (glypican-1, doxorubicin), a comparison's per-paper
    # searches too: one call.
    answer = pipeline.ask("Do the two reviews agree on glypican-1 exosomes used with doxorubicin?")
    assert pipeline.index._encoder.calls == 1 and answer.question


def _alike(mine, theirs) -> bool:
    """Equal, but for a score's last rounded digit: texts embedded in other company pad differently, which moves
    a vector by about 1e-7 and can tip a 4-decimal rounding (0.67775 -> 0.6778 or 0.6777)."""
    if isinstance(mine, float) and isinstance(theirs, float):
        return abs(mine - theirs) <= 1.5e-4
    if isinstance(mine, dict) and isinstance(theirs, dict):
        return mine.keys() == theirs.keys() and all(_alike(mine[k], theirs[k]) for k in mine)
    if isinstance(mine, list) and isinstance(theirs, list):
        return len(mine) == len(theirs) and all(_alike(a, b) for a, b in zip(mine, theirs))
    return mine == theirs


def _answers(pipeline, questions, threads):
    answers = {}

    def ask(share):
        for q in share:
            answer = asdict(pipeline.ask(q["question"], q.get("history") or []))
            answer.pop("timing_ms")
            answers[q["id"]] = answer

    workers = [threading.Thread(target=ask, args=(questions[i::threads],)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return answers


def test_concurrent_questions_share_model_calls_and_answer_as_asked_one_by_one(index):
    questions = load_questions(QUESTIONS)
    one_by_one = Pipeline(dataclasses.replace(index, _encoder=None))
    concurrent = Pipeline(dataclasses.replace(index, _encoder=None))
    assert _alike(_answers(concurrent, questions, 16), _answers(one_by_one, questions, 1))
    assert concurrent.index._encoder.calls < one_by_one.index._encoder.calls


def test_serving_embeds_queries_as_sentence_transformers_does_bit_for_bit(index):
    from qa.embed import MeanPoolingEncoder, _encode
    from qa.index import load_query_model

    served = load_query_model(index.model_path)  # the torch encoder (QA_QUERY_ENCODER=torch)
    assert type(served) is MeanPoolingEncoder
    reference = load_model(index.model_path)
    questions = [q["question"] for q in load_questions(QUESTIONS)]
    for question in questions[:30]:
        assert np.array_equal(_encode(served, [question], 32), _encode(reference, [question], 32))
    assert np.array_equal(_encode(served, questions, 32), _encode(reference, questions, 32))
