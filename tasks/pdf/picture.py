"""The picture stage (parent side): a PDF's bytes in, the WebP of its first page's top out, through the parser pool.

The drawing runs in the same worker pool as the text (tasks.pdf.extract: `parser_pool`), as a job naming another
target (tasks.pdf.image:first_page): the workers are warm, sandboxed and capped already, and a hostile PDF that
hangs pdfium is stopped like one that hangs pdfminer. The file name carries a digest of the bytes, so a changed
picture is a new file for the site and a static host's cache.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from tasks.pdf.errors import PdfError, RetriableError, sniff
from tasks.pdf.image import MAX_BYTES, WIDTH
from tasks.procpool import JobTimeout, PoolError, ProcessPool, WorkerCrashed, WorkerStartError

# Bump when pictures change: tasks/pdf/image.py (size, crop, quality, format). Cached pictures are keyed on it and
# the arXiv id (tasks/pdf/image_task.py), so a bump draws every paper's picture again (its PDF downloaded again).
IMAGE_VERSION = 1
TARGET = "tasks.pdf.image:first_page"


@dataclass(frozen=True)
class Picture:
    webp: bytes
    width: int
    height: int

    def name(self, arxiv_id: str) -> str:
        """`<id>.<digest>.webp` ('/' of old-style ids as '_'): a new picture is a new name."""
        return f"{arxiv_id.replace('/', '_')}.{hashlib.sha256(self.webp).hexdigest()[:10]}.webp"


def draw_first_page(pdf: bytes, pool: ProcessPool, *, time_limit: float = 30.0, width: int = WIDTH,
                    max_bytes: int = MAX_BYTES) -> Picture:
    """The top of page 1 as WebP within `max_bytes`; PdfError for a file that cannot be drawn."""
    problem = sniff(pdf)
    if problem:
        raise PdfError(problem)
    try:
        reply = pool.run(pdf, width, max_bytes, timeout=time_limit, target=TARGET)
    except JobTimeout:
        raise PdfError(f"drawing page 1 exceeded {time_limit:g} s") from None
    except WorkerCrashed as exc:
        raise PdfError(f"PDF renderer crashed (exit code {exc.exit_code})") from exc
    except WorkerStartError as exc:
        raise RetriableError("PDF renderer process failed to start") from exc
    except PoolError as exc:
        raise PdfError(f"PDF renderer failed: {exc}") from exc
    if isinstance(reply, dict) and isinstance(reply.get("error"), str):
        raise PdfError(reply["error"])
    try:
        webp = base64.b64decode(reply["webp"], validate=True)
        width_px, height_px = int(reply["width"]), int(reply["height"])
    except (KeyError, TypeError, ValueError, binascii.Error):
        raise PdfError("PDF renderer sent a malformed reply") from None
    # The worker read untrusted input: hold its answer to the contract rather than trust it.
    if not webp.startswith(b"RIFF") or webp[8:12] != b"WEBP" or len(webp) > max_bytes:
        raise PdfError("PDF renderer sent something that is not a WebP within the size cap")
    if not (0 < width_px <= 4000 and 0 < height_px <= 4000):
        raise PdfError("PDF renderer sent an image of an impossible size")
    return Picture(webp, width_px, height_px)
