"""How accuracy varies with the reported confidence, on the given question sets.

Run: .venv/bin/python tests/benchmarks/confidence.py FILE.jsonl [FILE.jsonl ...]
A question counts as right when the referee's answer_hit is 1 (abstaining is right only for an
unanswerable question).
"""

from __future__ import annotations

import sys
from pathlib import Path

from qa.answer import Pipeline
from qa.evaluate import evaluate, load_questions
from qa.index import ensure_index
from qa.settings import Settings, offline

BINS = [(0.0, 0.2), (0.2, 0.4), (0.4, 0.6), (0.6, 0.8), (0.8, 0.9), (0.9, 1.01)]


def main(paths: list[str]) -> None:
    offline()
    pipeline = Pipeline(ensure_index(Settings.from_env()))
    rows = evaluate(pipeline, [q for p in paths for q in load_questions(Path(p))])["rows"]
    print(f"{'confidence':>12s} {'questions':>9s} {'right':>6s} {'abstained':>9s}")
    for low, high in BINS:
        group = [r for r in rows if low <= r["confidence"] < high]
        if group:
            right = sum(r["answer_hit"] for r in group) / len(group)
            abstained = sum(r["abstained"] for r in group) / len(group)
            print(f"{low:5.1f}-{min(high, 1.0):<5.1f} {len(group):9d} {right:6.2f} {abstained:9.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
