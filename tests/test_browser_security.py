"""Hostile text in a real browser (Debian's Chromium via Playwright), under the service's real CSP.

Each payload would set ``window.__pwned`` if it ever ran; it must not, wherever the text is shown: the chat,
a follow-up's history, the source panel, /?q=, error pages, copied answers. Every page must also work under
the Content-Security-Policy without a single violation.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from test_browser import ask, expect, new_page, chromium  # noqa: F401  (fixtures)
from test_hostile_input import PAYLOADS

VIOLATIONS = """window.__violations = [];
document.addEventListener('securitypolicyviolation', e => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));"""


@pytest.fixture
def watched_page(new_page):  # noqa: F811
    """A page that records CSP violations, the console's CSP complaints and dialogs (none may happen)."""
    page = new_page(permissions=["clipboard-read", "clipboard-write"])
    page.add_init_script(VIOLATIONS)
    page.csp_console, page.dialogs = [], []
    page.on("console", lambda m: page.csp_console.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    yield page
    assert page.csp_console == [] and page.dialogs == []


def untouched(page) -> None:
    assert page.evaluate("() => window.__pwned") is None
    assert page.evaluate("() => window.__violations") == []
    assert page.locator("main img, main script:not([type='application/json']), main style, main svg[onload]").count() == 0


def test_every_page_works_under_the_csp_without_a_violation(watched_page):
    page = watched_page
    for path in ("/", "/?q=" + quote("Which exosomal miRNAs are biomarkers in colon cancer?"), "/documents",
                 "/documents/zhang2015", "/refs/zhang2015/55", "/documents/nope"):
        page.goto(path)
        assert page.evaluate("() => window.__violations") == [], path
    # the tables' column widths, set by script from data attributes, still apply
    page.goto("/documents/zhang2015")
    assert page.locator("col").first.evaluate("c => c.style.width").endswith("%")
    page.goto("/docs")
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible()  # Swagger UI ran from our own files
    assert page.evaluate("() => window.__violations") == []


def test_hostile_text_never_runs_anywhere_it_is_shown(watched_page):
    page = watched_page
    page.goto("/")
    ask(page, "Which antibody drug can exosomes from HER2-overexpressing breast cancer cells bind?")
    for payload in PAYLOADS:  # follow-ups: each payload also travels in the history of the next
        ask(page, payload)
        expect(page.locator(".turn .question-text").last).to_have_text(payload.strip())
    untouched(page)
    page.locator(".turn[data-turn='0'] .chip").first.click()  # the source panel
    expect(page.locator("#source-text mark").first).to_be_visible()
    page.locator(".turn[data-turn='0'] .copy-answer").click()
    expect(page.locator(".toast")).to_contain_text("copied")
    untouched(page)
    page.reload()  # restored from localStorage
    expect(page.locator(".turn")).to_have_count(len(PAYLOADS) + 1)
    untouched(page)

    for payload in PAYLOADS:
        page.goto(f"/?q={quote(payload)}")  # rendered by the server, then enhanced by the script
        expect(page.locator(".turn .question-text")).to_have_text(payload.strip())
        if not page.locator(".turn .copy-answer").is_hidden():
            page.locator(".turn .copy-answer").click()
            assert page.evaluate("() => navigator.clipboard.readText()").startswith(f"Q: {payload.strip()}\n")
        untouched(page)
        assert page.goto(f"/documents/{quote(payload, safe='')}").status == 404  # the error page
        expect(page.locator(".error-message")).to_be_visible()
        untouched(page)
