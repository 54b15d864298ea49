"""The first page as a small picture (worker side): the title block, authors and logos, ≤ 40 KB of WebP.

Runs in a PDF parser worker (tasks.procpool), like the text: a hostile PDF can hang or blow up pdfium as well as
pdfminer. pypdfium2 and Pillow come with pdfplumber; they are imported inside the function, so the parent process
that imports this module's neighbours never pays for them. The reply crosses the pipe as JSON: the image as
base64. A change here changes the images: bump `IMAGE_VERSION` (tasks/pdf/picture.py).
"""

from __future__ import annotations

import base64
import io
from typing import TypedDict

WIDTH = 560  # px: a card is 360-400 CSS px wide; more keeps small print legible on dense screens and zoomed
TOP_SHARE = 0.36  # of the page's height: title, authors, affiliations and logos sit there on arXiv papers
SIDE_SHARE = 0.08  # of the width cut on each side: the margins (and most of arXiv's stamp), not the text
MAX_BYTES = 40 * 1024
QUALITIES = (80, 70, 60, 50, 40, 30, 22)  # tried in turn until the image fits MAX_BYTES
SHRINK = 0.8  # then the picture is made smaller by this factor, down to MIN_WIDTH
MIN_WIDTH = 200


class Picture(TypedDict, total=False):
    """A worker's reply: the WebP (base64) and its size in pixels, or `error`, one line."""

    webp: str
    width: int
    height: int
    quality: int
    error: str


def first_page(pdf: bytes, width: int = WIDTH, max_bytes: int = MAX_BYTES, top: float = TOP_SHARE) -> Picture:
    """Page 1's top `top` share rendered `width` px wide as WebP of at most `max_bytes`; or an error message."""
    try:
        image = _render(pdf, width, top)
    except MemoryError:
        return {"error": "rendering page 1 needs too much memory"}
    except Exception as exc:  # pdfium's own errors (PdfiumError) and anything odd in the file
        detail = " ".join(str(exc).split())[:160]
        return {"error": f"page 1 could not be rendered: {type(exc).__name__}: {detail}"}
    try:
        return fit(image, max_bytes)
    finally:
        image.close()


def _render(pdf: bytes, width: int, top: float):  # type: ignore[no-untyped-def]  # a PIL image (imported lazily)
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(pdf)
    try:
        if len(doc) == 0:
            raise ValueError("the PDF has no pages")
        page = doc[0]
        page_w, page_h = page.get_size()  # points, as displayed (rotation applied)
        if page_w <= 0 or page_h <= 0:
            raise ValueError("page 1 has no size")
        side = page_w * SIDE_SHARE
        scale = width / (page_w - 2 * side)
        # crop is (left, bottom, right, top) in points cut away from the rendered page
        bitmap = page.render(scale=scale, crop=(side, page_h * (1 - top), side, 0), draw_annots=False)
        try:
            return bitmap.to_pil().convert("RGB")
        finally:
            bitmap.close()
            page.close()
    finally:
        doc.close()


def fit(image, max_bytes: int = MAX_BYTES) -> Picture:  # type: ignore[no-untyped-def]
    """The image as WebP within `max_bytes`: lower quality first, then a smaller picture."""
    from PIL import Image

    current = image
    while True:
        for quality in QUALITIES:
            buf = io.BytesIO()
            current.save(buf, format="WEBP", quality=quality, method=6)
            if buf.tell() <= max_bytes:
                return {"webp": base64.b64encode(buf.getvalue()).decode("ascii"), "width": current.width,
                        "height": current.height, "quality": quality}
        if current.width * SHRINK < MIN_WIDTH:
            return {"error": f"page 1 does not fit in {max_bytes} bytes even at {current.width} px"}
        size = (int(current.width * SHRINK), max(1, int(current.height * SHRINK)))
        current = current.resize(size, Image.Resampling.LANCZOS)
