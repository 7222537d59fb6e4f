"""The lexicon saved with the index: what query understanding and the reader know about the whole corpus."""

from __future__ import annotations

import math

from qa.lexicon import mine_abbreviations
from qa import reader as reader_module
from qa.reader import Reader
from qa.text import index_terms, words


def test_abbreviations_are_mined_from_the_papers(index):
    pairs = mine_abbreviations(index.passages)
    assert "multivesicular bodies" in pairs["mvb"]
    # Bae writes "... and the distant host environment, and (TDEs) may contribute": a clause, not a long form.
    assert pairs["tde"] == ["tumor-derived exosomes"]
    # One word is a long form of a word's own short form only: "microRNAs (miRNAs)", not "myeloma (MM)".
    assert pairs["mirna"] == ["micrornas"] and "mm" not in pairs
    assert "myeloid-derived suppressor cells" in pairs["mdsc"]
    assert index.lexicon.abbreviations == pairs


def test_saved_lexicon_holds_every_word_and_term_of_the_passages(index):
    corpus_text = " ".join(p.text for p in index.passages)
    assert index.lexicon.words == {w.lower() for w in words(corpus_text)}
    assert index.lexicon.terms == set(index_terms(corpus_text))


def test_reader_idf_counts_the_units_holding_each_term(index):
    reader = Reader(index)
    holding = sum("exosom" in index_terms(u.text) for u in index.units)
    assert 0 < holding < len(index.units)
    assert reader.idf["exosom"] == math.log(1 + len(index.units) / holding)
    assert index.lexicon.units == len(index.units)


def test_a_small_corpus_is_read_ahead_when_the_reader_is_made(index):
    assert len(index.units) <= reader_module.READ_AHEAD_MAX_UNITS
    reader = Reader(index)
    assert set(reader.unit_terms) == set(index.unit_by_id)


def test_reader_reads_only_the_units_a_question_retrieves(pipeline, index, monkeypatch):
    monkeypatch.setattr(reader_module, "READ_AHEAD_MAX_UNITS", len(index.units) - 1)  # a corpus too large to read ahead
    reader = Reader(index)
    retrieval = pipeline.retriever.search(pipeline.analyzer.analyze("What are the stages of exosome formation?"))
    candidates = reader.read(retrieval)
    assert candidates and len(reader.unit_terms) < len(index.units) // 2
    assert set(reader.unit_terms) >= {c.unit.id for c in candidates}
