"""The Prefect task of the PDF stage: download, read the first page, keep only the text."""

from __future__ import annotations

import threading
from pathlib import Path

from prefect import task
from prefect.cache_policies import INPUTS, TASK_SOURCE

from tasks.log import get_logger
from tasks.models import PdfText
from tasks.pdf import extract
from tasks.pdf.download import download_pdf
from tasks.pdf.options import PdfOptions
from tasks.retrying import retry_if_transient

# arXiv asks clients to be gentle: a few downloads at a time per process (HFDAILY_PDF_CONCURRENCY), whatever
# the task runner allows; every run of the process shares the slots.
_DOWNLOADS: dict[int, threading.BoundedSemaphore] = {}
_DOWNLOADS_LOCK = threading.Lock()


# Keyed on the paper id and the task's code (not on the mirror, timeouts or limits), persisted next to
# the data, so a re-run — or another day the paper moved to — re-downloads nothing.
PDF_CACHE = INPUTS - "options" + TASK_SOURCE


def pdf_result_storage(cache_dir: Path) -> Path:
    """Where cached PDF texts are kept: whole records in the data dir, not in PREFECT_HOME's storage.

    A record kept apart from its text (key_storage) makes any process with another PREFECT_HOME (a worker,
    another user, a killed run's successor) *fail* the task on that cache hit; a whole record that cannot be
    read is only a miss.
    """
    return cache_dir / "pdf-text"


def _download_slots(limit: int) -> threading.BoundedSemaphore:
    with _DOWNLOADS_LOCK:
        if limit not in _DOWNLOADS:
            _DOWNLOADS[limit] = threading.BoundedSemaphore(max(1, limit))
        return _DOWNLOADS[limit]


@task(name="pdf-text", task_run_name="pdf-{arxiv_id}", cache_policy=PDF_CACHE, retries=3,
      retry_delay_seconds=[2, 4, 8], retry_jitter_factor=0.5, retry_condition_fn=retry_if_transient)
def pdf_text_task(arxiv_id: str, options: PdfOptions) -> PdfText:
    """Download the paper's PDF and return the text of its first page (the PDF itself is dropped)."""
    with _download_slots(options.downloads):
        pdf = download_pdf(arxiv_id, base_url=options.arxiv_url, timeout=options.http_timeout,
                           max_bytes=options.max_bytes, max_wait=options.max_wait)
    if options.keep_dir:
        path = options.keep_dir / f"{arxiv_id.replace('/', '_')}.pdf"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pdf)
    text = extract.extract_text(pdf, extract.parser_pool(), time_limit=options.parse_timeout)
    get_logger().info("pdf %s: %d pages, %d chars of front matter", arxiv_id, text.pages, len(text.head))
    return text
