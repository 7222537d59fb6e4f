"""The ONNX query encoder (``qa build``'s export, served on onnxruntime) against the torch one."""

from __future__ import annotations

import numpy as np
from conftest import CORPUS

from qa.evaluate import load_questions
from qa.index import load_query_model
from qa.onnx_encoder import ONNX_QUERY_MODEL, OnnxEncoder

QUESTIONS = CORPUS.parent / "tests" / "data" / "questions.jsonl"
# Largest difference allowed between an ONNX and a torch vector component: the export computes the same
# function with other kernels (fused attention, other summation orders). Measured on the 94 questions: at most 2.0e-7.
VECTOR_TOLERANCE = 1e-6


def test_the_build_exports_the_query_encoder_and_serving_runs_it(index, manifest):
    assert ONNX_QUERY_MODEL in manifest["files"]
    assert isinstance(index.model, OnnxEncoder)


def test_onnx_vectors_and_top_10s_are_torch_s(index):
    questions = [q["question"] for q in load_questions(QUESTIONS)]
    torch_model = load_query_model(index.model_path)
    assert not isinstance(torch_model, OnnxEncoder)
    for texts in ([q] for q in questions[:20]):  # one question a call, as a lone request
        assert np.abs(index.model.encode(texts, normalize_embeddings=True)
                      - torch_model.encode(texts, normalize_embeddings=True)).max() <= VECTOR_TOLERANCE
    onnx = index.model.encode(questions, normalize_embeddings=True)
    reference = torch_model.encode(questions, normalize_embeddings=True)
    assert np.abs(onnx - reference).max() <= VECTOR_TOLERANCE
    for collection in ("passages", "units"):
        for got, expected in zip(index.store.dense(collection, onnx, 10), index.store.dense(collection, reference, 10)):
            assert got.positions.tolist() == expected.positions.tolist()
