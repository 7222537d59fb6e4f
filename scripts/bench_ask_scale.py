"""/api/ask served over a synthetic index of N passages, against the bare query embedding, in one run.

Run (after scripts/synth_index.py --passages 1000000 --out DIR):
    .venv/bin/python scripts/bench_ask_scale.py --synthetic DIR --json bench-ask-scale.json

Starts ``qa serve --no-build`` over DIR/index (its corpus DIR/corpus, windows of 5 sentences moving by
one), asks the project's questions one at a time (twice: the second pass finds every query embedding
cached), and measures the bare embedding of the same questions (the model's own ``encode``, one
question a call) in this process, as ``qa bench`` does. Prints and writes p50/p95 of each, their ratios,
the server's start to first answer and its peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from qa.bench import DEFAULT_QUESTIONS, Server, floor, floor_ratios, percentiles
from qa.evaluate import load_questions
from qa.settings import Settings, offline

# Sentences shared by neighbouring windows in scripts/synth_index.py (a window of 5 moves by one).
SYNTHETIC_OVERLAP = "4"
# Loading a million passages (2.2 GB of documents.json, every file checksummed) takes minutes on 2 busy cores.
START_TIMEOUT_S = 1800


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic", type=Path, required=True, help="folder written by scripts/synth_index.py")
    parser.add_argument("--questions", type=Path, default=DEFAULT_QUESTIONS)
    parser.add_argument("--json", type=Path, default=Path("bench-ask-scale.json"))
    args = parser.parse_args()
    offline()
    os.environ["QA_OVERLAP_SENTENCES"] = SYNTHETIC_OVERLAP
    questions = [q["question"] for q in load_questions(args.questions)]
    manifest = json.loads((args.synthetic / "index" / "manifest.json").read_text())
    results = {"passages": manifest["passages"], "units": manifest["units"], "store_index": manifest["store_index"],
               "questions": len(questions)}
    with Server(["--index", str(args.synthetic / "index"), "--corpus", str(args.synthetic / "corpus")],
                start_timeout_s=START_TIMEOUT_S) as server:
        results["first_answer_s"] = round(server.first_answer_s, 1)
        samples, results["throughput_c1"] = server.ask_all(questions, 1)
        results.update(percentiles("ask", samples))
        cached, _ = server.ask_all(questions, 1)
        results.update(percentiles("ask_cached", cached))
        results["peak_rss_mb"] = round(server.peak_rss_mb())
    results.update(floor(Settings.from_env(overlap_sentences=0), questions, args.synthetic / "index"))
    results.update(floor_ratios(results))
    results = {k: round(v, 3) if isinstance(v, float) else v for k, v in results.items()}
    args.json.write_text(json.dumps(results, indent=2))
    for key, value in results.items():
        print(f"{key:28s} {value}")


if __name__ == "__main__":
    main()
