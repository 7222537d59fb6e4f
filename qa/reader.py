"""Reader: score the retrieved sentences and table rows against the question and pick the ones that answer it.

``Reader(index).read(retrieval, anchors)`` scores every candidate unit as a weighted sum of named
signals (``SIGNALS``; weights in ``qa/data/reader.json``, beside the abstention model), and
``Reader.select`` picks 1-3 of them: the best, close runners-up that add something, the row a table
caption stands for, the sentence a "This ..." sentence leans on. Every signal can be switched off by
weight, which is how the ablation benchmark measures what each adds.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from qa.index import Index, Unit
from qa.query import CAUSE_QUESTION, MEANS_QUESTION, YES_NO
from qa.retrieve import CANDIDATES, EXHAUSTIVE_MAX_ROWS, Retrieval
from qa.text import NUMBER, index_terms, quantities_text, squash, strip_refs

WEIGHTS_FILE = Path(__file__).resolve().parent / "data" / "reader.json"
MAX_ANSWER_WORDS = 80
# Cosine under which a sentence sharing the question's words is probably about something else.
OVERLAP_GATE = 0.5
# A word in at most about 3% of units (idf = log(1 + N/df) >= 3.5 with N ~ 480) names a specific subject.
SPECIFIC_IDF = 3.5
# Share of a yes/no question's (IDF-weighted) words a sentence must hold to state the asked relation.
RELATION_OVERLAP = 0.6
# How many of the best units (by retrieval) join the candidates besides the units of the top passages.
UNIT_POOL = 40
# A sentence opening with one of these leans on the sentence before it.
_LEANING_OPENERS = re.compile(r"^(This|These|They|It|Its|Such|Those|Their|He|She|Both|The latter|The former)\b")
# What follows a noun whose instances a sentence lists: "lipids such as A, B", "fluids including ...",
# "markers (A, B, C)", "proteins are found on exosomes that include A, B".
_ENUMERATION = re.compile(r"(?:[\s,]+[\w-]+){0,7}?[\s,]*(?:\b(?:such as|including|includes?|namely|e\.g\.)|\([^)]*,|:\s*[\w-]+,)")
_WORD = re.compile(r"[\w-]+")
# Where one quoted sentence ends and the next begins, and where a quote was shortened.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_ELLIPSIS = re.compile(r"\.\.\.|\u2026")
_LIST_CUES = re.compile(r"\blist\b|\bname\b", re.I)
# Phrasal verbs whose words mean something else ("is carried out" is performed, not carried).
_PHRASAL = re.compile(r"\bcarr(?:y|ies|ied|ying) out\b", re.I)
# A sentence saying what its subject is made of: "Exosomes consist of ...", "The TME includes ...". Its subject is
# the words before the verb, with at most COMPOSER_OTHER_TERMS words besides those the question names.
_COMPOSED_OF = re.compile(r"^(.{1,60}?)\s+(?:consists?\s+of|(?:is|are)\s+(?:composed|comprised|made(?:\s+up)?)\s+of|"
                          r"comprises?|includes?)\b", re.I)
COMPOSER_OTHER_TERMS = 1
# How English states what a question of each kind asks for (general English, no domain words): a cause
# for "why", a means for "how", a naming for "what is the term for", a definition for "what is X".
_ANSWER_CUES = {
    "cause": re.compile(r"\b(because|due to|owing to|since|required for|requires?|needed|necessary|essential|"
                        r"leads? to|leading to|results? in|caused? by|causes?|therefore|thus|hence|so that|"
                        r"in order to|provides?|depend\w*|allows?|enables?|contributes? to|responsible|"
                        r"prerequisite|ha(?:s|ve) to|must)\b", re.I),
    "means": re.compile(r"\b(through|via|by|using|uses?|methods?|techniques?|includes?|including|ways?|"
                        r"mechanisms?|mediat\w+|pathways?|process|stages?|steps?|performed|carried out)\b", re.I),
    "naming": re.compile(r"\b(called|termed|named|known as|referred to as|defined as|term)\b|\(|,\s*which\s+(is|are)\b",
                         re.I),
}


@dataclass(frozen=True)
class ReaderWeights:
    """The weight of each signal in a candidate's score (see ``SIGNALS``)."""

    dense: float = 0.45
    overlap: float = 0.35
    sparse: float = 0.1
    passage: float = 0.1
    form: float = 0.15
    asked_for: float = 0.0
    summary: float = 0.0
    refs_wanted: float = 0.05
    cited_ref: float = 0.3
    named_table: float = 0.1
    named_figure: float = 0.1
    previous_paragraph: float = 0.08
    after_previous_quote: float = 0.08
    quantity: float = 0.12

    @classmethod
    def load(cls, path: Path = WEIGHTS_FILE) -> "ReaderWeights":
        """The stored weights (missing names keep their defaults)."""
        if not path.is_file():
            return cls()
        stored = json.loads(path.read_text())["weights"]
        return replace(cls(), **{f.name: float(stored[f.name]) for f in fields(cls) if f.name in stored})

    def without(self, *names: str) -> "ReaderWeights":
        """These weights with the named signals switched off (for ablation)."""
        return replace(self, **{name: 0.0 for name in names})


