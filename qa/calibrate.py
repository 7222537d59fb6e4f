"""Calibrate: fit the reader's signal weights and then the abstention model on the project's own questions.

``qa calibrate`` runs both, in that order (abstention looks at what the reader picks), on the fit
sets in ``qa/data`` (``calibration.jsonl``, written against the papers, ``people.jsonl``, written
the way people ask on public pages, ``followups.jsonl``, follow-up questions the papers answer and
do not, and ``people3.jsonl``, more of people's questions, most of them near misses and consumer, clinic and lab
questions the papers do not answer), never on a set used to measure.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from qa.abstain import DATA, FEATURES, Abstainer, WordingPrior
from qa.evaluate import score_question

FIT_SETS = [DATA / "calibration.jsonl", DATA / "people.jsonl", DATA / "followups.jsonl", DATA / "people3.jsonl"]
# The weights tried for each fitted reader signal; the others keep their values (see README).
READER_GRID = {"asked_for": [0.0, 0.03, 0.06, 0.1], "summary": [0.0, 0.03, 0.06, 0.1], "form": [0.1, 0.15, 0.2]}


def forced_hits(pipeline, questions: list[dict]) -> list[bool]:
    """For each answerable question, whether the reader's answer is right when it must answer."""
    forced = replace(pipeline.abstainer, threshold=0.0)
    original, pipeline.abstainer = pipeline.abstainer, forced
    try:
        return [bool(score_question(q, asdict(pipeline.ask(q["question"], q.get("history") or [])))["answer_hit"])
                for q in questions]
    finally:
        pipeline.abstainer = original


class _RememberingRetriever:
    """The pipeline's retriever, answering a query it has seen from memory: the reader's weights do
    not change what retrieval finds, so a fit retrieves each question once."""

    def __init__(self, retriever):
        self._retriever = retriever
        self._found: dict = {}

    def search(self, query, k: int = 10):
        key = (repr(query), k)
        if key not in self._found:
            self._found[key] = self._retriever.search(query, k=k)
        return self._found[key]


def fit_reader(pipeline, questions: list[dict], log=print) -> dict:
    """One coordinate pass over READER_GRID for the most answerable questions answered right; returns
    the weights and sets them on ``pipeline.reader``."""
    from qa.reader import Reader

    answerable = [q for q in questions if q["kind"] != "unanswerable"]
    weights = pipeline.reader.weights
    retriever, pipeline.retriever = pipeline.retriever, _RememberingRetriever(pipeline.retriever)

    def accuracy(candidate) -> float:
        pipeline.reader = Reader(pipeline.index, candidate)
        return sum(forced_hits(pipeline, answerable)) / len(answerable)

    best = accuracy(weights)
    for name, values in READER_GRID.items():
        for value in values:
            candidate = replace(weights, **{name: value})
            if candidate == weights:
                continue
            score = accuracy(candidate)
            log(f"  {name}={value}: {score:.3f}")
            if score > best + 1e-9:
                best, weights = score, candidate
    pipeline.reader, pipeline.retriever = Reader(pipeline.index, weights), retriever
    return {"weights": asdict(weights), "fit_accuracy": round(best, 4), "questions": len(answerable)}


def fit_abstainer(pipeline, questions: list[dict], worded: bool = True) -> Abstainer:
    """Fit the wording prior, then the abstention model on the questions' features (the prior's held out), labels
    and the reader's forced answers. ``worded=False`` leaves the prior out (its feature 0), as the ablation does."""
    rows = [pipeline.abstention_features(q["question"], q.get("history") or []) for q in questions]
    answerable = [q["kind"] != "unanswerable" for q in questions]
    right = forced_hits(pipeline, questions)
    # A follow-up is judged with the question it follows, so cross-validation never splits them.
    groups = [(q.get("history") or [{}])[0].get("question") or q["id"] for q in questions]
    wording, held_out = None, [0.0] * len(rows)
    if worded:
        vectors = [pipeline.question_vector(pipeline.understand(q["question"], q.get("history") or []))
                   for q in questions]
        wording, held_out = WordingPrior.fit(vectors, answerable, groups, pipeline.index.manifest.get("model", ""))
    column = FEATURES.index("worded_answerable")
    for row, value in zip(rows, held_out):
        row[column] = value
    return Abstainer.fit(rows, answerable, right, groups, [q.get("style", "") for q in questions], wording)
