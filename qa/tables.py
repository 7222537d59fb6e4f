"""Flattened tables back into rows and cells.

Extraction writes a table row as one or more blank-separated chunks: the first
line of a chunk holds the first line of one or more neighbouring cells, and the
chunk's further lines continue its last cell. A row ends at its reference
bracket (tables with a reference column) or at the next row label (bulleted
tables). What is not marked is where one cell ends and the next begins on a
line: that is chosen by scoring every word boundary (a capitalised word after
a word pair the prose never uses starts a cell) and, in a second pass, by
which words tend to open each column.
"""

from __future__ import annotations

import re
from collections import Counter
from itertools import combinations
from dataclasses import dataclass, field

from qa.lines import Line, Vocabulary
from qa.text import REF_BRACKET, parse_refs

TABLE_START = re.compile(r"^Table\s+(\d+)[.:]?\s+(.+?)\s*$")
_TRAILING_REFS = re.compile(r"\s*(" + REF_BRACKET.pattern + r")\s*$")
_BULLET = "•"
# A cell never ends on these words, so no cell boundary may follow them...
_GLUE_WORDS = {
    "of", "in", "with", "and", "or", "the", "to", "by", "than", "from", "for", "a", "an",
    "at", "on", "via", "as", "into", "that", "&",
}
# ...and never starts on these (an article may open a cell: "The levels of ...").
_NO_START = _GLUE_WORDS - {"the", "a", "an"}


@dataclass
class ParsedRow:
    cells: list[tuple[str, str]]
    refs: list[int]
    lines: list[Line]


@dataclass
class ParsedTable:
    number: int
    caption: str
    columns: list[str]
    header_notes: list[str]
    note: str
    rows: list[ParsedRow]
    caption_lines: list[Line]
    discarded: list[Line] = field(default_factory=list)


def is_continuation_header(line: Line, number: int) -> bool:
    match = TABLE_START.match(line.text)
    return bool(match) and int(match.group(1)) == number and "(Continued)" in line.text


def parse_table(block: list[Line], vocab: Vocabulary, prose_pairs: set[tuple[str, str]]) -> ParsedTable:
    """Rows and cells of one table ``block`` (its caption line first, then everything to its end)."""
    match = TABLE_START.match(block[0].text)
    number, caption = int(match.group(1)), match.group(2)
    discarded = [ln for ln in block[1:] if is_continuation_header(ln, number)]
    chunks = _chunks(block[1:], number)
    note_lines = _note(chunks)
    if note_lines:
        chunks = chunks[:-1]
    if any(_BULLET in ln.text for chunk in chunks for ln in chunk):
        columns, header_lines, rows = _bulleted_rows(chunks, vocab)
    else:
        header_lines = [chunks[0][0]]
        columns = _CellSplitter.header(header_lines[0].text)
        rest = [chunk[1:] if i == 0 else chunk for i, chunk in enumerate(chunks)]
        rows = _reference_rows([c for c in rest if c], columns, _CellSplitter(vocab, prose_pairs))
    return ParsedTable(
        number=number,
        caption=caption,
        columns=columns,
        header_notes=[ln.text for ln in header_lines[:-1]],
        note=" ".join(ln.text for ln in note_lines),
        rows=rows,
        caption_lines=[block[0], *header_lines, *note_lines],
        discarded=discarded,
    )


def _chunks(lines: list[Line], number: int) -> list[list[Line]]:
    chunks: list[list[Line]] = [[]]
    for line in lines:
        if line.blank or is_continuation_header(line, number):
            if chunks[-1]:
                chunks.append([])
        else:
            chunks[-1].append(line)
    return [c for c in chunks if c]


def _note(chunks: list[list[Line]]) -> list[Line]:
    """A closing sentence under the table (its legend), if the last chunk is one."""
    last = chunks[-1] if chunks else []
    text = " ".join(ln.text for ln in last)
    if (last and len(chunks) > 1 and text.endswith(".") and len(text.split()) >= 6
            and _BULLET not in text and not _TRAILING_REFS.search(text)):
        return last
    return []


def _join_cell(parts: list[str], vocab: Vocabulary) -> str:
    text = ""
    for part in parts:
        part = part.strip()
        if not text:
            text = part
            continue
        sep = vocab.separator(text, part)
        if sep is None:
            text = f"{text} {part}"
        else:
            text = text.rstrip()
            text = (text[:-1] if sep == "" else text) + part
    return text


