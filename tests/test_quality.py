"""Answer quality on the project's own question set (tests/data/questions.jsonl), with the real index.

The floors sit a few points under what was measured (see the README), so that a real regression
fails while noise does not. The development questions in ../shared/eval are for measuring only.
"""

from __future__ import annotations

import pytest
from conftest import CORPUS

from qa.evaluate import evaluate, load_questions

QUESTIONS = CORPUS.parent / "tests" / "data" / "questions.jsonl"
# People's questions in public-page styles, never fitted on: one set written beside the fit sets, the others by
# other hands that saw neither the fit sets' features nor any failure (people9 the freshest: measured 0.65 fresh, 0.68 now).
PEOPLE_SETS = {"people_holdout": 0.8, "people2_holdout": 0.6, "people6_holdout": 0.78, "people7_holdout": 0.58,
               "people8_holdout": 0.58, "people9_holdout": 0.58}


@pytest.fixture(scope="module")
def summary(pipeline):
    return evaluate(pipeline, load_questions(QUESTIONS))


def test_the_question_set_is_broad(summary):
    kinds = {k: a["n"] for k, a in summary["per_kind"].items()}
    assert sum(kinds.values()) >= 60 and kinds["unanswerable"] >= 15
    assert set(kinds) == {"prose", "table", "citation", "number", "compare", "followup", "unanswerable"}


def test_answers_are_right_often(summary):
    assert summary["overall"]["answer"] >= 0.88
    assert summary["answerable"]["answer"] >= 0.88
    assert summary["precision"] >= 0.82


def test_each_kind_holds_its_level(summary):
    # Seven follow-ups: one miss is 14 points, so their floor sits lower.
    floors = {"prose": 0.9, "table": 0.85, "citation": 0.9, "number": 0.8, "followup": 0.7, "compare": 0.75}
    for kind, floor in floors.items():
        assert summary["per_kind"][kind]["answer"] >= floor, kind


def test_retrieval_and_references(summary):
    assert summary["answerable"]["R@5"] >= 0.95
    assert summary["answerable"]["ref_hit"] >= 0.88


def test_abstention_is_calibrated(summary):
    assert summary["per_kind"]["unanswerable"]["answer"] >= 0.85
    assert summary["answerable"]["false_abstain"] <= 0.08


def test_answers_are_concise(summary):
    assert summary["answer_words_mean"] <= 80


@pytest.mark.parametrize("name", PEOPLE_SETS)
def test_people_questions_are_answered_or_declined_rightly(pipeline, name):
    people = evaluate(pipeline, load_questions(QUESTIONS.parent / f"{name}.jsonl"))
    assert people["overall"]["answer"] >= PEOPLE_SETS[name]
    # Most of what the papers do not answer is declined, and what is answered is mostly right.
    assert people["per_kind"]["unanswerable"]["answer"] >= PEOPLE_SETS[name]
    assert people["precision"] >= PEOPLE_SETS[name] - 0.05


def test_written_comparisons_and_follow_ups_hold_their_measured_level(pipeline):
    # written2: questions written against the papers by another hand, most of them comparisons and follow-ups (the
    # kinds a held-out set weighs); measured 0.52 fresh, comparisons 9 of 29. A floor under what it measures now.
    written = evaluate(pipeline, load_questions(QUESTIONS.parent / "written2_holdout.jsonl"))
    assert written["overall"]["answer"] >= 0.46
    assert written["per_kind"]["compare"]["answer"] >= 0.25
    assert written["per_kind"]["citation"]["answer"] >= 0.9
