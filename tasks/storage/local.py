"""A local folder as storage: today's files, written by the one atomic writer (tasks/files.py).

Plain reads and writes are direct file operations, so rendering and the day store keep their local speed.
The conditional writes take a short `flock` on a hidden lock file beside the object (held for one
read-compare-rename, milliseconds), which is enough on one machine or a shared disk with working locks; the
version is a digest of the content, so it changes exactly when the bytes do.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from tasks.files import write_atomic
from tasks.storage.base import Storage


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


class LocalStorage(Storage):
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.url = str(root)

    def child(self, prefix: str) -> LocalStorage:
        return LocalStorage(self.root / prefix) if prefix.strip("/") else self

    def _path(self, key: str) -> Path:
        key = key.strip("/")
        if not key:
            return self.root
        if any(part in ("", ".", "..") for part in key.split("/")):
            raise ValueError(f"not a storage key: {key!r}")
        return self.root / key

    def read(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def write(self, key: str, data: bytes, *, content_type: str | None = None, durable: bool = False) -> None:
        write_atomic(self._path(key), data, durable=durable)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str = "", *, recursive: bool = False) -> list[str]:
        folder = self._path(prefix) if prefix.strip("/") else self.root
        parts = folder.relative_to(self.root).parts
        if any(part.startswith(".") for part in parts):
            return []
        keys: list[str] = []
        # os.scandir, not pathlib: a site's img/ holds a picture per paper of the archive, and a whole-site
        # render lists it and the data dir's; the entries' types come with the listing, no stat() per file.
        self._scan(str(folder), "/".join(parts), recursive, keys)
        return sorted(keys)

    def _scan(self, folder: str, rel: str, recursive: bool, keys: list[str]) -> None:
        try:
            entries = os.scandir(folder)
        except (FileNotFoundError, NotADirectoryError):
            return
        with entries:
            for entry in entries:
                if entry.name.startswith("."):  # lock files and temporary writes
                    continue
                key = f"{rel}/{entry.name}" if rel else entry.name
                if entry.is_file():
                    keys.append(key)
                elif recursive and entry.is_dir(follow_symlinks=False):
                    self._scan(entry.path, key, recursive, keys)

    def delete(self, key: str) -> bool:
        path = self._path(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        # A bucket has no empty folders; neither should the local store (a month's search bundle that is gone
        # leaves no folder behind). rmdir only removes empty ones, and a racing writer recreates its own.
        for parent in path.parents:
            if parent == self.root or self.root not in parent.parents:
                break
            try:
                parent.rmdir()
            except OSError:
                break
        return True

    def read_versioned(self, key: str) -> tuple[bytes, str] | None:
        try:
            data = self._path(key).read_bytes()
        except FileNotFoundError:
            return None
        return data, digest(data)

    def create(self, key: str, data: bytes, *, content_type: str | None = None) -> str | None:
        path = self._path(key)
        with _key_lock(path):
            if path.exists():
                return None
            write_atomic(path, data, durable=True)
        return digest(data)

    def replace(self, key: str, data: bytes, version: str, *, content_type: str | None = None) -> str | None:
        path = self._path(key)
        with _key_lock(path):
            try:
                current = path.read_bytes()
            except FileNotFoundError:
                return None
            if digest(current) != version:
                return None
            write_atomic(path, data, durable=True)
        return digest(data)

    def describe(self, key: str = "") -> str:
        return str(self._path(key)) if key else str(self.root)

    def link(self, key: str) -> str:
        return self._path(key).resolve().as_uri()

    def local_path(self, key: str = "") -> Path:
        return self._path(key)


@contextlib.contextmanager
def _key_lock(path: Path) -> Iterator[None]:
    """Exclusive for one conditional write of `path`; the OS frees it if the holder dies."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / f".{path.name}.lock", "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield

