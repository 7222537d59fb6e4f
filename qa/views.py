"""The data behind every page and its JSON twin, computed once per request.

Each function returns plain JSON-ready dicts; the service serialises them for
``/api/...`` and hands the very same dict to a template for the HTML page.
"""

from __future__ import annotations

from dataclasses import asdict

from qa.answer import Pipeline
from qa.citations import bibtex, citing_units, reference_text, ris
from qa.index import Index
from qa.ingest import Document, Passage

EXAMPLE_QUESTIONS = [
    "How are exosomes formed?",
    "How do tumour-derived exosomes help cancer escape the immune system?",
    "Which exosomal miRNAs are biomarkers in colon cancer?",
    "Which reference shows exosomes promoting metastasis through Wnt signalling?",
    "Can exosomes deliver drugs to tumours?",
]


class NotFound(Exception):
    """A document, passage or reference that does not exist; the message says which."""


def ask_view(pipeline: Pipeline, question: str, history: list[dict] | None = None, top_k: int = 8) -> dict:
    """The API answer of ``question``, plus what a page needs to link each citation."""
    data = asdict(pipeline.ask(question, history or [], top_k=top_k))
    for citation in data["citations"]:
        citation["url"] = passage_url(citation["doc"], citation["passage_id"])
    for passage in data["passages"]:
        passage["url"] = passage_url(passage["doc"], passage["id"])
    data["references"] = [reference_text(pipeline.index.documents[d])
                          for d in dict.fromkeys(c["doc"] for c in data["citations"])]
    return data


def cite_view(pipeline: Pipeline, claim: str, k: int = 5) -> dict:
    """Passages that best support ``claim``, each with its best sentence; empty when none does."""
    support = pipeline.support(claim, k=k)
    results = []
    for unit, score in support["units"]:
        passage = pipeline.index.passage_by_id[unit.passage_id]
        results.append({
            "passage_id": unit.passage_id, "doc": unit.doc, "section": passage.section, "kind": unit.kind,
            "sentence": unit.text, "refs": list(unit.refs), "support": round(score, 3),
            "passage_text": passage.text, "url": passage_url(unit.doc, unit.passage_id),
        })
    return {"claim": claim, "supported": bool(results), "confidence": support["confidence"], "results": results}


def documents_view(index: Index) -> dict:
    return {"documents": [document_record(d) for d in index.documents.values()]}


def document_record(doc: Document) -> dict:
    return {
        "id": doc.id, "title": doc.title, "authors": doc.authors, "year": doc.year, "journal": doc.journal,
        "doi": doc.doi, "url": doc.url, "reference": reference_text(doc),
        "passages": len(doc.passages), "tables": len(doc.tables),
        "page_url": f"/documents/{doc.id}", "bibtex_url": f"/api/documents/{doc.id}/cite.bib",
        "ris_url": f"/api/documents/{doc.id}/cite.ris",
    }


def document_view(index: Index, doc_id: str) -> dict:
    """A paper's record and its structure: sections of paragraphs, captions and tables, in reading order."""
    doc = _document(index, doc_id)
    sections: list[dict] = []
    tables = {t.number: t for t in doc.tables}
    for passage in doc.passages:
        if not sections or sections[-1]["title"] != passage.section:
            sections.append({"title": passage.section, "blocks": []})
        blocks = sections[-1]["blocks"]
        if passage.kind == "paragraph":
            if blocks and blocks[-1]["type"] == "paragraph" and blocks[-1]["paragraph"] == passage.paragraph:
                blocks[-1]["passages"].append(passage_record(passage))
            else:
                blocks.append({"type": "paragraph", "paragraph": passage.paragraph,
                               "passages": [passage_record(passage)]})
        elif passage.table is not None and passage.kind == "caption":
            table = tables[passage.table]
            blocks.append({"type": "table", "number": table.number, "caption": table.caption,
                           "note": table.note, "columns": table.columns, "caption_passage": passage_record(passage),
                           "rows": []})
        elif passage.kind == "table_row":
            table_block = next(b for b in reversed(blocks) if b["type"] == "table" and b["number"] == passage.table)
            table_block["rows"].append(passage_record(passage))
        else:
            blocks.append({"type": "caption", "passage": passage_record(passage)})
    return {
        "document": document_record(doc),
        "sections": sections,
        "tables": [{"number": t.number, "caption": t.caption, "columns": t.columns, "note": t.note,
                    "rows": t.row_ids} for t in doc.tables],
        "passages": [passage_record(p) for p in doc.passages],
    }


def passage_view(index: Index, passage_id: str) -> dict:
    """One passage with its neighbours' ids."""
    passage = index.passage_by_id.get(passage_id)
    if passage is None:
        raise NotFound(f"No passage {passage_id!r}. Passage ids look like 'zhang2015-p003-1' or 'bae2018-t1-r04'.")
    doc = index.documents[passage.doc]
    position = index.passage_position(passage)
    return {
        "passage": passage_record(passage),
        "previous": doc.passages[position - 1].id if position > 0 else None,
        "next": doc.passages[position + 1].id if position + 1 < len(doc.passages) else None,
        "document": document_record(doc),
    }


def refs_view(index: Index, doc_id: str, ref: int) -> dict:
    """Every sentence and table row of a paper that cites its reference ``ref``."""
    doc = _document(index, doc_id)
    found = citing_units(index, doc.id, ref)
    if not found:
        raise NotFound(f"No sentence or table row of {doc.id} cites reference [{ref}].")
    return {
        "document": document_record(doc),
        "ref": ref,
        "citing": [{**asdict(c), "url": passage_url(doc.id, c.passage_id)} for c in found],
    }


def bibtex_view(index: Index, doc_id: str) -> str:
    return bibtex(_document(index, doc_id))


def ris_view(index: Index, doc_id: str) -> str:
    return ris(_document(index, doc_id))


def passage_record(passage: Passage) -> dict:
    return {
        "id": passage.id, "doc": passage.doc, "section": passage.section, "kind": passage.kind,
        "label": passage.label, "text": passage.text, "refs": list(passage.refs),
        "sentences": [{"id": s.id, "text": s.text, "refs": list(s.refs)} for s in passage.sentences],
        "cells": [{"column": c, "value": v} for c, v in passage.cells],
        "table": passage.table, "start": passage.start, "end": passage.end,
        "url": passage_url(passage.doc, passage.id),
    }


def passage_url(doc: str, passage_id: str) -> str:
    return f"/documents/{doc}#p-{passage_id}"


def _document(index: Index, doc_id: str) -> Document:
    doc = index.documents.get(doc_id)
    if doc is None:
        known = ", ".join(index.documents)
        raise NotFound(f"No document {doc_id!r}. The documents are: {known}.")
    return doc
