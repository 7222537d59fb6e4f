"""Text utilities: the stop words BM25 leaves out."""

from __future__ import annotations

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from qa.text import COUNT, STOP_WORDS_FILE, index_terms


def test_the_stop_word_file_is_scikit_learns_list():
    assert set(STOP_WORDS_FILE.read_text(encoding="utf-8").split()) == ENGLISH_STOP_WORDS


def test_stop_words_and_contraction_pieces_are_not_terms():
    assert index_terms("What does the exosome do? It doesn't") == ["exosom"]


def test_a_count_is_a_number_of_its_own_before_a_plural_noun():
    for text in ("detected in 32 of 63 ovarian cancer patients", "the six key traits of cancer", "1,639 mRNAs"):
        assert COUNT.search(text), text
    for text in ("miR-1290 and miR-375 are highly expressed", "a 2-fold rise", "one of the hallmarks"):
        assert not COUNT.search(text), text
