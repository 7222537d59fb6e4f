"""What each answer-quality mechanism adds: the project's question sets scored with one mechanism off.

Run: .venv/bin/python tests/benchmarks/ablation.py [QUESTIONS.jsonl ...]
(default: tests/data/questions.jsonl). Prints one row per configuration.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from qa.abstain import Abstainer
from qa.answer import Pipeline
from qa.reader import ReaderWeights
from qa.evaluate import evaluate, load_questions
from qa.index import ensure_index
from qa.settings import PROJECT_ROOT, Settings, offline


def configurations(index):
    full = Abstainer.default()
    yield "full system", Pipeline(index), {}
    yield "no query understanding", Pipeline(index, expand_queries=False), {}
    yield "no answer-form match (definition, list)", Pipeline(index, weights=ReaderWeights.load().without("form")), {}
    yield "dense only (no BM25)", Pipeline(index, fusion="dense"), {}
    yield "BM25 only (no dense)", Pipeline(index, fusion="bm25"), {}
    yield "RRF instead of linear fusion", Pipeline(index, fusion="rrf"), {}
    yield "no abstention", Pipeline(index, abstainer=replace(full, threshold=0.0)), {}
    yield "no conversation history", Pipeline(index), {"drop_history": True}


def main(paths: list[str]) -> None:
    offline()
    index = ensure_index(Settings.from_env())
    questions = [q for p in paths or [str(PROJECT_ROOT / "tests/data/questions.jsonl")] for q in load_questions(Path(p))]
    print(f"{'configuration':40s} {'answer':>7s} {'answerable':>10s} {'refs':>5s} {'R@5':>5s} "
          f"{'unans.':>6s} {'f.abst':>6s} {'words':>5s}")
    for name, pipeline, options in configurations(index):
        asked = [{**q, "history": []} for q in questions] if options.get("drop_history") else questions
        s = evaluate(pipeline, asked)
        unanswerable = s["per_kind"].get("unanswerable", {}).get("answer")
        a = s["answerable"]
        print(f"{name:40s} {s['overall']['answer']:7.2f} {a['answer']:10.2f} {a['ref_hit']:5.2f} {a['R@5']:5.2f} "
              f"{unanswerable if unanswerable is not None else float('nan'):6.2f} {a['false_abstain']:6.2f} "
              f"{s['answer_words_mean']:5.0f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
