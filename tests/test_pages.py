"""HTML pages over the real server: they render the same data as their JSON twins."""

from __future__ import annotations


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
