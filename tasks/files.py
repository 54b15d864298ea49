"""Local files: the one atomic writer (day store, answer cache, site) and the cross-process lock.

A reader never sees half a file: bytes go to a temporary file in the same folder, which then replaces the
target in one rename. `durable` adds an fsync before the rename, for the source of truth (day files); derived
data (cache entries, pages) skips it, since syncing hundreds of pages costs more than rendering them.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import time
from collections.abc import Callable, Iterator
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


class LockTimeout(Exception):
    """The lock stayed taken for longer than the caller would wait."""


@contextlib.contextmanager
def file_lock(path: Path, *, timeout: float, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """An exclusive `flock` on `path` across processes; the OS frees it the moment its holder dies.

    `on_wait` is called once, when the lock is found taken, so the caller can say what it waits for.
    Raises OSError when the lock file cannot be created, LockTimeout after `timeout` seconds of waiting.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = open(path, "a+b")  # noqa: SIM115 - held for the whole block
    deadline = time.monotonic() + timeout
    told = False
    try:
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not told and on_wait is not None:
                    on_wait()
                    told = True
                if time.monotonic() > deadline:
                    raise LockTimeout(f"{path} stayed locked for more than {timeout:.0f} s") from None
                time.sleep(0.2)
        yield
    finally:
        fh.close()  # closing releases the lock
