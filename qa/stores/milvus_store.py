"""The Milvus store, through ``pymilvus.MilvusClient``: Milvus Lite for a local ``.db`` file, a Standalone
server or a Distributed cluster for an ``http://host:19530`` URI; one code path for all three.

Each collection of the index is one Milvus collection, ``<prefix>_<collection>``, with fields
``pos`` (the row's position, primary key), ``doc``, ``terms`` (the BM25 terms, space-joined; Milvus's
BM25 function turns them into the sparse vector ``sparse`` itself) and ``dense`` (HNSW, inner product).
Fused top-k is Milvus's ``hybrid_search`` with its RRF ranker.

Milvus's own behaviour handled here: rows are flushed after the bulk insert (otherwise Lite searches
unindexed segments by brute force); Lite holds a lock on its folder until its in-process server is
stopped (``close``); Lite reports BM25 scores negated (the server reports them positive),
so lexical scores are returned as magnitudes and only their order is relied on above; Lite keeps BM25
statistics per segment, which is why everything is inserted before one flush.
"""

from __future__ import annotations

import json

import numpy as np

from qa.store import RRF_K, Ranked, Rows

# bm25s's defaults (k1 1.5, b 0.75), so both stores rank with the same formula.
BM25_K1 = 1.5
BM25_B = 0.75
# HNSW graph degree and build depth (Milvus's documented defaults for recall near 1 at this size).
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 200
# Search depth floor; a search for k rows searches at least k deep.
HNSW_EF = 64
# Milvus's largest allowed top-k.
MAX_TOP_K = 16_384
# Rows per insert call (Milvus caps one gRPC message at 64 MB; 1000 rows of 384 floats is ~2 MB).
INSERT_ROWS = 1000


class MilvusStore:
    """Collections in Milvus (see the module docstring)."""

    kind = "milvus"

    def __init__(self, uri: str, collection_prefix: str):
        from pymilvus import MilvusClient

        self.uri = uri
        self.prefix = collection_prefix
        self.client = MilvusClient(uri)
        self._counts: dict[str, int] = {}

    def write(self, collection: str, rows: Rows) -> None:
        name = self._name(collection)
        if self.client.has_collection(name):
            self.client.drop_collection(name)
        self.client.create_collection(name, schema=self._schema(rows.vectors.shape[1]),
                                      index_params=self._index_params())
        for start in range(0, len(rows.docs), INSERT_ROWS):
            stop = start + INSERT_ROWS
            self.client.insert(name, [
                {"pos": start + i, "doc": doc, "terms": " ".join(terms), "dense": vector}
                for i, (doc, terms, vector) in enumerate(zip(rows.docs[start:stop], rows.terms[start:stop],
                                                              rows.vectors[start:stop].tolist()))])
        self.client.flush(name)
        self._counts[collection] = len(rows.docs)

    def count(self, collection: str) -> int:
        if collection not in self._counts:
            name = self._name(collection)
            self.client.load_collection(name)
            self._counts[collection] = int(self.client.get_collection_stats(name)["row_count"])
        return self._counts[collection]

    def dense(self, collection: str, vectors: np.ndarray, k: int, doc: str | None = None) -> list[Ranked]:
        k = min(k, self.count(collection), MAX_TOP_K)
        results = self.client.search(self._name(collection), data=[v.tolist() for v in vectors], anns_field="dense",
                                     limit=k, filter=_doc_filter(doc), output_fields=["pos"],
                                     search_params={"metric_type": "IP", "params": {"ef": max(HNSW_EF, k)}})
        return [_ranked(hits) for hits in results]

    def lexical(self, collection: str, terms: list[str], k: int, doc: str | None = None) -> Ranked:
        if not terms:
            return Ranked.empty()
        k = min(k, self.count(collection), MAX_TOP_K)
        results = self.client.search(self._name(collection), data=[" ".join(terms)], anns_field="sparse",
                                     limit=k, filter=_doc_filter(doc), output_fields=["pos"],
                                     search_params={"metric_type": "BM25"})
        ranked = _ranked(results[0])
        # Lite negates BM25 scores, the server does not: the magnitude is the score either way.
        return Ranked(ranked.positions, np.abs(ranked.scores))

    def fused(self, collection: str, vector: np.ndarray, terms: list[str], k: int,
              doc: str | None = None) -> Ranked:
        from pymilvus import AnnSearchRequest, RRFRanker

        k = min(k, self.count(collection), MAX_TOP_K)
        requests = [AnnSearchRequest([vector.tolist()], "dense", {"metric_type": "IP", "params": {"ef": max(HNSW_EF, k)}},
                                     k, expr=_doc_filter(doc) or None)]
        if terms:
            requests.append(AnnSearchRequest([" ".join(terms)], "sparse", {"metric_type": "BM25"}, k,
                                             expr=_doc_filter(doc) or None))
        results = self.client.hybrid_search(self._name(collection), requests, RRFRanker(RRF_K), limit=k,
                                            output_fields=["pos"])
        return _ranked(results[0])

    def describe(self) -> dict:
        return {"kind": self.kind, "uri": self.uri, "prefix": self.prefix,
                "dense": {"type": "HNSW", "M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION},
                "lexical": {"type": "SPARSE_INVERTED_INDEX", "bm25_k1": BM25_K1, "bm25_b": BM25_B}}

    def load(self) -> "MilvusStore":
        """Load the collections into memory now, so that no request pays for it."""
        for name in self.client.list_collections():
            if name.startswith(self.prefix + "_"):
                self.count(name.removeprefix(self.prefix + "_"))
        return self

    def close(self) -> None:
        self.client.close()
        if self.uri.endswith(".db"):
            # Milvus Lite serves a .db folder from a thread of this process until told to stop, holding
            # its lock: stop it, so that the folder can be moved (the build's atomic rename) and reopened.
            from milvus_lite.server_manager import server_manager_instance

            server_manager_instance.release_server(self.uri)

    def _name(self, collection: str) -> str:
        return f"{self.prefix}_{collection}"

    def _schema(self, dimension: int):
        from pymilvus import DataType, Function, FunctionType

        schema = self.client.create_schema(auto_id=False)
        schema.add_field("pos", DataType.INT64, is_primary=True)
        schema.add_field("doc", DataType.VARCHAR, max_length=256)
        # The terms are already analysed (qa.text.index_terms); the standard tokenizer only splits them.
        schema.add_field("terms", DataType.VARCHAR, max_length=65_535, enable_analyzer=True,
                         analyzer_params={"tokenizer": "standard"})
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dimension)
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(Function(name="terms_bm25", function_type=FunctionType.BM25,
                                     input_field_names=["terms"], output_field_names=["sparse"]))
        return schema

    def _index_params(self):
        params = self.client.prepare_index_params()
        params.add_index(field_name="dense", index_type="HNSW", metric_type="IP",
                         params={"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION})
        params.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                         params={"bm25_k1": BM25_K1, "bm25_b": BM25_B})
        return params


def _doc_filter(doc: str | None) -> str:
    return "" if doc is None else f"doc == {json.dumps(doc)}"


def _ranked(hits) -> Ranked:
    return Ranked(np.array([hit["pos"] for hit in hits], dtype="int64"),
                  np.array([hit["distance"] for hit in hits], dtype="float32"))
