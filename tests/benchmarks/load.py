"""Load test: a real `qa serve` on loopback, many /api/ask requests at once, every answer checked.

Run (the README's figures come from this):

    .venv/bin/python tests/benchmarks/load.py --requests 5000 --concurrency 32

It starts `qa serve` on a free 127.0.0.1 port (nothing else is ever contacted), asks every distinct input
once, one at a time, then sends the requests at the given concurrency: the project's questions and, mixed in,
follow-ups carrying the earlier answer as history. It reports 5xx and dropped connections (both must be 0),
answers that differ from the sequential answer for the same input (must be 0), and latency p50/p95/p99;
finally it stops the server with SIGTERM, which must exit cleanly. Exit status 1 if anything failed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = ROOT / "tests" / "data" / "questions.jsonl"
# uvicorn finishes in-flight requests on SIGTERM, then re-raises the signal, as a process manager expects.
CLEAN_EXITS = (0, -signal.SIGTERM)
FOLLOW_UPS = ["Which reference supports that?", "Where does the paper say that?", "and in melanoma?"]


@dataclass
class Report:
    sent: int = 0
    server_errors: int = 0  # 5xx
    other_statuses: dict = field(default_factory=dict)
    dropped: int = 0  # connection errors and timeouts
    differing: int = 0  # answers unlike the sequential answer to the same input
    latencies_ms: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not (self.server_errors or self.dropped or self.differing or self.other_statuses)

    def summary(self) -> str:
        ordered = sorted(self.latencies_ms) or [0.0]
        pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
        return (f"requests sent {self.sent}, 5xx {self.server_errors}, other non-200 {self.other_statuses or 0}, "
                f"dropped connections {self.dropped}, answers differing from sequential {self.differing}\n"
                f"latency p50 {statistics.median(ordered):.0f} ms, p95 {pick(0.95):.0f} ms, p99 {pick(0.99):.0f} ms; "
                f"{self.sent / self.seconds if self.seconds else 0:.0f} requests/s over {self.seconds:.1f} s")


def comparable(answer: dict) -> str:
    """An answer without its timings, as canonical JSON."""
    return json.dumps({k: v for k, v in answer.items() if k != "timing_ms"}, sort_keys=True)


def inputs(client: httpx.Client) -> dict[str, dict]:
    """Every distinct request body (questions, then follow-ups on their answers), keyed by its JSON."""
    bodies = []
    for line in QUESTIONS.read_text().splitlines():
        q = json.loads(line)
        bodies.append({"question": q["question"], "history": q.get("history") or []})
    for i, body in enumerate(bodies[:30]):
        answer = client.post("/api/ask", json=body).json()["answer"]
        bodies.append({"question": FOLLOW_UPS[i % len(FOLLOW_UPS)],
                       "history": [*body["history"], {"question": body["question"], "answer": answer}]})
    return {json.dumps(b, sort_keys=True): b for b in bodies}


def sequential_answers(client: httpx.Client, bodies: dict[str, dict]) -> dict[str, str]:
    return {key: comparable(client.post("/api/ask", json=body).raise_for_status().json())
            for key, body in bodies.items()}


async def hammer(url: str, bodies: dict[str, dict], expected: dict[str, str], requests: int,
                 concurrency: int) -> Report:
    report, keys = Report(), list(bodies)
    queue: asyncio.Queue[str] = asyncio.Queue()
    for i in range(requests):
        queue.put_nowait(keys[i % len(keys)])

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            key = queue.get_nowait()
            started = time.perf_counter()
            report.sent += 1
            try:
                response = await client.post("/api/ask", json=bodies[key])
            except httpx.HTTPError:
                report.dropped += 1
                continue
            report.latencies_ms.append((time.perf_counter() - started) * 1000)
            if response.status_code >= 500:
                report.server_errors += 1
            elif response.status_code != 200:
                report.other_statuses[response.status_code] = report.other_statuses.get(response.status_code, 0) + 1
            elif comparable(response.json()) != expected[key]:
                report.differing += 1

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        report.seconds = time.perf_counter() - started
    return report


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(index: Path | None, env: dict | None = None) -> tuple[subprocess.Popen, str]:
    """`qa serve` on a free loopback port; returns the process and its URL once it answers."""
    port = free_port()
    command = [sys.executable, "-m", "qa.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    if index:
        command += ["--index", str(index), "--no-build"]
    server = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **(env or {})}, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and server.poll() is None:
        try:
            if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                return server, url
        except httpx.HTTPError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError(f"qa serve did not start: {server.stderr.read()}")


def stop_server(server: subprocess.Popen) -> tuple[int, str]:
    """SIGTERM, as a process manager stops it; its exit code and what it wrote to stderr."""
    server.send_signal(signal.SIGTERM)
    _, stderr = server.communicate(timeout=60)
    return server.returncode, stderr


def prepare(url: str) -> tuple[dict[str, dict], dict[str, str]]:
    """The distinct inputs and their sequential answers."""
    with httpx.Client(base_url=url, timeout=60) as client:
        bodies = inputs(client)
        return bodies, sequential_answers(client, bodies)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--index", type=Path, help="index folder (default: the project's, built if missing)")
    parser.add_argument("--max-active", type=int, help="QA_MAX_ACTIVE_REQUESTS for the server (to compare)")
    args = parser.parse_args()
    env = {"QA_MAX_ACTIVE_REQUESTS": str(args.max_active)} if args.max_active else {}
    server, url = start_server(args.index, env)
    try:
        report = asyncio.run(hammer(url, *prepare(url), args.requests, args.concurrency))
    finally:
        code, stderr = stop_server(server)
    print(f"{args.requests} x POST /api/ask at concurrency {args.concurrency} against {url}")
    print(report.summary())
    errors = [line for line in stderr.splitlines() if '"level": "error"' in line]
    print(f"server stopped by SIGTERM: exit {code}, {len(errors)} errors logged")
    return 0 if report.ok and code in CLEAN_EXITS and not errors else 1


if __name__ == "__main__":
    sys.exit(main())
