"""Malformed and hostile input over the real server: a 4xx in the one error shape, and text that stays text."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from markupsafe import escape

QUESTION = "What are the stages of exosome formation?"
PAYLOADS = [
    '<script>window.__pwned = 1</script>',
    '"><img src=x onerror="window.__pwned = 1">',
    "</script><script>window.__pwned = 1</script>",
    "<a href=\"javascript:window.__pwned = 1\">exosomes</a>",
    "<style>body { display: none }</style><div style=\"background: url(javascript:alert(1))\">x</div>",
    "\u202eexosomes in cancer\u202c \u2067which\u2069 stages?",
]


def assert_error(response, status: int) -> dict:
    assert response.status_code == status, (response.status_code, response.text[:300])
    error = response.json()["error"]
    assert error["status"] == status and error["message"] and isinstance(error["details"], list)
    assert "Traceback" not in response.text
    return error


@pytest.mark.parametrize("body", [
    {"question": "exo\u0000somes"},
    {"question": "exo\u001bsomes"}, {"question": "\u0085"}, {"question": "\t\n "}, {"question": "\ufeff"},
    {"question": "x" * 1001}, {"question": ["a list"]}, {"question": None}, {"question": True},
    {"question": "ok?", "top_k": "8"}, {"question": "ok?", "top_k": 8.5}, {"question": "ok?", "top_k": True},
    {"question": "ok?", "top_k": 10 ** 30}, {"question": "ok?", "top_k": -1},
    {"question": "ok?", "history": [{"question": "a", "answer": "b", "extra": 1}]},
    {"question": "ok?", "history": [{"answer": "no question"}]},
    {"question": "ok?", "history": [{"question": "a", "answer": "b" * 20001}]},
    {"question": "ok?", "history": [{"question": "a"}] * 51}, {"question": "ok?", "history": [["a", "b"]]},
    {"question": "ok?", "history": None}, "just a string", 42, None,
])
def test_malformed_ask_bodies_get_422_in_the_error_shape(http, body):
    assert_error(http.post("/api/ask", json=body), 422)


def test_a_lone_surrogate_is_named_not_a_server_error(http):
    for raw in (b'{"question": "\\ud800"}', b'{"question": "which \\udfff stages?"}',
                b'{"question": "ok?", "history": [{"question": "a", "answer": "b\\ud800"}]}'):
        error = assert_error(http.post("/api/ask", content=raw, headers={"content-type": "application/json"}), 422)
        assert "surrogate" in error["message"] or "unicode string" in error["message"]


@pytest.mark.parametrize("raw, status", [
    (b"\xff\xfe\x00q", 422), (b'{"question": "caf\xe9"}', 400), (b"{not json", 422), (b"", 422),
    (b'{"question": "ok?"} trailing', 422), (b"[" * 100_000, 400),
])
def test_bodies_that_are_not_json_text_get_a_4xx(http, raw, status):
    assert_error(http.post("/api/ask", content=raw, headers={"content-type": "application/json"}), status)


@pytest.mark.parametrize("path, status", [
    ("/api/ask?question=%00", 422), ("/api/ask?question=%20%20", 422), ("/api/ask?question=" + "x" * 1001, 422),
    (f"/api/ask?question={quote(QUESTION)}&top_k=0", 422), (f"/api/ask?question={quote(QUESTION)}&top_k=x", 422),
    ("/api/cite?claim=%07bell", 422), ("/api/cite?claim=ok&k=21", 422), ("/api/cite", 422),
    ("/api/documents/zhang2015/refs/abc", 422), ("/api/documents/zhang2015/refs/99999999999999999999999", 404),
    ("/api/documents/%00", 404), ("/api/documents/..%2F..%2Fetc%2Fpasswd", 404), ("/api/passages/%FF%FE", 404),
    ("/api/documents/%E2%80%AEnope/cite.bib", 404),
])
def test_bad_path_and_query_parameters_get_a_4xx(http, path, status):
    assert_error(http.get(path), status)


@pytest.mark.parametrize("path, status", [
    ("/?q=%00", 422), ("/?q=" + "x" * 1001, 422), ("/refs/zhang2015/abc", 422), ("/refs/nope/1", 404),
    ("/documents/%3Cscript%3E", 404), ("/nowhere", 404),
])
def test_bad_page_addresses_get_the_error_page(http, path, status):
    response = http.get(path, headers={"accept": "text/html"})
    assert response.status_code == status and "error-page" in response.text and "Traceback" not in response.text


def test_direction_controls_echoed_in_an_error_are_shown_as_escapes(http):
    error = assert_error(http.get("/api/documents/%E2%80%AEnope"), 404)
    assert "\\u202e" in error["message"] and "\u202e" not in error["message"]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_hostile_questions_are_data_in_json_and_text_on_the_page(http, payload):
    assert http.post("/api/ask", json={"question": payload}).json()["question"] == payload.strip()
    page = http.get(f"/?q={quote(payload)}").text
    for tag in ("<script>window", "<img", "<style>", "<a href=\"javascript", "<div style"):
        assert tag not in page
    assert str(escape(payload.strip())) in page  # shown, as text
    data_block = re.search(r'<script type="application/json" id="answer-data">(.*?)</script>', page, re.S).group(1)
    assert "<" not in data_block  # the JSON of the answer cannot close its own script element
    title = re.search(r"<title>(.*?)</title>", page, re.S).group(1)
    assert title.startswith("\u2068") and title.endswith("\u2069 · exosome-qa")  # direction tricks stay inside


def test_a_hostile_claim_and_history_are_data(http):
    claim = PAYLOADS[1]
    assert http.get("/api/cite", params={"claim": claim}).json()["claim"] == claim
    history = [{"question": payload, "answer": payload} for payload in PAYLOADS]
    assert http.post("/api/ask", json={"question": "Which reference supports that?", "history": history}).status_code == 200
