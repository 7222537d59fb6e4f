"""Bench: what serving costs next to its floor, measured in one run on one machine (``qa bench``).

Every pass starts a fresh ``qa serve`` process (so no pass finds another's cached query embeddings)
over an index built here, and asks every question of a fixed list (the project's 94 by default):
- ``/api/ask`` latency one request at a time: p50/p95/p99;
- the floor: the bare query embedding of the same questions with the model's own ``encode`` call,
  one at a time (on torch's default threads, and again on the serving encoder's), the same with the
  index's ONNX export on onnxruntime (``qa.onnx_encoder``), and bare BM25
  top-10 (bm25s over the answer units); the ratios of the two;
- throughput at concurrency 1, 4 and 16 and the ratio of 16 to 1 (the clients are tasks of one event loop);
- a second, warm pass (every embedding cached) at concurrency 1;
- cold build (``qa build`` into a new folder) and warm build (the same again, its files now in the
  page cache); start of ``qa serve`` to its first answer beside a bare ``import sentence_transformers``;
- peak RSS of the serving process.
Prints a table and writes JSON. Timings on a shared machine are noisy: compare ratios from one run.
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from qa.settings import PROJECT_ROOT, Settings

DEFAULT_QUESTIONS = PROJECT_ROOT / "tests" / "data" / "questions.jsonl"
CONCURRENCY = (1, 4, 16)


def run_bench(settings: Settings, questions_path: Path = DEFAULT_QUESTIONS, store_args: list[str] = ()) -> dict:
    """Measure everything listed in the module docstring; returns the JSON-ready results."""
    from qa.evaluate import load_questions

    questions = [q["question"] for q in load_questions(questions_path)]
    results = {"questions": len(questions), "store": list(store_args) or ["faiss"], "cpus": os.cpu_count(),
               "query_encoder": settings.query_encoder}
    with tempfile.TemporaryDirectory(prefix="qa-bench-") as folder:
        index_dir = Path(folder) / "index"
        args = ["--index", str(index_dir), "--corpus", str(settings.corpus_dir), *store_args,
                "--query-encoder", settings.query_encoder]
        results["build_cold_s"] = _timed(lambda: _qa("build", *args))
        results["build_warm_s"] = _timed(lambda: _qa("build", *args))
        results["import_s"] = _timed(lambda: subprocess.run([sys.executable, "-c", "import sentence_transformers"],
                                                            check=True))
        results.update(floor(settings, questions, index_dir))
        for concurrency in CONCURRENCY:
            with Server(args) as server:
                if concurrency == 1:
                    results["first_answer_s"] = server.first_answer_s
                    samples, results["throughput_c1"] = server.ask_all(questions, 1)
                    results.update(percentiles("ask", samples))
                    warm, _ = server.ask_all(questions, 1)
                    results["ask_warm_p50_ms"] = percentiles("warm", warm)["warm_p50_ms"]
                else:
                    _, results[f"throughput_c{concurrency}"] = server.ask_all(questions, concurrency)
                results["peak_rss_mb"] = max(results.get("peak_rss_mb", 0), server.peak_rss_mb())
    results.update(floor_ratios(results))
    results["ask_to_bm25_p50"] = results["ask_p50_ms"] / results["bm25_p50_ms"]
    results["throughput_16_to_1"] = results["throughput_c16"] / results["throughput_c1"]
    results["first_answer_minus_import_s"] = results["first_answer_s"] - results["import_s"]
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in results.items()}


def format_table(results: dict) -> str:
    """The results as a two-column table (what, value), ratios beside what they compare."""
    rows = [
        ("query encoder serving", results["query_encoder"]),
        ("/api/ask p50 / p95 / p99 (ms)", f"{results['ask_p50_ms']} / {results['ask_p95_ms']} / {results['ask_p99_ms']}"),
        ("bare embedding p50 / p95 (ms)", f"{results['embed_p50_ms']} / {results['embed_p95_ms']}"),
        ("ask / embedding p50, p95", f"{results['ask_to_embedding_p50']:.2f}, {results['ask_to_embedding_p95']:.2f}"),
        ("bare embedding on serving's torch threads p50 / p95 (ms)",
         f"{results['embed_serving_threads_p50_ms']} / {results['embed_serving_threads_p95_ms']}"),
        ("ask / that embedding p50, p95", f"{results['ask_to_embedding_serving_threads_p50']:.2f}, "
                                          f"{results['ask_to_embedding_serving_threads_p95']:.2f}"),
        ("bare embedding, ONNX export on 1 onnxruntime thread p50 / p95 (ms)",
         f"{results['embed_onnx_p50_ms']} / {results['embed_onnx_p95_ms']}"),
        ("ask / that embedding p50, p95", f"{results['ask_to_embedding_onnx_p50']:.2f}, "
                                          f"{results['ask_to_embedding_onnx_p95']:.2f}"),
        ("bare BM25 top-10 p50 (ms); ask / BM25 p50", f"{results['bm25_p50_ms']}; {results['ask_to_bm25_p50']:.0f}"),
        ("/api/ask p50, embeddings cached (ms)", f"{results['ask_warm_p50_ms']}"),
        ("throughput c1 / c4 / c16 (req/s)",
         f"{results['throughput_c1']:.1f} / {results['throughput_c4']:.1f} / {results['throughput_c16']:.1f}"),
        ("throughput c16 / c1", f"{results['throughput_16_to_1']:.2f}"),
        ("build cold / warm (s)", f"{results['build_cold_s']:.1f} / {results['build_warm_s']:.1f}"),
        ("start to first answer / bare import (s)", f"{results['first_answer_s']:.1f} / {results['import_s']:.1f}"),
        ("peak RSS serving (MB)", f"{results['peak_rss_mb']:.0f}"),
    ]
    width = max(len(what) for what, _ in rows)
    return "\n".join(f"{what:<{width}}  {value}" for what, value in rows)


def _qa(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qa.cli", *args], check=True, capture_output=True, text=True)


def _timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def floor(settings: Settings, questions: list[str], index_dir: Path) -> dict:
    """Bare query embedding (the model's own encode, one question a call; and the index's ONNX export of it on
    onnxruntime, ``qa.onnx_encoder``) and bare BM25 top-10."""
    import bm25s
    import numpy as np
    import torch

    from qa.embed import QUERY_THREADS
    from qa.index import answer_units, load_model
    from qa.ingest import load_corpus
    from qa.onnx_encoder import ONNX_QUERY_MODEL, OnnxEncoder
    from qa.text import index_terms

    embed_onnx = _embedding_ms(OnnxEncoder(settings.model_path(), index_dir / ONNX_QUERY_MODEL), questions)
    model = load_model(settings.model_path())
    embed = _embedding_ms(model, questions)
    # The same on the serving encoder's threads (qa.embed.QUERY_THREADS), the last thing torch does here.
    torch.set_num_threads(QUERY_THREADS)
    embed_serving_threads = _embedding_ms(model, questions)
    units = answer_units([p for d in load_corpus(settings.corpus_dir) for p in d.passages])
    bm25 = bm25s.BM25()
    bm25.index([index_terms(u.text) for u in units], show_progress=False)
    lexical = []
    for question in questions:
        started = time.perf_counter()
        terms = index_terms(question)
        if terms:
            scores = bm25.get_scores(terms)
            np.argpartition(-scores, 10)[:10]
        lexical.append((time.perf_counter() - started) * 1000)
    return {**percentiles("embed", embed), **percentiles("embed_serving_threads", embed_serving_threads),
            **percentiles("embed_onnx", embed_onnx),
            **percentiles("bm25", lexical)}


def floor_ratios(results: dict) -> dict:
    """``/api/ask`` p50 and p95 over each bare-embedding floor ``floor`` measures (the model's encode on torch's
    threads, on the serving encoder's, and the ONNX export)."""
    return {f"ask_to_embedding{suffix}_{share}": results[f"ask_{share}_ms"] / results[f"embed{suffix}_{share}_ms"]
            for suffix in ("", "_serving_threads", "_onnx") for share in ("p50", "p95")}


def _embedding_ms(model, questions: list[str]) -> list[float]:
    """The model's own encode of each question on its own, in ms (after one warm-up call)."""
    model.encode(["warm up"], normalize_embeddings=True, show_progress_bar=False)
    samples = []
    for question in questions:
        started = time.perf_counter()
        model.encode([question], normalize_embeddings=True, show_progress_bar=False)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def peak_rss_mb(pid: int | str = "self") -> float:
    """A process's peak resident memory (VmHWM; ru_maxrss would carry a spawning parent's over an exec)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM"))) / 1024


def percentiles(name: str, samples: list[float]) -> dict:
    ordered = sorted(samples)

    def at(share: float) -> float:
        return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]

    return {f"{name}_p50_ms": statistics.median(ordered), f"{name}_p95_ms": at(0.95), f"{name}_p99_ms": at(0.99)}


class Server:
    """``qa serve`` in a process of its own on a free loopback port, timed from start to its first answer."""

    def __init__(self, args: list[str], start_timeout_s: float = 300):
        self.args = args
        self.start_timeout_s = start_timeout_s

    def __enter__(self) -> "Server":
        import httpx

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        started = time.perf_counter()
        self.process = subprocess.Popen([sys.executable, "-m", "qa.cli", "serve", "--no-build", "--host", "127.0.0.1",
                                         "--port", str(port), *self.args], stderr=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{port}"
        # One client for every try: httpx.get makes a client (and its SSL context) a call, which tried every 20 ms
        # took 1.5-1.6 s of this process's CPU during a 4.5 s start, beside the server it was timing.
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while True:
                try:
                    if client.get("/api/ask", params={"question": "What are exosomes?"}).status_code == 200:
                        break
                except httpx.HTTPError:
                    if self.process.poll() is not None or time.perf_counter() - started > self.start_timeout_s:
                        raise RuntimeError(f"qa serve did not answer within {self.start_timeout_s} s")
                    time.sleep(0.02)
        self.first_answer_s = time.perf_counter() - started
        return self

    def ask_all(self, questions: list[str], concurrency: int) -> tuple[list[float], float]:
        """Ask every question with ``concurrency`` clients; per-request latencies (ms) and requests per second.

        The clients are tasks of one event loop in this process, not threads: the load generator shares the cores
        with the server it measures, and 16 threads of ``httpx.Client`` took 5.3-5.7 ms of this process's CPU a
        request at concurrency 16 where one loop takes 1.8-2.0 (and 2.0-2.1 against 1.3-1.5 at concurrency 1;
        README "qa bench")."""
        return asyncio.run(self._ask_all(questions, concurrency))

    async def _ask_all(self, questions: list[str], concurrency: int) -> tuple[list[float], float]:
        import httpx

        async def client_loop(client: httpx.AsyncClient, share: list[str]) -> list[float]:
            samples = []
            for question in share:
                started = time.perf_counter()
                (await client.post("/api/ask", json={"question": question})).raise_for_status()
                samples.append((time.perf_counter() - started) * 1000)
            return samples

        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(base_url=self.url, timeout=60, limits=limits) as client:
            started = time.perf_counter()
            parts = await asyncio.gather(*(client_loop(client, questions[i::concurrency]) for i in range(concurrency)))
            elapsed = time.perf_counter() - started
        return [s for part in parts for s in part], len(questions) / elapsed

    def peak_rss_mb(self) -> float:
        return peak_rss_mb(self.process.pid)

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
