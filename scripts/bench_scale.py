"""Vector and BM25 search at 100k and 1M passages: build time, size on disk, peak RSS, latency, recall@10.

Run (after scripts/synth_corpus.py --rows 1000000 --out DIR):
    .venv/bin/python scripts/bench_scale.py --corpus DIR --sizes 100000 1000000 --json bench-scale.json

Every index is built and searched in a process of its own (its peak RSS is that process's). Queries
are the real embeddings of the project's and the dev questions (134). Latency: one query per call
(single) and 16 per call (batched, reported per query), p50 and p95 in ms. recall@10: share of Flat's
top 10 found in the index's top 10. The size rows of a collection are its first rows.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

QUESTION_SETS = ("tests/data/questions.jsonl", "../shared/eval/dev.jsonl")
BATCH = 16
ROUNDS = 3
# The variants and their search-time sweeps. HNSW: graph degree 32, build depth 64; IVF: lists, training
# sample and k-means iterations as the FAISS store builds them; PQ: 48 sub-quantisers of 8 bits (8 dims each).
HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH = 32, 64, (32, 64, 128, 256, 512)
IVF_NPROBE = (4, 8, 16, 32, 64)
PQ_M = 48
# Candidates per result the re-ranked IVF-PQ reads exactly: 10 x 10 (PQ alone found 0.57 of Flat's top 10 at 100k).
REFINE_K_FACTOR = 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True, help="folder written by synth_corpus.py")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--variants", nargs="+",
                        default=["flat", "hnsw", "ivf_flat", "ivf_pq", "ivf_pq_refine", "ivf_flat_ondisk", "bm25s"])
    parser.add_argument("--work", type=Path, default=Path("/tmp/qa-bench-scale"), help="where indexes are written")
    parser.add_argument("--json", type=Path, default=Path("bench-scale.json"))
    parser.add_argument("--omp-threads", type=int, default=0,
                        help="OpenMP threads FAISS searches with (default: FAISS's own, one per core)")
    args = parser.parse_args()
    queries = _query_vectors(args.corpus)
    results = []
    context = multiprocessing.get_context("spawn")
    for size in args.sizes:
        work = args.work / str(size)
        work.mkdir(parents=True, exist_ok=True)
        # Flat's top 10 is every variant's reference: measured with Flat, or searched exactly once and kept.
        if "flat" not in args.variants and not (work / "flat-top10.npy").is_file():
            with context.Pool(1) as pool:
                pool.apply(_exact_top10, (size, str(args.corpus), str(work), queries))
        for variant in (["flat"] if "flat" in args.variants else []) + [v for v in args.variants if v != "flat"]:
            with context.Pool(1) as pool:
                rows = pool.apply(_measure, (variant, size, str(args.corpus), str(work), queries, args.omp_threads))
            for row in rows:
                results.append(row)
                print(_format(row), flush=True)
                args.json.write_text(json.dumps(results, indent=2))
    print(_table(results))


def _query_vectors(corpus: Path) -> np.ndarray:
    path = corpus / "queries.npy"
    if not path.is_file():
        from qa.embed import embed_texts
        from qa.evaluate import load_questions
        from qa.index import load_model
        from qa.settings import Settings, offline

        offline()
        questions = [q["question"] for p in QUESTION_SETS for q in load_questions(Path(p))]
        np.save(path, embed_texts(load_model(Settings.from_env().model_path()), questions))
        (corpus / "queries.json").write_text(json.dumps(questions))
    return np.load(path)


def _exact_top10(size: int, corpus: str, work: str, queries: np.ndarray) -> None:
    """Flat's top 10 of every query, in one batched exact search (what the flat variant would record)."""
    import faiss

    index = faiss.IndexFlatIP(queries.shape[1])
    vectors = np.load(Path(corpus) / "vectors.npy", mmap_mode="r")[:size]
    for start in range(0, size, 100_000):
        index.add(np.ascontiguousarray(vectors[start:start + 100_000]))
    np.save(Path(work) / "flat-top10.npy", index.search(queries, 10)[1])


