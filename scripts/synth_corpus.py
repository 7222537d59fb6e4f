"""A synthetic corpus of N passages recombined from the two papers' sentences, with vectors, for scale benchmarks.

Run: .venv/bin/python scripts/synth_corpus.py --rows 1000000 --out /tmp/synth-1m

Texts: passage i is a run of 3-6 consecutive sentences (a window of one paper's answer units) whose last
sentence is swapped for a sentence from another window, spread over 1,000 synthetic documents.
Vectors: ``SAMPLE_ROWS`` windows are embedded with the real model; every passage's vector is
normalise(E[a] + alpha * E[b] + SIGMA * noise), where a is its window, b the window its swapped sentence
came from, alpha ~ U(0, 0.5) and the noise is Gaussian with the covariance of the embedded sample (so
it moves vectors along the directions real passages vary in, not isotropically). Embedding a million
passages would take about 5 hours on 2 cores; this takes a minute and keeps the structure that makes
approximate search hard: many near neighbours per query.

Writes ``vectors.npy`` (float32, N x 384), ``windows.npy`` (N x 3: start unit, length, swapped-in unit),
``docs.npy`` (int32 document number) and ``units.json`` (the sentences and their BM25 terms).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from qa.embed import embed_texts
from qa.index import answer_units, load_model
from qa.ingest import load_corpus
from qa.settings import Settings, offline
from qa.text import index_terms

# Windows embedded with the real model (about a minute on 2 cores).
SAMPLE_ROWS = 4096
# Scale of the covariance-shaped noise: gives a mean cosine of about 0.85 between a passage and its window,
# the range of real passages' nearest neighbours in the papers (0.8-0.9).
SIGMA = 0.5
DOCUMENTS = 1000
CHUNK_ROWS = 100_000


def generate(rows: int, out: Path, seed: int = 15) -> None:
    """Write a corpus of ``rows`` passages to ``out`` (see the module docstring)."""
    offline()
    settings = Settings.from_env()
    rng = np.random.default_rng(seed)
    units = answer_units([p for d in load_corpus(settings.corpus_dir) for p in d.passages])
    texts = [u.text for u in units]
    out.mkdir(parents=True, exist_ok=True)
    windows = np.empty((rows, 3), dtype="int32")
    windows[:, 1] = rng.integers(3, 7, rows)
    windows[:, 0] = rng.integers(0, len(units) - 6, rows)
    sample = min(SAMPLE_ROWS, rows)
    started = time.perf_counter()
    model = load_model(settings.model_path())
    sample_windows = windows[:sample].copy()
    sample_windows[:, 2] = sample_windows[:, 0] + sample_windows[:, 1] - 1
    embedded = embed_texts(model, [_window_text(texts, w) for w in sample_windows])
    print(f"embedded {sample} windows in {time.perf_counter() - started:.0f} s")
    shape = noise_shape(embedded)
    vectors = np.lib.format.open_memmap(out / "vectors.npy", mode="w+", dtype="float32", shape=(rows, embedded.shape[1]))
    vectors[:sample] = embedded
    windows[:sample] = sample_windows
    for start in range(sample, rows, CHUNK_ROWS):
        stop = min(rows, start + CHUNK_ROWS)
        a = rng.integers(0, sample, stop - start)
        b = rng.integers(0, sample, stop - start)
        windows[start:stop, 0] = sample_windows[a, 0]
        windows[start:stop, 1] = sample_windows[a, 1]
        windows[start:stop, 2] = sample_windows[b, 0] + sample_windows[b, 1] - 1
        alpha = rng.uniform(0, 0.5, (stop - start, 1)).astype("float32")
        noise = rng.standard_normal((stop - start, shape.shape[1])).astype("float32") @ shape.T
        mixed = embedded[a] + alpha * embedded[b] + SIGMA * noise
        vectors[start:stop] = mixed / np.linalg.norm(mixed, axis=1, keepdims=True)
    vectors.flush()
    np.save(out / "windows.npy", windows)
    np.save(out / "docs.npy", rng.integers(0, DOCUMENTS, rows).astype("int32"))
    (out / "units.json").write_text(json.dumps({"texts": texts, "terms": [index_terms(t) for t in texts]}))
    print(f"wrote {rows} passages to {out} in {time.perf_counter() - started:.0f} s")


def noise_shape(embedded: np.ndarray) -> np.ndarray:
    """A matrix that turns standard Gaussian noise (``z @ shape.T``) into noise with the covariance of ``embedded``."""
    centred = embedded - embedded.mean(axis=0)
    eigenvalues, eigenvectors = np.linalg.eigh(np.cov(centred, rowvar=False))
    return (eigenvectors * np.sqrt(np.clip(eigenvalues, 0, None))).astype("float32")


def _window_text(texts: list[str], window) -> str:
    start, length, swapped = (int(x) for x in window)
    return " ".join(texts[start:start + length - 1] + [texts[swapped]])


def passage_terms(out: Path) -> list[list[str]]:
    """Each passage's BM25 terms, recombined from its sentences' terms (as its text is)."""
    terms = json.loads((out / "units.json").read_text())["terms"]
    windows = np.load(out / "windows.npy")
    return [[t for u in [*range(s, s + n - 1), w] for t in terms[u]] for s, n, w in windows.tolist()]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, required=True, help="passages to generate")
    parser.add_argument("--out", type=Path, required=True, help="folder to write")
    args = parser.parse_args()
    generate(args.rows, args.out)
