"""Query understanding learnt from the corpus: abbreviations, spelling and symbol variants, follow-ups.

Nothing here is a hand list of domain terms. Abbreviation pairs are mined from
the papers ("multivesicular bodies (MVBs)"), spelling variants are kept only
when the corpus uses the variant, and a follow-up borrows the previous turn's
topic only when the new question cannot stand on its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from qa.text import GREEK_NAMES, WORD, index_terms, words

_ABBREVIATION = re.compile(r"\(([A-Za-z][A-Za-z0-9\-]{1,9})\)")
# British -> American spellings as general English rules (applied only when the result is a corpus word).
_SPELLING_RULES = [
    ("ours", "ors"), ("our", "or"), ("isation", "ization"), ("ise", "ize"), ("ised", "ized"),
    ("ising", "izing"), ("yse", "yze"), ("ysed", "yzed"), ("ae", "e"), ("oe", "e"), ("tre", "ter"),
    ("lled", "led"), ("lling", "ling"), ("ogue", "og"), ("aemia", "emia"), ("haem", "hem"),
]
_SYMBOLS = {name: symbol for symbol, name in GREEK_NAMES.items() if symbol.islower() or symbol == "Δ"}
# Words that make a question lean on the turn before it.
_ANAPHORA = {"it", "its", "they", "them", "their", "this", "that", "these", "those", "there", "such",
             "he", "she", "his", "her", "one", "ones", "same", "also", "too", "well"}
_FOLLOW_OPENERS = ("and ", "what about", "how about", "and what", "what of", "but ", "also ", "so ")
_COMPARE_CUES = {"both", "compare", "comparison", "agree", "disagree", "differ", "difference", "two",
                 "each", "versus", "vs"}
_CITATION_CUES = {"reference", "references", "cite", "cites", "cited", "citation", "citations", "ref",
                  "refs", "source", "study", "studies", "who"}


@dataclass
class Query:
    """A question as the retriever sees it."""

    question: str
    dense_text: str
    terms: list[str]
    focus_terms: list[str]
    doc: str | None = None
    table: int | None = None
    compare: bool = False
    wants_refs: bool = False
    cited_ref: int | None = None
    follow_up: bool = False
    expansions: list[str] = field(default_factory=list)


class QueryAnalyzer:
    """Turns a question (and the conversation so far) into a ``Query``."""

    def __init__(self, documents, passages):
        corpus_text = " ".join(p.text for p in passages)
        self.vocabulary = {w.lower() for w in words(corpus_text)}
        self.term_vocabulary = set(index_terms(corpus_text))
        self.abbreviations = mine_abbreviations(passages)
        self.doc_names = _doc_names(documents)

    def analyze(self, question: str, history: list[dict] | None = None) -> Query:
        text = question.strip()
        variants = self._variants(text)
        expansions = self._expansions(text)
        dense = " ".join([self._symbolised(text)] + variants + expansions)
        lowered = {w.lower() for w in words(text)}
        follow_up = bool(history) and self._leans_on_history(text)
        if follow_up:
            previous = history[-1].get("question", "")
            dense = f"{dense} {previous}"
            expansions = expansions + [previous]
        focus = [t for t in index_terms(" ".join([text] + variants)) if t in self.term_vocabulary]
        terms = index_terms(" ".join([text] + variants + expansions))
        if follow_up:
            terms += focus  # the new question's own words weigh more than the borrowed ones
        cited = re.search(r"\[(\d+)\]|\breference\s+(\d+)\b|\bref\.?\s*(\d+)\b", text, re.I)
        table = re.search(r"\btable\s+(\d+)", text, re.I)
        return Query(
            question=text,
            dense_text=dense,
            terms=terms,
            focus_terms=focus,
            doc=self._doc(text),
            table=int(table.group(1)) if table else None,
            compare=bool(lowered & _COMPARE_CUES) and ("papers" in lowered or "reviews" in lowered
                                                         or "both" in lowered or "compare" in lowered),
            wants_refs=bool(lowered & _CITATION_CUES) or "show" in lowered and "who" in lowered,
            cited_ref=int(next(g for g in cited.groups() if g)) if cited else None,
            follow_up=follow_up,
            expansions=variants + expansions,
        )

    def unknown_share(self, query: Query) -> float:
        """Share of the question's content words that the corpus never uses."""
        content = [w for w in index_terms(query.question)]
        if not content:
            return 1.0
        return sum(1 for t in content if t not in self.term_vocabulary) / len(content)

    def _variants(self, text: str) -> list[str]:
        """Corpus spellings of words the corpus does not use as written (tumour -> tumor, miR21 -> miR-21)."""
        found = []
        for word in words(text):
            low = word.lower()
            if low in self.vocabulary:
                continue
            candidates = [low.replace(a, b) for a, b in _SPELLING_RULES if a in low]
            candidates += [re.sub(r"^([a-z]+)(\d)", r"\1-\2", low)]
            for name, symbol in _SYMBOLS.items():
                if name in low:
                    candidates += [low.replace(name, symbol), low.replace("-" + name, symbol)]
            for candidate in candidates:
                if candidate != low and candidate in self.vocabulary:
                    found.append(candidate)
                    break
        return found

    def _symbolised(self, text: str) -> str:
        """Spelled-out Greek letters written as the corpus writes them (TGF-beta -> TGF-β)."""
        def swap(match):
            word = match.group(0)
            low = word.lower()
            for name, symbol in _SYMBOLS.items():
                if name in low and low.replace(name, symbol) in self.vocabulary:
                    return re.sub(name, symbol, word, flags=re.I)
            return word
        return WORD.sub(swap, text)

    def _expansions(self, text: str) -> list[str]:
        """Long forms of the abbreviations in ``text`` and abbreviations of its long forms."""
        low = text.lower()
        found = []
        for short, long_forms in self.abbreviations.items():
            for long_form in long_forms:
                if re.search(rf"\b{re.escape(short)}s?\b", low) and long_form not in low:
                    found.append(long_form)
                elif long_form in low and not re.search(rf"\b{re.escape(short)}", low):
                    found.append(short)
        return found

    def _leans_on_history(self, text: str) -> bool:
        low = text.lower().strip()
        tokens = [w.lower() for w in words(text)]
        content = [t for t in index_terms(text) if t in self.term_vocabulary]
        return low.startswith(_FOLLOW_OPENERS) or bool(set(tokens) & _ANAPHORA) or not content

    def _doc(self, text: str) -> str | None:
        low = text.lower()
        named = {doc for doc, names in self.doc_names.items() if any(re.search(rf"\b{n}\b", low) for n in names)}
        return named.pop() if len(named) == 1 else None


def _doc_names(documents) -> dict[str, set[str]]:
    """How a question may name each paper: its id and its first author's surname."""
    names = {}
    for doc in documents:
        found = {doc.id.lower()}
        if doc.authors:
            found.add(doc.authors[0].split()[-1].lower())
        names[doc.id] = found
    return names


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
    if len(long_form.split()) < 2 or len(long_form) <= len(short) + 1:
        return None
    return long_form
