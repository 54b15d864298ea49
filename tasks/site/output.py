"""Writing the site: static assets, and removal of pages whose day is gone (pages go through tasks.files)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

from tasks.files import write_atomic

# Pages the renderer owns; only these are ever deleted when stale (other files in site_dir are left alone).
GENERATED = {
    "d": re.compile(r"^\d{4}-\d{2}-\d{2}\.html$"),
    "zh": re.compile(r"^\d{4}-\d{2}-\d{2}\.html$"),
    "m": re.compile(r"^\d{4}-\d{2}\.html$"),
    "feeds": re.compile(r"^(?:ru|en|zh|topic-[a-z0-9-]+\.(?:ru|en|zh))\.(?:xml|json)$"),
}


def write_if_changed(path: Path, content: str | bytes) -> Path | None:
    """Write only when the bytes differ (static assets): returns the path when it wrote."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    try:
        if path.read_bytes() == data:
            return None
    except OSError:
        pass
    return write_atomic(path, data)


def sync_static(src: Path, dst: Path, extra: dict[str, str]) -> list[Path]:
    """Copy templates/static/* (and generated `extra` files) into site_dir/static/."""
    written = []
    for file in sorted(src.iterdir()):
        if not file.is_file() or file.name.startswith("."):
            continue
        if (out := write_if_changed(dst / file.name, file.read_bytes())) is not None:
            written.append(out)
    for name, text in extra.items():
        if (out := write_if_changed(dst / name, text)) is not None:
            written.append(out)
    return written


def prune(site_dir: Path, keep: set[Path]) -> list[Path]:
    """Delete generated pages that this build did not write (their day file was removed)."""
    removed = []
    for sub, pattern in GENERATED.items():
        folder = site_dir / sub
        if not folder.is_dir():
            continue
        for file in folder.iterdir():
            if pattern.match(file.name) and file not in keep:
                file.unlink()
                removed.append(file)
    return removed


def discard(site_dir: Path, rel: str) -> Path | None:
    """Delete one generated page if it exists (a date that lost its page); returns it when it was there."""
    path = site_dir / rel
    sub, _, name = rel.partition("/")
    if sub not in GENERATED or not GENERATED[sub].match(name):
        raise ValueError(f"{rel} is not a generated page")
    try:
        path.unlink()
    except FileNotFoundError:
        return None
    return path


def sync_dir(dst: Path, files: dict[str, bytes], named_by_content: Callable[[str], bool] = lambda rel: False
             ) -> list[Path]:
    """Make folder `dst` hold exactly `files` (relative path -> bytes): unchanged files are not rewritten, files no
    longer in the set are deleted. Returns what it wrote. A file `named_by_content` (a search chunk whose name is
    its hash) that exists is the same file: it is neither read nor rewritten."""
    written = []
    for rel, data in sorted(files.items()):
        if named_by_content(rel) and (dst / rel).exists():
            continue
        if (out := write_if_changed(dst / rel, data)) is not None:
            written.append(out)
    keep = {dst / rel for rel in files}
    for path in sorted(dst.rglob("*"), reverse=True) if dst.is_dir() else []:
        if path.is_file() and path not in keep:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    return written


def drop_dirs(parent: Path, keep: set[str], pattern: re.Pattern[str]) -> list[Path]:
    """Delete the folders of `parent` named like `pattern` but not in `keep` (a month that lost its last day)."""
    removed = []
    for folder in sorted(parent.iterdir()) if parent.is_dir() else []:
        if folder.is_dir() and pattern.match(folder.name) and folder.name not in keep:
            shutil.rmtree(folder)
            removed.append(folder)
    return removed
