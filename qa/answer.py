"""Answer: pick the sentences or table rows that answer a question, quote them, cite them, or abstain.

``Pipeline(index).ask(question, history)`` runs the stages in order:
query understanding -> hybrid retrieval -> sentence/row selection ->
abstention -> citations. Every quoted text is a unit of the index, verbatim.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field, replace

from qa.abstain import Abstainer, UnknownWords, features
from qa.citations import Citation, Quote, cite
from qa.index import Index, Unit
from qa.query import QueryAnalyzer
from qa.retrieve import HybridRetriever, Retrieval
from qa.text import index_terms, squash, strip_refs

MAX_ANSWER_WORDS = 80
# Cosine under which a sentence sharing the question's words is probably about something else.
OVERLAP_GATE = 0.5
# A word in at most about 3% of units (idf = log(1 + N/df) >= 3.5 with N ~ 480) names a specific subject.
SPECIFIC_IDF = 3.5
# A sentence opening with one of these leans on the sentence before it.
_LEANING_OPENERS = re.compile(r"^(This|These|They|It|Its|Such|Those|Their|He|She|Both|The latter|The former)\b")
_NUMBER = re.compile(r"\d")
# What follows a noun whose instances a sentence lists: "lipids such as A, B", "fluids including ...",
# "markers (A, B, C)", "proteins are found on exosomes that include A, B".
_ENUMERATION = re.compile(r"(?:[\s,]+[\w-]+){0,7}?[\s,]*(?:\b(?:such as|including|includes?|namely|e\.g\.)|\([^)]*,|:\s*[\w-]+,)")
_WORD = re.compile(r"[\w-]+")
# Where one quoted sentence ends and the next begins, and where a quote was shortened.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_ELLIPSIS = re.compile(r"\.\.\.|\u2026")
_LIST_CUES = re.compile(r"\blist\b|\bname\b", re.I)


@dataclass
class RankedPassage:
    id: str
    doc: str
    section: str
    kind: str
    text: str
    score: float
    refs: list[int]


@dataclass
class Answer:
    question: str
    answer: str
    abstained: bool
    confidence: float
    sentences: list[Quote]
    citations: list[Citation]
    passages: list[RankedPassage]
    timing_ms: dict[str, float] = field(default_factory=dict)
    reason: str = ""


@dataclass
class Candidate:
    unit: Unit
    score: float
    dense: float
    anchored: bool = False  # in the paragraph the previous answer quoted


@dataclass(frozen=True)
class SelectionWeights:
    """How a candidate sentence or row is scored (see ``Pipeline._candidates``)."""

    dense: float = 0.45
    overlap: float = 0.35
    sparse: float = 0.1
    passage: float = 0.1
    # Added for a sentence in the form the question asks for: a definition for "what is X?", a list for
    # "which Xs?".
    form: float = 0.15


class Pipeline:
    """The whole question-answering path over one loaded index."""

    def __init__(self, index: Index, fusion: str = "linear", expand_queries: bool = True,
                 abstainer: Abstainer | None = None, weights: SelectionWeights = SelectionWeights(),
                 dense_weight: float = 0.6):
        self.index = index
        self.weights = weights
        self.analyzer = QueryAnalyzer(index.documents.values(), index.passages)
        self.retriever = HybridRetriever(index, fusion=fusion, dense_weight=dense_weight)
        self.expand_queries = expand_queries
        self.abstainer = abstainer or Abstainer.default()
        self._unit_terms = {u.id: set(index_terms(u.text)) for u in index.units}
        self._squashed = {u.id: squash(strip_refs(u.text)) for u in index.units}
        df: dict[str, int] = {}
        for terms in self._unit_terms.values():
            for t in terms:
                df[t] = df.get(t, 0) + 1
        self._idf = {t: math.log(1 + len(index.units) / n) for t, n in df.items()}
        self._max_idf = math.log(1 + len(index.units))

    def ask(self, question: str, history: list[dict] | None = None, top_k: int = 8) -> Answer:
        """Answer ``question`` (with earlier turns in ``history``) from the index."""
        timing = {}
        started = time.perf_counter()
        retrieval, chosen, values = self._answer(question, history, max(top_k, 10), timing)
        probability = self.abstainer.probability(values)
        passages = [RankedPassage(h.passage.id, h.passage.doc, h.passage.section, h.passage.kind, h.passage.text,
                                  round(h.score, 4), list(h.passage.refs)) for h in self._reranked(retrieval, chosen)]
        passages = passages[:top_k]
        if not chosen or probability < self.abstainer.threshold:
            timing["total"] = _ms(started)
            return Answer(question, _abstention_text(), True, round(probability, 3), [], [], passages, timing,
                          reason="No passage of the reviews matches the question closely enough.")
        sentences, citations = cite(chosen, self.index)
        answer = " ".join(f"{s.text} [{s.citation}]" for s in sentences)
        timing["total"] = _ms(started)
        return Answer(question, answer, False, round(probability, 3), sentences, citations, passages, timing)

    def _reranked(self, retrieval: Retrieval, chosen: list[Unit]) -> list:
        """The retrieved passages, those the chosen units come from first (the reader re-ranks)."""
        cited = list(dict.fromkeys(u.passage_id for u in chosen))
        by_id = {h.passage.id: h for h in retrieval.all_hits}
        return [by_id[pid] for pid in cited] + [h for h in retrieval.hits if h.passage.id not in cited]

    def abstention_features(self, question: str, history: list[dict] | None = None) -> list[float]:
        """The abstention features of ``question`` (what ``qa calibrate`` fits on)."""
        return self._answer(question, history, 10, {})[2]

    def _answer(self, question: str, history: list[dict] | None, k: int, timing: dict):
        """Retrieval, the chosen units and the abstention features of ``question``."""
        query, retrieval, candidates, quoted = self._read(question, history, k=k, timing=timing)
        mark = time.perf_counter()
        if query.compare and not query.doc:
            hits, chosen = self._compare(query, self._anchors(quoted))
            retrieval = replace(retrieval, hits=hits)
        else:
            chosen = self._select(candidates, retrieval, quoted)
        timing["select"] = _ms(mark)
        return retrieval, chosen, self._features(query, candidates, chosen)

    def support(self, claim: str, k: int = 5) -> dict:
        """The units that best support ``claim`` (one per passage, best first) and p(supported)."""
        query, _, candidates, _ = self._read(claim, None)
        probability = self.abstainer.probability(self._features(query, candidates, [c.unit for c in candidates[:1]]))
        if not candidates or probability < self.abstainer.threshold:
            return {"units": [], "confidence": round(probability, 3)}
        units, seen = [], set()
        for candidate in candidates:
            if candidate.unit.passage_id in seen or candidate.score < 0.6 * candidates[0].score:
                continue
            seen.add(candidate.unit.passage_id)
            units.append((candidate.unit, candidate.score))
        return {"units": units[:k], "confidence": round(probability, 3)}

    def _features(self, query, candidates: list[Candidate], chosen: list[Unit]) -> list[float]:
        missing = 0.0
        if candidates:
            terms = self._unit_terms[candidates[0].unit.id]
            absent = [self._idf[t] for t in query.topic_terms if t in self._idf and t not in terms]
            missing = max(absent, default=0.0) / self._max_idf
        # Share of the question's subject that the answer contains; a word the papers never use counts
        # as a half-weight miss.
        answered = set().union(*(self._unit_terms[u.id] for u in chosen)) if chosen else set()
        weights = {t: self._idf.get(t, 0.5 * self._max_idf) for t in set(query.topic_terms)}
        coverage = sum(w for t, w in weights.items() if t in answered) / (sum(weights.values()) or 1.0)
        found, content = self.analyzer.unknown_words(query)
        unknown = UnknownWords(found, self.index.nearest_word_similarity(found), content)
        return features(query, candidates, chosen, unknown, missing, coverage)

    def _read(self, question: str, history: list[dict] | None, k: int = 10, timing: dict | None = None):
        """Understand, retrieve and score candidate units for ``question``; also the units the previous
        answer quoted, when the question follows up on it."""
        timing = {} if timing is None else timing
        started = time.perf_counter()
        query = self.analyzer.analyze(question, history)
        if not self.expand_queries:
            query.dense_text, query.terms = query.question, index_terms(query.question)
        timing["understand"] = _ms(started)
        mark = time.perf_counter()
        retrieval = self.retriever.search(query, k=k)
        timing["retrieve"] = _ms(mark)
        quoted = self._quoted(history) if query.follow_up else []
        # A follow-up with its own topic wants something new, not the last answer again.
        repeated = {u.id for u in quoted} if query.topic_terms else set()
        candidates = [c for c in self._candidates(retrieval, self._anchors(quoted)) if c.unit.id not in repeated]
        return query, retrieval, candidates, quoted

    @staticmethod
    def _defines(unit: Unit, subject: list[str]) -> bool:
        """Does the sentence open by saying what the subject is ("Exosomes are small ... vesicles")?"""
        opening = re.match(r"^(.{1,80}?)\s+(?:is|are)\s+(?:an?\s+|the\s+)?\w", unit.text)
        return bool(opening) and set(subject) <= set(index_terms(opening.group(1)))

    def _quoted(self, history: list[dict] | None) -> list[Unit]:
        """The units of the index that the previous answer quoted (markers and punctuation aside), in its order.

        A quote shortened with an ellipsis ("Exosomes ... can bind to trastuzumab") still counts: each
        of its pieces of 25 or more letters must come from the same unit.
        """
        previous = strip_refs((history or [{}])[-1].get("answer", ""))
        whole = squash(previous)
        found = {u.id: (whole.index(self._squashed[u.id]), u) for u in self.index.units
                 if len(self._squashed[u.id]) > 25 and self._squashed[u.id] in whole}
        for quote in _SENTENCE_END.split(previous):
            if not _ELLIPSIS.search(quote):
                continue
            pieces = [p for p in map(squash, _ELLIPSIS.split(quote)) if p]
            if max(map(len, pieces), default=0) < 25:
                continue
            for u in self.index.units:
                if u.id not in found and all(p in self._squashed[u.id] for p in pieces):
                    found[u.id] = (whole.index(pieces[0]), u)
        return [u for _, u in sorted(found.values(), key=lambda pair: pair[0])]

    def _anchors(self, quoted: list[Unit]) -> set:
        """Where the previous answer was: its paragraphs (doc, number) and the unit ids right after its quotes.

        An elliptical follow-up ("and if it breaks down?") most likely continues there.
        """
        anchors: set = {(u.doc, self.index.passage_by_id[u.passage_id].paragraph) for u in quoted}
        anchors.update(after.id for u in quoted if (after := self._neighbour(u, 1)) is not None)
        return anchors

    def _candidates(self, retrieval: Retrieval, anchors: set = frozenset()) -> list[Candidate]:
        """Units of the top passages and the top units, scored against the question.

        score = w.dense * cosine + w.overlap * overlap + w.sparse * bm25/max + w.passage * passage/max
        (weights: ``SelectionWeights``), where overlap is the
        IDF-weighted share of the question's words found in the unit; then small adjustments for
        reference questions, a named table, a named paper and the previous answer's paragraph.
        """
        query = retrieval.query
        # Words borrowed from the previous turn count, but less than the question's own words.
        focus = {t: 0.5 for t in query.context_terms}
        for t in query.focus_terms or query.terms:
            focus[t] = 1.0
        for t in query.key_terms:
            focus[t] = 2.0
        weight = sum(w * self._idf.get(t, self._max_idf) for t, w in focus.items()) or 1.0
        top_passages = {h.passage.id: h.score for h in retrieval.hits}
        best_passage = max(top_passages.values(), default=1.0) or 1.0
        best_sparse = max((h.sparse for h in retrieval.unit_hits), default=1.0) or 1.0
        pool = {h.unit.id: h for h in retrieval.unit_hits[:40]}
        for hit in retrieval.unit_hits:
            if hit.unit.passage_id in top_passages:
                pool.setdefault(hit.unit.id, hit)
        candidates = []
        for hit in pool.values():
            unit = hit.unit
            if query.doc and unit.doc != query.doc:
                continue
            passage = self.index.passage_by_id[unit.passage_id]
            terms = self._unit_terms[unit.id]
            overlap = sum(w * self._idf.get(t, self._max_idf) for t, w in focus.items() if t in terms) / weight
            w = self.weights
            # Shared words count in full only for a sentence that is also close in meaning.
            gate = min(1.0, max(0.0, hit.dense) / OVERLAP_GATE)
            score = (w.dense * hit.dense + w.overlap * overlap * gate + w.sparse * hit.sparse / best_sparse
                     + w.passage * top_passages.get(unit.passage_id, 0.0) / best_passage)
            if query.wants_refs and unit.refs:
                score += 0.05
            if query.cited_ref is not None and query.cited_ref in unit.refs:
                score += 0.3
            if query.table is not None and unit.kind == "table_row" and passage.table == query.table:
                score += 0.1
            if query.defines and self._defines(unit, query.defines):
                score += w.form
            if query.figure is not None and passage.label.split()[-1:] == [str(query.figure)] and passage.table is None:
                score += 0.1
            if (unit.doc, passage.paragraph) in anchors and passage.paragraph >= 0:
                score += 0.08
            if unit.id in anchors:
                score += 0.08
            if query.listed and set(query.listed) <= terms and _enumerates(unit.text, query.listed[-1]):
                score += w.form
            if query.wants_quantity and _NUMBER.search(strip_refs(unit.text)):
                score += 0.12
            anchored = (unit.doc, passage.paragraph) in anchors and passage.paragraph >= 0
            candidates.append(Candidate(unit, score, hit.dense, anchored))
        candidates.sort(key=lambda c: -c.score)
        return candidates

    def _select(self, candidates: list[Candidate], retrieval: Retrieval, quoted: list[Unit]) -> list[Unit]:
        """1-3 units, best first, no near-duplicates, within the word budget."""
        if not candidates:
            return []
        query = retrieval.query
        if query.follow_up and not query.topic_terms:
            # "Which reference supports that?": the sentences the previous answer quoted, with their refs.
            if quoted:
                return quoted[:3]
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
        return self._with_antecedents(self._with_continuation(chosen, query))

    def _with_continuation(self, chosen: list[Unit], query) -> list[Unit]:
        """Add the sentence after the best one when it carries on the same specific subject and adds
        asked-for words, or gives the number a quantity question asks for."""
        best = chosen[0]
        after = self._neighbour(best, 1)
        if after is None or after in chosen or best.kind != "paragraph" or len(chosen) >= 3:
            return chosen
        asked = set(query.topic_terms)
        mine, theirs = self._unit_terms[best.id], self._unit_terms[after.id]
        specific = {t for t in mine & theirs & asked if self._idf.get(t, 0.0) >= SPECIFIC_IDF}
        carries_on = bool(specific | (mine & theirs & set(query.key_terms))) and bool((theirs - mine) & asked)
        gives_number = (query.wants_quantity and bool(mine & theirs & asked)
                        and not _NUMBER.search(strip_refs(best.text)) and bool(_NUMBER.search(strip_refs(after.text))))
        if (carries_on or gives_number) and _words(chosen + [after]) <= MAX_ANSWER_WORDS:
            return [best, after] + chosen[1:]
        return chosen

    def _compare(self, query, anchors: set) -> tuple[list, list[Unit]]:
        """For a comparison: search each paper on its own; the best unit of each, and the passages interleaved."""
        chosen, rankings = [], []
        for doc in self.index.documents:
            retrieval = self.retriever.search(replace(query, doc=doc), k=10)
            rankings.append([h for h in retrieval.hits if h.passage.doc == doc])
            candidates = self._candidates(retrieval, anchors)
            if candidates:
                mine = [candidates[0].unit]
                runner_up = next((c for c in candidates[1:3] if c.score >= 0.8 * candidates[0].score
                                  and not self._duplicate(c.unit, chosen + mine)), None)
                if runner_up and _words(mine + [runner_up.unit]) <= 70:
                    mine.append(runner_up.unit)
                chosen += mine
        hits = [hit for group in zip(*rankings) for hit in group]
        return hits, self._with_antecedents(chosen)

    def _with_antecedents(self, chosen: list[Unit]) -> list[Unit]:
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

    def _neighbour(self, unit: Unit, step: int) -> Unit | None:
        """The sentence before (step -1) or after (step 1) ``unit`` in its paragraph, across passage windows."""
        siblings = self.index.units_by_passage.get(unit.passage_id, [])
        k = siblings.index(unit) + step
        if 0 <= k < len(siblings):
            return siblings[k]
        passage = self.index.passage_by_id[unit.passage_id]
        document = self.index.documents[unit.doc]
        position = document.passages.index(passage) + step
        if passage.kind == "paragraph" and 0 <= position < len(document.passages):
            other = document.passages[position]
            units = self.index.units_by_passage.get(other.id, [])
            if other.paragraph == passage.paragraph and other.kind == "paragraph" and units:
                return units[-1] if step < 0 else units[0]
        return None

    def _duplicate(self, unit: Unit, chosen: list[Unit]) -> bool:
        terms = self._unit_terms[unit.id]
        for other in chosen:
            theirs = self._unit_terms[other.id]
            if terms and theirs and len(terms & theirs) / len(terms | theirs) > 0.6:
                return True
        return False


def _enumerates(text: str, noun: str) -> bool:
    """Does ``text`` list instances of ``noun`` (an index term) right after naming it?"""
    return any(noun in index_terms(m.group(0)) and _ENUMERATION.match(text, m.end()) for m in _WORD.finditer(text))


def _words(units: list[Unit]) -> int:
    return sum(len(u.text.split()) for u in units)


def _abstention_text() -> str:
    return ("The two reviews do not answer this question: no passage in them matches it closely enough. "
            "The nearest passages are listed below.")


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 1)