def _measure(variant: str, size: int, corpus: str, work: str, queries: np.ndarray, omp_threads: int) -> list[dict]:
    corpus, work = Path(corpus), Path(work)
    if variant == "bm25s":
        return [_measure_bm25(size, corpus, work)]
    import faiss

    vectors = np.load(corpus / "vectors.npy", mmap_mode="r")[:size]
    truth_path = work / "flat-top10.npy"
    if variant == "ivf_flat_ondisk":
        # The on-disk variant: IVF-Flat's file with its inverted lists memory-mapped, not read into RAM.
        path = work / "ivf_flat.faiss"
        started = time.perf_counter()
        index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP)
    elif variant == "ivf_pq_refine":
        # IVF-PQ's file, its REFINE_K_FACTOR x 10 best candidates re-ranked by their exact vectors (held in RAM).
        path = work / "ivf_pq.faiss"
        started = time.perf_counter()
        exact = np.ascontiguousarray(vectors)
        index = faiss.IndexRefineFlat(faiss.read_index(str(path)), faiss.swig_ptr(exact))
        index.k_factor = REFINE_K_FACTOR
    else:
        path = work / f"{variant}.faiss"
        started = time.perf_counter()
        index = _build(variant, vectors)
        faiss.write_index(index, str(path))
    build = time.perf_counter() - started
    if omp_threads:  # the searches' threads; the build used FAISS's own
        faiss.omp_set_num_threads(omp_threads)
    base = {"variant": variant, "rows": size, "build_s": round(build, 1), "size_mb": round(path.stat().st_size / 2**20, 1),
            "omp_threads": faiss.omp_get_max_threads()}
    rows = []
    for name, value in _sweep(variant):
        _set(index, name, value)
        single, batched, found = _latencies(index, queries)
        if variant == "flat":
            np.save(truth_path, found)
        truth = np.load(truth_path)
        recall = np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth)])
        rows.append({**base, "param": f"{name}={value}" if name else "", **single, **batched, "recall@10": round(float(recall), 3)})
    return [{**row, "peak_rss_mb": _peak_rss_mb()} for row in rows]


def _build(variant: str, vectors: np.ndarray):
    import faiss

    from qa.stores.faiss_store import ivf_lists, train_ivf

    dimension, size = vectors.shape[1], len(vectors)
    lists = ivf_lists(size)
    if variant == "flat":
        index = faiss.IndexFlatIP(dimension)
    elif variant == "hnsw":
        index = faiss.IndexHNSWFlat(dimension, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    elif variant in ("ivf_flat", "ivf_flat_ondisk"):
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dimension), dimension, lists, faiss.METRIC_INNER_PRODUCT)
    else:
        index = faiss.IndexIVFPQ(faiss.IndexFlatIP(dimension), dimension, lists, PQ_M, 8, faiss.METRIC_INNER_PRODUCT)
    if not index.is_trained:
        train_ivf(index, vectors)
    for start in range(0, size, 100_000):
        index.add(np.ascontiguousarray(vectors[start:start + 100_000]))
    return index


def _sweep(variant: str) -> list[tuple[str, int]]:
    if variant == "hnsw":
        return [("efSearch", ef) for ef in HNSW_EF_SEARCH]
    if variant.startswith("ivf"):
        return [("nprobe", n) for n in IVF_NPROBE]
    return [("", 0)]


def _set(index, name: str, value: int) -> None:
    import faiss

    if name == "efSearch":
        index.hnsw.efSearch = value
    elif name == "nprobe":
        faiss.extract_index_ivf(index).nprobe = value


def _latencies(index, queries: np.ndarray) -> tuple[dict, dict, np.ndarray]:
    single = []
    for _ in range(ROUNDS):
        for q in queries:
            started = time.perf_counter()
            _, found = index.search(q.reshape(1, -1), 10)
            single.append((time.perf_counter() - started) * 1000)
    batched = []
    for _ in range(ROUNDS):
        for start in range(0, len(queries), BATCH):
            batch = queries[start:start + BATCH]
            started = time.perf_counter()
            index.search(batch, 10)
            batched.append((time.perf_counter() - started) * 1000 / len(batch))
    _, found = index.search(queries, 10)
    return _percentiles("single", single), _percentiles("batched", batched), found


def _measure_bm25(size: int, corpus: Path, work: Path) -> dict:
    import bm25s

    from qa.text import index_terms
    from synth_corpus import passage_terms

    terms = passage_terms(corpus)[:size]
    started = time.perf_counter()
    bm25 = bm25s.BM25()
    bm25.index(terms, show_progress=False)
    build = time.perf_counter() - started
    del terms
    bm25.save(str(work / "bm25s"), show_progress=False)
    size_mb = sum(p.stat().st_size for p in (work / "bm25s").iterdir()) / 2**20
    questions = [index_terms(q) for q in json.loads((corpus / "queries.json").read_text())]
    single = []
    for _ in range(ROUNDS):
        for q in questions:
            started = time.perf_counter()
            scores = bm25.get_scores(q)
            np.argpartition(-scores, 10)[:10]
            single.append((time.perf_counter() - started) * 1000)
    return {"variant": "bm25s", "rows": size, "build_s": round(build, 1), "size_mb": round(size_mb, 1), "param": "",
            **_percentiles("single", single), "peak_rss_mb": _peak_rss_mb()}


def _peak_rss_mb() -> int:
    from qa.bench import peak_rss_mb

    return round(peak_rss_mb())


def _percentiles(name: str, samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {f"{name}_p50_ms": round(ordered[len(ordered) // 2], 3),
            f"{name}_p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 3)}


COLUMNS = ("rows", "variant", "param", "build_s", "size_mb", "peak_rss_mb", "single_p50_ms", "single_p95_ms",
           "batched_p50_ms", "batched_p95_ms", "recall@10")


def _format(row: dict) -> str:
    return " | ".join(str(row.get(c, "-")) for c in COLUMNS)


def _table(results: list[dict]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + _format(row) + " |" for row in results]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
