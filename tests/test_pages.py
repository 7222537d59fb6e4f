"""HTML pages over the real server: they render the same data as their JSON twins."""

from __future__ import annotations

import json
import re


def test_question_in_the_url_is_answered_on_the_server(http):
    page = http.get("/", params={"q": "What are the stages of exosome formation?"})
    assert page.status_code == 200
    assert "multivesicular bodies (MVBs) formation" in page.text
    assert 'data-citation="1"' in page.text


def test_home_page_offers_examples(http):
    page = http.get("/")
    assert page.status_code == 200 and "How are exosomes formed?" in page.text


def test_html_in_a_question_is_escaped(http):
    page = http.get("/", params={"q": "<script>alert(1)</script><b>bold</b>"})
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text and "&lt;script&gt;" in page.text


def test_document_page_anchors_every_passage(http, index):
    page = http.get("/documents/zhang2015").text
    for passage in index.documents["zhang2015"].passages:
        assert f'id="p-{passage.id}"' in page
    assert 'href="/refs/zhang2015/39"' in page


def test_reference_page_and_friendly_404_pages(http):
    assert "MET receptor" in http.get("/refs/zhang2015/39").text
    missing = http.get("/documents/nope", headers={"accept": "text/html"})
    assert missing.status_code == 404 and "No document" in missing.text and "Traceback" not in missing.text
    assert http.get("/refs/zhang2015/9999", headers={"accept": "text/html"}).status_code == 404


def test_every_page_links_its_json_twin_and_the_api_docs(http):
    for path, twin in [("/documents", "/api/documents"), ("/documents/bae2018", "/api/documents/bae2018"),
                       ("/refs/zhang2015/39", "/api/documents/zhang2015/refs/39")]:
        page = http.get(path).text
        assert f'href="{twin}"' in page and 'href="/docs"' in page
        assert http.get(twin).status_code == 200
    home = http.get("/").text
    assert 'href="/docs"' in home and 'data-json-twin="/api/ask"' in home


def test_assets_are_served_by_the_app(http):
    page = http.get("/", params={"q": "What are the stages of exosome formation?"}).text
    assets = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', page)
    assert assets and all(a.startswith("/static/") or a.startswith("/api/") for a in assets), assets
    for asset in ["/static/style.css", "/static/app.js", "/static/chat.js", "/static/favicon.svg"]:
        assert http.get(asset).status_code == 200


def test_a_server_rendered_answer_has_its_sources_citations_and_data(http):
    page = http.get("/", params={"q": "Which antibody drug can exosomes from HER2-overexpressing breast cancer cells bind?"}).text
    assert 'class="chip"' in page and 'class="citations"' in page
    assert 'href="/refs/zhang2015/55"' in page  # the paper's own [55] inside the quote links to its page
    assert 'href="/api/documents/zhang2015/cite.bib"' in page and 'href="/api/documents/zhang2015/cite.ris"' in page
    data = re.search(r'<script type="application/json" id="answer-data">(.*?)</script>', page, re.S).group(1)
    answer = json.loads(data)
    assert "trastuzumab" in answer["answer"] and answer["citations"][0]["url"].startswith("/documents/zhang2015#p-")


def test_an_abstention_is_rendered_as_one(http):
    page = http.get("/", params={"q": "What is the capital of Australia?"}).text
    assert "answer abstained" in page and "Not answered by the reviews" in page and "do not answer" in page
    assert 'class="chip"' not in page
    assert re.search(r'class="nearest".*?href="/documents/\w+#p-', page, re.S)


def test_html_in_a_question_cannot_break_out_of_the_embedded_answer_data(http):
    page = http.get("/", params={"q": "</script><script>alert(1)</script> exosomes"}).text
    assert "<script>alert(1)</script>" not in page
    data = re.search(r'<script type="application/json" id="answer-data">(.*?)</script>', page, re.S).group(1)
    assert json.loads(data)["question"] == "</script><script>alert(1)</script> exosomes"


def test_document_page_has_tables_figures_and_citation_downloads(http):
    page = http.get("/documents/zhang2015").text
    assert page.count("<table") == 2 and "<figcaption>" in page and "<th scope=\"col\">Exosomal cargo</th>" in page
    assert 'href="https://doi.org/10.1186/s13045-015-0181-x"' in page
    assert 'href="/api/documents/zhang2015/cite.bib"' in page and 'href="/api/documents/zhang2015/cite.ris"' in page
    bae = http.get("/documents/bae2018").text
    assert "<li>" in bae and 'class="cell-list"' in bae  # bulleted table cells become lists


def test_error_pages_are_friendly(http):
    for path, status in [("/no/such/page", 404), ("/refs/zhang2015/not-a-number", 422), ("/documents/nope", 404)]:
        response = http.get(path, headers={"accept": "text/html"})
        assert response.status_code == status
        assert "text/html" in response.headers["content-type"]
        assert f"Error {status}" in response.text and "Traceback" not in response.text
        assert 'href="/"' in response.text