# What each signal measures, in [0, 1] unless said otherwise; the score is their weighted sum.
SIGNALS = {
    "dense": "cosine of the unit with the question (with a follow-up's borrowed context mixed in)",
    "overlap": "IDF-weighted share of the question's words in the unit, gated by meaning (cosine / OVERLAP_GATE)",
    "sparse": "BM25 of the unit / the best unit's BM25",
    "passage": "fused score of the unit's passage / the best passage's",
    "form": "the unit is in the form the question asks for: a definition for 'what is X?', a list for 'which Xs?', "
            "what X consists of for 'what is X made of?'",
    "asked_for": "what the question asks for is present beyond its own words: a cause for 'why', a means for "
                 "'how', a name for 'what is the term for', the asked relation for a yes/no question",
    "summary": "a broad question ('what role do X play?') and a summary statement (abstract, conclusion, a "
               "paragraph's opening) that names its subject",
    "refs_wanted": "the question asks for references and the unit cites some",
    "cited_ref": "the unit cites the reference number the question names",
    "named_table": "the unit is a row of the table the question names",
    "named_figure": "the unit is in the legend of the figure the question names",
    "previous_paragraph": "the unit is in the paragraph the previous answer quoted",
    "after_previous_quote": "the unit follows a sentence the previous answer quoted",
    "quantity": "the question asks for a quantity and the unit holds a number",
}


# Largest corpus whose per-unit reading inputs are computed when the reader is made: 107 ms for the papers'
# 478 units (0.22 ms a unit, machine busy), which a fresh server's first questions paid about 1 ms each of;
# 5,000 units add about a second to start-up. A larger corpus computes them on first use.
READ_AHEAD_MAX_UNITS = 5_000


class _PerUnit(dict):
    """unit id -> a value computed from the unit the first time it is asked for."""

    def __init__(self, index: Index, compute):
        super().__init__()
        self._units, self._compute = index.unit_by_id, compute

    def __missing__(self, unit_id: str):
        value = self[unit_id] = self._compute(self._units[unit_id])
        return value

    def fill(self) -> None:
        """Compute every unit's value now."""
        self.update((unit_id, self._compute(unit)) for unit_id, unit in self._units.items())


class _UnitsWhere(_PerUnit):
    """The ids of the units that pass a test, each unit tested the first time it is looked for."""

    def __contains__(self, unit_id: object) -> bool:
        return bool(self[unit_id])


@dataclass
class Candidate:
    unit: Unit
    score: float
    dense: float
    anchored: bool = False  # in the paragraph the previous answer quoted
    signals: dict[str, float] = field(default_factory=dict)


