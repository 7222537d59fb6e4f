"""Answer: compose the stages that answer a question, quote the answer, cite it, or abstain.

``Pipeline(index).ask(question, history)`` runs them in order: query understanding
(``qa.query``) -> hybrid retrieval (``qa.retrieve``) -> the reader, which scores and picks
sentences and rows (``qa.reader``) -> abstention (``qa.abstain``) -> citations
(``qa.citations``). Every quoted text is a unit of the index, verbatim.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

from qa import deadline
from qa.abstain import Abstainer, features
from qa.citations import Citation, Quote, cite
from qa.index import Index, Unit
from qa.query import QueryAnalyzer, english_frequency, question_parts
from qa.reader import Candidate, Reader, ReaderWeights, asked_for, asks_beyond
from qa.retrieve import Hit, HybridRetriever, Retrieval, query_vectors
from qa.text import index_terms


# Papers a comparison ("do the two reviews agree ...?") sets side by side: the two reviews; in a larger
# corpus, searching every document on its own took 30 s a question at 1,000 documents.
COMPARE_DOCUMENTS = 2


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
    confidence_level: str = "low"  # the band a page shows: high, medium, low (see Abstainer.level)


class Pipeline:
    """The whole question-answering path over one loaded index."""

    def __init__(self, index: Index, fusion: str = "linear", expand_queries: bool = True,
                 abstainer: Abstainer | None = None, weights: ReaderWeights | None = None,
                 dense_weight: float = 0.6):
        self.index = index
        self.analyzer = QueryAnalyzer(index.documents.values(), index.lexicon)
        self.retriever = HybridRetriever(index, fusion=fusion, dense_weight=dense_weight)
        self.reader = Reader(index, weights)
        self.expand_queries = expand_queries
        self.abstainer = (abstainer or Abstainer.default()).for_model(index.manifest.get("model", ""))

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
                          reason="No passage of the reviews matches the question closely enough.",
                          confidence_level="low")
        sentences, citations = cite(chosen, self.index)
        answer = " ".join(f"{s.text} [{s.citation}]" for s in sentences)
        confidence = self.abstainer.confidence(values)
        timing["total"] = _ms(started)
        return Answer(question, answer, False, round(confidence, 3), sentences, citations, passages, timing,
                      confidence_level=self.abstainer.level(confidence))

    def warm_up(self) -> None:
        """Do now what a fresh process's first questions would otherwise wait for: load the query model, search
        once, and load the English word frequencies (query understanding and abstention read them)."""
        self.ask("warm up")
        # wordfreq and its English list, which the first question with a word the papers never use would load:
        # 0.17 s alone, 0.4-0.5 s of a busy fresh server's worker thread (several at once under load).
        english_frequency("exosome")

    def _reranked(self, retrieval: Retrieval, chosen: list[Unit]) -> list:
        """The retrieved passages, those the chosen units come from first (the reader re-ranks)."""
        cited = list(dict.fromkeys(u.passage_id for u in chosen))
        by_id = {h.passage.id: h for h in retrieval.all_hits}
        # A sentence brought along for context (the one a "This ..." leans on) may come from a passage that
        # was no candidate of a large corpus's search: it is cited with no retrieval score.
        return ([by_id.get(pid) or Hit(self.index.passage_by_id[pid], 0.0) for pid in cited]
                + [h for h in retrieval.hits if h.passage.id not in cited])

    def abstention_features(self, question: str, history: list[dict] | None = None) -> list[float]:
        """The abstention features of ``question`` (what ``qa calibrate`` fits on)."""
        return self._answer(question, history, 10, {})[2]

    def _answer(self, question: str, history: list[dict] | None, k: int, timing: dict):
        """Retrieval, the chosen units and the abstention features of ``question``."""
        query, retrieval, candidates, quoted = self._read(question, history, k=k, timing=timing)
        deadline.check("selection")
        mark = time.perf_counter()
        if query.compare and not query.doc:
            hits, chosen = self._compare(query, self.reader.anchors(quoted), retrieval)
            retrieval = replace(retrieval, hits=hits)
        else:
            parts = question_parts(question) if not history else [question]
            if len(parts) > 1 and candidates:
                # "What are exosomes and why do they matter?": the second part steers the whole question's search,
                # so each part is asked on its own, the second after the first as a follow-up ("they"). The whole
                # question's candidates still decide abstention.
                chosen = self.reader.merged(self._part_answers(parts, k))
            else:
                chosen = self.reader.select(candidates, retrieval, quoted)
        timing["select"] = _ms(mark)
        return retrieval, chosen, self._features(query, candidates, chosen)

    def _part_answers(self, parts: list[str], k: int) -> list[list[Unit]]:
        answers, turns = [], []
        for part in parts:
            _, retrieval, candidates, quoted = self._read(part, turns, k=k)
            answers.append(self.reader.select(candidates, retrieval, quoted))
            turns = [{"question": part, "answer": ""}]
        return answers

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
        missing = rival = 0.0
        if candidates:
            best = candidates[0].unit
            terms, idf = self.reader.unit_terms[best.id], self.reader.idf
            absent = [t for t in query.topic_terms if t in idf and t not in terms]
            missing = max((idf[t] for t in absent), default=0.0) / self.reader.max_idf
            # A subject word the best row lacks but another row of its table has: the question names another
            # cancer, fluid or cell than the row does ("miR-21 in saliva" against a row saying serum).
            table = self.reader.table_terms(best)
            rival = max((idf[t] for t in absent if t in table), default=0.0) / self.reader.max_idf
        # Share of the question's subject that the answer contains; a word the papers never use counts
        # as a half-weight miss.
        answered = set().union(*(self.reader.unit_terms[u.id] for u in chosen)) if chosen else set()
        weights = {t: self.reader.idf.get(t, 0.5 * self.reader.max_idf) for t in set(query.topic_terms)}
        coverage = sum(w for t, w in weights.items() if t in answered) / (sum(weights.values()) or 1.0)
        worded = self.abstainer.worded_answerable(self.question_vector(query))
        return features(query, candidates, chosen, missing, coverage, asked_for(query), rival, worded)

    def question_vector(self, query):
        """The embedding ``query`` searches with (from the embedding cache its searches filled)."""
        return query_vectors(self.index, query)[0][0]

    def understand(self, question: str, history: list[dict] | None = None):
        """The ``Query`` for ``question``: analysed, then its everyday words the papers never use looked up
        among the corpus's words (in the one embedding call its searches use too)."""
        query = self.analyzer.analyze(question, history)
        if not self.expand_queries:
            query.dense_text, query.terms = query.question, index_terms(query.question)
        _, word_vectors = query_vectors(self.index, query)
        return self.analyzer.paraphrased(query, self.index.nearest_words(word_vectors))

    def _read(self, question: str, history: list[dict] | None, k: int = 10, timing: dict | None = None):
        """Understand, retrieve and score candidate units for ``question``; also the units the previous
        answer quoted, when the question follows up on it."""
        timing = {} if timing is None else timing
        started = time.perf_counter()
        query = self.understand(question, history)
        timing["understand"] = _ms(started)
        deadline.check("retrieval")
        mark = time.perf_counter()
        retrieval = self.retriever.search(query, k=k)
        timing["retrieve"] = _ms(mark)
        deadline.check("reading")
        quoted = self.reader.quoted(history) if query.follow_up else []
        # A follow-up with its own topic, or asking why or how, wants something new, not the last answer again.
        repeated = {u.id for u in quoted} if query.topic_terms or asks_beyond(query) else set()
        candidates = [c for c in self.reader.read(retrieval, self.reader.anchors(quoted)) if c.unit.id not in repeated]
        return query, retrieval, candidates, quoted

    def _compare(self, query, anchors: set, retrieval: Retrieval) -> tuple[list, list[Unit]]:
        """For a comparison: search each compared paper on its own (every paper of a corpus of at most
        COMPARE_DOCUMENTS, else the COMPARE_DOCUMENTS whose passages rank highest for the question); each
        paper's best units, and the passages interleaved."""
        compared = (list(self.index.documents) if len(self.index.documents) <= COMPARE_DOCUMENTS
                    else list(dict.fromkeys(h.passage.doc for h in retrieval.all_hits))[:COMPARE_DOCUMENTS])
        chosen, rankings = [], []
        for doc in compared:
            retrieval = self.retriever.search(replace(query, doc=doc), k=10)
            rankings.append([h for h in retrieval.hits if h.passage.doc == doc])
            chosen += self.reader.pick_per_paper(self.reader.read(retrieval, anchors), chosen)
        hits = [hit for group in zip(*rankings) for hit in group]
        return hits, self.reader.with_antecedents(chosen)


def _abstention_text() -> str:
    return ("The two reviews do not answer this question: no passage in them matches it closely enough. "
            "The nearest passages are listed below.")


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 1)