def _reference_rows(chunks: list[list[Line]], columns: list[str], splitter: "_CellSplitter") -> list[ParsedRow]:
    has_refs = columns[-1].lower().startswith("ref")
    value_columns = columns[:-1] if has_refs else columns
    raw_rows: list[list[list[Line]]] = []
    row: list[list[Line]] = []
    for chunk in chunks:
        current: list[Line] = []
        for line in chunk:
            current.append(line)
            if _TRAILING_REFS.search(line.text):
                row.append(current)
                raw_rows.append(row)
                row, current = [], []
        if current:
            row.append(current)
    if row:
        raw_rows.append(row)
    cells = splitter.split_rows(raw_rows, len(value_columns))
    rows = []
    for raw, values in zip(raw_rows, cells):
        last = raw[-1][-1].text
        found = _TRAILING_REFS.search(last)
        named = list(zip(value_columns, values))
        refs: list[int] = []
        if found and has_refs:
            named.append((columns[-1], found.group(1)))
            refs = parse_refs(found.group(1))
        rows.append(ParsedRow(named, refs, [ln for chunk in raw for ln in chunk]))
    return rows


class _CellSplitter:
    def __init__(self, vocab: Vocabulary, prose_pairs: set[tuple[str, str]]):
        self.vocab = vocab
        self.prose_pairs = prose_pairs

    @staticmethod
    def header(text: str) -> list[str]:
        """Column names: each starts with a capital ("Exosomal cargo Secreting cell ...")."""
        names: list[str] = []
        for word in text.split():
            if word[0].isupper() or not names:
                names.append(word)
            else:
                names[-1] += " " + word
        return names

    def split_rows(self, rows: list[list[list[Line]]], n_cells: int) -> list[list[str]]:
        """Cell values of every row, ``n_cells`` each, in two passes (see module docstring)."""
        first = [self._split(row, n_cells, _ColumnHabits()) for row in rows]
        habits = _ColumnHabits()
        for values in first:
            habits.learn(values)
        # Each row is judged by the other rows' habits, so a wrong first guess cannot confirm itself.
        return [self._split(row, n_cells, habits.without(values)) for row, values in zip(rows, first)]

    def _split(self, row: list[list[Line]], n_cells: int, habits: "_ColumnHabits") -> list[str]:
        # Tokens of each chunk's first line; the rest of a chunk continues its last cell.
        chunks = []
        for chunk in row:
            lines = [_TRAILING_REFS.sub("", ln.text) for ln in chunk]
            chunks.append((lines[0].split(), [t for t in lines[1:] if t.strip()]))
        chunks = [c for c in chunks if c[0] or c[1]]
        tokens: list[str] = []
        forced: list[int] = []
        chunk_end: dict[int, list[str]] = {}
        for head, tail in chunks:
            if not head:
                head, tail = tail[0].split(), tail[1:]
            forced.append(len(tokens))
            tokens.extend(head)
            chunk_end[len(tokens) - 1] = tail
        forced = forced[:n_cells]
        free = n_cells - len(forced)
        scores = {i: self._score(tokens, i, max(f for f in forced if f < i)) for i in range(1, len(tokens))
                  if i not in forced}
        chosen = self._best(tokens, forced, scores, free, habits)
        starts = sorted(set(forced) | set(chosen))
        values = []
        for k, start in enumerate(starts):
            end = starts[k + 1] if k + 1 < len(starts) else len(tokens)
            parts = [" ".join(tokens[start:end])]
            for i in range(start, end):
                parts.extend(chunk_end.get(i, []))
            values.append(_join_cell(parts, self.vocab))
        return values + [""] * (n_cells - len(values))

    def _best(self, tokens, forced, scores, free, habits: "_ColumnHabits") -> list[int]:
        candidates = sorted(i for i, s in scores.items() if s is not None)
        if free <= 0:
            return []
        if len(candidates) < free:
            candidates = sorted(scores)
        # Exact search over small candidate sets (a row has a handful of boundaries).
        best, best_score = [], float("-inf")
        for combo in _combinations(candidates, free):
            starts = sorted(set(forced) | set(combo))
            total = sum(scores[i] or -5.0 for i in combo) + habits.score(tokens, starts)
            if total > best_score:
                best, best_score = list(combo), total
        return best

    def _score(self, tokens: list[str], i: int, line_start: int) -> float | None:
        """How likely a new cell starts at token i (None: it cannot)."""
        prev, tok = tokens[i - 1], tokens[i]
        depth = sum(t.count("(") - t.count(")") for t in tokens[line_start:i])
        if depth > 0 or tok[0] in "(,;&)" or prev[-1] in ",-/&" or prev.lower() in _GLUE_WORDS:
            return None
        if tok.lower() in _NO_START or (tok.islower() and tok.isalpha()):
            return None
        score = 0.0
        if tok[0].isupper():
            score += 1.0
            if tok[1:].islower() or (len(tok) > 1 and tok[1:].replace("-", "").islower()):
                score += 2.0
        else:
            score += 0.5
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if nxt[:1].islower():
            score += 1.0
        if (prev.lower().strip("()"), tok.lower().strip("()")) in self.prose_pairs:
            score -= 3.0
        if len(tok) == 1:
            score -= 1.0
        if prev.replace(",", "").isdigit():
            score -= 1.0
        for n in range(1, 5):
            if i - n >= 0 and tokens[i - n:i] == tokens[i:i + n]:
                score += 3.0
                break
        return score