class Reader:
    """Scores and selects answer units for a retrieved question."""

    def __init__(self, index: Index, weights: ReaderWeights | None = None):
        self.index = index
        self.weights = weights or ReaderWeights.load()
        # Per-unit inputs are worked out for the units questions retrieve, the first time each is read; for a
        # corpus of at most READ_AHEAD_MAX_UNITS units, for all of them now, so that no request pays for them.
        # A unit saying "TME" says "tumor microenvironment" too: an abbreviation brings its first long form's terms.
        long_forms = {}
        for short, forms in index.lexicon.abbreviations.items():
            if len(short_terms := index_terms(short)) == 1:
                long_forms[short_terms[0]] = set(index_terms(forms[0]))
        self.unit_terms = _PerUnit(index, lambda u: _with_long_forms(set(index_terms(_literal(u.text))), long_forms))
        self._squashed = _PerUnit(index, lambda u: squash(strip_refs(u.text)))
        self._summaries = _UnitsWhere(index, self._states_summary)
        if len(index.units) <= READ_AHEAD_MAX_UNITS:
            for per_unit in (self.unit_terms, self._squashed, self._summaries):
                per_unit.fill()
        lexicon = index.lexicon
        self.idf = {t: math.log(1 + lexicon.units / n) for t, n in lexicon.unit_frequency.items()}
        self.max_idf = math.log(1 + len(index.units))
        self._table_terms: dict[tuple[str, int], set[str]] | None = None

    def table_terms(self, unit: Unit) -> set[str]:
        """The words of every row of the table ``unit`` is a row of (empty for a sentence); every table's, worked
        out the first time a row is asked about."""
        if unit.kind != "table_row":
            return set()
        if self._table_terms is None:
            self._table_terms = {}
            for row in self.index.units:
                if row.kind == "table_row":
                    self._table_terms.setdefault(self._table_of(row), set()).update(self.unit_terms[row.id])
        return self._table_terms[self._table_of(unit)]

    def _table_of(self, unit: Unit) -> tuple[str, int]:
        return unit.doc, self.index.passage_by_id[unit.passage_id].table

    # ---- scoring ------------------------------------------------------------------------

    def read(self, retrieval: Retrieval, anchors: set = frozenset()) -> list[Candidate]:
        """Units of the top passages and the top units, scored against the question, best first."""
        query = retrieval.query
        focus = self._focus(query)
        weight = sum(w * self.idf.get(t, self.max_idf) for t, w in focus.items()) or 1.0
        top_passages = {h.passage.id: h.score for h in retrieval.hits}
        best_passage = max(top_passages.values(), default=1.0) or 1.0
        best_sparse = max((h.sparse for h in retrieval.unit_hits), default=1.0) or 1.0
        pool = {h.unit.id: h for h in retrieval.unit_hits[:UNIT_POOL]}
        # Where the previous answer was is a candidate even when the follow-up's few words do not find it.
        for hit in retrieval.unit_hits:
            if hit.unit.passage_id in top_passages or anchors and (
                    hit.unit.id in anchors or self._paragraph(hit.unit) in anchors):
                pool.setdefault(hit.unit.id, hit)
        asked = asked_for(query)
        broad = _broad(query)
        question_terms = set(index_terms(query.question))
        candidates = []
        for hit in pool.values():
            unit = hit.unit
            if query.doc and unit.doc != query.doc:
                continue
            passage = self.index.passage_by_id[unit.passage_id]
            terms = self.unit_terms[unit.id]
            overlap = sum(w * self.idf.get(t, self.max_idf) for t, w in focus.items() if t in terms) / weight
            anchored = self._paragraph(unit) in anchors
            signals = {
                "dense": hit.dense,
                "overlap": overlap * min(1.0, max(0.0, hit.dense) / OVERLAP_GATE),
                "sparse": hit.sparse / best_sparse,
                "passage": top_passages.get(unit.passage_id, 0.0) / best_passage,
                "form": float(bool(query.defines and self._defines(unit, query.defines))
                              or bool(query.listed and set(query.listed) <= terms
                                      and _enumerates(unit.text, query.listed[-1]))
                              or any(_composes(unit.text, subject) for subject in query.composed)),
                "asked_for": self._asked_for(unit, asked, question_terms, overlap),
                "summary": float(broad and unit.id in self._summaries and overlap > 0),
                "refs_wanted": float(query.wants_refs and bool(unit.refs)),
                "cited_ref": float(query.cited_ref is not None and query.cited_ref in unit.refs),
                "named_table": float(query.table is not None and unit.kind == "table_row"
                                     and passage.table == query.table),
                "named_figure": float(query.figure is not None and passage.table is None
                                      and passage.label.split()[-1:] == [str(query.figure)]),
                "previous_paragraph": float(anchored),
                "after_previous_quote": float(unit.id in anchors),
                "quantity": float(query.wants_quantity and bool(NUMBER.search(quantities_text(unit.text)))),
            }
            score = sum(getattr(self.weights, name) * value for name, value in signals.items())
            candidates.append(Candidate(unit, score, hit.dense, anchored, signals))
        candidates.sort(key=lambda c: -c.score)
        return candidates

    def _paragraph(self, unit: Unit) -> tuple | None:
        """(doc, paragraph number) of a unit in a paragraph of prose; None for a table row or a caption."""
        paragraph = self.index.passage_by_id[unit.passage_id].paragraph
        return (unit.doc, paragraph) if paragraph >= 0 else None

    @staticmethod
    def _focus(query) -> dict[str, float]:
        """Each question term's weight: entity-like words most, words borrowed from the previous turn least."""
        focus = {t: 0.5 for t in query.context_terms}
        for t in query.focus_terms or query.terms:
            focus[t] = 1.0
        for t in query.key_terms:
            focus[t] = 2.0
        return focus

    @staticmethod
    def _asked_for(unit: Unit, asked: str | None, question_terms: set, overlap: float) -> float:
        """Does the unit hold what the question asks for, beyond the question's own words?"""
        if asked is None:
            return 0.0
        if asked == "relation":
            # A yes/no question is settled by a sentence that states the asked relation: most of its words.
            return float(overlap >= RELATION_OVERLAP)
        cues = _ANSWER_CUES[asked].finditer(strip_refs(unit.text))
        return float(any(not (set(index_terms(m.group(0))) & question_terms) for m in cues))

    @staticmethod
    def _defines(unit: Unit, subject: list[str]) -> bool:
        """Does the sentence open by saying what the subject is ("Exosomes are small ... vesicles")? It opens with the
        subject: "Recent evidence has demonstrated how exosomes are important mediators" says what the evidence
        shows, "Isolation of exosomes is ..." what isolation is."""
        opening = re.match(r"^(.{1,80}?)\s+(?:is|are)\s+(?:an?\s+|the\s+)?\w", unit.text)
        terms = index_terms(opening.group(1)) if opening else []
        return bool(terms) and terms[0] in subject and set(subject) <= set(terms)

    def _states_summary(self, unit: Unit) -> bool:
        """A summary statement: in the abstract or the conclusion, or the opening sentence of a paragraph."""
        passage = self.index.passage_by_id[unit.passage_id]
        if unit.kind != "paragraph":
            return False
        section = passage.section.lower()
        opening = self._neighbour(unit, -1) is None
        return opening or any(word in section for word in ("abstract", "conclu", "overall", "perspective"))

    # ---- selection ----------------------------------------------------------------------

    def select(self, candidates: list[Candidate], retrieval: Retrieval, quoted: list[Unit]) -> list[Unit]:
        """1-3 units, best first, no near-duplicates, within the word budget."""
        if not candidates:
            return []
        query = retrieval.query
        if query.follow_up and not query.topic_terms and quoted:
            if not asks_beyond(query):
                # "Which reference supports that?": the sentences the previous answer quoted, with their refs.
                return quoted[:3]
            # "Why is that?" names nothing of its own: the answer goes on where the previous one was quoted,
            # with the sentence right after the quote first.
            candidates = ([c for c in candidates if c.signals.get("after_previous_quote")]
                          + [c for c in candidates if c.anchored and not c.signals.get("after_previous_quote")]
                          or candidates)
        best = candidates[0]
        chosen = [best.unit]
        table = self.index.passage_by_id[best.unit.passage_id].table
        if best.unit.kind == "caption" and table is not None:
            # A table's caption only says what the table lists: its best-matching row says it.
            row = next((h.unit for h in retrieval.unit_hits if h.unit.kind == "table_row" and h.unit.doc == best.unit.doc
                        and self.index.passage_by_id[h.unit.passage_id].table == table), None)
            if row is not None and _words(chosen + [row]) <= MAX_ANSWER_WORDS:
                chosen.append(row)
        list_like = bool(query.listed or _LIST_CUES.search(query.question)) and best.unit.kind == "table_row"
        ratio = 0.9 if list_like else 0.8
        for candidate in candidates[1:]:
            if len(chosen) >= 3 or candidate.score < ratio * best.score:
                break
            if list_like and candidate.unit.kind != "table_row":
                continue
            if self._duplicate(candidate.unit, chosen) or _words(chosen + [candidate.unit]) > MAX_ANSWER_WORDS:
                continue
            chosen.append(candidate.unit)
        return self.with_antecedents(self._with_continuation(chosen, query))

    def merged(self, answers: list[list[Unit]]) -> list[Unit]:
        """One answer from the answers to a question's parts, asked one after the other: each part's best unit
        first, then the next of each, at most 3 units within the word budget, no near-duplicates."""
        merged: list[Unit] = []
        for rank in range(max(map(len, answers), default=0)):
            for answer in answers:
                if rank < len(answer) and len(merged) < 3 and not self._duplicate(answer[rank], merged) \
                        and _words(merged + [answer[rank]]) <= MAX_ANSWER_WORDS:
                    merged.append(answer[rank])
        return self.with_antecedents(merged)

    def pick_per_paper(self, candidates: list[Candidate], chosen: list[Unit]) -> list[Unit]:
        """For a comparison, one paper's best unit and a close runner-up that is not a near-duplicate."""
        if not candidates:
            return []
        mine = [candidates[0].unit]
        runner_up = next((c for c in candidates[1:3] if c.score >= 0.8 * candidates[0].score
                          and not self._duplicate(c.unit, chosen + mine)), None)
        if runner_up and _words(mine + [runner_up.unit]) <= 70:
            mine.append(runner_up.unit)
        return mine

    def _with_continuation(self, chosen: list[Unit], query) -> list[Unit]:
        """Add the sentence after the best one when it carries on the same specific subject and adds
        asked-for words, or gives the number a quantity question asks for."""
        best = chosen[0]
        after = self._neighbour(best, 1)
        if after is None or after in chosen or best.kind != "paragraph" or len(chosen) >= 3:
            return chosen
        asked = set(query.topic_terms)
        mine, theirs = self.unit_terms[best.id], self.unit_terms[after.id]
        specific = {t for t in mine & theirs & asked if self.idf.get(t, 0.0) >= SPECIFIC_IDF}
        carries_on = bool(specific | (mine & theirs & set(query.key_terms))) and bool((theirs - mine) & asked)
        gives_number = (query.wants_quantity and bool(mine & theirs & asked)
                        and not NUMBER.search(quantities_text(best.text))
                        and bool(NUMBER.search(quantities_text(after.text))))
        if (carries_on or gives_number) and _words(chosen + [after]) <= MAX_ANSWER_WORDS:
            return [best, after] + chosen[1:]
        return chosen

    def with_antecedents(self, chosen: list[Unit]) -> list[Unit]:
        """Bring along the sentence before any chosen sentence that opens with "This ...", "They ..."."""
        result: list[Unit] = []
        for unit in chosen:
            if unit.kind in ("paragraph", "caption") and _LEANING_OPENERS.match(unit.text):
                before = self._neighbour(unit, -1)
                if before and before not in result and before not in chosen:
                    result.append(before)
            if unit not in result:
                result.append(unit)
        return result

    # ---- the previous answer --------------------------------------------------------------

    def quoted(self, history: list[dict] | None) -> list[Unit]:
        """The units of the index that the previous answer quoted (markers and punctuation aside), in its order.

        A quote shortened with an ellipsis ("Exosomes ... can bind to trastuzumab") still counts: each
        of its pieces of 25 or more letters must come from the same unit.
        """
        previous = strip_refs((history or [{}])[-1].get("answer", ""))
        whole = squash(previous)
        units = self._quotable(previous)
        found = {u.id: (whole.index(self._squashed[u.id]), u) for u in units
                 if len(self._squashed[u.id]) > 25 and self._squashed[u.id] in whole}
        for quote in _SENTENCE_END.split(previous):
            if not _ELLIPSIS.search(quote):
                continue
            pieces = [p for p in map(squash, _ELLIPSIS.split(quote)) if p]
            if max(map(len, pieces), default=0) < 25:
                continue
            for u in units:
                if u.id not in found and all(p in self._squashed[u.id] for p in pieces):
                    found[u.id] = (whole.index(pieces[0]), u)
        return [u for _, u in sorted(found.values(), key=lambda pair: pair[0])]

    def _quotable(self, previous: str) -> list[Unit]:
        """The units an answer may have quoted: all of a small corpus's, a large one's best by BM25 for the
        answer's words (a quote holds all of its unit's)."""
        if len(self.index.units) <= EXHAUSTIVE_MAX_ROWS:
            return self.index.units
        ranked = self.index.store.lexical("units", index_terms(previous), CANDIDATES)
        return [self.index.units[p] for p in ranked.positions]

    def anchors(self, quoted: list[Unit]) -> set:
        """Where the previous answer was: its paragraphs (doc, number) and the unit ids right after its quotes.

        An elliptical follow-up ("and if it breaks down?") most likely continues there.
        """
        anchors: set = {(u.doc, self.index.passage_by_id[u.passage_id].paragraph) for u in quoted}
        anchors.update(after.id for u in quoted if (after := self._neighbour(u, 1)) is not None)
        return anchors

    # ---- units and their neighbours ------------------------------------------------------

    def _neighbour(self, unit: Unit, step: int) -> Unit | None:
        """The sentence before (step -1) or after (step 1) ``unit`` in its paragraph, across passage windows."""
        siblings = self.index.units_by_passage.get(unit.passage_id, [])
        k = next(i for i, sibling in enumerate(siblings) if sibling.id == unit.id) + step
        if 0 <= k < len(siblings):
            return siblings[k]
        passage = self.index.passage_by_id[unit.passage_id]
        document = self.index.documents[unit.doc]
        position = self.index.passage_position(passage) + step
        if passage.kind == "paragraph" and 0 <= position < len(document.passages):
            other = document.passages[position]
            units = self.index.units_by_passage.get(other.id, [])
            if other.paragraph == passage.paragraph and other.kind == "paragraph" and units:
                return units[-1] if step < 0 else units[0]
        return None

    def _duplicate(self, unit: Unit, chosen: list[Unit]) -> bool:
        terms = self.unit_terms[unit.id]
        for other in chosen:
            theirs = self.unit_terms[other.id]
            if terms and theirs and len(terms & theirs) / len(terms | theirs) > 0.6:
                return True
        return False


