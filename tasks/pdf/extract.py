"""The PDF stage proper: a PDF's bytes in, `PdfText` out; the parsing runs in a worker pool it is handed.

pdfplumber runs in long-lived worker processes, not in the caller: a pathological PDF can keep pdfminer busy for
minutes or eat all memory, and only a separate process can be stopped (tasks.procpool). The stage makes its own
pool (`parser_pool`, one per process) but takes any pool as an argument, so tests and benchmarks bring theirs.
"""

from __future__ import annotations

import atexit
import os
import threading

from tasks.models import PdfText
from tasks.pdf.errors import PdfError, RetriableError, sniff
from tasks.pdf.text import deep_slice, front_matter
from tasks.pdf.worker import MEMORY_LIMIT
from tasks.procpool import JobTimeout, PoolError, ProcessPool, WorkerCrashed, WorkerStartError, clean_env

# Bump when extracted texts change: this module's head/deep assembly, text.py, layout.py or worker.py (a fix to
# reading order, accents, the heading rule, the slice sizes, the pdfplumber options). Cached texts are keyed on
# it and the arXiv id (tasks/pdf/task.py), so a bump makes every paper be downloaded and parsed again.
EXTRACTOR_VERSION = 1
HEAD_CHARS = 2000  # front matter: title, authors, affiliations, before the Abstract heading
DEEP_CHARS = 6500  # a longer slice, for affiliations that sit in footnotes or on page 2
POOL_SIZE = max(1, min(4, os.cpu_count() or 1))  # parsing is CPU-bound: more workers than cores gain nothing


def extract_text(
    pdf: bytes,
    pool: ProcessPool,
    *,
    head_chars: int = HEAD_CHARS,
    deep_chars: int = DEEP_CHARS,
    time_limit: float = 30.0,
) -> PdfText:
    """Text of page 1 (and page 2 when page 1 is short): `head` is the front matter, `deep` a longer slice."""
    problem = sniff(pdf)
    if problem:  # no worker round trip for what the first bytes already tell
        raise PdfError(problem)
    try:
        reply = pool.run(pdf, deep_chars, timeout=time_limit)
    except JobTimeout:
        raise PdfError(f"PDF parsing exceeded {time_limit:g} s") from None
    except WorkerCrashed as exc:
        raise PdfError(f"PDF parser crashed (exit code {exc.exit_code})") from exc
    except WorkerStartError as exc:  # the machine's trouble, not the PDF's: worth another try later
        raise RetriableError("PDF parser process failed to start") from exc
    except PoolError as exc:
        raise PdfError(f"PDF parser failed: {exc}") from exc
    if isinstance(reply, dict) and isinstance(reply.get("error"), str):
        raise PdfError(reply["error"])
    texts = reply.get("texts") if isinstance(reply, dict) else None
    if not texts or not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise PdfError("PDF parser sent a malformed reply")
    return PdfText(head=front_matter(texts[0], head_chars), deep=deep_slice(texts, deep_chars), pages=reply["pages"])


def new_parser_pool(size: int = POOL_SIZE) -> ProcessPool:
    """A pool of PDF parser workers: 2 GiB of address space each, an environment without secrets."""
    return ProcessPool(
        "tasks.pdf.worker:parse", size=size, initializer="tasks.pdf.worker:init",
        env=clean_env(), memory_limit=MEMORY_LIMIT,
    )


_pool: ProcessPool | None = None
_pool_lock = threading.Lock()


def parser_pool() -> ProcessPool:
    """This process's shared parser pool, made on first use (a forked child makes its own)."""
    global _pool
    with _pool_lock:
        if _pool is None or not _pool.usable:
            _pool = new_parser_pool()
            atexit.unregister(shutdown_workers)  # once is enough
            atexit.register(shutdown_workers)
        return _pool


def shutdown_workers() -> None:
    """Stop the shared pool's idle workers (they also exit on their own when this process does)."""
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.close()
