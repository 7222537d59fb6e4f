"""Lexicon: what query understanding and the reader know about the whole corpus, worked out when the index is built.

``build_lexicon(passages, passage_terms, unit_terms)`` collects the words the passages use (for spelling variants and
typos), their BM25 terms, how many answer units hold each term (the reader's IDF) and the abbreviations
the papers define ("multivesicular bodies (MVBs)"). The index saves it as ``lexicon.json``, so loading
reads a small file instead of tokenising and stemming every passage and unit again: the two papers'
lexicon is 100 kB, and re-deriving one at a million passages took minutes (README, "Scale").
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from qa.text import words

LEXICON_FILE = "lexicon.json"
_ABBREVIATION = re.compile(r"\(([A-Za-z][A-Za-z0-9\-]{1,9})\)")


@dataclass
class Lexicon:
    words: set[str]  # every word token of the passages, lower-cased
    terms: set[str]  # every BM25 term of the passages
    unit_frequency: dict[str, int]  # term -> how many answer units hold it
    units: int  # how many answer units there are
    abbreviations: dict[str, list[str]]  # "mvb" -> ["multivesicular bodies"], in order of first definition

    def save(self, folder: Path) -> None:
        data = {**asdict(self), "words": sorted(self.words), "terms": sorted(self.terms)}
        (folder / LEXICON_FILE).write_text(json.dumps(data, ensure_ascii=False))

    @classmethod
    def load(cls, folder: Path) -> "Lexicon":
        data = json.loads((folder / LEXICON_FILE).read_text(encoding="utf-8"))
        return cls(**{**data, "words": set(data["words"]), "terms": set(data["terms"])})


def build_lexicon(passages, passage_terms: list[list[str]], unit_terms: list[list[str]]) -> Lexicon:
    """The lexicon of ``passages`` (whose BM25 terms are ``passage_terms``) and of the answer units whose
    BM25 terms are ``unit_terms``."""
    frequency: dict[str, int] = {}
    for terms in unit_terms:
        for term in set(terms):
            frequency[term] = frequency.get(term, 0) + 1
    return Lexicon(
        words={w.lower() for p in passages for w in words(p.text)},
        terms={t for terms in passage_terms for t in terms},
        unit_frequency=frequency,
        units=len(unit_terms),
        abbreviations=mine_abbreviations(passages),
    )


def mine_abbreviations(passages) -> dict[str, list[str]]:
    """Abbreviation -> long form pairs defined in the text, e.g. "mvbs" -> "multivesicular bodies".

    A simplified Schwartz & Hearst (2003) match: the abbreviation's letters
    must be found, in order, in the words just before the parenthesis, the
    first letter opening a word.
    """
    pairs: dict[str, list[str]] = {}
    for passage in passages:
        for match in _ABBREVIATION.finditer(passage.text):
            short = match.group(1)
            if not any(c.isupper() for c in short):
                continue
            before = passage.text[: match.start()].split()[-(len(short) + 3):]
            long_form = _long_form(short, before)
            if long_form:
                key = short.lower().rstrip("s") if short.endswith("s") and len(short) > 2 else short.lower()
                forms = pairs.setdefault(key, [])
                if long_form.lower() not in forms:
                    forms.append(long_form.lower())
    return pairs


def _long_form(short: str, before: list[str]) -> str | None:
    letters = [c.lower() for c in short if c.isalnum()]
    if letters and short.endswith("s") and len(letters) > 2:
        letters = letters[:-1]
    text = " ".join(before)
    s, t = len(letters) - 1, len(text) - 1
    while s >= 0:
        while t >= 0 and (text[t].lower() != letters[s] or (s == 0 and t > 0 and text[t - 1].isalnum())):
            t -= 1
        if t < 0:
            return None
        s -= 1
        t -= 1
    start = text.rfind(" ", 0, t + 1) + 1
    long_form = text[start:].strip(" ,;:(\"“”‘’")
    # One word is a long form only of a word's own short form ("microRNAs (miRNAs)"): "myeloma (MM)" has left
    # out "multiple".
    one_word_form = any(c.islower() for c in short.rstrip("s"))
    if len(long_form.split()) < (1 if one_word_form else 2) or len(long_form) <= len(short) + 1:
        return None
    # A name runs on without a clause break and does not end on a conjunction ("the distant host environment,
    # and (TDEs)" is a sentence naming the abbreviation it just left out).
    if re.search(r"[,;:]", long_form) or long_form.split()[-1].lower() in {"and", "or", "but", "the", "of", "in"}:
        return None
    return long_form
