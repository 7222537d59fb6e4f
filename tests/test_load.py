"""Load and shutdown against a real `qa serve` process on loopback (the long run: tests/benchmarks/load.py)."""

from __future__ import annotations

import signal

import pytest
from benchmarks.load import CLEAN_EXITS, hammer, prepare, start_server, stop_server
from conftest import run_async
from test_guard import finish, held_request, wait_for


@pytest.fixture
def served(settings, manifest):
    server, url = start_server(settings.index_dir)
    yield server, url
    if server.poll() is None:
        server.kill()
        server.wait()


def test_concurrent_questions_and_follow_ups_get_the_sequential_answers_and_no_errors(served):
    server, url = served
    report = run_async(hammer(url, *prepare(url), requests=300, concurrency=16))
    assert report.sent == 300 and report.ok, report.summary()
    code, stderr = stop_server(server)
    assert code in CLEAN_EXITS and '"level": "error"' not in stderr


def test_sigterm_lets_an_in_flight_request_finish_then_exits_cleanly(served):
    server, url = served
    in_flight = held_request(url)
    wait_for(url, active=1)  # the server is working on it
    server.send_signal(signal.SIGTERM)
    assert finish(in_flight) == 200  # answered after the signal
    assert server.wait(timeout=60) in CLEAN_EXITS
    assert "Traceback" not in server.stderr.read()
