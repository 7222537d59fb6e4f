"""The real index, built once per test session into a temporary folder, and a real HTTP server over it."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import pytest
import uvicorn

from qa.answer import Pipeline
from qa.index import build_index, load_index
from qa.ingest import load_corpus
from qa.service import create_app
from qa.settings import PROJECT_ROOT, Settings, offline

CORPUS = PROJECT_ROOT / "corpus"
offline()


@pytest.fixture(scope="session")
def settings(tmp_path_factory) -> Settings:
    return Settings.from_env(corpus_dir=CORPUS, index_dir=tmp_path_factory.mktemp("qa") / "index",
                             auto_build=False)


@pytest.fixture(scope="session")
def manifest(settings) -> dict:
    return build_index(settings, progress=False)


@pytest.fixture(scope="session")
def index(settings, manifest):
    return load_index(settings)


@pytest.fixture(scope="session")
def pipeline(index) -> Pipeline:
    return Pipeline(index)


@pytest.fixture(scope="session")
def documents():
    return {d.id: d for d in load_corpus(CORPUS)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running(app) -> Iterator[str]:
    """``app`` served by a real uvicorn server on a free loopback port, for as long as the block runs."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def run_async(coroutine: Coroutine):
    """Run ``coroutine`` on a fresh event loop in a thread of its own: Playwright's sync API keeps a loop
    running in the main thread while the browser tests' session lasts, so asyncio.run() would refuse there."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@pytest.fixture(scope="session")
def server_url(settings, index) -> str:
    """A real uvicorn server on a free loopback port, serving the session's index."""
    with running(create_app(settings, index)) as url:
        yield url


@pytest.fixture(scope="session")
def http(server_url):
    with httpx.Client(base_url=server_url, timeout=30) as client:
        yield client


def source_text(doc_id: str) -> str:
    return (CORPUS / f"{doc_id}.txt").read_text(encoding="utf-8")


