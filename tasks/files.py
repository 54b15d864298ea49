"""Local files: the one atomic writer, behind the local store (tasks/storage/local.py).

A reader never sees half a file: bytes go to a temporary file in the same folder, which then replaces the
target in one rename. `durable` adds an fsync before the rename, for the source of truth (day files, leases);
derived data (cache entries, pages) skips it, since syncing hundreds of pages costs more than rendering them.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, content: str | bytes, *, durable: bool = False) -> Path:
    """Replace `path` with `content` in one step; raises OSError and leaves no temporary file behind."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path