_NAMING = re.compile(r"\b(?:term|name|word) for\b|\bwhat (?:is|are) .* called\b", re.I)
# Broad questions ask for the general picture of their subject.
_BROAD = re.compile(r"\b(role|roles|function|functions|importance|important|significance|purpose|involved|"
                    r"relationship|relation|link|impact|effects?|affect|interact|work|works|do)\b", re.I)


def asked_for(query) -> str | None:
    """What the question asks for beyond its own words: "naming", "cause", "means" (keys of
    _ANSWER_CUES) or "relation" (a yes/no question); None when it is none of these."""
    text = query.question
    if query.wants_quantity:
        return None
    if _NAMING.search(text):
        return "naming"
    if CAUSE_QUESTION.search(text):
        return "cause"
    if MEANS_QUESTION.search(text):
        return "means"
    if YES_NO.match(text):
        return "relation"
    return None


def asks_beyond(query) -> bool:
    """Does a question ask for something other than the source of what it refers to ("why is that?", "is
    it safe?", "what does it do once it gets there?")? A follow-up that does wants more than the sentences
    the previous answer quoted; one asking "which reference is that from?" wants those sentences again."""
    return not query.wants_refs


def _broad(query) -> bool:
    """A question about the general picture of its subject rather than one fact."""
    return bool(_BROAD.search(query.question)) and len(set(query.topic_terms)) <= 4 and not query.key_terms


