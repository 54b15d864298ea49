"""The Prefect task of the picture step: the first page's top as a small WebP, stored in the data dir (cached).

It waits for the paper's text step and takes the PDF that step left in this process's spool (tasks/pdf/spool.py);
only when there is none (the text was read by an earlier run or another process) does it read the kept copy
(HFDAILY_KEEP_PDFS) or download the PDF again. The picture is written to `<data>/images/<name>`, where the site's
render finds it and publishes it as `img/<name>` (tasks/site/images.py); the task returns what the paper's record
keeps: {"path": "img/<name>", "width", "height", "bytes"}.

Cached like the text: the key is the paper's id and `IMAGE_VERSION` (not the task's source, not the options), the
records whole in `<data>/cache/pdf-image`, so a re-run, or another day the paper is listed on, draws nothing again.
"""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import CacheKeyFnPolicy
from prefect.context import TaskRunContext

from tasks.log import get_logger
from tasks.pdf import extract, picture, spool
from tasks.pdf.download import ARXIV_ID, download_pdf
from tasks.pdf.options import PdfOptions
from tasks.pdf.task import download_slots
from tasks.retrying import retry_if_transient
from tasks.storage import open_storage

IMAGES = "images"  # folder of the data dir holding the pictures; the site's copy is IMAGE_PREFIX
IMAGE_PREFIX = "img"
CACHE_FOLDER = "cache/pdf-image"


def image_cache_key(context: TaskRunContext | None, parameters: dict[str, Any]) -> str | None:
    """`pdf-image-v<IMAGE_VERSION>-<arxiv id>` ('/' as '_'); None (no caching) for a bad id. Read at call time."""
    arxiv_id = parameters.get("arxiv_id")
    if not isinstance(arxiv_id, str) or not ARXIV_ID.fullmatch(arxiv_id):
        return None
    return f"pdf-image-v{picture.IMAGE_VERSION}-{arxiv_id.replace('/', '_')}"


IMAGE_CACHE = CacheKeyFnPolicy(cache_key_fn=image_cache_key)


def _pdf_bytes(arxiv_id: str, options: PdfOptions) -> bytes:
    """The paper's PDF: from the spool, else the kept copy, else arXiv (under the same download slots)."""
    pdf = spool.take(arxiv_id)
    if pdf is not None:
        return pdf
    if options.keep_dir:
        try:
            return open_storage(options.keep_dir).read(f"{arxiv_id.replace('/', '_')}.pdf")
        except OSError:
            pass
    get_logger().info("image %s: its PDF is not at hand in this process; downloading it again", arxiv_id)
    with download_slots(options.downloads):
        return download_pdf(arxiv_id, base_url=options.arxiv_url, timeout=options.http_timeout,
                            max_bytes=options.max_bytes, max_wait=options.max_wait)


@task(name="pdf-image", task_run_name="image-{arxiv_id}", cache_policy=IMAGE_CACHE, retries=3,
      retry_delay_seconds=[2, 4, 8], retry_jitter_factor=0.5, retry_condition_fn=retry_if_transient)
def pdf_image_task(arxiv_id: str, options: PdfOptions, data_url: str) -> dict[str, Any]:
    """Draw the top of the paper's first page, store it in the data dir; returns the record's `image` field."""
    pdf = _pdf_bytes(arxiv_id, options)
    pic = picture.draw_first_page(pdf, extract.parser_pool(), time_limit=options.parse_timeout)
    name = pic.name(arxiv_id)
    open_storage(data_url).write(f"{IMAGES}/{name}", pic.webp, content_type="image/webp")
    # DEBUG: the terminal shows one line per PDF already; the task run's state says the picture is done.
    get_logger().debug("image %s: %dx%d px, %d bytes", arxiv_id, pic.width, pic.height, len(pic.webp))
    return {"path": f"{IMAGE_PREFIX}/{name}", "width": pic.width, "height": pic.height, "bytes": len(pic.webp)}
