"""What each answer-quality mechanism adds: every question set scored with one mechanism off.

Run: .venv/bin/python tests/benchmarks/ablation.py [QUESTIONS.jsonl ...]
(default: every question set of the project, qa.evaluate.project_sets: the measuring sets in tests/data, the
fit sets in qa/data, and ../shared/eval/dev.jsonl and public.jsonl when present). Prints answer
accuracy per configuration (rows) and question set (columns).
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from qa.abstain import Abstainer
from qa.answer import Pipeline
from qa.calibrate import FIT_SETS, fit_abstainer
from qa.evaluate import evaluate, load_questions, project_sets
from qa.index import ensure_index
from qa.reader import ReaderWeights
from qa.settings import Settings, offline

# Reader signals ablated one at a time, with what each is called in the table.
READER_SIGNALS = {
    "form": "answer form (a definition for 'what is X?', a list for 'which Xs?', a makeup for 'what is X made of?')",
    "asked_for": "asked-for content (a cause for why, a means for how, ...)",
    "summary": "summary statements for broad questions",
    "overlap": "word overlap",
}


def configurations(index):
    full = Abstainer.default()
    weights = ReaderWeights.load()
    yield "full system", Pipeline(index), {}
    yield "no query understanding", Pipeline(index, expand_queries=False), {}
    for name, description in READER_SIGNALS.items():
        yield f"no {description}", Pipeline(index, weights=weights.without(name)), {}
    yield "dense only (no BM25)", Pipeline(index, fusion="dense"), {}
    yield "BM25 only (no dense)", Pipeline(index, fusion="bm25"), {}
    yield "RRF instead of linear fusion", Pipeline(index, fusion="rrf"), {}
    yield "no abstention", Pipeline(index, abstainer=replace(full, threshold=0.0)), {}
    unworded = Pipeline(index, abstainer=replace(full, wording=None))
    fit = [{**q, "style": path.stem} for path in FIT_SETS for q in load_questions(path)]
    yield "no wording prior (abstention refitted without it)", Pipeline(
        index, abstainer=fit_abstainer(unworded, fit, worded=False)), {}
    yield "no conversation history", Pipeline(index), {"drop_history": True}


def main(paths: list[str]) -> None:
    offline()
    index = ensure_index(Settings.from_env())
    sets = {Path(p).stem: load_questions(Path(p)) for p in paths or project_sets()}
    print(f"{'configuration':72s}" + "".join(f"{name[:12]:>13s}" for name in sets))
    for name, pipeline, options in configurations(index):
        scores = []
        for questions in sets.values():
            asked = [{**q, "history": []} for q in questions] if options.get("drop_history") else questions
            scores.append(evaluate(pipeline, asked)["overall"]["answer"])
        print(f"{name:72s}" + "".join(f"{s:13.2f}" for s in scores), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
