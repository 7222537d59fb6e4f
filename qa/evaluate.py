"""Evaluate: run a question set in-process and score it the way the referee scorer does.

Per question: answer_hit (an expected phrase in the first 150 words of the
answer, citation markers removed; for unanswerable questions, abstaining),
ref_hit (an expected reference number among the quoted units' refs, from the
named paper), recall@k (an expected phrase in the first 200 words of one of
the top k passages), false_abstain. Matching squashes both sides (see
``qa.text.squash``).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict
from pathlib import Path

from qa.text import squash

KINDS = ["prose", "table", "citation", "number", "compare", "followup", "unanswerable"]
# The project's measuring sets (README, "Answer quality, every question set side by side"); the fit sets are
# qa.calibrate.FIT_SETS, and the shared dev and public sets sit beside the project in a checkout with ../shared.
MEASURING_SETS = ["tests/data/questions.jsonl", "tests/data/people_holdout.jsonl", "tests/data/people2_holdout.jsonl",
                  "tests/data/people4_holdout.jsonl", "tests/data/statements_holdout.jsonl",
                  "tests/data/people5_holdout.jsonl", "tests/data/people6_holdout.jsonl",
                  "tests/data/people7_holdout.jsonl", "tests/data/people8_holdout.jsonl",
                  "tests/data/people9_holdout.jsonl", "tests/data/written2_holdout.jsonl"]
SHARED_SETS = ["../shared/eval/dev.jsonl", "../shared/eval/public.jsonl"]
KS = (1, 3, 5, 10)
_MARKER = re.compile(r"\[\s*\d+(?:\s*[-\u2013\u2014,;]\s*\d+)*\s*\]")


def project_sets() -> list[Path]:
    """Every question set there is: the measuring sets, the fit sets, then the shared dev and public sets when
    present."""
    from qa.calibrate import FIT_SETS
    from qa.settings import PROJECT_ROOT

    paths = [PROJECT_ROOT / p for p in MEASURING_SETS] + FIT_SETS + [PROJECT_ROOT / p for p in SHARED_SETS]
    return [p for p in paths if p.is_file()]


def load_questions(path: Path) -> list[dict]:
    """Questions from a JSONL file (one object a line)."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _matches(phrases: list[str], text: str) -> bool:
    squashed = squash(text)
    return any(p and squash(p) in squashed for p in phrases)


def score_question(question: dict, response: dict) -> dict:
    """The referee's per-question metrics for one response (the API JSON)."""
    groups = question.get("expect_all") or [question.get("expect") or []]
    abstained = response["abstained"] is True
    doc_of = {c["n"]: c["doc"] for c in response["citations"]}
    named = question.get("doc")
    refs = {r for s in response["sentences"] if not named or doc_of.get(s["citation"]) == named
            for r in s["refs"]}
    row = {"id": question["id"], "kind": question["kind"], "abstained": abstained,
           "answer_words": len(response["answer"].split()),
           "ref_hit": int(bool(set(question["refs"]) & refs)) if question.get("refs") else None}
    if question["kind"] == "unanswerable":
        row.update(answer_hit=int(abstained), false_abstain=None, rank=None)
        return row
    window = " ".join(_MARKER.sub(" ", response["answer"]).split()[:150])
    row["answer_hit"] = int(not abstained and all(_matches(g, window) for g in groups))
    row["false_abstain"] = int(abstained)
    texts = [" ".join(p["text"].split()[:200]) for p in response["passages"][:10]]
    ranks = [next((i + 1 for i, t in enumerate(texts) if _matches(g, t)), None) for g in groups]
    row["rank"] = None if None in ranks else max(ranks)
    return row


def _mean(values):
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def aggregate(rows: list[dict]) -> dict:
    answerable = [r for r in rows if r["kind"] != "unanswerable"]
    out = {"n": len(rows), "answer": _mean([r["answer_hit"] for r in rows]),
           "ref_hit": _mean([r["ref_hit"] for r in rows]),
           "false_abstain": _mean([r["false_abstain"] for r in rows])}
    for k in KS:
        out[f"R@{k}"] = _mean([int(r["rank"] is not None and r["rank"] <= k) for r in answerable])
    return out


