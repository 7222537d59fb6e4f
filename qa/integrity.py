"""An index folder that is whole or not there: checksums of its files, and an atomic swap into place.

``file_records`` lists every file of a freshly written folder with its size and sha256, for the manifest;
``damage`` says which file no longer matches (truncated, altered, missing). ``swap_into_place`` puts a
finished folder where the old one was in one step, so a build killed at any moment leaves either the old
index or the new one, never a mix or nothing.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import os
import shutil
from pathlib import Path

MANIFEST = "manifest.json"
# Checksums already worked out, by file identity and state (device, inode, size, modification and change
# times in ns): a serving process checks its index and corpus every few seconds, and rehashing a
# million-passage index (gigabytes) each time kept a core busy. Writing a file changes its times.
_CHECKSUMS: dict[tuple, str] = {}
_RENAME_EXCHANGE = 2  # linux/fs.h: atomically exchange two paths
_AT_FDCWD = -100


def file_records(folder: Path) -> dict[str, dict]:
    """``{relative path: {"bytes", "sha256"}}`` of every file under ``folder`` except the manifest."""
    return {str(path.relative_to(folder)): {"bytes": path.stat().st_size, "sha256": checksum(path)}
            for path in sorted(folder.rglob("*")) if path.is_file() and path.name != MANIFEST}


def damage(folder: Path, records: dict[str, dict]) -> str | None:
    """Why the files under ``folder`` differ from ``records`` (None: every one is as written)."""
    for name, record in records.items():
        path = folder / name
        if not path.is_file():
            return f"{name} is missing"
        size = path.stat().st_size
        if size != record["bytes"]:
            return f"{name} is {size:,} bytes, not the {record['bytes']:,} it was written with (truncated or altered)"
        if checksum(path) != record["sha256"]:
            return f"{name} does not match its checksum (altered or corrupt)"
    return None


def swap_into_place(new: Path, target: Path) -> None:
    """Make ``new`` the folder at ``target`` in one step and delete the old one, if any.

    On Linux both folders are exchanged by one renameat2(RENAME_EXCHANGE). Where that is missing (macOS), the
    old folder is moved aside and the new one renamed in: a process killed between those two renames leaves
    the old index at ``.<name>.previous`` and none at ``target``, which the next start rebuilds.
    """
    if not target.exists():
        os.rename(new, target)
        return
    if _exchange(new, target):
        shutil.rmtree(new)  # it now holds the old index
        return
    aside = target.parent / f".{target.name}.previous"
    os.rename(target, aside)
    os.rename(new, target)
    shutil.rmtree(aside)


def _exchange(a: Path, b: Path) -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False  # the file system or kernel cannot exchange: fall back to two renames
    raise OSError(code, os.strerror(code), str(b))


def checksum(path: Path) -> str:
    """sha256 of the file at ``path``, worked out again only when the file changed since the last time."""
    state = path.stat()
    key = (state.st_dev, state.st_ino, state.st_size, state.st_mtime_ns, state.st_ctime_ns)
    if key not in _CHECKSUMS:
        _CHECKSUMS[key] = _sha256(path)
    return _CHECKSUMS[key]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
