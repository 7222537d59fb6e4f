"""Hybrid retrieval: dense and BM25 fused over passages and answer units."""

from __future__ import annotations

from qa.query import QueryAnalyzer
from qa.retrieve import HybridRetriever


def search(index, question, fusion="linear"):
    analyzer = QueryAnalyzer(index.documents.values(), index.lexicon)
    return HybridRetriever(index, fusion=fusion).search(analyzer.analyze(question), k=10)


def test_a_molecule_named_in_a_question_reaches_its_table_row(index):
    hits = search(index, "Which cells secrete exosomes carrying Adrenomedullin and what do they do?").hits
    assert "zhang2015-t1-r27" in [h.passage.id for h in hits[:5]]


def test_paraphrased_question_reaches_its_passage_in_both_fusions(index):
    for fusion in ("linear", "rrf"):
        hits = search(index, "Why is it hard to measure how many exosomes are in a sample?", fusion).hits
        assert any("lack of the accurate method to determine the concentration" in h.passage.text for h in hits[:5])


def test_hits_are_ranked_and_scored(index):
    retrieval = search(index, "exosome uptake by phagocytosis")
    scores = [h.score for h in retrieval.hits]
    assert scores == sorted(scores, reverse=True)
    assert retrieval.unit_hits[0].score >= retrieval.unit_hits[-1].score
    assert len({h.passage.id for h in retrieval.hits}) == len(retrieval.hits)


def test_naming_a_paper_prefers_its_passages(index):
    hits = search(index, "According to Bae, how big are exosomes?").hits
    assert [h.passage.doc for h in hits[:3]] == ["bae2018"] * 3