def evaluate(pipeline, questions: list[dict]) -> dict:
    """Ask every question in-process; per-question rows and per-kind aggregates."""
    rows = []
    for question in questions:
        started = time.perf_counter()
        response = asdict(pipeline.ask(question["question"], question.get("history") or []))
        row = score_question(question, response)
        row["latency_ms"] = (time.perf_counter() - started) * 1000
        row["confidence"] = response["confidence"]
        row["confidence_level"] = response["confidence_level"]
        rows.append(row)
    kinds = [k for k in KINDS if any(r["kind"] == k for r in rows)]
    answered = [r for r in rows if not r["abstained"]]
    return {
        "per_kind": {k: aggregate([r for r in rows if r["kind"] == k]) for k in kinds},
        "answerable": aggregate([r for r in rows if r["kind"] != "unanswerable"]),
        "overall": aggregate(rows),
        "answer_words_mean": _mean([r["answer_words"] for r in answered]),
        "precision": _mean([r["answer_hit"] if r["kind"] != "unanswerable" else 0 for r in answered]),
        "latency_ms_mean": _mean([r["latency_ms"] for r in rows]),
        "rows": rows,
    }


def format_table(summary: dict) -> str:
    """The summary as the referee prints it (answer, refs, R@k, false abstain in %)."""
    def pct(v):
        return "-" if v is None else f"{100 * v:.0f}"
    lines = [f"{'kind':13s} {'n':>4s} {'answer':>7s} {'refs':>7s} {'R@1':>5s} {'R@5':>5s} {'f.abst':>7s}"]
    rows = list(summary["per_kind"].items()) + [("answerable", summary["answerable"]), ("ALL", summary["overall"])]
    for name, a in rows:
        lines.append(f"{name:13s} {a['n']:4d} {pct(a['answer']):>7s} {pct(a['ref_hit']):>7s} "
                     f"{pct(a['R@1']):>5s} {pct(a['R@5']):>5s} {pct(a['false_abstain']):>7s}")
    lines.append(f"precision {pct(summary['precision'])}%  mean answer words "
                 f"{summary['answer_words_mean'] or 0:.0f}  mean latency {summary['latency_ms_mean'] or 0:.0f} ms")
    return "\n".join(lines)


def format_sets(summaries: dict[str, dict]) -> str:
    """Several question sets' summaries side by side, one column a set (values in %)."""
    def pct(v):
        return "-" if v is None else f"{100 * v:.0f}"

    def unanswerable(s):
        return s["per_kind"].get("unanswerable", {}).get("answer")

    rows = [
        ("questions", lambda s: str(s["overall"]["n"])),
        ("answer", lambda s: pct(s["overall"]["answer"])),
        ("answerable right", lambda s: pct(s["answerable"]["answer"])),
        ("unanswerable abstained", lambda s: pct(unanswerable(s))),
        ("precision", lambda s: pct(s["precision"])),
        ("refs", lambda s: pct(s["answerable"]["ref_hit"])),
        ("R@5", lambda s: pct(s["answerable"]["R@5"])),
        ("false abstention", lambda s: pct(s["answerable"]["false_abstain"])),
        ("mean answer words", lambda s: f"{s['answer_words_mean'] or 0:.0f}"),
    ]
    kinds = [k for k in KINDS if k != "unanswerable" and any(k in s["per_kind"] for s in summaries.values())]
    rows += [(f"  {k}", lambda s, k=k: pct(s["per_kind"].get(k, {}).get("answer"))) for k in kinds]
    width = max(9, *(len(name) for name in summaries))
    lines = [f"{'':24s}" + "".join(f"{name:>{width + 1}s}" for name in summaries)]
    for label, value in rows:
        lines.append(f"{label:24s}" + "".join(f"{value(s):>{width + 1}s}" for s in summaries.values()))
    return "\n".join(lines)
