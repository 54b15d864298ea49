"""What runs inside a parser worker process: open the PDF, read page 1 (and 2), report errors as one line.

The pool (tasks.procpool) imports this module in a fresh interpreter and calls `init` once, then `parse` per
job. It imports only the text and layout helpers and pdfplumber: no requests, pydantic or Prefect, so a new
worker is ready in ~0.2 s. Replies cross the pipe as JSON, so `parse` returns plain data and turns every failure
into a message instead of raising. A change here changes extracted texts: bump `EXTRACTOR_VERSION`.
"""

from __future__ import annotations

import contextlib
import io
import logging
from typing import TypedDict

from tasks.pdf.errors import PdfError, describe, size_text
from tasks.pdf.layout import page_text

MEMORY_LIMIT = 2 * 2**30  # address space of a worker: a decompression bomb fails there, not in the flow


class Pages(TypedDict, total=False):
    """A worker's reply: the page count and the texts of page 1 (and 2), or `error`, one line."""

    pages: int
    texts: list[str]
    error: str


def init() -> None:
    """Once per worker, before it reports ready: quiet pdfminer and import pdfplumber (not billed to a parse)."""
    logging.getLogger("pdfminer").setLevel(logging.ERROR)  # its warnings about odd PDFs are noise here
    import pdfplumber  # noqa: F401


def parse(pdf: bytes, deep_chars: int) -> Pages:
    """The texts of page 1, and of page 2 when page 1 is shorter than `deep_chars`; or an error message."""
    try:
        pages, texts = _read_pages(pdf, deep_chars)
    except PdfError as exc:
        return {"error": str(exc)}
    except MemoryError:
        return {"error": f"corrupt PDF: parsing needs more than {size_text(MEMORY_LIMIT)} of memory"}
    except RecursionError:
        return {"error": "corrupt PDF: objects nested too deeply"}
    except Exception as exc:
        return {"error": describe(exc, pdf)}
    return {"pages": pages, "texts": texts}


def _read_pages(pdf: bytes, deep_chars: int) -> tuple[int, list[str]]:
    import pdfplumber

    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        pages = doc.pages
        if not pages:
            raise PdfError("corrupt PDF: it has no pages")
        texts = [page_text(pages[0])]
        if not texts[0]:
            raise PdfError("no text layer on page 1")
        if len(texts[0]) < deep_chars and len(pages) > 1:
            with contextlib.suppress(Exception):  # a damaged page 2 costs only the extra text
                texts.append(page_text(pages[1]))
        return len(pages), texts
