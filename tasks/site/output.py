"""Writing the site through its store: pages with their content types, static assets, removal of stale pages.

Every file goes through `Storage.write` (an atomic rename locally, one PUT in a bucket) with the content type
a static host serves it with, so a bucket behind a CDN or a website endpoint serves pages as HTML, not bytes.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Callable
from pathlib import Path

from tasks.storage import Storage

# Pages the renderer owns; only these are ever deleted when stale (other files in site_dir are left alone).
GENERATED = {
    "d": re.compile(r"^\d{4}-\d{2}-\d{2}\.html$"),
    "zh": re.compile(r"^\d{4}-\d{2}-\d{2}\.html$"),
    "m": re.compile(r"^\d{4}-\d{2}\.html$"),
    "feeds": re.compile(r"^(?:ru|en|zh|topic-[a-z0-9-]+\.(?:ru|en|zh))\.(?:xml|json)$"),
}
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",  # feed.json (JSON Feed 1.1)
    ".xml": "application/atom+xml; charset=utf-8",  # feed.xml is the Atom feed
    ".webp": "image/webp",  # first-page pictures (not in every system's mimetypes table)
}


def content_type(key: str) -> str:
    suffix = Path(key).suffix.lower()
    return CONTENT_TYPES.get(suffix) or mimetypes.guess_type(key)[0] or "application/octet-stream"


def write_page(site: Storage, key: str, content: str | bytes) -> str:
    """Write one file of the site; returns its key."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    site.write(key, data, content_type=content_type(key))
    return key


def write_if_changed(site: Storage, key: str, content: str | bytes) -> str | None:
    """Write only when the bytes differ (static assets): returns the key when it wrote."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    try:
        if site.read(key) == data:
            return None
    except OSError:
        pass
    return write_page(site, key, data)


def sync_static(src: Path, site: Storage, extra: dict[str, str]) -> list[str]:
    """Copy templates/static/* (and generated `extra` files) to static/ of the site."""
    written = []
    for file in sorted(src.iterdir()):
        if not file.is_file() or file.name.startswith("."):
            continue
        if (out := write_if_changed(site, f"static/{file.name}", file.read_bytes())) is not None:
            written.append(out)
    for name, text in extra.items():
        if (out := write_if_changed(site, f"static/{name}", text)) is not None:
            written.append(out)
    return written


def prune(site: Storage, keep: set[str]) -> list[str]:
    """Delete generated pages that this build did not write (their day file was removed)."""
    removed = []
    for sub, pattern in GENERATED.items():
        for key in site.list(sub):
            if pattern.match(key.rsplit("/", 1)[-1]) and key not in keep and site.delete(key):
                removed.append(key)
    return removed


def discard(site: Storage, key: str) -> str | None:
    """Delete one generated page if it exists (a date that lost its page); returns its key when it was there."""
    sub, _, name = key.partition("/")
    if sub not in GENERATED or not GENERATED[sub].match(name):
        raise ValueError(f"{key} is not a generated page")
    return key if site.delete(key) else None


def sync_dir(site: Storage, prefix: str, files: dict[str, bytes],
             named_by_content: Callable[[str], bool] = lambda rel: False) -> list[str]:
    """Make the folder `prefix` of the site hold exactly `files` (relative path -> bytes): unchanged files are not
    rewritten, files no longer in the set are deleted. Returns the keys it wrote. A file `named_by_content` (a
    search chunk whose name is its hash) that exists is the same file: it is neither read nor rewritten."""
    present = set(site.list(prefix, recursive=True))
    written = []
    for rel, data in sorted(files.items()):
        key = f"{prefix}/{rel}"
        if named_by_content(rel) and key in present:
            continue
        if (out := write_if_changed(site, key, data)) is not None:
            written.append(out)
    keep = {f"{prefix}/{rel}" for rel in files}
    for key in sorted(present - keep):
        site.delete(key)
    return written


def drop_dirs(site: Storage, parent: str, keep: set[str], pattern: re.Pattern[str]) -> list[str]:
    """Delete the folders of `parent` named like `pattern` but not in `keep` (a month that lost its last day);
    returns the folders' keys."""
    removed: dict[str, None] = {}
    for key in site.list(parent, recursive=True):
        folder = key.removeprefix(f"{parent}/").split("/", 1)[0]
        if "/" in key.removeprefix(f"{parent}/") and pattern.match(folder) and folder not in keep:
            site.delete(key)
            removed[f"{parent}/{folder}"] = None
    return list(removed)
