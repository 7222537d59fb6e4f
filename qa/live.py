"""The index a running service answers from, replaced by a rebuilt one without dropping a request.

Every ``check_interval_s`` (looked at when a request asks for the pipeline, never more often) the manifest on
disk is compared with the one being served. When ``qa build`` has swapped in a new index that is whole and
matches the corpus and model, it is loaded and warmed in a background thread while requests go on being
answered from the old one; then one assignment switches them over. A damaged or stale index on disk is never
loaded: the old one keeps serving and ``status()`` says why the service is not current.
"""

from __future__ import annotations

import json
import logging
import threading
import time

from qa.answer import Pipeline
from qa.index import MANIFEST, Index, IndexUnavailable, load_index, stale_reason
from qa.settings import Settings

log = logging.getLogger("qa.service")


class LiveIndex:
    """``pipeline`` and ``index``: the ones to answer this request from."""

    def __init__(self, settings: Settings, index: Index):
        self.settings = settings
        self.pipeline = Pipeline(index)
        self.pipeline.warm_up()
        self.reason: str | None = None  # why the index on disk is not the one served (None: it is)
        self._checked = time.monotonic()
        self._checking = threading.Lock()

    @property
    def index(self) -> Index:
        return self.pipeline.index

    def current(self) -> Pipeline:
        """The pipeline to answer from; starts a check for a rebuilt index when one is due."""
        if time.monotonic() - self._checked >= self.settings.index_check_interval_s and self._checking.acquire(False):
            self._checked = time.monotonic()
            threading.Thread(target=self._check, name="index-check", daemon=True).start()
        return self.pipeline

    def status(self) -> dict:
        """For /api/health: the served index, and whether it is the current one on disk."""
        manifest = self.index.manifest  # one read: a switch in between cannot mix two indexes' figures
        return {"loaded": True, "current": self.reason is None, "reason": self.reason,
                "built_at": manifest["built_at"], "passages": manifest["passages"], "units": manifest["units"],
                "model": manifest["model"], "documents": manifest["documents"]}

    def _check(self) -> None:
        try:
            self._refresh()
        finally:
            self._checking.release()

    def _refresh(self) -> None:
        reason = stale_reason(self.settings)
        if reason is None and self._on_disk() != self.index.manifest:
            try:
                index = load_index(self.settings)
                pipeline = Pipeline(index)
                pipeline.warm_up()  # before the switch, so no request waits for it
            except IndexUnavailable as exc:
                reason = str(exc)
            else:
                self.pipeline = pipeline
                log.info("switched to a rebuilt index", extra={"event": "index_reloaded",
                                                                "built_at": index.manifest["built_at"]})
        if reason and reason != self.reason:
            log.warning("the index on disk is not served: %s", reason, extra={"event": "index_not_current"})
        self.reason = reason

    def _on_disk(self) -> dict | None:
        try:
            return json.loads((self.settings.index_dir / MANIFEST).read_text())
        except (OSError, ValueError):
            return None
