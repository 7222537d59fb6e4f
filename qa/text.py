"""Small text utilities shared by every stage: words, reference brackets, squashing."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

# A bracketed citation such as [39], [25, 99], [61-64], [2, 3, 5-7] or [74–80].
REF_BRACKET = re.compile(r"\[\s*(\d+(?:\s*[-–]\s*\d+)?(?:\s*,\s*\d+(?:\s*[-–]\s*\d+)?)*)\s*\]")

# Numbers in words; "one" is left out, since English uses it as a pronoun.
NUMBER_WORDS = ("two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "dozens?",
                "hundreds?", "thousands?", "millions?")
# A number in digits or in words ("six key traits").
NUMBER = re.compile(rf"\d|\b(?:{'|'.join(NUMBER_WORDS)})\b", re.I)
# A count of things: a number of its own (not the digits of a name such as miR-1290) followed within three
# words by a plural noun ("7 of 25 glioblastoma patients", "six key traits", "1,639 mRNAs").
COUNT = re.compile(rf"(?<![\w-])(?:\d[\d,.]*|{'|'.join(NUMBER_WORDS)})(?![\w-])(?:\s+[\w-]+){{0,3}}?\s+[a-z][\w-]*s\b",
                   re.I)

WORD = re.compile(r"[0-9A-Za-z\u0370-\u03ff\u00b5]+(?:[-'/+][0-9A-Za-z\u0370-\u03ff\u00b5]+)*\+?")

# Spelled-out Greek letters, so "TGF-beta" and "TGF-β" meet in one token form.
GREEK_NAMES = {
    "α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "epsilon", "ζ": "zeta",
    "η": "eta", "θ": "theta", "κ": "kappa", "λ": "lambda", "μ": "mu", "µ": "mu",
    "ν": "nu", "π": "pi", "σ": "sigma", "τ": "tau", "φ": "phi", "χ": "chi", "ψ": "psi",
    "ω": "omega", "Δ": "delta",
}


def parse_refs(text: str) -> list[int]:
    """Every reference number cited in ``text``, ranges expanded, in order of first use."""
    refs: list[int] = []
    for match in REF_BRACKET.finditer(text):
        for part in match.group(1).split(","):
            bounds = re.split(r"\s*[-–]\s*", part.strip())
            low, high = int(bounds[0]), int(bounds[-1])
            if high < low or high - low > 200:
                high = low
            for n in range(low, high + 1):
                if n not in refs:
                    refs.append(n)
    return refs


def strip_refs(text: str) -> str:
    """``text`` without its bracketed citations."""
    return re.sub(r"\s+", " ", REF_BRACKET.sub("", text)).strip()


# "Table 2", "Fig. 1": a label, whose number is no quantity.
_LABEL = re.compile(r"\b(?:Table|Figure|Fig\.?)\s*\d+", re.I)


def quantities_text(text: str) -> str:
    """``text`` without its bracketed citations and its table and figure labels: where to look for a quantity."""
    return _LABEL.sub("", strip_refs(text))


def words(text: str) -> list[str]:
    """Word tokens, accents folded (hyphenated compounds such as ``miR-21`` stay whole)."""
    return WORD.findall(fold_accents(text))


def spell_greek(text: str) -> str:
    """Greek letters replaced by their names (β -> beta)."""
    return "".join(GREEK_NAMES.get(ch, ch) for ch in text)


def squash(text: str) -> str:
    """NFKC, lowercase, keep only a-z, 0-9 and Greek letters (the referee's matching rule)."""
    text = unicodedata.normalize("NFKC", text).lower()
    return "".join(ch for ch in text if ("a" <= ch <= "z") or ch.isdigit() or "\u03b1" <= ch <= "\u03c9")


# scikit-learn's ENGLISH_STOP_WORDS (BSD licence), one a line: reading the file spares a serving process
# scikit-learn's import (pandas, pyarrow: about 100 MB); tests/test_text.py checks it is the same list.
STOP_WORDS_FILE = Path(__file__).resolve().parent / "data" / "english_stop_words.txt"


def _stopwords() -> frozenset[str]:
    english = STOP_WORDS_FILE.read_text(encoding="utf-8").split()
    # scikit-learn's list lacks the auxiliaries questions open with and the pieces of contractions
    # ("don't" -> don, t).
    negated = {"don", "doesn", "didn", "isn", "aren", "wasn", "weren", "won", "wouldn", "shouldn", "couldn", "hasn",
               "haven", "hadn", "can"}
    contractions = negated | {n + "t" for n in negated} | {"t", "ll", "ve", "re", "d", "m"}
    return frozenset(english) | {"does", "did", "doing", "done", "s"} | contractions


_STOP = _stopwords()
_STEMMER = None


def stem(word: str) -> str:
    """Snowball (Porter 2) stem of a lower-case word."""
    global _STEMMER
    if _STEMMER is None:
        import Stemmer

        _STEMMER = Stemmer.Stemmer("english")
    return _STEMMER.stemWord(word)


def fold_accents(text: str) -> str:
    """Latin letters without their accents (naïve -> naive), typographic apostrophes plain; Greek letters kept."""
    decomposed = unicodedata.normalize("NFKD", text.replace("\u2019", "'"))
    return unicodedata.normalize("NFC", "".join(ch for ch in decomposed if not unicodedata.combining(ch)))


# "T cells", "B lymphocytes": a lone letter naming a kind of cell is a stop word on its own ("don't" -> t), which
# left "T cells" as mere "cells". Joined as "T-cells" it is kept whole (tcell) as well as split.
_LETTER_CELLS = re.compile(r"\b([TtBb])[\s-]+(cells?|lymphocytes?)\b")


def index_terms(text: str) -> list[str]:
    """BM25 terms: accents folded, Greek spelled out, compounds kept whole and split, stop words out, stemmed.

    "TGF-β" -> tgfbeta, tgf, beta; "miR-21" -> mir21, mir, 21; "exosomes" -> exosom.
    """
    terms: list[str] = []
    for token in WORD.findall(_LETTER_CELLS.sub(r"\1-\2", spell_greek(fold_accents(text))).lower()):
        token = re.sub(r"['’]s$", "", token.rstrip("+"))
        parts = [p for p in re.split(r"[-/'+]", token) if p]
        forms = ["".join(parts)] + (parts if len(parts) > 1 else [])
        for form in forms:
            if form and form not in _STOP:
                terms.append(stem(form))
    return terms
