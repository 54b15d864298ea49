"""The PDF stage: an arXiv PDF in, the text of its first page out.

    download.py  capped, validated HTTP download (typed errors: retriable or final)
    extract.py   the stage: PDF bytes -> PdfText through a worker pool it is handed; EXTRACTOR_VERSION
    worker.py    what runs in a parser process (imported there by tasks.procpool)
    layout.py    page geometry: reading order, accents by position, the margin stamp (worker side)
    text.py      pure text helpers: normalising, front matter, the deep slice
    options.py   PdfOptions, the stage's configuration built from Settings
    errors.py    the error types and one-line diagnoses of bad files
    task.py      the Prefect task, its cache key and result storage
    image.py     what draws the first page's top as a small WebP (worker side, same pool as the text)
    picture.py   the picture stage (parent side): IMAGE_VERSION, checks on the worker's reply
    spool.py     the PDF handed from the text step to the picture step of the same paper (temporary files)
    image_task.py  the picture step's Prefect task, its cache key; pictures stored in <data>/images

The names below are loaded on first use, not on import: a parser worker imports `tasks.pdf.worker`, and so
this package, and must not pay for requests, pydantic or Prefect.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "EXTRACTOR_VERSION": "extract",
    "extract_text": "extract",
    "parser_pool": "extract",
    "new_parser_pool": "extract",
    "shutdown_workers": "extract",
    "download_pdf": "download",
    "normalize_text": "text",
    "front_matter": "text",
    "PdfOptions": "options",
    "pdf_text_task": "task",
    "pdf_result_storage": "task",
    "IMAGE_VERSION": "picture",
    "draw_first_page": "picture",
    "pdf_image_task": "image_task",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