def _literal(text: str) -> str:
    """``text`` with its phrasal verbs whose words say something else in their place: a process "carried out" is
    performed, and carries nothing."""
    return _PHRASAL.sub("performed", text)


# Combining forms that prefix a word without turning its meaning round: "immunosuppressive" says "suppressive",
# "microenvironment" "environment", "multivesicular" "vesicular" (general biomedical word formation).
_COMBINING_FORMS = ("immuno", "neo", "auto", "onco", "micro", "multi")
# The shortest stem a combining form may leave (suppress, vascular, environ): shorter remainders are no words.
_MIN_REMAINDER = 5


def _with_long_forms(terms: set[str], long_forms: dict[str, set[str]]) -> set[str]:
    """A unit's terms with what its abbreviations stand for and its compound words' second parts."""
    parts = {t[len(form):] for t in terms for form in _COMBINING_FORMS
             if t.startswith(form) and len(t) - len(form) >= _MIN_REMAINDER}
    return terms.union(parts, *(long_forms[t] for t in terms if t in long_forms))


def _composes(text: str, subject: list[str]) -> bool:
    """Does ``text`` open by saying what ``subject`` (index terms) is made of ("As an exosomal cargo includes ...",
    not "the gold standard for exosomal purification includes ...")?"""
    opening = _COMPOSED_OF.match(strip_refs(text))
    if not opening:
        return False
    said = set(index_terms(opening.group(1)))
    return set(subject) <= said and len(said - set(subject)) <= COMPOSER_OTHER_TERMS


def _enumerates(text: str, noun: str) -> bool:
    """Does ``text`` list instances of ``noun`` (an index term) right after naming it?"""
    return any(_ENUMERATION.match(text, m.end()) and noun in index_terms(m.group(0)) for m in _WORD.finditer(text))


def _words(units: list[Unit]) -> int:
    return sum(len(u.text.split()) for u in units)
