"""`qa build --corpus DIR` on odd corpora: it copes, or it stops with one line naming the file and place."""

from __future__ import annotations

import random
import subprocess
import sys

import pytest
from conftest import CORPUS

from qa.ingest import CorpusError, load_corpus, parse_document

RECORD = '[[document]]\nid = "{id}"\nfile = "{id}.txt"\ntitle = "Paper {id}"\n'
TEXT = "Introduction\nExosomes are small vesicles [1]. They carry RNA between cells [2].\n"


def corpus(tmp_path, files: dict[str, bytes], toml: str | None = None):
    folder = tmp_path / "corpus"
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / f"{name}.txt").write_bytes(data)
    (folder / "documents.toml").write_text(toml if toml is not None else "".join(RECORD.format(id=n) for n in files))
    return folder


def test_a_byte_order_mark_and_windows_or_old_mac_line_ends_parse_like_plain_text(tmp_path):
    plain = load_corpus(corpus(tmp_path / "a", {"a": TEXT.encode()}))[0]
    for variant in ("\ufeff" + TEXT, TEXT.replace("\n", "\r\n"), "\ufeff" + TEXT.replace("\n", "\r")):
        odd = load_corpus(corpus(tmp_path / str(hash(variant)), {"a": variant.encode()}))[0]
        assert [p.text for p in odd.passages] == [p.text for p in plain.passages]
        assert [s.title for s in odd.sections] == ["Introduction"]


def test_a_file_with_no_sections_or_tables_is_one_flow_of_paragraphs(tmp_path):
    text = "Exosomes are small vesicles [1]. They carry RNA [2].\n\nTumour cells release more of them [3].\n"
    (doc,) = load_corpus(corpus(tmp_path, {"plain": text.encode()}))
    assert doc.sections == [] and doc.tables == [] and len(doc.passages) == 2
    assert [p.refs for p in doc.passages] == [[1, 2], [3]]


def test_a_huge_file_is_parsed_whole(tmp_path):
    words = (CORPUS / "zhang2015.txt").read_text().split()
    rng = random.Random(14)
    paragraphs = [" ".join(f"{' '.join(rng.choices(words, k=rng.randint(8, 25)))} [{rng.randint(1, 99)}]."
                           for _ in range(5)) for _ in range(1500)]
    text = "\n\n".join(paragraphs) + "\n"  # about 1 MB, 25 times the longer paper
    doc = parse_document({"id": "huge", "file": "huge.txt", "title": "Huge"}, text)
    assert len(text) > 900_000 and len(doc.passages) >= 1500  # a paragraph of over 5 sentences is 2 passages
    assert sum(len(s.text) for p in doc.passages for s in p.sentences) > 0.95 * len(text.replace("\n", ""))


@pytest.mark.parametrize("files, toml, message", [
    ({"a": TEXT.encode("utf-8")[:40] + b"\xe9t\xe9 " + TEXT.encode()}, None, "a.txt is not UTF-8: byte 40 (0xe9)"),
    ({"a": b"", "b": TEXT.encode()}, None, "a.txt has no text"),
    ({"a": b" \n\n\t\n"}, None, "a.txt has no text"),
    ({"a": TEXT.encode()}, RECORD.format(id="a") * 2, "documents 1 and 2 both have id 'a'"),
    ({"a": TEXT.encode()}, RECORD.format(id="a") + RECORD.format(id="gone"), "names gone.txt, which is not in"),
    ({"a": TEXT.encode()}, '[[document]]\nid = "a"\nfile = "a.txt"\ntitle = "A\n', "at line 4"),
    ({"a": TEXT.encode()}, '[[document]]\nid = "a"\nfile = "a.txt"\n', "needs 'title'"),
    ({"a": TEXT.encode()}, '[[document]]\nid = 7\nfile = "a.txt"\ntitle = "A"\n', "needs 'id'"),
    ({"a": TEXT.encode()}, '[[document]]\nid = "a b"\nfile = "a.txt"\ntitle = "A"\n', "goes into URLs"),
    ({"a": TEXT.encode()}, '[[document]]\nid = "a"\nfile = "../a.txt"\ntitle = "A"\n', "inside the corpus"),
    ({"a": TEXT.encode()}, RECORD.format(id="a") + 'year = "2015"\n', "year must be a number"),
    ({"a": TEXT.encode()}, "title = 'no documents'\n", "lists no [[document]] records"),
])
def test_a_corpus_that_cannot_be_used_is_refused_naming_the_file_and_place(tmp_path, files, toml, message):
    folder = corpus(tmp_path, files, toml)
    with pytest.raises(CorpusError) as refused:
        load_corpus(folder)
    assert message in str(refused.value)


def test_qa_build_reports_a_bad_corpus_in_one_line(tmp_path):
    folder = corpus(tmp_path, {"a": b"Introduction\n\xff\xfe"})
    out = subprocess.run([sys.executable, "-m", "qa.cli", "build", "--corpus", str(folder), "--index",
                          str(tmp_path / "idx")], capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert out.stderr.strip() == (f"qa: {folder / 'a.txt'} is not UTF-8: byte 13 (0xff) cannot be decoded. "
                                  "Convert the file to UTF-8 (e.g. `iconv -f latin1 -t utf-8`) and build again.")
    out = subprocess.run([sys.executable, "-m", "qa.cli", "build", "--corpus", str(tmp_path / "nowhere"),
                          "--index", str(tmp_path / "idx")], capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and "No documents.toml in" in out.stderr and "Traceback" not in out.stderr
