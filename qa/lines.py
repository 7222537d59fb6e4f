"""Source lines with their offsets, and re-joining lines into running text.

PDF extraction breaks words at line ends ("exo-\\nsomes") but the papers also
have real hyphens that can fall at a line end ("tumor-\\nderived"). Which one a
break is gets decided from the corpus's own vocabulary, not from a word list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qa.text import WORD

_TRAILING_WORD = re.compile(r"([0-9A-Za-z\u0370-\u03ff]+)-\s*$")
_LEADING_WORD = re.compile(r"^([0-9A-Za-z\u0370-\u03ff]+)")
_BROKEN_WORD = re.compile(r"\S+-[ \t]*\n\s*\S+")


@dataclass(frozen=True)
class Line:
    """One line of a source file: its number, its text and where it starts."""

    number: int
    raw: str
    offset: int

    @property
    def text(self) -> str:
        return self.raw.strip()

    @property
    def blank(self) -> bool:
        return not self.raw.strip()

    @property
    def indented(self) -> bool:
        """Extraction starts each new text block with a space: a page, column or float start."""
        return self.raw[:1].isspace() and not self.blank

    @property
    def start(self) -> int:
        return self.offset + len(self.raw) - len(self.raw.lstrip())

    @property
    def end(self) -> int:
        return self.offset + len(self.raw.rstrip())


def split_lines(source: str) -> list[Line]:
    """``source`` cut into lines, each knowing its character offset."""
    lines, offset = [], 0
    for number, raw in enumerate(source.split("\n")):
        lines.append(Line(number, raw, offset))
        offset += len(raw) + 1
    return lines


class Vocabulary:
    """The words a corpus uses, to tell a broken word from a real compound."""

    def __init__(self, *sources: str):
        # Words cut by a line-break hyphen are left out, so their fragments ("cludes") do not count as words.
        clean = [_BROKEN_WORD.sub(" ", source) for source in sources]
        tokens = [t.lower() for source in clean for t in WORD.findall(source)]
        self.words = set(tokens)
        for token in tokens:
            self.words.update(token.split("-"))
        self.prefixes = {t.split("-")[0] for t in tokens if "-" in t}
        self.suffixes = {t.split("-")[-1] for t in tokens if "-" in t}

    def __contains__(self, word: str) -> bool:
        return word.lower() in self.words

    def separator(self, left: str, right: str) -> str | None:
        """How line ``left`` joins line ``right``.

        Returns "" to drop a line-break hyphen ("exo-" + "somes"), "-" to keep
        it glued ("tumor-" + "derived"), or None for an ordinary space.
        """
        tail = _TRAILING_WORD.search(left)
        head = _LEADING_WORD.match(right.lstrip())
        if not tail or not head:
            return None
        a, b = tail.group(1), head.group(1)
        joined, compound = (a + b).lower(), f"{a}-{b}".lower()
        if joined in self.words and compound not in self.words:
            return ""
        if compound in self.words:
            return "-"
        if a[-1].isdigit() or a[-1].isupper() or b[0].isupper() or b[0].isdigit():
            return "-"
        if not a.isascii() or not b.isascii():
            return "-"
        glued = a.lower() in self.prefixes or b.lower() in self.suffixes
        if glued and a.lower() in self.words and b.lower() in self.words and joined not in self.words:
            return "-"
        return ""


class MappedText:
    """Text assembled from pieces of a source, remembering each character's source offset."""

    def __init__(self) -> None:
        self.chars: list[str] = []
        self.offsets: list[int] = []

    def add(self, text: str, offset: int) -> None:
        self.chars.extend(text)
        self.offsets.extend(range(offset, offset + len(text)))

    def add_gap(self, text: str) -> None:
        self.chars.extend(text)
        self.offsets.extend([-1] * len(text))

    def add_lines(self, lines: list[Line], vocab: Vocabulary) -> None:
        """Append ``lines`` as running text, repairing line-break hyphenation."""
        for line in lines:
            if not self.chars:
                self.add(line.text, line.start)
                continue
            previous = "".join(self.chars[-40:])
            sep = vocab.separator(previous, line.text)
            if sep is None:
                self._trim_trailing_space()
                self.add_gap(" ")
            else:
                self._trim_trailing_space()
                if sep == "":
                    self.chars.pop()
                    self.offsets.pop()
            self.add(line.text, line.start)

    def _trim_trailing_space(self) -> None:
        while self.chars and self.chars[-1].isspace():
            self.chars.pop()
            self.offsets.pop()

    @property
    def text(self) -> str:
        return "".join(self.chars)

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Source offsets (first, last + 1) covered by text[start:end]."""
        inside = [o for o in self.offsets[start:end] if o >= 0]
        return (inside[0], inside[-1] + 1) if inside else (-1, -1)

    def spans(self, start: int, end: int) -> list[tuple[int, int]]:
        """The contiguous source ranges that text[start:end] was built from."""
        runs: list[tuple[int, int]] = []
        for o in self.offsets[start:end]:
            if o < 0:
                continue
            if runs and runs[-1][1] <= o <= runs[-1][1] + 1:
                runs[-1] = (runs[-1][0], o + 1)
            else:
                runs.append((o, o + 1))
        return runs
