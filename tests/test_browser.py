"""The pages in a real browser: Playwright driving Debian's Chromium against the session's real server.

Screenshots (desktop 1280 px and phone 390 px, light and dark) go to tests/artifacts/ (git-ignored).
Set QA_UPDATE_SCREENSHOT=1 to also refresh web/static/screenshot-chat.png, the README's picture.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from urllib.parse import quote

import pytest
from test_hostile_input import PAYLOADS

playwright_api = pytest.importorskip("playwright.sync_api")
from playwright.sync_api import Page, expect  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
README_SHOT = ROOT / "web" / "static" / "screenshot-chat.png"
STORE_KEY = "exosome-qa:thread:v1"

STAGES = "What are the stages of exosome formation?"
HER2 = "Which antibody drug can exosomes from HER2-overexpressing breast cancer cells bind?"
FOLLOW_UP = "Which reference supports that?"
OFF_TOPIC = "What is the capital of Australia?"
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
expect.set_options(timeout=20_000)


@pytest.fixture(scope="session")
def chromium():
    """One headless Chromium (Debian's, never a downloaded one) for the whole session."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (bash scripts/dev.sh test does)")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield browser
        browser.close()


@pytest.fixture
def new_page(chromium, server_url):
    """Pages in fresh contexts (own localStorage), closed after the test; page errors fail the test."""
    contexts, errors = [], []

    def make(viewport=DESKTOP, color_scheme="light", **options) -> Page:
        context = chromium.new_context(base_url=server_url, viewport=viewport, color_scheme=color_scheme,
                                       reduced_motion="reduce", **options)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        return page

    yield make
    for context in contexts:
        context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def ask(page: Page, question: str) -> None:
    """Type a question, press Enter, wait until its answer is in the thread."""
    answered = page.locator("#thread > .turn[data-turn]")
    before = answered.count()
    page.fill("#q", question)
    page.press("#q", "Enter")
    expect(answered).to_have_count(before + 1)


def shot(page: Page, name: str, full_page: bool = False) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def no_sideways_scroll(page: Page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")


def stored_turns(page: Page) -> list:
    raw = page.evaluate(f"() => localStorage.getItem({json.dumps(STORE_KEY)})")
    return json.loads(raw)["turns"] if raw else []


# ---- asking ----------------------------------------------------------------------------------


def test_ask_a_question_and_open_a_cited_source(new_page):
    page = new_page()
    page.goto("/")
    expect(page.locator(".examples .example")).to_have_count(5)
    expect(page.locator("#q")).to_be_focused()
    ask(page, STAGES)

    turn = page.locator(".turn").last
    quote_ = turn.locator(".quote").first
    expect(quote_).to_contain_text("initiation, endocytosis, multivesicular bodies (MVBs) formation")
    chip = quote_.locator(".chip")
    expect(chip).to_have_attribute("data-citation", "1")
    assert chip.text_content() == "[1]"
    # the paper's own "[1]" inside the sentence is a quiet reference link, not a chip
    expect(quote_.locator(".quote-text a.ref")).to_have_attribute("href", "/refs/zhang2015/1")
    expect(turn.locator(".citations .citation")).to_have_count(1)
    expect(turn.locator(".citation-doc")).to_have_text("Exosomes in cancer: small particle, big player")
    expect(turn.locator(".confidence")).to_contain_text("confidence")
    expect(page).to_have_url(re.compile(r"/\?q=What%20are%20the%20stages"))

    chip.click()
    panel = page.locator("#source-panel")
    expect(panel).to_be_visible()
    expect(panel.locator("#source-eyebrow")).to_have_text("Source [1]")
    expect(panel.locator("#source-title")).to_have_text("Exosomes in cancer: small particle, big player")
    expect(panel.locator("#source-where")).to_have_text("Biogenesis, release, and uptake of exosomes")
    mark = panel.locator("#source-text mark")
    expect(mark).to_have_count(1)
    sentence = page.evaluate("() => JSON.parse(localStorage.getItem('%s')).turns[0].data.sentences[0].text" % STORE_KEY)
    assert mark.text_content() == sentence
    expect(panel.locator("#source-text")).to_contain_text("Multivesicular bodies (MVBs) are endocytic structures")
    expect(panel.locator("#source-refs a.ref").first).to_have_attribute("href", "/refs/zhang2015/1")
    passage_url = page.evaluate("() => JSON.parse(localStorage.getItem('%s')).turns[0].data.citations[0].url" % STORE_KEY)
    assert re.fullmatch(r"/documents/zhang2015#p-zhang2015-p\d+-\d+", passage_url)
    expect(panel.locator("#source-link")).to_have_attribute("href", passage_url)
    expect(chip).to_have_class(re.compile(r"\bis-active\b"))

    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()


def test_a_follow_up_uses_the_earlier_turn(new_page):
    page = new_page()
    page.goto("/")
    bodies = []
    page.on("request", lambda r: bodies.append(r.post_data_json) if r.url.endswith("/api/ask") else None)
    ask(page, HER2)
    expect(page.locator(".turn").first).to_contain_text("trastuzumab")
    ask(page, FOLLOW_UP)

    assert bodies[-1]["question"] == FOLLOW_UP
    assert [t["question"] for t in bodies[-1]["history"]] == [HER2]
    assert "trastuzumab" in bodies[-1]["history"][0]["answer"]
    second = page.locator(".turn[data-turn='1']")
    expect(second.locator(".question-text")).to_have_text(FOLLOW_UP)
    expect(second.locator(".answer")).not_to_have_class(re.compile("abstained"))
    text = second.locator(".quotes").text_content()
    assert "[55]" in text or "trastuzumab" in text
    # a follow-up depends on the conversation, so it offers no stand-alone link and the address is "/"
    expect(second.locator(".permalink")).to_have_count(0)
    expect(page).to_have_url(re.compile(r"/$"))


def test_an_off_topic_question_is_an_abstention(new_page):
    page = new_page()
    page.goto("/")
    ask(page, OFF_TOPIC)
    answer = page.locator(".turn .answer")
    expect(answer).to_have_class(re.compile(r"\babstained\b"))
    expect(answer.locator(".abstention-badge")).to_have_text(re.compile("Not answered by the reviews"))
    expect(answer.locator(".abstention-text")).to_contain_text("do not answer")
    expect(answer.locator(".chip")).to_have_count(0)
    nearest = answer.locator(".nearest a")
    assert nearest.count() > 0
    assert re.fullmatch(r"/documents/\w+#p-[\w-]+", nearest.first.get_attribute("href"))
    expect(answer.locator(".confidence")).to_contain_text("Low confidence")


def test_api_errors_and_network_failures_are_shown_and_can_be_retried(new_page):
    page = new_page()
    page.goto("/")
    page.route("**/api/ask", lambda route: route.abort("internetdisconnected"))
    page.fill("#q", STAGES)
    page.press("#q", "Enter")
    failed = page.locator(".turn-failed")
    expect(failed.locator(".error-text")).to_contain_text("Couldn’t reach the server")
    expect(page.locator("#ask-button")).to_be_enabled()
    assert stored_turns(page) == []

    page.unroute("**/api/ask")
    failed.locator("button.retry").click()
    expect(page.locator("#thread > .turn[data-turn]")).to_have_count(1)
    expect(page.locator(".turn-failed")).to_have_count(0)

    # The box stops typing at 1000 characters; a script can still set more, and the real server refuses it.
    page.eval_on_selector("#q", "(box, text) => { box.value = text; }", "why? " * 300)
    page.press("#q", "Enter")
    expect(page.locator(".turn-failed .error-text")).to_contain_text("keep it under 1000")
    expect(page.locator("#ask-button")).to_be_enabled()


# ---- server rendering, links and pages ---------------------------------------------------------


def test_question_in_the_url_works_without_javascript(new_page):
    page = new_page(java_script_enabled=False)
    page.goto(f"/?q={quote(STAGES)}")
    expect(page.locator(".turn .quote").first).to_contain_text("multivesicular bodies (MVBs) formation")
    chip = page.locator(".chip").first
    expect(chip).to_have_attribute("data-citation", "1")
    expect(page.locator(".copy-answer")).to_be_hidden()  # needs JavaScript
    expect(page.locator(".cite-paper a", has_text="BibTeX")).to_have_attribute(
        "href", "/api/documents/zhang2015/cite.bib")
    shot(page, "nojs-desktop-light")
    # without JavaScript a chip is a plain link to the passage in the paper
    href = chip.get_attribute("href")
    assert re.fullmatch(r"/documents/zhang2015#p-zhang2015-p\d+-\d+", href)
    chip.click()
    expect(page).to_have_url(re.compile(re.escape(href) + "$"))
    expect(page.locator("#" + href.split("#")[1])).to_contain_text("four stages")


def test_server_and_javascript_render_an_answer_alike(new_page):
    page = new_page()
    page.goto(f"/?q={quote(HER2)}")
    expect(page.locator(".turn")).to_have_count(1)
    server_html = page.locator("#thread").evaluate("n => n.innerHTML")

    page.locator("#new-conversation").click()
    ask(page, HER2)
    js_html = page.locator("#thread").evaluate("n => n.innerHTML")

    def shape(html: str) -> list[str]:  # tags, classes and text; whitespace and attribute order aside
        return page.evaluate("""html => {
            const box = document.createElement('div'); box.innerHTML = html; const out = [];
            const walk = n => { for (const c of n.childNodes) {
                if (c.nodeType === 1) { out.push(c.tagName + '.' + [...c.classList].sort().join('.')); walk(c); }
                else if (c.nodeType === 3 && c.textContent.trim()) out.push(c.textContent.trim()); } };
            walk(box); return out; }""", html)

    assert shape(server_html) == shape(js_html)


def test_a_reference_link_lands_on_the_reference_page(new_page):
    page = new_page()
    page.goto(f"/?q={quote(HER2)}")
    page.locator(".quote-text a.ref", has_text="55").first.click()
    expect(page).to_have_url(re.compile(r"/refs/zhang2015/55$"))
    expect(page.locator("h1")).to_have_text("Reference [55]")
    item = page.locator(".citing-item", has_text="trastuzumab")
    expect(item).to_have_count(1)
    expect(page.locator("a.json-link")).to_have_attribute("href", "/api/documents/zhang2015/refs/55")
    expect(page.locator(".cite-box a", has_text="RIS")).to_have_attribute("href", "/api/documents/zhang2015/cite.ris")
    shot(page, "refs-desktop-light")

    link = item.locator("a", has_text="Read it in the paper")
    href = link.get_attribute("href")
    link.click()
    expect(page).to_have_url(re.compile(re.escape(href) + "$"))
    target = page.locator("#" + href.split("#")[1])
    expect(target).to_contain_text("trastuzumab")
    expect(target).to_have_class(re.compile(r"\bis-target\b"))
    expect(target).to_be_in_viewport()
    shot(page, "document-desktop-light")


def test_document_pages_and_the_error_page(new_page):
    page = new_page(viewport=PHONE, color_scheme="dark")
    page.goto("/documents")
    expect(page.locator(".paper-card")).to_have_count(2)
    page.locator(".paper-card h2 a").first.click()
    expect(page.locator("h1")).to_have_text("Exosomes in cancer: small particle, big player")
    expect(page.locator(".paper-links a").first).to_have_attribute("href", "https://doi.org/10.1186/s13045-015-0181-x")
    assert page.locator("table").count() == 2 and page.locator("figure.figure").count() >= 1
    assert no_sideways_scroll(page)
    row = page.locator("tr.passage").nth(20)
    row_id = row.get_attribute("id")
    page.goto(f"/documents/zhang2015#{row_id}")
    expect(page.locator(f"#{row_id}")).to_be_in_viewport()
    expect(page.locator(f"#{row_id}")).to_have_class(re.compile(r"\bis-target\b"))
    shot(page, "document-phone-dark")

    response = page.goto("/documents/nope")
    assert response.status == 404
    expect(page.locator("h1")).to_have_text("We couldn’t find that")
    expect(page.locator(".error-message")).to_contain_text("No document 'nope'")
    assert "Traceback" not in page.content()
    expect(page.locator("a[href='/docs']").first).to_be_visible()


# ---- safety, persistence, keyboard ----------------------------------------------------------------


def test_html_in_a_question_stays_text(new_page):
    page = new_page()
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    question = '<script>window.__pwned = 1</script><img src=x onerror="alert(1)"><b>bold</b> exosomes?'
    page.goto("/")
    ask(page, question)
    bubble = page.locator(".turn .question-text").first
    expect(bubble).to_have_text(question)
    assert bubble.locator("b, img, script").count() == 0

    page.reload()  # restored from localStorage by the JS, and rendered by the server from ?q=
    expect(page.locator(".turn .question-text").first).to_have_text(question)
    page.goto("/")
    expect(page.locator(".turn .question-text").first).to_have_text(question)
    page.goto(f"/?q={quote(question)}")
    expect(page.locator(".turn .question-text").first).to_have_text(question)
    expect(page).to_have_title(re.compile(re.escape("<script>")))

    assert page.locator("#thread img, #thread b, #thread script").count() == 0
    assert page.evaluate("() => window.__pwned") is None
    assert dialogs == []


def test_the_thread_survives_a_reload_and_new_conversation_clears_it(new_page):
    page = new_page()
    page.goto("/")
    ask(page, HER2)
    ask(page, FOLLOW_UP)
    assert [t["question"] for t in stored_turns(page)] == [HER2, FOLLOW_UP]

    page.reload()
    expect(page.locator("#thread > .turn")).to_have_count(2)
    expect(page.locator(".turn[data-turn='1'] .question-text")).to_have_text(FOLLOW_UP)
    expect(page.locator("#intro")).to_be_hidden()
    page.locator(".turn[data-turn='1'] .chip").first.click()  # restored turns are live
    expect(page.locator("#source-text mark").first).to_be_visible()

    page.locator("#new-conversation").click()
    expect(page.locator("#thread > .turn")).to_have_count(0)
    expect(page.locator("#intro")).to_be_visible()
    expect(page.locator("#source-panel")).to_be_hidden()
    expect(page.locator("#q")).to_be_focused()
    assert stored_turns(page) == []
    page.reload()
    expect(page.locator("#thread > .turn")).to_have_count(0)


def test_keyboard_only(new_page):
    page = new_page()
    page.goto("/")
    page.keyboard.type(STAGES)  # the question box has focus on arrival
    page.keyboard.press("Enter")
    expect(page.locator("#thread > .turn[data-turn]")).to_have_count(1)

    for _ in range(40):  # Tab forward until a citation chip has focus
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.classList.contains('chip')"):
            break
    else:
        pytest.fail("no citation chip is reachable with Tab")
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none"), "focus must be visible"
    page.keyboard.press("Enter")
    expect(page.locator("#source-panel")).to_be_visible()
    expect(page.locator("#source-panel")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("#source-panel")).to_be_hidden()
    assert page.evaluate("() => document.activeElement.classList.contains('chip')")


def test_copy_answer_with_references(new_page):
    page = new_page(permissions=["clipboard-read", "clipboard-write"])
    page.goto("/")
    ask(page, HER2)
    page.locator(".copy-answer").first.click()
    expect(page.locator(".toast")).to_contain_text("copied")
    text = page.evaluate("() => navigator.clipboard.readText()")
    assert text.startswith(f"Q: {HER2}\n")
    assert "trastuzumab to inhibit its activity [55]. [1]" in text
    assert re.search(r"^\[1\] Exosomes in cancer: small particle, big player, .*Tumor drug resistance", text, re.M)
    assert "References\nXu Zhang, Xiao Yuan" in text and "https://doi.org/10.1186/s13045-015-0181-x" in text


# ---- looks: screenshots in light and dark, desktop and phone ---------------------------------------


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_screenshots(new_page, device, scheme):
    page = new_page(viewport=DESKTOP if device == "desktop" else PHONE, color_scheme=scheme)
    page.goto("/")
    background = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    channels = [int(c) for c in re.findall(r"\d+", background)[:3]]
    assert (sum(channels) / 3 > 128) == (scheme == "light"), background
    shot(page, f"home-{device}-{scheme}")

    ask(page, HER2)
    page.locator(".turn .chip").first.click()
    expect(page.locator("#source-text mark").first).to_be_visible()
    page.evaluate("() => window.scrollTo(0, 0)")
    assert no_sideways_scroll(page)
    path = shot(page, f"answer-{device}-{scheme}")
    if device == "desktop" and scheme == "light" and os.environ.get("QA_UPDATE_SCREENSHOT"):
        README_SHOT.write_bytes(path.read_bytes())

    page.locator("#new-conversation").click()
    ask(page, "Which exosomal miRNAs are biomarkers in colon cancer?")  # table rows
    ask(page, FOLLOW_UP)
    page.locator(".turn[data-turn='0'] .chip").first.click()
    expect(page.locator("#source-text mark").first).to_be_visible()
    page.locator(".turn[data-turn='0'] .quote").first.scroll_into_view_if_needed()
    assert no_sideways_scroll(page)
    shot(page, f"chat-{device}-{scheme}")

    page.locator("#new-conversation").click()
    ask(page, OFF_TOPIC)
    expect(page.locator(".answer.abstained")).to_be_visible()
    assert no_sideways_scroll(page)
    shot(page, f"abstention-{device}-{scheme}")


# ---- hostile text under the real CSP -----------------------------------------------------------------
# Each payload would set ``window.__pwned`` if it ever ran; it must not, wherever the text is shown: the chat,
# a follow-up's history, the source panel, /?q=, error pages, copied answers. Every page must also work under
# the Content-Security-Policy without a single violation.

VIOLATIONS = """window.__violations = [];
document.addEventListener('securitypolicyviolation', e => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));"""


@pytest.fixture
def watched_page(new_page):
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
