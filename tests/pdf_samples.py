"""Synthetic PDFs of our own for the PDF stage's tests (fpdf2, Helvetica, invented text)."""

from __future__ import annotations

from fpdf import FPDF

FRONT = [
    (60, 60, "A Synthetic Study of Placeholder Text"),
    (60, 80, "Ada Example and Bob Sample"),
    (60, 95, "Institute of Imaginary Studies, Nowhere"),
    (60, 125, "Abstract"),
    *[(60, 140 + 12 * i, f"Body sentence number {i} of the made-up abstract goes here.") for i in range(20)],
]
PAGE_2 = [(60, 60 + 12 * i, f"Second page line {i}.") for i in range(10)]
STAMP = "arXiv:0000.00000v1 [cs.XX] 1 Jan 2000"


def synthetic_pdf(*pages: list[tuple[float, float, str]], rotated: str = "") -> bytes:
    """A PDF whose pages each hold (x, y, text) items in 10 pt Helvetica; `rotated` like arXiv's margin stamp."""
    doc = FPDF(unit="pt", format="A4")
    doc.set_font("Helvetica", size=10)
    for items in pages:
        doc.add_page()
        for x, y, text in items:
            doc.text(x, y, text)
        if rotated:
            with doc.rotation(angle=90, x=20, y=500):
                doc.text(20, 500, rotated)
    return bytes(doc.output())


def sample_paper() -> bytes:
    """Two pages: a title block with one affiliation, an abstract, a short page 2, and a margin stamp."""
    return synthetic_pdf(FRONT, PAGE_2, rotated=STAMP)


def dense_page() -> bytes:
    """One page of small text: ~0.2 s to parse, so a 10 ms limit always trips."""
    doc = FPDF(unit="pt", format="A4")
    doc.set_font("Helvetica", size=5)
    doc.add_page()
    for i in range(40):
        doc.text(20, 20 + 5.7 * i, "dense filler words for a slow page " * 5)
    return bytes(doc.output())
