"""The storage interface: keys under a root, whole-object reads and writes, and two conditional writes.

Keys are '/'-separated paths relative to the root (`days/2025-01-20.json`). Every write replaces the whole
object in one step, so a reader never sees half of it. The conditional writes are what keeps concurrent runs
apart without a shared POSIX file system:

- `create` writes only if nothing is there (S3 `If-None-Match: *`; locally a short lock and a rename);
- `replace` writes only if the object is still the version the caller read (S3 `If-Match: <ETag>`).

A version is an opaque token that changes whenever the content changes (the ETag on S3, a content digest
locally). Two writes of identical bytes may share a version, which is harmless: the state is the same.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Iterable
from pathlib import Path

from tasks.errors import HfDailyError


class StorageUnsupported(HfDailyError):
    """The location cannot serve what was asked (a conditional write on a store that has none)."""


class Storage(ABC):
    """A root (local folder or URL) under which objects are read and written by key."""

    url: str  # the root, as given (a path or a URL): for messages and links

    @abstractmethod
    def child(self, prefix: str) -> Storage:
        """The same store rooted at `prefix` below this root."""

    # -- plain reads and writes -------------------------------------------------------------------

    @abstractmethod
    def read(self, key: str) -> bytes:
        """The object's bytes; FileNotFoundError when absent, OSError when unreadable."""

    def read_many(self, keys: Iterable[str]) -> dict[str, bytes]:
        """Every object of `keys` that exists (absent ones are left out); stores may read them concurrently."""
        out: dict[str, bytes] = {}
        for key in keys:
            with contextlib.suppress(FileNotFoundError):
                out[key] = self.read(key)
        return out

    @abstractmethod
    def write(self, key: str, data: bytes, *, content_type: str | None = None, durable: bool = False) -> None:
        """Replace the object in one step (`durable`: synced to disk first, where that means something)."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def list(self, prefix: str = "", *, recursive: bool = False) -> list[str]:
        """Keys (relative to this root) of the objects under the folder `prefix`, sorted; names starting
        with '.' (local lock and temporary files) are left out. An absent folder lists nothing."""

    @abstractmethod
    def delete(self, key: str) -> bool:
        """Remove the object; False when there was none."""

    # -- conditional writes -----------------------------------------------------------------------

    @abstractmethod
    def read_versioned(self, key: str) -> tuple[bytes, str] | None:
        """(bytes, version) of the object, or None when absent."""

    @abstractmethod
    def create(self, key: str, data: bytes, *, content_type: str | None = None) -> str | None:
        """Write only if absent: the new version, or None when an object is already there."""

    @abstractmethod
    def replace(self, key: str, data: bytes, version: str, *, content_type: str | None = None) -> str | None:
        """Write only if the object is still at `version`: the new version, or None when it changed or is gone."""

    # -- where things are -------------------------------------------------------------------------

    @abstractmethod
    def describe(self, key: str = "") -> str:
        """The object's full path or URL, for messages."""

    def link(self, key: str) -> str:
        """A URL of the object for a dashboard link (file:// locally, the store's own URL otherwise)."""
        return self.describe(key)

    def local_path(self, key: str = "") -> Path | None:
        """The local path of the object, or None on a remote store."""
        return None


def join(*parts: str) -> str:
    """Join key parts with '/', ignoring empty ones and stray slashes."""
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))
