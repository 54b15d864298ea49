"""The request log: what the sandbox answered, when, after which drawn latency and at what cost.

A benchmark reads it back (`GET /_requests`) to compute the lower bound of the very run it measured: the limits'
share from the costs charged, and the longest dependency chain from the drawn latencies. For the chain it needs to
know which paper a request was about; the request says so the way a reader would see it: a `Title: …` line, or
(a PDF's first page sent for affiliations) the title of a PDF the sandbox served, found in the text.
"""

from __future__ import annotations

import re
import threading
from typing import Any

_TITLE_LINE = re.compile(r"^[ \t]*(?:paper[ \t]+)?title[ \t]*:[ \t]*(.+?)[ \t]*$", re.I | re.M)
_NOT_ALNUM = re.compile(r"[\W_]+")
MAX_TITLES = 5000  # PDFs remembered for matching (a 60-day backfill of 25 papers serves 1,500)


def squash(text: str) -> str:
    """Lower case letters and digits only: robust to the line breaks and glued words of PDF text."""
    return _NOT_ALNUM.sub("", text.lower())


class RequestLog:
    """Every request answered, in order, plus the titles of the PDFs served (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[dict[str, Any]] = []
        self._titles: dict[str, str] = {}  # squashed title -> title

    def add(self, record: dict[str, Any]) -> None:
        with self._lock:
            record["n"] = len(self._records)
            self._records.append(record)

    def since(self, n: int = 0) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self._records[max(0, n):]]

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)

    def served(self, title: str) -> None:
        key = squash(title)
        if len(key) < 12:  # too short to find reliably
            return
        with self._lock:
            self._titles.pop(key, None)
            self._titles[key] = title
            while len(self._titles) > MAX_TITLES:
                self._titles.pop(next(iter(self._titles)))

    def subject(self, text: str) -> str | None:
        """The paper a request is about: its `Title:` line, else a served PDF's title found in it."""
        if m := _TITLE_LINE.search(text):
            return m.group(1)
        flat = squash(text[:4000])
        with self._lock:
            titles = list(self._titles.items())
        return next((title for key, title in reversed(titles) if key in flat), None)
