"""Any fsspec file system as storage (GCS, Azure, …): plain reads, writes, listings and deletes.

This serves the site on any store fsspec supports. It has no conditional writes: those need the store's own
precondition headers, which fsspec does not abstract (see tasks/storage/s3.py for S3). Listing caches are
off, so a listing always shows what other processes wrote.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tasks.storage.base import Storage, StorageUnsupported, join


class FsspecStorage(Storage):
    def __init__(self, url: str, fs: Any, root: str) -> None:
        self.url = url  # scheme://bucket/prefix as given (no trailing slash)
        self.fs = fs
        self.root = root.rstrip("/")  # the fsspec path of the root: bucket/prefix

    def child(self, prefix: str) -> FsspecStorage:
        if not prefix.strip("/"):
            return self
        return type(self)(f"{self.url.rstrip('/')}/{prefix.strip('/')}", self.fs, join(self.root, prefix))

    def _path(self, key: str) -> str:
        if any(part in (".", "..") for part in key.strip("/").split("/")):
            raise ValueError(f"not a storage key: {key!r}")
        return join(self.root, key)

    def _key(self, path: str) -> str:
        return path.removeprefix(self.root).strip("/")

    def read(self, key: str) -> bytes:
        return self.fs.cat_file(self._path(key))

    def read_many(self, keys: Iterable[str]) -> dict[str, bytes]:
        paths = {self._path(k): k for k in keys}
        if not paths:
            return {}
        found = self.fs.cat(list(paths), on_error="return")
        out = {}
        for path, value in found.items():
            if isinstance(value, FileNotFoundError):
                continue
            if isinstance(value, BaseException):
                raise value
            out[paths.get(path) or paths[self.fs._strip_protocol(path)]] = value
        return out

    def write(self, key: str, data: bytes, *, content_type: str | None = None, durable: bool = False) -> None:
        self.fs.pipe_file(self._path(key), data)

    def exists(self, key: str) -> bool:
        return bool(self.fs.isfile(self._path(key)))

    def list(self, prefix: str = "", *, recursive: bool = False) -> list[str]:
        folder = self._path(prefix) if prefix.strip("/") else self.root
        try:
            paths = self.fs.find(folder) if recursive else self.fs.ls(folder, detail=True)
        except FileNotFoundError:
            return []
        if not recursive:
            paths = [p["name"] for p in paths if p.get("type") == "file"]
        keys = [self._key(p) for p in paths]
        return sorted(k for k in keys if k and not any(part.startswith(".") for part in k.split("/")))

    def delete(self, key: str) -> bool:
        try:
            self.fs.rm_file(self._path(key))
        except FileNotFoundError:
            return False
        return True

    def read_versioned(self, key: str) -> tuple[bytes, str] | None:
        raise self._unsupported()

    def create(self, key: str, data: bytes, *, content_type: str | None = None) -> str | None:
        raise self._unsupported()

    def replace(self, key: str, data: bytes, version: str, *, content_type: str | None = None) -> str | None:
        raise self._unsupported()

    def _unsupported(self) -> StorageUnsupported:
        scheme = self.url.split("://", 1)[0]
        return StorageUnsupported(f"{scheme}:// has no conditional writes in hfdaily (only local paths and s3://)")

    def describe(self, key: str = "") -> str:
        return f"{self.url.rstrip('/')}/{key.strip('/')}" if key.strip("/") else self.url
