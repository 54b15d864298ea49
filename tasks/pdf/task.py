"""The Prefect task of the PDF stage: download, read the first page, keep only the text (cached).

The cache key is the paper's id and `EXTRACTOR_VERSION`, nothing else. Keyed on the task's source (Prefect's
TASK_SOURCE) instead, a fix to the extraction code, which lives outside this wrapper, would never reach texts
already cached, while a cosmetic edit of the wrapper would throw all of them away. The mirror, timeouts and caps
(`PdfOptions`) do not change what a first page says, so they are not in the key either: a re-run, or another
day the paper moved to, re-downloads nothing.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import CacheKeyFnPolicy
from prefect.context import TaskRunContext
from prefect.filesystems import RemoteFileSystem

from tasks.log import get_logger
from tasks.models import PdfText
from tasks.pdf import extract, spool
from tasks.pdf.download import ARXIV_ID, download_pdf
from tasks.pdf.options import PdfOptions
from tasks.retrying import retry_if_transient
from tasks.storage import Storage, open_storage
from tasks.storage.location import FSSPEC_OPTIONS

# arXiv asks clients to be gentle: a few downloads at a time per process (HFDAILY_PDF_CONCURRENCY), whatever
# the task runner allows; every run of the process shares the slots.
_DOWNLOADS: dict[int, threading.BoundedSemaphore] = {}
_DOWNLOADS_LOCK = threading.Lock()


def pdf_cache_key(context: TaskRunContext | None, parameters: dict[str, Any]) -> str | None:
    """`pdf-text-v<EXTRACTOR_VERSION>-<arxiv id>` ('/' of old-style ids as '_'); None (no caching) for a bad id.

    Readable on purpose: it is the record's file name in data/cache/pdf-text. The version is read at call time.
    """
    arxiv_id = parameters.get("arxiv_id")
    if not isinstance(arxiv_id, str) or not ARXIV_ID.fullmatch(arxiv_id):
        return None
    return f"pdf-text-v{extract.EXTRACTOR_VERSION}-{arxiv_id.replace('/', '_')}"


PDF_CACHE = CacheKeyFnPolicy(cache_key_fn=pdf_cache_key)


def pdf_result_storage(data: Storage, folder: str = "cache/pdf-text") -> Path | RemoteFileSystem:
    """Where cached PDF texts are kept: whole records in `<data>/cache/pdf-text` (other stages name their own
    `folder`: the pictures' records, the pages'), not in PREFECT_HOME's storage.

    A record kept apart from its text (key_storage) makes any process with another PREFECT_HOME (a worker,
    another user, a killed run's successor) *fail* the task on that cache hit; a whole record that cannot be
    read is only a miss. In a bucket it is Prefect's fsspec-based RemoteFileSystem on the same prefix, saved as a
    block named after the prefix (Prefect takes only saved blocks as a task's result storage). The block holds
    the URL and fsspec options, never a credential: those stay with the AWS SDK's own settings.
    """
    where = data.child(folder)
    local = where.local_path()
    if local is not None:
        return local
    with _BLOCKS_LOCK:
        if where.url not in _BLOCKS:
            block = RemoteFileSystem(basepath=where.url, settings=dict(FSSPEC_OPTIONS))
            name = f"hfdaily-{folder.rsplit('/', 1)[-1]}-" + hashlib.sha256(where.url.encode()).hexdigest()[:12]
            block.save(name, overwrite=True)
            _BLOCKS[where.url] = block
        return _BLOCKS[where.url]


_BLOCKS: dict[str, RemoteFileSystem] = {}  # one saved block per bucket prefix and process
_BLOCKS_LOCK = threading.Lock()


def download_slots(limit: int) -> threading.BoundedSemaphore:
    with _DOWNLOADS_LOCK:
        if limit not in _DOWNLOADS:
            _DOWNLOADS[limit] = threading.BoundedSemaphore(max(1, limit))
        return _DOWNLOADS[limit]


@task(name="pdf-text", task_run_name="pdf-{arxiv_id}", cache_policy=PDF_CACHE, retries=3,
      retry_delay_seconds=[2, 4, 8], retry_jitter_factor=0.5, retry_condition_fn=retry_if_transient)
def pdf_text_task(arxiv_id: str, options: PdfOptions) -> PdfText:
    """Download the paper's PDF and return the text of its first page (the PDF is left to the picture step)."""
    with download_slots(options.downloads):
        pdf = download_pdf(arxiv_id, base_url=options.arxiv_url, timeout=options.http_timeout,
                           max_bytes=options.max_bytes, max_wait=options.max_wait)
    if options.keep_dir:
        open_storage(options.keep_dir).write(f"{arxiv_id.replace('/', '_')}.pdf", pdf, content_type="application/pdf")
    text = extract.extract_text(pdf, extract.parser_pool(), time_limit=options.parse_timeout)
    spool.put(arxiv_id, pdf)  # for the paper's picture step, which waits for this one (tasks/pdf/spool.py)
    get_logger().info("pdf %s: %d pages, %d chars of front matter", arxiv_id, text.pages, len(text.head))
    return text
