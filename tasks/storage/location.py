"""From a setting's value to a Storage: a local path, `file://`, `s3://bucket/prefix`, or another fsspec URL.

A value is checked before anything is written, and a bad one is refused in one line: an unknown scheme, a
scheme whose library is not installed, a URL-looking value without `//` (`s3:/bucket` would otherwise become
a local folder named `s3:`), or a store without conditional writes where they are needed (the data dir holds
the leases and the day files, which are written conditionally; the site only needs plain writes).
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from tasks.storage.base import Storage
from tasks.storage.local import LocalStorage

_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_SCHEME_LIKE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")  # two letters or more: not a drive letter
CONDITIONAL_SCHEMES = ("s3", "s3a")  # besides local paths
# fsspec options for every remote store: listings are never cached, since other processes write too.
FSSPEC_OPTIONS = {"use_listings_cache": False}


def check_location(value: str | Path, *, conditional: bool) -> str:
    """The value, normalized (a `file://` URL becomes its path); ValueError with one line if unusable."""
    text = str(value).strip()
    if not text:
        raise ValueError("is empty: give a folder or a URL such as s3://bucket/prefix")
    match = _URL.match(text)
    if match is None:
        if (like := _SCHEME_LIKE.match(text)) is not None:
            raise ValueError(f"{text!r} looks like a URL but has no '//' after '{like.group(1)}:' "
                             f"(write {like.group(1)}://…, or ./{text} for a local folder of that name)")
        return text
    scheme = match.group(1).lower()
    if scheme == "file":
        path = urlsplit(text).path
        if not path:
            raise ValueError(f"{text!r} has no path")
        return path
    _filesystem_class(scheme, text)
    if scheme in CONDITIONAL_SCHEMES:
        if not urlsplit(text).netloc:
            raise ValueError(f"{text!r} names no bucket (s3://bucket/prefix)")
    elif conditional:
        raise ValueError(f"{scheme}:// cannot hold the data dir: hfdaily needs conditional writes there "
                         f"(leases, day files), which it implements for local paths and s3:// only")
    return text.rstrip("/")


def _filesystem_class(scheme: str, text: str) -> type:
    import fsspec

    try:
        return fsspec.get_filesystem_class(scheme)
    except ValueError:
        raise ValueError(f"{text!r}: unknown storage scheme {scheme}://") from None
    except ImportError as exc:
        raise ValueError(f"{text!r}: {scheme}:// needs a library that is not installed ({exc})") from None


def open_storage(value: str | Path, *, conditional: bool = False) -> Storage:
    """A Storage rooted at a local path or URL (checked as `check_location` does)."""
    text = check_location(value, conditional=conditional)
    match = _URL.match(text)
    if match is None:
        return LocalStorage(Path(text))
    import fsspec

    scheme = match.group(1).lower()
    fs, root = fsspec.core.url_to_fs(text, **FSSPEC_OPTIONS)
    if scheme in CONDITIONAL_SCHEMES:
        from tasks.storage.s3 import S3Storage

        return S3Storage(text, fs, root)
    from tasks.storage.remote import FsspecStorage

    return FsspecStorage(text, fs, root)
