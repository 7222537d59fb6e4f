"""The views' data as readable text with [n] markers and numbered sources, for the front doors that speak text.

MCP tools and the OpenAI-style chat endpoint both hand a model or a person text, not JSON; the wording
lives here once. Links are made absolute with the ``base_url`` of the server that serves the pages,
because a chat client has no idea where ``/documents/...`` lives.
"""

from __future__ import annotations

from dataclasses import dataclass

# Nearest passages listed under an abstention, and passage text shown in a list before it is cut.
NEAREST_PASSAGES = 3
SNIPPET_CHARS = 240
SOURCES_HEADING = "**Sources**"
NEAREST_HEADING = "**Nearest passages**"


@dataclass(frozen=True)
class QuoteSpan:
    """Where one quoted sentence sits in a text, and the source it is cited to."""

    start: int
    end: int
    url: str
    title: str


@dataclass(frozen=True)
class CitedText:
    text: str
    quotes: list[QuoteSpan]


def answer_text(data: dict, base_url: str) -> CitedText:
    """``views.ask_view`` data as text: the answer exactly as quoted, with its [n] markers, then the numbered sources.

    An abstention keeps the answer's own words and lists the nearest passages instead of sources.
    The spans locate each quoted sentence inside ``text``.
    """
    if data["abstained"]:
        nearest = [f"- {_passage_link(p, base_url)}: {_snippet(p['text'])}" for p in data["passages"][:NEAREST_PASSAGES]]
        return CitedText("\n\n".join([data["answer"], NEAREST_HEADING, "\n".join(nearest)]), [])
    citations = {c["n"]: c for c in data["citations"]}
    spans, cursor = [], 0
    for sentence in data["sentences"]:
        start = data["answer"].index(sentence["text"], cursor)
        cursor = start + len(sentence["text"])
        citation = citations[sentence["citation"]]
        spans.append(QuoteSpan(start, cursor, base_url + citation["url"], source_title(citation)))
    sources = [f"- [{c['n']}] {_source_line(c, base_url)}" for c in data["citations"]]
    return CitedText("\n\n".join([data["answer"], SOURCES_HEADING, "\n".join(sources)]), spans)


def answer_body(text: str) -> str:
    """The answer part of a text made by ``answer_text``, without its sources (what a follow-up refers to)."""
    for heading in (SOURCES_HEADING, NEAREST_HEADING):
        text = text.split(f"\n\n{heading}\n\n", 1)[0]
    return text.strip()


def cite_text(data: dict, base_url: str) -> str:
    """``views.cite_view`` data as text: each supporting sentence quoted with its source, best first."""
    if not data["supported"]:
        return f"No passage of the two reviews supports the claim: {data['claim']}"
    lines = [f"Passages of the reviews supporting the claim \"{data['claim']}\", best first:", ""]
    for n, result in enumerate(data["results"], 1):
        lines.append(f"[{n}] \"{result['sentence']}\" (support {result['support']:.2f})")
        refs = f", citing the paper's references {_numbers(result['refs'])}" if result["refs"] else ""
        lines.append(f"    {result['doc']} - {result['section']}{refs}: {base_url}{result['url']}")
    return "\n".join(lines)


def passage_text(data: dict, base_url: str) -> str:
    """``views.passage_view`` data as text: where the passage is, its words, the paper's references it cites."""
    passage, document = data["passage"], data["document"]
    lines = [f"{document['title']} - {passage['label'] or passage['section']} (passage {passage['id']})", "",
             passage["text"], ""]
    if passage["refs"]:
        lines.append(f"Cites the paper's references {_numbers(passage['refs'])}.")
    lines.append(f"Link: {base_url}{passage['url']}")
    lines.append(f"Paper: {document['reference']}")
    return "\n".join(lines)


def document_text(data: dict, base_url: str) -> str:
    """``views.document_view`` data as text: the paper's reference, then every passage under its section."""
    document = data["document"]
    lines = [document["title"], document["reference"], f"Page: {base_url}{document['page_url']}"]
    section = None
    for passage in data["passages"]:
        if passage["section"] != section:
            section = passage["section"]
            lines += ["", f"## {section}"]
        lines.append(f"[{passage['id']}] {passage['text']}")
    return "\n".join(lines)


def documents_text(data: dict, base_url: str) -> str:
    """``views.documents_view`` data as text: one paragraph per paper with its id, reference and size."""
    return "\n\n".join(
        f"{d['id']}: {d['reference']}\n{d['passages']} passages, {d['tables']} tables. Page: {base_url}{d['page_url']}"
        for d in data["documents"])


def refs_text(data: dict, base_url: str) -> str:
    """``views.refs_view`` data as text: every sentence or table row of a paper that cites one of its references."""
    document = data["document"]
    lines = [f"Sentences and table rows of {document['title']} citing its reference [{data['ref']}]:", ""]
    for n, unit in enumerate(data["citing"], 1):
        lines.append(f"[{n}] \"{unit['text']}\"")
        lines.append(f"    {unit['label'] or unit['section']} - {base_url}{unit['url']}")
    return "\n".join(lines)


def search_text(results: list[dict]) -> str:
    """Search results (id, title, url, text) as a numbered list whose ids ``fetch`` takes."""
    if not results:
        return "No passage of the two reviews matches the query."
    return "\n\n".join(f"[{n}] {r['title']} (id {r['id']})\n{_snippet(r['text'])}\n{r['url']}"
                       for n, r in enumerate(results, 1))


def source_title(citation: dict) -> str:
    """A citation's paper and its section or table, as a link title."""
    return f"{citation['doc_title']} - {citation['label'] or citation['section']}"


def absolute_urls(data, base_url: str):
    """A copy of ``data`` whose site-relative ``url`` and ``*_url`` values start with ``base_url``."""
    if isinstance(data, list):
        return [absolute_urls(item, base_url) for item in data]
    if not isinstance(data, dict):
        return data
    return {key: base_url + value if _is_site_link(key, value) else absolute_urls(value, base_url)
            for key, value in data.items()}


def _is_site_link(key: str, value) -> bool:
    return (key == "url" or key.endswith("_url")) and isinstance(value, str) and value.startswith("/")


def _source_line(citation: dict, base_url: str) -> str:
    refs = f", citing the paper's references {_numbers(citation['refs'])}" if citation["refs"] else ""
    return f"[{source_title(citation)}]({base_url}{citation['url']}){refs}"


def _passage_link(passage: dict, base_url: str) -> str:
    return f"[{passage['doc']} - {passage['section']}]({base_url}{passage['url']})"


def _numbers(refs: list[int]) -> str:
    return "[" + ", ".join(str(r) for r in refs) + "]"


def _snippet(text: str) -> str:
    return text if len(text) <= SNIPPET_CHARS else text[:SNIPPET_CHARS].rsplit(" ", 1)[0] + " ..."
