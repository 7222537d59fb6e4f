"""Index: round trip, manifest, staleness, atomic writes."""

from __future__ import annotations

import dataclasses
import shutil

import pytest
from conftest import CORPUS

from qa.index import IndexUnavailable, build_index, load_index, stale_reason


def test_manifest_describes_the_build(manifest, index):
    assert manifest["passages"] == len(index.passages) > 150
    assert manifest["units"] == len(index.units) > manifest["passages"]
    assert manifest["model"] == "all-MiniLM-L6-v2" and manifest["dimension"] == 384
    assert set(manifest["corpus_files"]) == {"documents.toml", "zhang2015.txt", "bae2018.txt"}
    assert {"faiss", "sentence_transformers", "bm25s", "torch"} <= set(manifest["versions"])
    assert manifest["store"] == "faiss" and manifest["store_index"]["units"] == {"type": "Flat"}
    assert manifest["built_at"] and manifest["build_seconds"] > 0


def test_round_trip_keeps_every_passage_and_vector(index, documents):
    assert [p.id for p in index.passages] == [p.id for d in documents.values() for p in d.passages]
    assert index.store.count("passages") == len(index.passages)
    assert index.store.count("units") == len(index.units)
    row = index.passage_by_id["zhang2015-t1-r05"]
    assert row.cells[0] == ("Exosomal cargo", "MET") and row.refs == [39]


def test_stored_vectors_are_the_model_embeddings(index):
    unit = index.units[10]
    nearest = index.store.dense("units", index.embed([unit.text]), 3)[0]
    assert 10 in nearest.positions[nearest.scores > 0.999].tolist()


def test_a_fresh_index_is_not_stale(settings, manifest):
    assert stale_reason(settings) is None


def test_changed_corpus_makes_the_index_stale_and_load_refuses(settings, manifest, tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    changed = dataclasses.replace(settings, corpus_dir=corpus)
    assert stale_reason(changed) is None
    with (corpus / "bae2018.txt").open("a") as f:
        f.write("\nAn added sentence.\n")
    assert "bae2018.txt" in stale_reason(changed)
    with pytest.raises(IndexUnavailable, match="qa build"):
        load_index(changed)


def test_other_model_or_chunking_makes_the_index_stale(settings, manifest, tmp_path):
    assert "model" in stale_reason(dataclasses.replace(settings, model=str(tmp_path)))
    assert "chunking" in stale_reason(dataclasses.replace(settings, window_sentences=settings.window_sentences + 1))


def test_missing_index_is_reported(tmp_path, settings):
    assert "no index" in stale_reason(dataclasses.replace(settings, index_dir=tmp_path / "none"))


def test_build_replaces_an_index_atomically(settings, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "documents.toml").write_text('[[document]]\nid = "mini"\nfile = "mini.txt"\ntitle = "Mini"\n')
    (corpus / "mini.txt").write_text("Introduction\nExosomes are small vesicles [1]. They carry RNA [2].\n")
    target = dataclasses.replace(settings, corpus_dir=corpus, index_dir=tmp_path / "idx")
    first = build_index(target, progress=False)
    (corpus / "mini.txt").write_text("Introduction\nExosomes carry microRNAs [3].\n")
    assert stale_reason(target)
    build_index(target, progress=False)
    assert stale_reason(target) is None
    assert first["passages"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [".idx.lock", "corpus", "idx"]  # no half-built debris
    assert load_index(target).passages[0].refs == [3]
