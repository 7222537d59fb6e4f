"""A servable index of N synthetic passages recombined from the papers' sentences, for /api/ask at scale.

Run: .venv/bin/python scripts/synth_index.py --passages 1000000 --out /tmp/synth-index
Serve: QA_CORPUS_DIR=OUT/corpus QA_INDEX_DIR=OUT/index QA_OVERLAP_SENTENCES=4 .venv/bin/qa serve --no-build

Documents: ``DOCUMENTS`` synthetic documents of one paragraph each, a sequence of runs of 3-6 consecutive
sentences of one paper (text and reference numbers as the paper has them), each run starting at a random
sentence. Passages are windows of ``WINDOW`` sentences moving one sentence at a time (the chunking
``window_sentences=5, overlap_sentences=4``), so every sentence is one answer unit and there are about as
many units as passages. Vectors: a unit's is its sentence's real embedding plus noise with the covariance
of the papers' sentences (``SIGMA``, as ``synth_corpus.py``); a passage's is the normalised sum of its
sentences' vectors. The corpus folder holds each document's text and a ``documents.toml``, so the
manifest's corpus check holds; the index is written from these records by ``qa.index.write_index``
(what ``qa build`` writes with), without ``qa build``'s parsing and embedding of every passage (about 5
hours at a million on 2 cores).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from synth_corpus import CHUNK_ROWS, DOCUMENTS, SIGMA, noise_shape  # noqa: E402

from qa.embed import embed_texts  # noqa: E402
from qa.index import answer_units, corpus_words, load_model, write_index  # noqa: E402
from qa.ingest import Document, Passage, Section, Sentence, load_corpus  # noqa: E402
from qa.lock import build_lock  # noqa: E402
from qa.settings import Settings, offline  # noqa: E402
from qa.text import index_terms  # noqa: E402

WINDOW = 5
RUN_SENTENCES = (3, 6)


def generate(passages: int, out: Path, seed: int = 15) -> dict:
    """Write the corpus folder ``out/corpus`` and the index ``out/index``; returns the index's manifest."""
    offline()
    started = time.perf_counter()
    papers = Settings.from_env()
    sentences = [u for u in answer_units([p for d in load_corpus(papers.corpus_dir) for p in d.passages])
                 if u.kind == "paragraph"]
    model = load_model(papers.model_path())
    embedded = embed_texts(model, [s.text for s in sentences])
    rng = np.random.default_rng(seed)
    per_document = -(-passages // DOCUMENTS)
    sequences = [_sequence(rng, sentences, per_document + WINDOW - 1) for _ in range(DOCUMENTS)]
    settings = Settings.from_env(corpus_dir=out / "corpus", index_dir=out / "index", overlap_sentences=WINDOW - 1)
    documents = [_document(f"synth{d:04d}", [sentences[i] for i in sequence]) for d, sequence in enumerate(sequences)]
    _write_corpus(documents, [[sentences[i].text for i in sequence] for sequence in sequences], settings.corpus_dir)
    order = np.concatenate(sequences)  # the units in index order: each document's sentences in turn
    unit_vectors = _noisy(rng, embedded, order)
    vectors = {"units": unit_vectors, "passages": _window_sums(unit_vectors, len(sequences[0]))}
    vocabulary = corpus_words(sentences)
    vectors["vocabulary"] = embed_texts(model, vocabulary)
    sentence_terms = [index_terms(s.text) for s in sentences]
    terms = {"units": [sentence_terms[i] for i in order],
             "passages": [[t for i in sequence[k:k + WINDOW] for t in sentence_terms[i]]
                          for sequence in sequences for k in range(per_document)]}
    print(f"{len(order)} units, {len(terms['passages'])} passages generated in {time.perf_counter() - started:.0f} s",
          flush=True)
    with build_lock(settings.index_dir):
        return write_index(settings, documents, vocabulary, terms, vectors, started)


def _sequence(rng, sentences, length: int) -> list[int]:
    """Sentence numbers: runs of RUN_SENTENCES consecutive sentences of one paper, ``length`` in all."""
    sequence: list[int] = []
    while len(sequence) < length:
        start = int(rng.integers(0, len(sentences)))
        run = int(rng.integers(RUN_SENTENCES[0], RUN_SENTENCES[1] + 1))
        stop = start + run
        while stop > len(sentences) or sentences[stop - 1].doc != sentences[start].doc:
            stop -= 1
        sequence.extend(range(start, stop))
    return sequence[:length]


def _document(doc: str, sentences) -> Document:
    """One paragraph of ``sentences`` and its passages: every window of WINDOW sentences."""
    records, position = [], 0
    for j, sentence in enumerate(sentences):
        records.append(Sentence(f"{doc}-s{j}", sentence.text, list(sentence.refs), position, position + len(sentence.text)))
        position += len(sentence.text) + 1
    text = " ".join(s.text for s in sentences)
    passages = []
    for k in range(len(records) - WINDOW + 1):
        window = records[k:k + WINDOW]
        start, end = window[0].start, window[-1].end
        refs = list(dict.fromkeys(r for s in window for r in s.refs))
        passages.append(Passage(f"{doc}-p{k:04d}", doc, "Synthetic", "paragraph", text[start:end], refs, start, end,
                                window, [(start, end)], paragraph=0))
    return Document(doc, f"Synthetic document {doc}", [], None, "", {"id": doc, "file": f"{doc}.txt", "title": doc},
                    f"{doc}.txt", hashlib.sha256(text.encode()).hexdigest(), [Section("Synthetic", 0, len(text))],
                    passages, [], [])


def _write_corpus(documents: list[Document], texts: list[list[str]], corpus: Path) -> None:
    """Each document's text as a file, and the documents.toml that lists them."""
    corpus.mkdir(parents=True, exist_ok=True)
    for document, sentences in zip(documents, texts):
        (corpus / document.source_file).write_text(" ".join(sentences), encoding="utf-8")
    (corpus / "documents.toml").write_text("".join(
        f'[[document]]\nid = "{d.id}"\nfile = "{d.source_file}"\ntitle = "{d.title}"\n\n' for d in documents))


def _noisy(rng, embedded: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Each unit's sentence embedding plus SIGMA times covariance-shaped noise, normalised."""
    shape = noise_shape(embedded)
    out = np.empty((len(order), embedded.shape[1]), dtype="float32")
    for start in range(0, len(order), CHUNK_ROWS):
        rows = order[start:start + CHUNK_ROWS]
        mixed = embedded[rows] + SIGMA * (rng.standard_normal((len(rows), shape.shape[1])).astype("float32") @ shape.T)
        out[start:start + len(rows)] = mixed / np.linalg.norm(mixed, axis=1, keepdims=True)
    return out


def _window_sums(unit_vectors: np.ndarray, units_per_document: int) -> np.ndarray:
    """Each passage's vector: the normalised sum of its WINDOW sentences' vectors, document by document."""
    by_document = unit_vectors.reshape(-1, units_per_document, unit_vectors.shape[1])
    windows = units_per_document - WINDOW + 1
    sums = sum(by_document[:, k:k + windows] for k in range(WINDOW))
    sums = sums.reshape(-1, unit_vectors.shape[1])
    return (sums / np.linalg.norm(sums, axis=1, keepdims=True)).astype("float32")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, required=True, help="passages to generate (rounded up to a "
                                                                     f"multiple of {DOCUMENTS} documents)")
    parser.add_argument("--out", type=Path, required=True, help="folder to write (corpus/ and index/ inside)")
    args = parser.parse_args()
    manifest = generate(args.passages, args.out)
    print(f"wrote {manifest['passages']} passages, {manifest['units']} units in {manifest['build_seconds']} s")
