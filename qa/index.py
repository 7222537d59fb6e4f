"""Index: build, save, load and check the FAISS + BM25 index of a corpus.

``build_index(settings)`` parses the corpus, embeds passages and answer units
(sentences, captions' sentences and table rows) and writes them, vectors and
BM25 terms, into the retrieval store the settings name (``qa.store``: FAISS +
bm25s files in the index folder by default, or Milvus), atomically with a
manifest. ``load_index`` refuses an index whose
manifest does not match the corpus, model and chunking it is asked to serve.
"""

from __future__ import annotations

import dataclasses
import gc
import hashlib
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from qa.embed import MeanPoolingEncoder, QueryEncoder, embed_on_ray, embed_texts
from qa.ingest import (
    INGEST_VERSION, ChunkingSettings, CorpusError, Discard, Document, Passage, Section, Sentence, Table,
    corpus_files, load_corpus,
)
from qa.integrity import MANIFEST, damage, file_records, swap_into_place
from qa.lexicon import Lexicon, build_lexicon
from qa.lock import build_lock
from qa.settings import QUERY_ENCODERS, Settings, offline
from qa.store import COLLECTIONS, RetrievalStore, Rows, open_store
from qa.text import index_terms, words

# 3: the manifest records every file's size and sha256; 4: the retrieval store (qa.store) writes the
# collections and is named in the manifest; 5: the lexicon (qa.lexicon) is saved beside them; 6: the query
# encoder's ONNX export (qa.onnx_encoder) too; 7: the lexicon's long forms hold no clause break, and one word can
# be one ("microRNAs (miRNAs)"); 8: "T cells" is a term of its own (tcell), not mere "cells".
FORMAT_VERSION = 8


class IndexUnavailable(Exception):
    """The index is missing, stale or unreadable; the message says why and what to do."""


@dataclass
class Unit:
    """An answer unit: one sentence of a passage, or one table row."""

    id: str
    passage_id: str
    doc: str
    kind: str
    text: str
    refs: list[int]
    position: int


@dataclass
class Index:
    manifest: dict
    documents: dict[str, Document]
    passages: list[Passage]
    units: list[Unit]
    store: RetrievalStore  # the "passages" and "units" collections, rows in the order of the lists above
    model_path: str
    vocabulary: list[str]  # the corpus words (``corpus_words``), one row each of ``vocabulary_vectors``
    vocabulary_vectors: object
    lexicon: Lexicon
    query_graph: Path | None = None  # the ONNX query encoder to serve with (None: torch)
    _model: object = None
    _encoder: QueryEncoder | None = None

    def __post_init__(self) -> None:
        self.passage_by_id = {p.id: p for p in self.passages}
        self.unit_by_id = {u.id: u for u in self.units}
        self.units_by_passage: dict[str, list[Unit]] = {}
        for unit in self.units:
            self.units_by_passage.setdefault(unit.passage_id, []).append(unit)
        self._positions: dict[str, dict[str, int]] = {}

    def passage_position(self, passage: Passage) -> int:
        """Where ``passage`` stands among its document's passages (a document's positions are worked out the first
        time one is asked for: ``list.index`` compared passages field by field, 7.7 ms a question at 1M passages)."""
        positions = self._positions.get(passage.doc)
        if positions is None:
            positions = self._positions[passage.doc] = {
                p.id: i for i, p in enumerate(self.documents[passage.doc].passages)}
        return positions[passage.id]

    @property
    def model(self):
        """The model that embeds queries (the build's model, or the same computation without sentence-transformers)."""
        if self._model is None:
            self._model = load_query_model(self.model_path, self.query_graph)
        return self._model

    def nearest_words(self, vectors: np.ndarray) -> list[tuple[str, float]]:
        """For each word's embedding (a row of ``vectors``), the corpus word nearest to it in meaning and the
        cosine of their embeddings."""
        if not len(vectors):
            return []
        scores, rows = self.vocabulary_vectors.search(vectors, 1)
        return [(self.vocabulary[row], float(score)) for score, row in zip(scores[:, 0], rows[:, 0])]

    def embed(self, texts: list[str]) -> np.ndarray:
        """Normalised embeddings of ``texts`` (float32, one row each; cached, read-only), embedded together."""
        if self._encoder is None:
            self._encoder = QueryEncoder(self.model)
        return self._encoder.encode(tuple(texts))