class _ColumnHabits:
    """Which words open a column's cells and which words close cells, learnt from a first pass."""

    def __init__(self) -> None:
        self.openers: dict[int, Counter] = {}
        self.closers: Counter = Counter()

    def learn(self, values: list[str], weight: int = 1) -> None:
        for col, value in enumerate(values):
            if value:
                self.openers.setdefault(col, Counter())[value.split()[0].lower()] += weight
                self.closers[value.split()[-1].lower()] += weight

    def without(self, values: list[str]) -> "_ColumnHabits":
        other = _ColumnHabits()
        other.openers = {col: Counter(counts) for col, counts in self.openers.items()}
        other.closers = Counter(self.closers)
        other.learn(values, weight=-1)
        return other

    def score(self, tokens: list[str], starts: list[int]) -> float:
        total = 0.0
        for col, start in enumerate(starts):
            total += 1.5 * min(self.openers.get(col, Counter())[tokens[start].lower()], 2)
            if start and self.closers[tokens[start - 1].lower()] >= 3:
                total += 1.5
        return total


def _combinations(items: list[int], k: int):
    # A row offers a handful of boundaries; capping keeps a malformed row cheap.
    return combinations(items[:18], k)


def _bulleted_rows(chunks: list[list[Line]], vocab: Vocabulary):
    lines = []
    for i, chunk in enumerate(chunks):
        for j, line in enumerate(chunk):
            lines.append((line, j == 0 and i > 0))
    label_at = [k for k, (line, _) in enumerate(lines) if _is_row_label(lines, k)]
    header_lines = [line for line, _ in lines[: label_at[0]]] if label_at else []
    columns = _CellSplitter.header(header_lines[-1].text) if header_lines else ["Row", "Items"]
    rows = []
    for n, start in enumerate(label_at):
        end = label_at[n + 1] if n + 1 < len(label_at) else len(lines)
        rows.append(_bulleted_row(lines[start:end], columns, vocab))
    return columns, header_lines, rows


def _is_row_label(lines, k: int) -> bool:
    line = lines[k][0].text
    if line.startswith(_BULLET) or not line[:1].isupper():
        return False
    if _BULLET in line:
        return True
    return k + 1 < len(lines) and lines[k + 1][0].text.startswith(_BULLET) and not lines[k + 1][1]


def _bulleted_row(lines, columns: list[str], vocab: Vocabulary) -> ParsedRow:
    first = lines[0][0].text
    label, _, rest = first.partition(_BULLET)
    groups: list[list[list[str]]] = []
    pieces = [(_BULLET + rest, False)] if rest else []
    pieces += [(line.text, after_blank) for line, after_blank in lines[1:]]
    for text, after_blank in pieces:
        if text.startswith(_BULLET):
            if after_blank or not groups:
                groups.append([])
            groups[-1].append([text[1:].strip()])
        elif groups:
            groups[-1][-1].append(text)
    value_columns = columns[1:]
    while len(groups) > len(value_columns) and len(groups) > 1:
        groups[-2].extend(groups.pop())
    cells = [(columns[0], label.strip())]
    for name, group in zip(value_columns, groups):
        cells.append((name, " ".join(f"{_BULLET} {_join_cell(item, vocab)}" for item in group)))
    return ParsedRow(cells, [], [line for line, _ in lines])
