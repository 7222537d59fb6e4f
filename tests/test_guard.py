"""The outer wall, against real servers on loopback: headers, body limit, bounded queue, time limit, errors."""

from __future__ import annotations

import dataclasses
import json
import logging
import socket
import time

import httpx
import pytest
from conftest import running

from qa.logs import JsonFormatter
from qa.service import create_app

QUESTION = "What are the stages of exosome formation?"


def held_request(url: str, body: bytes = b'{"question": "What are the stages of exosome formation?"}') -> socket.socket:
    """A POST /api/ask whose body stops halfway: the server is working on it until the rest is sent."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    sock.sendall(b"POST /api/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n" % len(body) + body[:10])
    return sock


def finish(sock: socket.socket, body: bytes = b'{"question": "What are the stages of exosome formation?"}') -> int:
    """Send the rest of a held request's body; the response's status code."""
    sock.sendall(body[10:])
    return int(sock.recv(65536).split(b" ", 2)[1])


def whole_response(sock: socket.socket) -> bytes:
    """A response read to the end of its body: headers and body may arrive in separate reads."""
    response = sock.recv(65536)
    head, _, body = response.partition(b"\r\n\r\n")
    length = int(next((line.split(b":")[1] for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), b"0"))
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


def wait_for(url: str, **expected) -> dict:
    """/api/health once its ``requests`` counts are ``expected`` (the server has taken in the held requests)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        health = httpx.get(f"{url}/api/health").json()
        if all(health["requests"][k] == v for k, v in expected.items()):
            return health
        time.sleep(0.02)
    raise AssertionError(f"the server never had {expected}: {health['requests']}")


@pytest.mark.parametrize("path", ["/", "/?q=exosomes", "/documents/zhang2015", "/refs/zhang2015/55", "/docs",
                                  "/api/health", "/api/documents", "/static/style.css", "/nowhere",
                                  "/api/passages/nope"])
def test_every_response_carries_the_security_headers(http, path):
    headers = http.get(path).headers
    policy = headers["content-security-policy"]
    assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy and "default-src 'self'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy and "http" not in policy
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer" and headers["x-frame-options"] == "DENY"


def test_a_body_over_the_limit_is_refused_before_or_while_it_is_read(http, settings):
    limit = settings.max_body_bytes
    declared = http.post("/api/ask", content=b"x" * (limit + 1), headers={"content-type": "application/json"})
    assert declared.status_code == 413 and declared.json()["error"]["message"].startswith("The request body is larger")

    def chunks():  # no Content-Length: the limit applies while the body streams in
        for _ in range(limit // 65536 + 2):
            yield b" " * 65536

    streamed = http.post("/api/ask", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413 and streamed.json()["error"]["status"] == 413
    assert http.post("/api/ask", json={"question": QUESTION}).status_code == 200  # the server is fine


def test_past_the_bounded_queue_requests_get_503_with_retry_after(settings, index):
    tight = dataclasses.replace(settings, max_active_requests=1, max_waiting_requests=1)
    with running(create_app(tight, index)) as url:
        working, queued = held_request(url), held_request(url)
        wait_for(url, active=1, waiting=1)
        turned_away = httpx.post(f"{url}/api/ask", json={"question": QUESTION})
        assert turned_away.status_code == 503 and turned_away.headers["retry-after"] == str(settings.retry_after_s)
        assert "busy" in turned_away.json()["error"]["message"]
        page = httpx.get(f"{url}/?q=exosomes", headers={"accept": "text/html"})
        assert page.status_code == 503 and "error-page" in page.text  # pages get the error page
        # the queue drains: the held requests are answered, and new ones are taken again
        assert finish(working) == 200 and finish(queued) == 200
        wait_for(url, active=0, waiting=0)
        assert httpx.post(f"{url}/api/ask", json={"question": QUESTION}).status_code == 200


def test_a_request_over_the_time_limit_gets_504_and_the_service_goes_on(settings, index):
    quick = dataclasses.replace(settings, request_timeout_s=0.5)
    with running(create_app(quick, index)) as url:
        stuck = held_request(url)  # its body never arrives: work that would never end
        response = whole_response(stuck)
        assert response.startswith(b"HTTP/1.1 504 ")
        assert b"longer than the 0.5 s limit" in response and b"Traceback" not in response
        stuck.close()
        wait_for(url, active=0, waiting=0)
        assert httpx.post(f"{url}/api/ask", json={"question": QUESTION}).status_code == 200


def test_an_error_no_route_handles_is_logged_with_its_traceback_and_answered_without_it(settings, index, caplog):
    app = create_app(settings, index)

    @app.get("/api/broken")
    def broken():
        return {"ratio": 1 / 0}

    with running(app) as url, caplog.at_level(logging.ERROR, logger="qa.service"):
        response = httpx.get(f"{url}/api/broken")
    assert response.status_code == 500
    assert response.json()["error"]["message"].startswith("Something went wrong on our side")
    assert "Traceback" not in response.text and "ZeroDivisionError" not in response.text
    record = next(r for r in caplog.records if getattr(r, "event", "") == "error")
    line = json.loads(JsonFormatter().format(record))
    assert line["level"] == "error" and line["path"] == "/api/broken" and line["method"] == "GET"
    assert line["error"].startswith("ZeroDivisionError") and "1 / 0" in line["traceback"]