def load_model(model_path: str):
    """A sentence-transformers model from a local folder, never from a hub."""
    offline()
    if not Path(model_path).is_dir():
        raise IndexUnavailable(f"No embedding model at {model_path}: set QA_MODEL or --model to a local "
                          "sentence-transformers folder.")
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    return SentenceTransformer(model_path, device="cpu")


def load_query_model(model_path: str, graph: Path | None = None):
    """What embeds queries while serving: the ONNX ``graph`` of a mean-pooling model on onnxruntime when given
    (``qa.onnx_encoder.OnnxEncoder``), else such a model run with transformers alone when the folder is one
    (same vectors as the build, ~100 MB less memory: ``qa.embed.MeanPoolingEncoder``), else ``load_model``'s."""
    if MeanPoolingEncoder.fits(model_path):
        offline()
        if graph is not None:
            from qa.onnx_encoder import OnnxEncoder

            return OnnxEncoder(model_path, graph)
        return MeanPoolingEncoder(model_path)
    return load_model(model_path)


def model_fingerprint(model_path: str) -> str:
    """A cheap identity of a model folder: its files' names and sizes."""
    root = Path(model_path)
    listing = sorted(f"{p.relative_to(root)}:{p.stat().st_size}" for p in root.rglob("*") if p.is_file())
    return hashlib.sha256("\n".join(listing).encode()).hexdigest()[:16]


def corpus_words(passages: list[Passage]) -> list[str]:
    """The distinct alphabetic words (3+ letters, lower-cased) of the passages."""
    return sorted({w.lower() for p in passages for w in words(p.text) if w.isalpha() and len(w) > 2})


def answer_units(passages: list[Passage]) -> list[Unit]:
    """Every sentence (or row) once, attached to the first passage that holds it."""
    seen, units = set(), []
    for passage in passages:
        for position, sentence in enumerate(passage.sentences):
            key = (passage.doc, sentence.start, sentence.end, sentence.text)
            if key in seen:
                continue
            seen.add(key)
            units.append(Unit(sentence.id, passage.id, passage.doc, passage.kind, sentence.text,
                              list(sentence.refs), position))
    return units


def _expected(settings: Settings) -> dict:
    model_path = settings.model_path()
    return {
        "format_version": FORMAT_VERSION,
        "ingest_version": INGEST_VERSION,
        "model": settings.model,
        "model_fingerprint": model_fingerprint(model_path) if Path(model_path).is_dir() else None,
        "corpus_files": corpus_files(settings.corpus_dir),
        "chunking": dataclasses.asdict(_chunking(settings)),
        "store": settings.store,
        "milvus_uri": settings.milvus_uri if settings.store == "milvus" else "",
    }


def _chunking(settings: Settings) -> ChunkingSettings:
    return ChunkingSettings(settings.window_sentences, settings.overlap_sentences)


def stale_reason(settings: Settings) -> str | None:
    """Why the index at ``settings.index_dir`` cannot serve this corpus and model (None: it can)."""
    path = settings.index_dir / MANIFEST
    if not path.is_file():
        return f"no index at {settings.index_dir}"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        manifest = None
    if not isinstance(manifest, dict):
        return f"the manifest {path} is unreadable"
    expected = _expected(settings)
    for key, value in expected.items():
        if manifest.get(key) != value:
            if key == "corpus_files":
                changed = sorted(set(value.items()) ^ set(manifest.get(key, {}).items()))
                return f"the corpus changed since the index was built ({', '.join(sorted({n for n, _ in changed}))})"
            return f"the index was built with a different {key.replace('_', ' ')}"
    return damage(settings.index_dir, manifest.get("files", {}))


