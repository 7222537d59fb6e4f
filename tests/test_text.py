"""Text utilities: the stop words BM25 leaves out."""

from __future__ import annotations

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from qa.text import STOP_WORDS_FILE, index_terms


def test_the_stop_word_file_is_scikit_learns_list():
    assert set(STOP_WORDS_FILE.read_text(encoding="utf-8").split()) == ENGLISH_STOP_WORDS


def test_stop_words_and_contraction_pieces_are_not_terms():
    assert index_terms("What does the exosome do? It doesn't") == ["exosom"]
