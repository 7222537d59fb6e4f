"""Ingest: PDF-extracted text -> documents of sections, passages, sentences, captions and table rows.

Entry points: ``load_corpus(folder)`` for a folder with a ``documents.toml``,
``parse_document(record, text)`` for one file. Every character of a source
ends up in a passage, a section heading or an explicit discard (page
furniture), and every unit keeps its character offsets into the source.
"""

from __future__ import annotations

import hashlib
import re
import statistics
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import blingfire

from qa.integrity import checksum
from qa.lines import Line, MappedText, Vocabulary, split_lines
from qa.tables import TABLE_START, ParsedTable, is_continuation_header, parse_table
from qa.text import parse_refs

# Bump when parsing changes what a corpus turns into, so built indexes go stale.
INGEST_VERSION = 5

FIGURE_START = re.compile(r"^(Fig\.?|Figure)\s*(\d+)[.:]?\s")
_TERMINAL = re.compile(r"[.?!][\"”’')\]]*\s*$")
_PAGE_NUMBER = re.compile(r"^\d{1,4}$")
_URL_ONLY = re.compile(r"^(www\.|https?://)\S+$")
# A one-line heading does not end on these; a line that does is running text.
_DOC_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_OPEN_ENDINGS = {"of", "the", "and", "or", "in", "to", "a", "an", "by", "with", "for", "from", "on", "at", "as", "that", "which"}


class CorpusError(Exception):
    """The corpus folder or its documents.toml cannot be used."""


@dataclass
class Sentence:
    """One sentence (or one table row): the unit an answer quotes."""

    id: str
    text: str
    refs: list[int]
    start: int
    end: int


@dataclass
class Passage:
    """A retrievable unit: a window of a paragraph, a figure or table caption, or a table row."""

    id: str
    doc: str
    section: str
    kind: str  # paragraph | caption | table_row
    text: str
    refs: list[int]
    start: int
    end: int
    sentences: list[Sentence]
    spans: list[tuple[int, int]]
    paragraph: int = -1
    label: str = ""  # "Fig. 2", "Table 1"
    table: int | None = None
    cells: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Table:
    number: int
    caption: str
    columns: list[str]
    note: str
    section: str
    caption_id: str
    row_ids: list[str]


@dataclass
class Section:
    title: str
    start: int
    end: int


@dataclass
class Discard:
    """Source text deliberately left out of every passage, and why."""

    reason: str
    text: str
    start: int
    end: int


@dataclass
class Document:
    id: str
    title: str
    authors: list[str]
    year: int | None
    journal: str
    record: dict
    source_file: str
    sha256: str
    sections: list[Section]
    passages: list[Passage]
    tables: list[Table]
    discards: list[Discard]

    @property
    def doi(self) -> str:
        return self.record.get("doi", "")

    @property
    def url(self) -> str:
        return self.record.get("url", "") or (f"https://doi.org/{self.doi}" if self.doi else "")


@dataclass(frozen=True)
class ChunkingSettings:
    """How paragraphs are cut into passages (sentences per window, sentences shared)."""

    window_sentences: int = 5
    overlap_sentences: int = 0


def load_records(corpus: Path) -> list[dict]:
    """The ``[[document]]`` records of ``corpus/documents.toml``."""
    manifest = corpus / "documents.toml"
    if not manifest.is_file():
        raise CorpusError(f"No documents.toml in {corpus}: a corpus folder needs one beside its .txt files.")
    try:
        records = tomllib.loads(read_source(manifest)).get("document", [])
    except tomllib.TOMLDecodeError as exc:
        raise CorpusError(f"{manifest} is not valid TOML: {exc}") from exc
    if not isinstance(records, list) or not records:
        raise CorpusError(f"{manifest} lists no [[document]] records.")
    seen: dict[str, int] = {}
    for number, record in enumerate(records, 1):
        _check_record(manifest, number, record)
        if record["id"] in seen:
            raise CorpusError(f"{manifest}: documents {seen[record['id']]} and {number} both have id "
                              f"'{record['id']}'; each document needs its own.")
        seen[record["id"]] = number
        if not (corpus / record["file"]).is_file():
            raise CorpusError(f"{manifest} names {record['file']}, which is not in {corpus}.")
    return records