def build_index(settings: Settings, progress: bool = True) -> dict:
    """Parse, embed and index the corpus; write it atomically to ``settings.index_dir``. Returns the manifest.

    Raises IndexBusy while another process builds the same folder.
    """
    with build_lock(settings.index_dir):
        return _build(settings, progress)


def _build(settings: Settings, progress: bool) -> dict:
    started = time.perf_counter()
    documents = load_corpus(settings.corpus_dir, _chunking(settings))
    passages = [p for doc in documents for p in doc.passages]
    if not passages:
        raise CorpusError(f"No passage of text in {settings.corpus_dir}: every line was page furniture or blank.")
    units = answer_units(passages)
    texts = {"passages": [p.text for p in passages], "units": [u.text for u in units], "vocabulary": corpus_words(passages)}
    vectors = _embed_all(settings, texts, progress)
    terms = {name: [index_terms(t) for t in texts[name]] for name in COLLECTIONS}
    return write_index(settings, documents, texts["vocabulary"], terms, vectors, started, units)


def write_index(settings: Settings, documents: list[Document], vocabulary: list[str], terms: dict[str, list[list[str]]],
                vectors: dict[str, np.ndarray], started: float, units: list[Unit] | None = None) -> dict:
    """Write an index of ``documents`` to ``settings.index_dir`` in one swap; returns its manifest.

    ``terms`` and ``vectors`` hold each collection's rows (passages, answer units) in order, ``vectors`` also
    the ``vocabulary`` words' rows; ``started`` is when the build began (``time.perf_counter()``); ``units``,
    the documents' answer units when the caller has them already.
    """
    import faiss

    passages = [p for doc in documents for p in doc.passages]
    units = answer_units(passages) if units is None else units
    records = {"passages": passages, "units": units}
    target = settings.index_dir
    target.parent.mkdir(parents=True, exist_ok=True)
    for unfinished in target.parent.glob(f".{target.name}.building-*"):
        shutil.rmtree(unfinished)  # left by a build that was killed: we hold the lock, so nobody writes there
    tmp = target.parent / f".{target.name}.building-{os.getpid()}"
    tmp.mkdir()
    vocabulary_index = faiss.IndexFlatIP(vectors["vocabulary"].shape[1])
    vocabulary_index.add(vectors["vocabulary"])
    faiss.write_index(vocabulary_index, str(tmp / "vocabulary.faiss"))
    store = open_store(settings.store, tmp, target.name, settings.milvus_uri)
    for name in COLLECTIONS:
        store.write(name, Rows([r.doc for r in records[name]], terms[name], vectors[name]))
    store.close()
    build_lexicon(passages, terms["passages"], terms["units"]).save(tmp)
    if MeanPoolingEncoder.fits(settings.model_path()):
        from qa.onnx_encoder import ONNX_QUERY_MODEL, export_query_model

        export_query_model(settings.model_path(), tmp / ONNX_QUERY_MODEL)
    (tmp / "vocabulary.json").write_text(json.dumps(vocabulary))
    (tmp / "documents.json").write_text(json.dumps([dataclasses.asdict(d) for d in documents], ensure_ascii=False))
    manifest = {
        **_expected(settings),
        "model_path": settings.model_path(),
        "dimension": int(vectors["units"].shape[1]),
        "documents": [d.id for d in documents],
        "passages": len(passages),
        "units": len(units),
        "store_index": store.describe(),
        "versions": _versions(),
        "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    manifest["build_seconds"] = round(time.perf_counter() - started, 2)
    manifest["files"] = file_records(tmp)
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2))
    _sync(tmp)
    swap_into_place(tmp, target)
    return manifest


def _sync(folder: Path) -> None:
    """Flush every file of ``folder`` to disk, so a crash right after the swap cannot leave empty files."""
    for path in [*folder.rglob("*"), folder]:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _embed_all(settings: Settings, texts: dict[str, list[str]], progress: bool) -> dict[str, np.ndarray]:
    """Every collection's vectors, in-process or, with ``settings.ray_address``, on Ray Data."""
    if settings.ray_address:
        return {name: embed_on_ray(settings.model_path(), rows, settings.ray_address) for name, rows in texts.items()}
    model = load_model(settings.model_path())
    return {name: embed_texts(model, rows, progress=progress) for name, rows in texts.items()}


