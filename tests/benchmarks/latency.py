"""Latency of answering, in-process and over HTTP, on a question set (timings live here, not in tests).

Run: .venv/bin/python tests/benchmarks/latency.py [QUESTIONS.jsonl]
Reports p50/p95 in ms; compare runs made on the same machine in one sitting.
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from qa.answer import Pipeline
from qa.evaluate import load_questions
from qa.index import ensure_index
from qa.service import create_app
from qa.settings import PROJECT_ROOT, Settings, offline


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    return f"p50 {statistics.median(ordered):6.1f} ms   p95 {ordered[int(0.95 * (len(ordered) - 1))]:6.1f} ms"


def main(path: str) -> None:
    offline()
    settings = Settings.from_env()
    index = ensure_index(settings)
    questions = load_questions(Path(path))
    pipeline = Pipeline(index)
    pipeline.ask("warm up")
    timings = []
    for q in questions:
        started = time.perf_counter()
        pipeline.ask(q["question"], q.get("history") or [])
        timings.append((time.perf_counter() - started) * 1000)
    print(f"in-process ({len(questions)} questions): {percentiles(timings)}")
    server = uvicorn.Server(uvicorn.Config(create_app(settings, index), host="127.0.0.1", port=8765, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.1)
    timings = []
    with httpx.Client(base_url="http://127.0.0.1:8765", timeout=30) as client:
        for q in questions:
            started = time.perf_counter()
            client.post("/api/ask", json={"question": q["question"], "history": q.get("history") or []})
            timings.append((time.perf_counter() - started) * 1000)
    server.should_exit = True
    print(f"over HTTP  ({len(questions)} questions): {percentiles(timings)}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else str(PROJECT_ROOT / "tests/data/questions.jsonl"))