def _check_record(manifest: Path, number: int, record: object) -> None:
    where = f"{manifest}, [[document]] number {number}"
    if not isinstance(record, dict):
        raise CorpusError(f"{where} is not a table of keys.")
    for key in ("id", "file", "title"):
        if not isinstance(record.get(key), str) or not record[key].strip():
            raise CorpusError(f"{where} needs '{key}' as a non-empty string.")
    if not _DOC_ID.fullmatch(record["id"]):
        raise CorpusError(f"{where}: id '{record['id']}' must be letters, digits, '-' or '_' (it goes into URLs).")
    if Path(record["file"]).is_absolute() or ".." in Path(record["file"]).parts:
        raise CorpusError(f"{where}: file '{record['file']}' must be a name inside the corpus folder.")
    if "authors" in record and not (isinstance(record["authors"], list)
                                    and all(isinstance(a, str) for a in record["authors"])):
        raise CorpusError(f"{where}: authors must be a list of strings.")
    if "year" in record and not isinstance(record["year"], int):
        raise CorpusError(f"{where}: year must be a number, like 2015.")


def read_source(path: Path) -> str:
    """A corpus file's text: UTF-8, a leading byte-order mark dropped, any line ends read as "\\n".

    Raises CorpusError naming the file and the byte offset of the first byte that is not UTF-8: the text
    is quoted word for word, so it is never guessed at.
    """
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CorpusError(f"{path} is not UTF-8: byte {exc.start} (0x{raw[exc.start]:02x}) cannot be decoded. "
                          f"Convert the file to UTF-8 (e.g. `iconv -f latin1 -t utf-8`) and build again.") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def corpus_files(corpus: Path) -> dict[str, str]:
    """sha256 of every file that defines the corpus, by name."""
    names = ["documents.toml"] + [r["file"] for r in load_records(corpus)]
    return {name: checksum(corpus / name) for name in names}


def load_corpus(corpus: Path, chunking: ChunkingSettings = ChunkingSettings()) -> list[Document]:
    """Every document of a corpus folder, parsed."""
    records = load_records(corpus)
    sources = [read_source(corpus / record["file"]) for record in records]
    for record, source in zip(records, sources):
        if not source.strip():
            raise CorpusError(f"{corpus / record['file']} has no text: fill it, or remove document "
                              f"'{record['id']}' from documents.toml.")
    vocab = Vocabulary(*sources)
    return [_Parser(record, source, chunking, vocab).parse() for record, source in zip(records, sources)]


def parse_document(record: dict, source: str, chunking: ChunkingSettings = ChunkingSettings(),
                   vocab: Vocabulary | None = None) -> Document:
    """One document's text, cut into sections, passages, captions and table rows.

    ``vocab`` (default: the document's own words) decides line-break hyphenation.
    """
    return _Parser(record, source, chunking, vocab or Vocabulary(source)).parse()


def _terminal(text: str) -> bool:
    return bool(_TERMINAL.search(text))