def _versions() -> dict:
    import bm25s
    import faiss
    import sentence_transformers
    import torch

    return {"faiss": faiss.__version__, "sentence_transformers": sentence_transformers.__version__,
            "bm25s": bm25s.__version__, "torch": torch.__version__, "numpy": np.__version__,
            "python": sys.version.split()[0]}


def load_index(settings: Settings) -> Index:
    """The index at ``settings.index_dir``; raises IndexUnavailable if missing, stale or damaged."""
    reason = stale_reason(settings)
    if reason:
        raise IndexUnavailable(f"Cannot use the index: {reason}. Run `qa build` first.")
    gc.disable()  # reading creates those objects: collecting while they pile up only re-traverses them
    try:
        index = _read(settings)
    except (OSError, RuntimeError, ValueError, KeyError, TypeError) as exc:
        # Checksums matched a moment ago: the folder changed under us (a build swapped it in) or cannot be read.
        first_line = (str(exc).splitlines() or [""])[0]
        raise IndexUnavailable(f"Cannot read the index at {settings.index_dir} ({type(exc).__name__}: {first_line}). "
                               "Run `qa build` to rebuild it.") from exc
    finally:
        gc.enable()
    # The index is millions of long-lived objects at scale (documents, passages, sentences, units) that never
    # become garbage while served: kept out of the cyclic collector, whose full pass over them took 9.6 s at
    # a million passages, in the middle of some request.
    gc.freeze()
    return index


def _read(settings: Settings) -> Index:
    import faiss

    from qa.onnx_encoder import ONNX_QUERY_MODEL

    root = settings.index_dir
    manifest = json.loads((root / MANIFEST).read_text())
    if settings.query_encoder not in QUERY_ENCODERS:
        raise IndexUnavailable(f"Unknown query encoder {settings.query_encoder!r}: use {' or '.join(QUERY_ENCODERS)}.")
    serve_graph = settings.query_encoder == "onnx" and ONNX_QUERY_MODEL in manifest["files"]
    documents = {d["id"]: _document(d) for d in json.loads((root / "documents.json").read_text())}
    passages = [p for d in documents.values() for p in d.passages]
    return Index(
        manifest=manifest,
        documents=documents,
        passages=passages,
        units=answer_units(passages),
        store=open_store(settings.store, root, root.name, settings.milvus_uri).load(),
        model_path=settings.model_path(),
        vocabulary=json.loads((root / "vocabulary.json").read_text()),
        vocabulary_vectors=faiss.read_index(str(root / "vocabulary.faiss")),
        lexicon=Lexicon.load(root),
        query_graph=root / ONNX_QUERY_MODEL if serve_graph else None,
    )


def ensure_index(settings: Settings, log=print) -> Index:
    """Load the index, first rebuilding it when missing or stale if ``settings.auto_build``."""
    reason = stale_reason(settings)
    if reason and settings.auto_build:
        log(f"Building the index ({reason}) ...")
        manifest = build_index(settings, progress=False)
        log(f"Built {manifest['passages']} passages, {manifest['units']} answer units "
            f"in {manifest['build_seconds']} s.")
    return load_index(settings)


def _document(data: dict) -> Document:
    passages = []
    for p in data["passages"]:
        p = dict(p)
        p["sentences"] = [Sentence(**s) for s in p["sentences"]]
        p["spans"] = [tuple(s) for s in p["spans"]]
        p["cells"] = [tuple(c) for c in p["cells"]]
        passages.append(Passage(**p))
    return Document(
        **{k: v for k, v in data.items() if k not in {"sections", "passages", "tables", "discards"}},
        sections=[Section(**s) for s in data["sections"]],
        passages=passages,
        tables=[Table(**t) for t in data["tables"]],
        discards=[Discard(**d) for d in data["discards"]],
    )
