"""The text every text-speaking front door sends: quotes located exactly, sources linked, the answer recoverable."""

from __future__ import annotations

import pytest

from qa import cited_text, views

BASE = "http://qa.test:8123"


@pytest.mark.parametrize("question", ["Which exosomal miRNAs are biomarkers in colon cancer?",
                                      "What is the capital of Australia?"])
def test_the_answer_comes_back_out_of_its_text_as_a_follow_up_needs_it(pipeline, question):
    data = views.ask_view(pipeline, question)
    assert cited_text.answer_body(cited_text.answer_text(data, BASE).text) == data["answer"]


def test_each_span_holds_its_quoted_sentence_and_links_its_citation(pipeline):
    data = views.ask_view(pipeline, "Which exosomal miRNAs are biomarkers in colon cancer?")
    reply = cited_text.answer_text(data, BASE)
    assert len(reply.quotes) == len(data["sentences"]) >= 1
    for quote, sentence in zip(reply.quotes, data["sentences"]):
        citation = data["citations"][sentence["citation"] - 1]
        assert reply.text[quote.start:quote.end] == sentence["text"]
        assert reply.text[quote.end:].startswith(f" [{sentence['citation']}]")
        assert quote.url == BASE + citation["url"] and f"- [{citation['n']}] [{quote.title}]({quote.url})" in reply.text


def test_only_links_into_this_site_are_made_absolute(index):
    data = cited_text.absolute_urls(views.documents_view(index), BASE)
    for document in data["documents"]:
        assert document["page_url"] == f"{BASE}/documents/{document['id']}"
        assert document["url"].startswith("https://")  # the publisher's page stays as it was