class _Parser:
    def __init__(self, record: dict, source: str, chunking: ChunkingSettings, vocab: Vocabulary):
        self.record = record
        self.doc = record["id"]
        self.source = source
        self.chunking = chunking
        self.lines = split_lines(source)
        self.line_width = statistics.median(len(ln.text) for ln in self.lines if ln.text) if source.strip() else 60
        self.vocab = vocab
        self.passages: list[Passage] = []
        self.tables: list[Table] = []
        self.sections: list[Section] = []
        self.discards: list[Discard] = []
        self.section = ""
        self.paragraphs = 0

    # ---- structure -------------------------------------------------------------------

    def parse(self) -> Document:
        blocks = self._blocks()
        prose_pairs = self._prose_pairs(blocks)
        flow: list[Line] = []
        blank_before: set[int] = set()
        pending_blank = False
        for kind, lines, extra in blocks:
            if kind == "blank":
                pending_blank = True
                continue
            if kind == "body":
                if pending_blank:
                    blank_before.add(lines[0].number)
                flow.append(lines[0])
            elif kind == "heading":
                self._flush(flow, blank_before)
                flow = []
                self._heading(lines)
            elif kind == "figure":
                self._figure(lines, extra)
            elif kind == "table":
                self._table(parse_table(lines, self.vocab, prose_pairs))
            elif kind == "discard":
                self.discards.append(Discard(extra, lines[0].text, lines[0].start, lines[0].end))
            pending_blank = False
        self._flush(flow, blank_before)
        return Document(
            id=self.doc,
            title=self.record["title"],
            authors=list(self.record.get("authors", [])),
            year=self.record.get("year"),
            journal=self.record.get("journal", ""),
            record=dict(self.record),
            source_file=self.record["file"],
            sha256=hashlib.sha256(self.source.encode("utf-8")).hexdigest(),
            sections=self.sections,
            passages=self.passages,
            tables=self.tables,
            discards=self.discards,
        )

    def _blocks(self) -> list[tuple[str, list[Line], object]]:
        """The source as a sequence of blank, body, heading, figure, table and discard blocks."""
        lines = self.lines
        furniture = self._furniture()
        taken: set[int] = set()
        blocks: list[tuple[str, list[Line], object]] = []
        last_body = ""
        i = 0
        while i < len(lines):
            line = lines[i]
            if i in taken:
                i += 1
                continue
            if line.blank:
                blocks.append(("blank", [line], None))
                i += 1
            elif i in furniture:
                blocks.append(("discard", [line], furniture[i]))
                i += 1
            elif TABLE_START.match(line.text):
                end = self._table_end(i)
                blocks.append(("table", lines[i:end], None))
                i = end
            elif FIGURE_START.match(line.text):
                end = self._caption_end(i)
                tails = self._caption_tails(list(range(i, end)), taken)
                taken.update(tails)
                blocks.append(("figure", lines[i:end], [lines[t] for t in tails]))
                i = end
            elif (size := self._heading_size(i, last_body)) > 0:
                blocks.append(("heading", lines[i:i + size], None))
                last_body = ""
                i += size
            else:
                blocks.append(("body", [line], None))
                last_body = line.text
                i += 1
        return blocks

    def _furniture(self) -> dict[int, str]:
        """Lines that are page furniture: the running title, page numbers, bare URLs, repeats."""
        counts: dict[str, int] = {}
        for line in self.lines:
            counts[line.text] = counts.get(line.text, 0) + 1
        title = self.record["title"].strip().lower()
        found = {}
        for line in self.lines:
            text = line.text
            if not text:
                continue
            if text.lower() == title:
                found[line.number] = "running title"
            elif _PAGE_NUMBER.match(text):
                found[line.number] = "page number"
            elif _URL_ONLY.match(text):
                found[line.number] = "bare URL"
            elif counts[text] >= 3 and len(text) > 3:
                found[line.number] = "repeated page header"
        return found

    def _next_content(self, i: int) -> int | None:
        j = i + 1
        while j < len(self.lines) and self.lines[j].blank:
            j += 1
        return j if j < len(self.lines) else None

    def _table_end(self, start: int) -> int:
        """Tables run until the next text block opens (an indented line) or a float starts."""
        number = int(TABLE_START.match(self.lines[start].text).group(1))
        j = start + 1
        while j < len(self.lines):
            line = self.lines[j]
            if FIGURE_START.match(line.text) or (TABLE_START.match(line.text) and not is_continuation_header(line, number)):
                break
            if line.indented and not is_continuation_header(line, number):
                break
            j += 1
        return j

    def _caption_end(self, start: int) -> int:
        width = len(self.lines[start].text)
        j = start + 1
        while j < len(self.lines):
            line = self.lines[j]
            if line.blank or line.indented or TABLE_START.match(line.text) or FIGURE_START.match(line.text):
                break
            if len(line.text) < 0.6 * width and self._heading_size(j, "end.") > 0:
                break
            j += 1
        return j

    def _caption_tails(self, caption: list[int], taken: set[int]) -> list[int]:
        """Lines elsewhere that finish a caption whose lines were cut at the right edge.

        A wide figure can push the right half of its caption lines into the next
        column; each such line must join its caption line into corpus words.
        """
        lefts = [self.lines[i].text for i in caption]
        n = len(lefts)
        if n < 2:
            return []
        for start in range(caption[-1] + 1, min(len(self.lines) - n + 1, caption[-1] + 120)):
            rows = list(range(start, start + n))
            if any(r in taken or self.lines[r].blank for r in rows):
                continue
            broken = 0
            for left, r in zip(lefts, rows):
                verdict = self._joins(left, self.lines[r].text)
                if verdict is None:
                    break
                broken += verdict
            else:
                if broken >= 2:
                    return rows
        return []

    def _joins(self, left: str, right: str) -> bool | None:
        """Does ``right`` continue ``left`` mid-line? True when it mends a cut word."""
        a = re.search(r"([A-Za-z]+)$", left)
        b = re.match(r"([A-Za-z]+)", right)
        if a and b:
            return True if (a.group(1) + b.group(1)) in self.vocab else None
        if a and right[:1] in ",;.:)" and a.group(1) in self.vocab:
            return False
        return None

    def _heading_size(self, i: int, last_body: str) -> int:
        """How many lines from i form a section heading (0: not a heading)."""
        text = self.lines[i].text
        if not self._heading_like(text):
            return 0
        if last_body and not _terminal(last_body):
            return 0
        j = self._next_content(i)
        if j is None:
            return 1
        follower = self.lines[j].text
        if (j == i + 1 and self._heading_like(follower, continuation=True) and j + 1 < len(self.lines)
                and self.lines[j + 1].blank):
            return 2
        if text.split()[-1].lower() in _OPEN_ENDINGS:
            return 0
        return 1 if follower[:1].isupper() else 0

    @staticmethod
    def _heading_like(text: str, continuation: bool = False) -> bool:
        if not text or (not continuation and not text[0].isupper()):
            return False
        if len(text) > 90 or len(text.split()) > (6 if continuation else 12):
            return False
        if re.search(r"[.,;:\-]$", text) or ". " in text or "[" in text:
            return False
        return not FIGURE_START.match(text) and not TABLE_START.match(text)

    def _prose_pairs(self, blocks) -> set[tuple[str, str]]:
        """Adjacent word pairs of running text: what the table splitter must not cut apart."""
        pairs = set()
        for kind, lines, _ in blocks:
            if kind in ("body", "figure"):
                tokens = [t.lower().strip("()") for t in " ".join(ln.text for ln in lines).split()]
                pairs.update(zip(tokens, tokens[1:]))
        return pairs

    # ---- units -----------------------------------------------------------------------

    def _heading(self, lines: list[Line]) -> None:
        title = " ".join(ln.text for ln in lines)
        if title.isupper():
            title = title.title()
        self.section = title
        self.sections.append(Section(title, lines[0].start, lines[-1].end))

    def _flush(self, flow: list[Line], blank_before: set[int]) -> None:
        """Cut running body lines into paragraphs, then into passages."""
        if not flow:
            return
        paragraph: list[Line] = []
        for line in flow:
            if paragraph:
                previous = paragraph[-1].text
                short = len(previous) < 0.85 * self.line_width
                if _terminal(previous) and (short or line.number in blank_before):
                    self._paragraph(paragraph)
                    paragraph = []
            paragraph.append(line)
        self._paragraph(paragraph)

    def _paragraph(self, lines: list[Line]) -> None:
        text = MappedText()
        text.add_lines(lines, self.vocab)
        sentences = self._sentences(text, f"{self.doc}-p{self.paragraphs:03d}")
        size = max(1, self.chunking.window_sentences)
        step = max(1, size - self.chunking.overlap_sentences)
        for w, first in enumerate(range(0, max(1, len(sentences) - size + step), step)):
            window = sentences[first:first + size]
            if not window:
                continue
            pid = f"{self.doc}-p{self.paragraphs:03d}-{w}"
            self.passages.append(self._passage(pid, "paragraph", window, text, paragraph=self.paragraphs))
        self.paragraphs += 1

    def _sentences(self, text: MappedText, prefix: str) -> list[tuple[Sentence, int, int]]:
        plain = text.text
        _, offsets = blingfire.text_to_sentences_and_offsets(plain)
        found = []
        for k, (a, b) in enumerate(offsets):
            sentence = plain[a:b].strip()
            if not sentence:
                continue
            a = plain.index(sentence, a)
            b = a + len(sentence)
            start, end = text.span(a, b)
            found.append((Sentence(f"{prefix}-s{k}", sentence, parse_refs(sentence), start, end), a, b))
        return found

    def _passage(self, pid, kind, window, text: MappedText, **extra) -> Passage:
        a, b = window[0][1], window[-1][2]
        sentences = [s for s, _, _ in window]
        for k, sentence in enumerate(sentences):
            sentence.id = f"{pid}-s{k}"
        refs = []
        for sentence in sentences:
            refs += [r for r in sentence.refs if r not in refs]
        start, end = text.span(a, b)
        return Passage(pid, self.doc, self.section, kind, text.text[a:b], refs, start, end,
                       sentences, text.spans(a, b), **extra)

    def _figure(self, lines: list[Line], tails: list[Line]) -> None:
        text = MappedText()
        for k, line in enumerate(lines):
            if k:
                sep = self.vocab.separator(text.text, line.text)
                text.add_gap(" " if sep is None else "")
            text.add(line.text, line.start)
            if k < len(tails):
                text.add(tails[k].text, tails[k].start)
        match = FIGURE_START.match(lines[0].text)
        label = f"{'Figure' if match.group(1) == 'Figure' else 'Fig.'} {match.group(2)}"
        window = self._sentences(text, f"{self.doc}-fig{match.group(2)}")
        if len(window) > 1 and len(window[0][0].text.split()) < 10:
            # A caption's title ("Figure 1: Exosome production and detection.") says little alone.
            (title, a, _), (first, _, b) = window[0], window[1]
            merged = Sentence(first.id, text.text[a:b], title.refs + first.refs, title.start, first.end)
            window = [(merged, a, b)] + window[2:]
        if window:
            self.passages.append(self._passage(f"{self.doc}-fig{match.group(2)}", "caption", window, text, label=label))

    def _table(self, parsed: ParsedTable) -> None:
        label = f"Table {parsed.number}"
        caption_id = f"{self.doc}-t{parsed.number}-caption"
        head = f"{label} ({parsed.caption})"
        caption_text = " ".join(
            part for part in [f"{label}: {parsed.caption}.", " ".join(parsed.header_notes), parsed.note] if part
        )
        spans = [(ln.start, ln.end) for ln in parsed.caption_lines]
        caption_sentence = Sentence(f"{caption_id}-s0", caption_text, parse_refs(caption_text),
                                    spans[0][0], spans[-1][1])
        self.passages.append(Passage(caption_id, self.doc, self.section, "caption", caption_text, [],
                                     spans[0][0], max(e for _, e in spans), [caption_sentence], spans,
                                     label=label, table=parsed.number))
        row_ids = []
        for r, row in enumerate(parsed.rows, start=1):
            rid = f"{self.doc}-t{parsed.number}-r{r:02d}"
            body = " | ".join(f"{name}: {value}" for name, value in row.cells)
            spans = [(ln.start, ln.end) for ln in row.lines]
            start, end = min(s for s, _ in spans), max(e for _, e in spans)
            sentence = Sentence(f"{rid}-s0", body, list(row.refs), start, end)
            self.passages.append(Passage(rid, self.doc, self.section, "table_row", f"{head} | {body}",
                                         list(row.refs), start, end, [sentence], spans,
                                         label=label, table=parsed.number, cells=list(row.cells)))
            row_ids.append(rid)
        for line in parsed.discarded:
            self.discards.append(Discard("table continuation header", line.text, line.start, line.end))
        self.tables.append(Table(parsed.number, parsed.caption, parsed.columns, parsed.note,
                                 self.section, caption_id, row_ids))
