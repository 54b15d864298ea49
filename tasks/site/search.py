"""Search across the whole archive: a Pagefind index of every published paper in ru, en and zh.

Why Pagefind: a static index split into small chunks that the browser fetches on demand (a 250-day archive is
not downloaded whole), stemming for ru and en and word segmentation for zh (its extended build, `pagefind[extended]`
from PyPI), and no server. Its browser side is WebAssembly, so the search page's CSP adds 'wasm-unsafe-eval' and
connect-src 'self' (tasks/site/jinja.py: SEARCH_CSP); no other page changes. It fetches its chunks, so it needs
a web host: over file:// the search page says so and the rest of the site works as before.

One custom record per paper and language (no extra HTML is rendered for it): the localized title and description
(or the original ones), the original title, authors, printed affiliations and their canonical institutions,
topics and the arXiv id. Records are data: Pagefind indexes them as text and its excerpts come back
HTML-escaped; the page still inserts them as text nodes only (templates/static/search.js).

Pagefind has no incremental update, so the archive is split into one bundle per month (`pagefind/YYYY-MM/`),
which the search page merges in the browser: a daily run rebuilds only its date's month, and only when that
month's records changed (their hash is kept beside the bundle). Every bundle carries Pagefind's runtime
(pagefind.js and its WebAssembly, about 0.25 MB) since the page's primary index loads it from its own folder.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tasks.models import DayFile, PaperRecord
from tasks.site.i18n import LANGS
from tasks.site.views import emoji, localized, tag_label, unique
from tasks.storage import Storage

INDEX_DIR = "pagefind"
SIGNATURE = "hfdaily-index.sha256"  # beside the bundle: the hash of the records it was built from
# Bundle files the page never loads: Pagefind's own UIs (this site has its own), the playground, and the web
# worker (the page runs the engine itself: templates/static/search.js, noWorker).
_UNUSED = ("pagefind-ui.", "pagefind-component-ui.", "pagefind-modular-ui.", "pagefind-highlight.", "playground/",
           "pagefind-worker.")


@dataclass(frozen=True, slots=True)
class Record:
    url: str
    language: str
    content: str
    meta: dict[str, str]
    filters: dict[str, list[str]]


def records(days: dict[str, DayFile], institutions_of: Callable[[PaperRecord], list[str]]) -> list[Record]:
    """One record per published paper (at its latest day) and language, newest day first."""
    out: list[Record] = []
    seen: set[str] = set()
    for date in sorted(days, reverse=True):
        for paper in days[date].papers:
            if paper.arxiv_id in seen:
                continue
            seen.add(paper.arxiv_id)
            people = " · ".join(unique(paper.authors))
            places = " · ".join(dict.fromkeys([*unique(paper.affiliations), *institutions_of(paper)]))
            tags = " ".join(tag_label(t) for t in unique(paper.topics))
            for lang in LANGS:
                loc = localized(paper, lang)
                title = loc.title if loc else paper.title
                desc = loc.desc if loc else paper.abstract
                query = "" if lang == "en" else f"?lang={lang}"
                out.append(Record(
                    url=f"d/{date}.html{query}#p-{paper.arxiv_id}",
                    language=lang,
                    content="\n".join(x for x in (title, desc, paper.title if loc else "", people, places, tags,
                                                    paper.arxiv_id) if x),
                    meta={"title": title, "emoji": emoji(paper), "date": date, "id": paper.arxiv_id,
                          "up": str(paper.upvotes)},
                    filters={"topic": unique(paper.topics)} if paper.topics else {},
                ))
    return out


def signature(recs: list[Record]) -> str:
    digest = hashlib.sha256()
    for r in recs:
        digest.update(json.dumps([r.url, r.language, r.content, r.meta, r.filters], ensure_ascii=False).encode())
    return digest.hexdigest()


class SearchIndexError(RuntimeError):
    """Pagefind refused a request or stopped before answering every one."""


def _pagefind_binary() -> str:
    from pagefind.service import get_executable  # the binary that pagefind[extended] installs

    binary = get_executable()
    if binary is None:
        raise SearchIndexError("no Pagefind binary: install pagefind[extended]")
    return str(binary)


def _service(requests: list[dict[str, Any]], cwd: Path) -> list[dict[str, Any]]:
    """Send every request to `pagefind --service` and return the answers in order.

    The binary's protocol: base64 JSON messages each followed by a comma, on stdin and stdout. Pagefind's own
    Python client reads one answer per 0.1 s (100 s for a thousand records), so hfdaily speaks it directly: a
    thread writes while this one reads, so neither pipe fills up."""
    proc = subprocess.Popen([_pagefind_binary(), "--service"], cwd=cwd, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdin is not None and proc.stdout is not None

    def write() -> None:
        try:
            for i, payload in enumerate(requests):
                message = {"message_id": i + 1, "payload": payload}
                proc.stdin.write(base64.b64encode(json.dumps(message).encode("utf-8")) + b",")  # type: ignore[union-attr]
            proc.stdin.flush()  # type: ignore[union-attr]
        except BrokenPipeError:
            pass  # the reader reports what Pagefind said

    writer = threading.Thread(target=write, name="pagefind-writer", daemon=True)
    writer.start()
    answers: dict[int, dict[str, Any]] = {}
    buffer = b""
    try:
        while len(answers) < len(requests):
            chunk = proc.stdout.read1(1 << 20)
            if not chunk:
                raise SearchIndexError(f"Pagefind stopped after {len(answers)} of {len(requests)} answers")
            buffer += chunk
            *messages, buffer = buffer.split(b",")
            for raw in messages:
                answer = json.loads(base64.b64decode(raw))
                payload = answer.get("payload") or {}
                if payload.get("type") == "Error":
                    raise SearchIndexError(f"Pagefind: {payload.get('message')}")
                answers[int(answer["message_id"])] = payload
    finally:
        proc.stdin.close()
        writer.join(timeout=10)
        proc.kill()
        proc.wait()
    return [answers[i + 1] for i in range(len(requests))]


def _build(bundles: dict[str, list[Record]], out: Path) -> None:
    """One index per bundle, one request per record, then each index written to `out/NAME`; all in one stream
    to one service process (it loads the Chinese dictionary once). Requests name an index by the id the service
    gave it, which counts from 0 in a fresh process; the answers are checked against that."""
    requests: list[dict[str, Any]] = []
    for index, (name, recs) in enumerate(bundles.items()):
        requests.append({"type": "NewIndex", "config": {"write_playground": False}})
        requests += [{"type": "AddRecord", "index_id": index, "url": r.url, "content": r.content,
                      "language": r.language, "meta": r.meta, "filters": r.filters or None} for r in recs]
        requests.append({"type": "WriteFiles", "index_id": index, "output_path": str(out / name)})
    out.mkdir(parents=True, exist_ok=True)
    answers = _service(requests, out)
    made = [a.get("index_id") for a in answers if a.get("type") == "NewIndex"]
    if made != list(range(len(bundles))):
        raise SearchIndexError(f"Pagefind numbered the indexes {made}, expected 0..{len(bundles) - 1}")


def build_bundles(bundles: dict[str, list[Record]]) -> dict[str, dict[str, bytes]]:
    """Index each named set of records; returns name -> the bundle's files (path -> bytes), signature included."""
    if not bundles:
        return {}
    out: dict[str, dict[str, bytes]] = {}
    with tempfile.TemporaryDirectory(prefix="hfdaily-pagefind-") as tmp:
        _build(bundles, Path(tmp))
        for name, recs in bundles.items():
            folder = Path(tmp) / name
            files = {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
            files = {k: v for k, v in files.items() if not k.startswith(_UNUSED)}
            files[SIGNATURE] = signature(recs).encode()
            out[name] = files
    return out


class BackgroundBuild:
    """Builds the month bundles whose records changed, in a thread while the pages render: Pagefind indexes in
    its own process, so the two overlap on the second core. `result()` returns name -> files of the bundles
    it built; `skipped` names those already up to date."""

    def __init__(self, make: Callable[[], dict[str, list[Record]]], site: Storage) -> None:
        self._make = make
        self._site = site
        self._files: dict[str, dict[str, bytes]] = {}
        self._error: BaseException | None = None
        self.skipped: list[str] = []
        self.records = 0
        self.seconds = 0.0
        self._thread = threading.Thread(target=self._run, name="hfdaily-search-index", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        started = time.perf_counter()
        try:
            bundles = self._make()
            todo = {name: recs for name, recs in bundles.items()
                    if read_signature(self._site, name) != signature(recs)}
            self.skipped = sorted(set(bundles) - set(todo))
            self.records = sum(len(r) for r in todo.values())
            self._files = build_bundles(todo)
        except BaseException as exc:  # reported by result(), in the rendering thread
            self._error = exc
        self.seconds = time.perf_counter() - started

    def result(self) -> dict[str, dict[str, bytes]]:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._files


_HASHED = re.compile(r"^(?:fragment|index|filter)/[a-z]+_[0-9a-f]{6,}\.pf_\w+$"
                     r"|^pagefind\.[a-z]+_[0-9a-f]{6,}\.pf_meta$")


def named_by_content(rel: str) -> bool:
    """Whether a bundle file's name is its content's hash (the chunks): same name, same bytes."""
    return bool(_HASHED.match(rel))


def bundle_dir(name: str) -> str:
    """Where a month's bundle lives under the site."""
    return f"{INDEX_DIR}/{name}"


def read_signature(site: Storage, name: str) -> str | None:
    try:
        return site.read(f"{bundle_dir(name)}/{SIGNATURE}").decode("utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None


def stats(files: dict[str, bytes]) -> tuple[int, int]:
    """(files, bytes) of a bundle."""
    return len(files), sum(len(v) for v in files.values())
