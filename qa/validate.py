"""Text a person could have typed: the check every question, claim and history turn passes before it is used.

The same rules are published in the OpenAPI schema as regular expressions that JavaScript (JSON Schema) and
Python read alike, so a client can check its input before sending it.
"""

from __future__ import annotations

import re

# C0 and C1 control characters other than tab, line feed and carriage return, and DEL.
_CONTROL = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
# Blank characters: what JavaScript's \s matches (Python's str.strip() differs on U+FEFF), minus controls.
BLANK = " \t\n\r\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
TEXT_PATTERN = f"^[^{_CONTROL}]*$"
WORDS_PATTERN = f"^[^{_CONTROL}]*[^{_CONTROL}{BLANK}][^{_CONTROL}]*$"
_EDGE_BLANKS = re.compile(f"^[{BLANK}]+|[{BLANK}]+$")
# ... plus UTF-16 surrogates: JSON's "\ud800" decodes to one, and it cannot be encoded back to UTF-8.
_NOT_TEXT = re.compile(f"[{_CONTROL}\ud800-\udfff]")


def check_text(value: str) -> str:
    """``value`` unchanged if it is text; raises ValueError naming the first character that is not."""
    found = _NOT_TEXT.search(value)
    if found:
        code = ord(found.group())
        what = "a lone UTF-16 surrogate" if 0xD800 <= code <= 0xDFFF else "a control character"
        raise ValueError(f"character {found.start() + 1} is {what} (U+{code:04X}), which is not text: remove it")
    return value


def check_words(value: str, max_chars: int, what: str = "question") -> str:
    """``value`` without blanks at its ends, if it is text of at most ``max_chars`` characters with something
    other than blanks in it (``WORDS_PATTERN`` with that maxLength); raises ValueError saying what is wrong
    with the ``what`` (a question, a claim)."""
    check_text(value)
    if len(value) > max_chars:
        raise ValueError(f"the {what} is {len(value)} characters long; keep it under {max_chars}")
    words = _EDGE_BLANKS.sub("", value)
    if not words:
        raise ValueError(f"the {what} is empty: type a {what} about exosomes in cancer")
    return words
