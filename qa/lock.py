"""One build at a time per index folder: an exclusive lock beside it that names its holder.

The lock is an advisory ``flock`` on ``.<index name>.lock`` next to the index folder (the folder itself is
swapped, so it cannot hold the lock). The kernel drops it when the holder exits, however it exits, so a
killed build never leaves a stale lock; the file's text only says who holds it now.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path


class IndexBusy(Exception):
    """Another process is building this index; the message names it."""


@contextmanager
def build_lock(index_dir: Path):
    """Hold the build lock of ``index_dir`` for the ``with`` block; raises IndexBusy if another process has it."""
    path = index_dir.parent / f".{index_dir.name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            raise IndexBusy(f"Another build is writing {index_dir} ({_holder(handle.read())}); wait for it to "
                            f"finish, or stop that process, then run `qa build` again.") from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "command": " ".join(sys.argv),
                                 "since": datetime.now(timezone.utc).isoformat(timespec="seconds")}))
        handle.flush()
        try:
            yield
        finally:
            handle.truncate(0)
            fcntl.flock(handle, fcntl.LOCK_UN)


def _holder(text: str) -> str:
    try:
        holder = json.loads(text)
        return f"pid {holder['pid']} on {holder['host']}, `{holder['command']}`, since {holder['since']}"
    except (ValueError, KeyError, TypeError):
        return "a process that has not yet said who it is"
