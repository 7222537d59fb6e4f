"""How accuracy varies with the reported confidence, on the given question sets.

Run: .venv/bin/python tests/benchmarks/confidence.py [FILE.jsonl ...]
(default: every question set of the project, qa.evaluate.project_sets, as the ablation benchmark). Prints,
for each band a page shows (high, medium, low = abstained) and for finer bins of the confidence value, how
many questions fell there and how many were right. A question counts as right when the referee's answer_hit
is 1 (abstaining is right only for an unanswerable question).
"high" must be right at least 9 times in 10 (see qa/abstain.py, HIGH_CONFIDENCE_ACCURACY).
"""

from __future__ import annotations

import sys
from pathlib import Path

from qa.answer import Pipeline
from qa.evaluate import evaluate, load_questions, project_sets
from qa.index import ensure_index
from qa.settings import Settings, offline

BINS = [(0.0, 0.2), (0.2, 0.4), (0.4, 0.6), (0.6, 0.8), (0.8, 0.9), (0.9, 1.01)]


def _line(label: str, group: list[dict]) -> str:
    right = sum(r["answer_hit"] for r in group) / len(group)
    abstained = sum(r["abstained"] for r in group) / len(group)
    return f"{label:>12s} {len(group):9d} {right:6.2f} {abstained:9.2f}"


def main(paths: list[str]) -> None:
    offline()
    pipeline = Pipeline(ensure_index(Settings.from_env()))
    print(f"high confidence from {pipeline.abstainer.high:.2f}, abstain below {pipeline.abstainer.threshold:.2f}")
    for path in paths or project_sets():
        rows = evaluate(pipeline, load_questions(Path(path)))["rows"]
        print(f"\n{Path(path).stem}\n{'confidence':>12s} {'questions':>9s} {'right':>6s} {'abstained':>9s}")
        for level in ("high", "medium", "low"):
            group = [r for r in rows if r["confidence_level"] == level]
            if group:
                print(_line(level, group))
        for low, high in BINS:
            group = [r for r in rows if low <= r["confidence"] < high]
            if group:
                print(_line(f"{low:.1f}-{min(high, 1.0):.1f}", group))


if __name__ == "__main__":
    main(sys.argv[1:])
