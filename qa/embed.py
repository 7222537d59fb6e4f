"""Embed: texts -> normalised float32 vectors, the same function for the build (in-process or on Ray Data)
and for queries (cached, and batched across concurrent requests).

``embed_texts(model, texts)`` is the one embedding step. ``embed_on_ray`` runs it under Ray Data
(``map_batches``) so that a cluster can embed a corpus far larger than one machine's; it hands each
Ray task the same chunks of ``EMBED_CHUNK_ROWS`` texts that the in-process path embeds, so both give
the same vectors. ``QueryEncoder`` serves queries: an LRU cache, and callers arriving while the model
is busy are embedded together in the next call.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np

# Texts per model call in the build: sentence-transformers' batching happens inside it. Both build paths
# embed the same chunks, so they give the same vectors; the two papers' collections (at most 1,609 texts,
# the vocabulary) fit in one chunk, as they did before chunking.
EMBED_CHUNK_ROWS = 4096
# Texts per forward pass in the build (what the index was always built with).
BUILD_BATCH_SIZE = 64
# Query embeddings kept: a question is at most a few texts of 384 floats, so 4096 entries is ~6 MB.
QUERY_CACHE_ENTRIES = 4096
# Threads of the query encoder's model thread (torch's, or onnxruntime's intra-op threads). One: with two, every
# operator of the forward pass waits at an OpenMP barrier for the second core, which any other busy thread (a
# request's Python, the HTTP loop, another process) holds for a scheduler slice: measured on the 2-core machine
# with another process busy, a question's embedding took 587 ms on 2 torch threads against 15.8 ms on 1 (4
# questions in one call: 645 against 32 ms). On an idle machine 2 threads are faster alone (6.2 against 8.5 ms)
# but leave no core for the rest of a request.
QUERY_THREADS = 1
# Texts per forward pass when the query encoder embeds what is waiting. The texts are sorted by length and each
# pass pads to its longest, so one pass for all of them pays a question's length for every short unknown word
# (the 94 questions embed 146 texts, 2-5 for a question with such words). Measured on the ONNX encoder (1 thread,
# the 94 questions' texts, medians of 5 rounds, ms a question): 4 questions a call (max_active_requests at work)
# 7.5 in passes of 4 against 8.6 in one pass; 16 a call 6.6 against 10.0; 1 a call 8.5 against 8.7 (7.6 in
# passes of 1, 8.1 of 2: each pass has a fixed cost).
QUERY_BATCH_TEXTS = 4
# A text less than this share of the length (in characters) of its pass's longest text starts a pass of its own:
# a question's unknown words (1-3 tokens) padded to the question's length cost as much as the question. On the
# 94 questions (each with one more unknown word, 247 texts; one call a question, ONNX, 1 thread, 2-3 rounds):
# ms a question p50 / p95 12.4-13.4 / 21.9-23.5 in passes of 4 by order, 9.4-10.7 / 13.1-15.1 at 0.5, 9.8-10.1
# / 13.7-15.1 at 0.33, 10.8-10.9 / 15.9-16.9 at 0.67, 11.4-13.9 / 19.7-21.7 at 0.8; vectors within 5e-8.
PASS_LENGTH_SHARE = 0.5


def embed_texts(model, texts: list[str], progress: bool = False) -> np.ndarray:
    """Normalised embeddings of ``texts`` (float32, one row each), in chunks of EMBED_CHUNK_ROWS."""
    chunks = [_encode(model, texts[i:i + EMBED_CHUNK_ROWS], BUILD_BATCH_SIZE, progress)
              for i in range(0, len(texts), EMBED_CHUNK_ROWS)]
    if not chunks:
        return np.empty((0, model.get_sentence_embedding_dimension()), dtype="float32")
    return np.concatenate(chunks)


def _encode(model, texts: list[str], batch_size: int, progress: bool = False) -> np.ndarray:
    return np.asarray(model.encode(texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=progress,
                                   convert_to_numpy=True), dtype="float32")


class RayEmbedder:
    """The Ray Data worker: loads the model once per actor, then embeds whole chunks with ``embed_texts``."""

    def __init__(self, model_path: str, torch_threads: int):
        import torch

        from qa.index import load_model

        # Ray pins its workers to one thread unless told otherwise; the driver's count keeps the arithmetic
        # (and so the vectors) the same as the in-process path's.
        torch.set_num_threads(torch_threads)
        self.model = load_model(model_path)

    def __call__(self, batch: dict) -> dict:
        return {"row": batch["row"], "vector": embed_texts(self.model, [str(t) for t in batch["text"]])}


def embed_on_ray(model_path: str, texts: list[str], address: str = "local") -> np.ndarray:
    """``embed_texts`` of ``texts`` run as Ray Data ``map_batches`` over model-holding workers, one per
    ``torch.get_num_threads()`` CPUs of the cluster.

    ``address`` is a Ray cluster ("auto", "ray://host:10001") or "local" for a Ray started here.
    """
    import ray
    import torch

    if not ray.is_initialized():
        ray.init(address=None if address == "local" else address, include_dashboard=False,
                 log_to_driver=False, configure_logging=False)
    actors = max(1, int(ray.cluster_resources().get("CPU", 1)) // torch.get_num_threads())
    dataset = ray.data.from_items([{"row": i, "text": t} for i, t in enumerate(texts)],
                                  override_num_blocks=max(1, -(-len(texts) // EMBED_CHUNK_ROWS)))
    embedded = dataset.map_batches(RayEmbedder, fn_constructor_kwargs={"model_path": model_path,
                                                                       "torch_threads": torch.get_num_threads()},
                                   batch_size=EMBED_CHUNK_ROWS, concurrency=actors, batch_format="numpy")
    rows, vectors = [], []
    for batch in embedded.iter_batches(batch_size=None, batch_format="numpy"):
        rows.append(batch["row"])
        vectors.append(batch["vector"])
    order = np.argsort(np.concatenate(rows), kind="stable")
    return np.concatenate(vectors).astype("float32")[order]


# A sentence-transformers folder whose modules are these (MiniLM's, and most sentence encoders') can be run
# with transformers alone: sentence-transformers' import pulls scikit-learn, pandas and pyarrow, about 100 MB
# of a serving process's memory.
MEAN_POOLING_MODULES = ["sentence_transformers.models.Transformer", "sentence_transformers.models.Pooling",
                        "sentence_transformers.models.Normalize"]


class MeanPoolingEncoder:
    """A Transformer -> mean Pooling -> Normalize sentence-transformers folder, run with transformers alone.

    ``encode`` takes the arguments of sentence-transformers' ``encode`` that ``_encode`` passes and computes
    what it computes (texts sorted longest first, batches of ``batch_size``, the attention-masked mean of the
    token embeddings, normalised by the Normalize module and again for ``normalize_embeddings``), so the
    vectors are the same bit for bit (``tests/test_embed.py``).
    """

    def __init__(self, model_path: str):
        from transformers import AutoModel

        self._load_tokenizer(model_path)
        self.model = AutoModel.from_pretrained(model_path).eval()
        self.dimension = self.model.config.hidden_size

    tensor_type = "pt"  # what the tokenizer returns for ``_vectors``

    def _load_tokenizer(self, model_path: str) -> None:
        from transformers import AutoTokenizer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()
        self.max_seq_length = json.loads((Path(model_path) / "sentence_bert_config.json").read_text())["max_seq_length"]
        self.tokenizer = AutoTokenizer.from_pretrained(model_path)

    @staticmethod
    def fits(model_path: str) -> bool:
        """Is the folder a Transformer -> mean Pooling -> Normalize model?"""
        root = Path(model_path)
        try:
            modules = json.loads((root / "modules.json").read_text())
            pooling = json.loads((root / modules[1]["path"] / "config.json").read_text())
        except (OSError, ValueError, IndexError, KeyError):
            return False
        modes = [key for key, on in pooling.items() if key.startswith("pooling_mode") and on]
        return [m["type"] for m in modules] == MEAN_POOLING_MODULES and modes == ["pooling_mode_mean_tokens"]

    def encode(self, texts: list[str], batch_size: int = 32, normalize_embeddings: bool = False, **_) -> np.ndarray:
        order = np.argsort([-len(t) for t in texts])
        out = np.empty((len(texts), self.dimension), dtype="float32")
        for start in range(0, len(texts), batch_size):
            rows = order[start:start + batch_size]
            features = self.tokenizer([texts[i] for i in rows], padding=True, truncation="longest_first",
                                      max_length=self.max_seq_length, return_tensors=self.tensor_type)
            out[rows] = self._vectors(features, normalize_embeddings)
        return out

    def _vectors(self, features, normalize_embeddings: bool) -> np.ndarray:
        """One batch's vectors: the Normalize module's output, normalised again for ``normalize_embeddings``."""
        import torch
        import torch.nn.functional as F

        with torch.inference_mode():
            tokens = self.model(**features).last_hidden_state
            vectors = mean_pooled(tokens, features["attention_mask"])
            return (F.normalize(vectors, p=2, dim=1) if normalize_embeddings else vectors).numpy()


def mean_pooled(tokens, attention_mask):
    """Pooling then Normalize of a sentence-transformers mean-pooling model: the attention-masked mean of the token
    embeddings, L2-normalised (torch tensors; also what the exported ONNX graph computes)."""
    import torch
    import torch.nn.functional as F

    mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
    mean = (tokens * mask).sum(dim=1, dtype=tokens.dtype) / torch.clamp(mask.sum(dim=1, dtype=tokens.dtype), min=1e-9)
    return F.normalize(mean, p=2, dim=-1)


class QueryEncoder:
    """Query texts -> vectors for a serving process.

    ``encode(texts)`` returns the embeddings of the texts one question embeds together (its question and,
    for a follow-up, the turn it leans on), from an LRU cache keyed by those texts when it can. Otherwise
    the texts wait for the encoder's one model thread, which embeds everything waiting in a single model
    call: no timer, so a lone request never waits, and under load the batches grow with the queue. One
    thread also means the model's per-thread buffers exist once, not once per request thread; it runs the model on
    QUERY_THREADS, leaving the other core to the rest of the requests, in forward passes of at most
    QUERY_BATCH_TEXTS texts of like length (``_passes``): a question and its one-word unknown terms go in
    passes of their own, each pass the model's ``encode`` of its texts.
    """

    def __init__(self, model, cache_entries: int = QUERY_CACHE_ENTRIES):
        self.model = model
        self.cache_entries = cache_entries
        self._cache: OrderedDict[tuple[str, ...], np.ndarray] = OrderedDict()
        self._waiting: dict[tuple[str, ...], Future] = {}
        self._ready = threading.Condition()
        self._thread: threading.Thread | None = None
        self._side: ThreadPoolExecutor | None = None
        self.calls = 0  # model calls made (what batching saves)

    def encode(self, texts: tuple[str, ...]) -> np.ndarray:
        with self._ready:
            if texts in self._cache:
                self._cache.move_to_end(texts)
                return self._cache[texts]
            future = self._waiting.get(texts)
            if future is None:
                future = self._waiting[texts] = Future()
                self._ready.notify()
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="query-encoder", daemon=True)
                self._thread.start()
        return future.result()

    def _serve(self) -> None:
        if not getattr(self.model, "own_threads", False):
            import torch

            torch.set_num_threads(QUERY_THREADS)  # this thread's forward passes (see QUERY_THREADS)
        while True:
            with self._ready:
                while not self._waiting:
                    self._ready.wait()
                batch, self._waiting = self._waiting, {}
            try:
                vectors = self._embed(list(batch))
            except Exception as exc:
                for future in batch.values():
                    future.set_exception(exc)
                continue
            with self._ready:
                for texts, matrix in zip(batch, vectors):
                    matrix.flags.writeable = False
                    self._cache[texts] = matrix
                while len(self._cache) > self.cache_entries:
                    self._cache.popitem(last=False)
            for texts, matrix in zip(batch, vectors):
                batch[texts].set_result(matrix)

    def _embed(self, groups: list[tuple[str, ...]]) -> list[np.ndarray]:
        """Every group's texts embedded in passes of like length (see PASS_LENGTH_SHARE), split back per group."""
        self.calls += 1
        flat = [text for group in groups for text in group]
        passes = _passes(flat)

        def encode(rows: list[int]) -> np.ndarray:
            return _encode(self.model, [flat[i] for i in rows], batch_size=len(rows))

        if len(groups) == 1 and len(passes) > 1:
            # A lone question's unknown words are embedded on a second thread while its own pass runs, on the core
            # QUERY_THREADS leaves: measured with qa bench, three runs each, /api/ask p95 13.4-15.9 ms against
            # 15.9-19.5 without, p99 19.6-21.7 against 25.2-33.5. Under load the batch holds several questions
            # and its passes stay on this thread, leaving that core to the requests.
            if self._side is None:
                self._side = ThreadPoolExecutor(max_workers=1, thread_name_prefix="query-encoder-side")
            words = self._side.submit(lambda: [encode(rows) for rows in passes[1:]])
            vectors = [encode(passes[0])] + words.result()
        else:
            vectors = [encode(rows) for rows in passes]
        matrix = np.empty((len(flat), vectors[0].shape[1]), dtype="float32")
        for rows, part in zip(passes, vectors):
            matrix[rows] = part
        bounds = np.cumsum([0] + [len(group) for group in groups])
        return [matrix[start:stop] for start, stop in zip(bounds[:-1], bounds[1:])]


def _passes(texts: list[str]) -> list[list[int]]:
    """The positions of ``texts``, longest first, cut into forward passes of at most QUERY_BATCH_TEXTS texts
    of like length (a text shorter than PASS_LENGTH_SHARE of its pass's first starts the next pass)."""
    passes: list[list[int]] = []
    for i in sorted(range(len(texts)), key=lambda i: -len(texts[i])):
        if (not passes or len(passes[-1]) == QUERY_BATCH_TEXTS
                or len(texts[i]) < PASS_LENGTH_SHARE * len(texts[passes[-1][0]])):
            passes.append([])
        passes[-1].append(i)
    return passes
