"""Citations: numbered sources for quoted units, reference look-ups, and BibTeX/RIS of the papers."""

from __future__ import annotations

from dataclasses import dataclass

from qa.ingest import Document


@dataclass
class Citation:
    n: int
    passage_id: str
    doc: str
    doc_title: str
    section: str
    kind: str
    refs: list[int]
    text: str
    label: str


@dataclass
class Quote:
    text: str
    citation: int
    refs: list[int]
    passage_id: str
    unit_id: str


@dataclass
class CitingUnit:
    """A sentence or table row that cites a given reference number."""

    passage_id: str
    unit_id: str
    kind: str
    section: str
    label: str
    text: str
    refs: list[int]


def cite(units, index) -> tuple[list[Quote], list[Citation]]:
    """Number the passages behind ``units`` in order of first use; one Quote per unit."""
    citations: list[Citation] = []
    number: dict[str, int] = {}
    quotes = []
    for unit in units:
        if unit.passage_id not in number:
            passage = index.passage_by_id[unit.passage_id]
            document = index.documents[passage.doc]
            number[unit.passage_id] = len(citations) + 1
            citations.append(Citation(len(citations) + 1, passage.id, passage.doc, document.title,
                                      passage.section, passage.kind, list(passage.refs), passage.text,
                                      passage.label))
        quotes.append(Quote(unit.text, number[unit.passage_id], list(unit.refs), unit.passage_id, unit.id))
    return quotes, citations


def citing_units(index, doc: str, ref: int) -> list[CitingUnit]:
    """Every sentence and table row of ``doc`` that cites reference ``ref``, in reading order."""
    found = []
    for unit in index.units:
        if unit.doc == doc and ref in unit.refs:
            passage = index.passage_by_id[unit.passage_id]
            found.append(CitingUnit(passage.id, unit.id, unit.kind, passage.section, passage.label,
                                    unit.text, list(unit.refs)))
    return found


def reference_text(doc: Document) -> str:
    """A plain formatted reference: Authors (year) Title. Journal volume:article. DOI."""
    authors = ", ".join(doc.authors)
    record = doc.record
    where = doc.journal
    if record.get("volume"):
        where += f" {record['volume']}"
        if record.get("article"):
            where += f":{record['article']}"
    link = f"https://doi.org/{doc.doi}" if doc.doi else doc.url
    year = f" ({doc.year})" if doc.year else ""
    return f"{authors}{year}. {doc.title}. {where}. {link}".replace(" .", ".")


def bibtex(doc: Document) -> str:
    """The paper's record as a BibTeX @article."""
    fields = {
        "title": doc.title,
        "author": " and ".join(_bibtex_name(a) for a in doc.authors),
        "journal": doc.journal,
        "year": str(doc.year or ""),
        "volume": str(doc.record.get("volume", "")),
        "pages": str(doc.record.get("article", "")),
        "doi": doc.doi,
        "url": doc.url,
    }
    body = ",\n".join(f"  {k} = {{{_bibtex_escape(v)}}}" for k, v in fields.items() if v)
    return f"@article{{{doc.id},\n{body}\n}}\n"


def ris(doc: Document) -> str:
    """The paper's record as RIS (TY JOUR ... ER)."""
    lines = ["TY  - JOUR", f"TI  - {doc.title}"]
    lines += [f"AU  - {_surname_first(a)}" for a in doc.authors]
    for tag, value in (("JO", doc.journal), ("PY", doc.year), ("VL", doc.record.get("volume")),
                       ("SP", doc.record.get("article")), ("DO", doc.doi), ("UR", doc.url),
                       ("DA", doc.record.get("published"))):
        if value:
            lines.append(f"{tag}  - {value}")
    lines.append("ER  - ")
    return "\n".join(lines) + "\n"


def _surname_first(name: str) -> str:
    parts = name.split()
    return f"{parts[-1]}, {' '.join(parts[:-1])}" if len(parts) > 1 else name


def _bibtex_name(name: str) -> str:
    return _surname_first(name)


def _bibtex_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("{", "\\{").replace("}", "\\}").replace("&", "\\&")
