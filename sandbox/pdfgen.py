"""Synthetic arXiv-like PDFs (fpdf2, core fonts) with planted affiliations in a one- or two-column layout."""

from __future__ import annotations

import os
import random
import unicodedata
import zlib
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from fpdf import FPDF

from sandbox import words
from sandbox.synth import SynthPaper, stable_hash

PAGE_W, PAGE_H = 210.0, 297.0
MARGIN = 20.0
BOTTOM = 277.0
GUTTER = 8.0
FONT = "Helvetica"
_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
_VERSION = stable_hash(Path(__file__).read_bytes())  # PDFs on disk are rebuilt when this generator changes


def latin(text: str) -> str:
    """Text the core fonts can encode: accents folded, other characters dropped."""
    text = text.replace("\u2019", "'").replace("\u2013", "-").replace("\u2014", "-")
    try:
        text.encode("cp1252")
        return text
    except UnicodeEncodeError:
        folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
        return " ".join(folded.split())


def _filler(seed: int, n: int) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(words.FILLER_SENTENCES) for _ in range(n))


def _lines(pdf: FPDF, width: float, text: str) -> list[str]:
    return [str(x) for x in pdf.multi_cell(width, 4, text, dry_run=True, output="LINES")]


def _put_lines(
    pdf: FPDF, x: float, y: float, lines: list[str], step: float, bottom: float
) -> tuple[float, int]:
    """Print lines from baseline y down to `bottom`; return the next baseline and how many were printed."""
    n = 0
    for line in lines:
        if y > bottom:
            break
        pdf.text(x, y, line)
        y += step
        n += 1
    return y, n


def _marker_text(pdf: FPDF, x: float, y: float, marks: str) -> float:
    """Superscript marker (smaller, raised); returns the x after it."""
    pdf.set_font(FONT, "", 6.5)
    pdf.text(x, y - 1.4, marks)
    return x + pdf.get_string_width(marks)


def _authors(pdf: FPDF, paper: SynthPaper, y: float) -> float:
    tokens: list[tuple[str, str, float]] = []
    for name, affs in zip(paper.authors, paper.author_affs, strict=False):
        marks = ",".join(str(i + 1) for i in affs)
        pdf.set_font(FONT, "", 10.5)
        w = pdf.get_string_width(latin(name))
        pdf.set_font(FONT, "", 6.5)
        tokens.append((latin(name), marks, w + pdf.get_string_width(marks)))
    sep = 5.0
    rows: list[list[tuple[str, str, float]]] = [[]]
    for tok in tokens:
        row_w = sum(t[2] for t in rows[-1]) + sep * len(rows[-1])
        if rows[-1] and row_w + tok[2] > PAGE_W - 2 * MARGIN:
            rows.append([])
        rows[-1].append(tok)
    for row in rows:
        total = sum(t[2] for t in row) + sep * (len(row) - 1)
        x = (PAGE_W - total) / 2
        for name, marks, _ in row:
            pdf.set_font(FONT, "", 10.5)
            pdf.text(x, y, name)
            x = _marker_text(pdf, x + pdf.get_string_width(name), y, marks) + sep
        y += 5.5
    return y


def _affiliation_line(pdf: FPDF, x: float, y: float, i: int, name: str, size: float, center: bool) -> None:
    mark = str(i + 1)
    pdf.set_font(FONT, "", size)
    name_w = pdf.get_string_width(name)
    pdf.set_font(FONT, "", 6.5)
    mark_w = pdf.get_string_width(mark) + 0.6
    if center:
        x = (PAGE_W - name_w - mark_w) / 2
    _marker_text(pdf, x, y, mark)
    pdf.set_font(FONT, "", size)
    pdf.text(x + mark_w, y, name)


def _header(pdf: FPDF, paper: SynthPaper) -> float:
    pdf.set_font(FONT, "B", 15)
    pdf.set_xy(MARGIN, 22)
    pdf.multi_cell(PAGE_W - 2 * MARGIN, 7, latin(paper.title), align="C")
    return _authors(pdf, paper, pdf.get_y() + 6)


def _one_column(pdf: FPDF, paper: SynthPaper, y: float) -> None:
    for i, inst in enumerate(paper.affiliations):
        _affiliation_line(pdf, 0, y + 1, i, latin(inst), 9, center=True)
        y += 4.5
    pdf.set_font(FONT, "B", 11)
    pdf.text((PAGE_W - pdf.get_string_width("Abstract")) / 2, y + 8, "Abstract")
    pdf.set_font(FONT, "", 9.5)
    y, _ = _put_lines(pdf, 35, y + 14, _lines(pdf, PAGE_W - 70, latin(paper.abstract)), 4.3, BOTTOM)
    pdf.set_font(FONT, "B", 11)
    pdf.text(MARGIN, y + 6, "1 Introduction")
    pdf.set_font(FONT, "", 10)
    body = _lines(pdf, PAGE_W - 2 * MARGIN, _filler(paper.filler_seed, 40))
    _put_lines(pdf, MARGIN, y + 12, body, 4.8, BOTTOM)


def _two_column(pdf: FPDF, paper: SynthPaper, y: float) -> None:
    col_w = (PAGE_W - 2 * MARGIN - GUTTER) / 2
    right_x = MARGIN + col_w + GUTTER
    top = y + 6
    foot_top = BOTTOM - 3.6 * len(paper.affiliations) - 2
    pdf.set_font(FONT, "B", 11)
    pdf.text(MARGIN + (col_w - pdf.get_string_width("Abstract")) / 2, top, "Abstract")
    pdf.set_font(FONT, "", 9.5)
    y, _ = _put_lines(pdf, MARGIN, top + 6, _lines(pdf, col_w, latin(paper.abstract)), 4.3, foot_top - 10)
    pdf.set_font(FONT, "B", 11)
    pdf.text(MARGIN, y + 4, "1 Introduction")
    pdf.set_font(FONT, "", 9.5)
    body = _lines(pdf, col_w, _filler(paper.filler_seed, 60))
    _, used = _put_lines(pdf, MARGIN, y + 10, body, 4.3, foot_top - 5)
    _put_lines(pdf, right_x, top, body[used:], 4.3, BOTTOM)
    pdf.set_line_width(0.2)
    pdf.line(MARGIN, foot_top - 3, MARGIN + 30, foot_top - 3)
    for i, inst in enumerate(paper.affiliations):
        _affiliation_line(pdf, MARGIN, foot_top + 1 + 3.6 * i, i, latin(inst), 8, center=False)


def _page_two(pdf: FPDF, paper: SynthPaper) -> None:
    pdf.add_page()
    pdf.set_font(FONT, "B", 11)
    pdf.text(MARGIN, 28, "2 Related Work")
    pdf.set_font(FONT, "", 9.5)
    if paper.layout == "two-column":
        col_w = (PAGE_W - 2 * MARGIN - GUTTER) / 2
        body = _lines(pdf, col_w, _filler(paper.filler_seed + 1, 110))
        _, used = _put_lines(pdf, MARGIN, 35, body, 4.3, BOTTOM)
        _put_lines(pdf, MARGIN + col_w + GUTTER, 28, body[used:], 4.3, BOTTOM)
    else:
        body = _lines(pdf, PAGE_W - 2 * MARGIN, _filler(paper.filler_seed + 1, 70))
        _put_lines(pdf, MARGIN, 35, body, 4.8, BOTTOM)


@lru_cache(maxsize=512)
def build_pdf(paper: SynthPaper) -> bytes:
    """A two-page PDF for the paper (deterministic, so cached; also on disk in $SANDBOX_PDF_DIR if set, so long
    benchmarks do not spend the machine's CPU building the same PDFs again)."""
    folder = os.environ.get("SANDBOX_PDF_DIR")
    cached = Path(folder) / f"{stable_hash('pdf', _VERSION, repr(paper)):016x}.pdf" if folder else None
    if cached is not None and cached.is_file():
        return cached.read_bytes()
    data = _build_pdf(paper)
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(data)
        tmp.replace(cached)
    return data


def _build_pdf(paper: SynthPaper) -> bytes:
    pdf = FPDF(unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_creation_date(_EPOCH)  # deterministic bytes
    pdf.set_title(latin(paper.title))
    pdf.set_producer("hfdaily sandbox")
    pdf.add_page()
    y = _header(pdf, paper)
    if paper.layout == "two-column":
        _two_column(pdf, paper, y)
    else:
        _one_column(pdf, paper, y)
    pdf.set_font(FONT, "", 9)
    pdf.text(PAGE_W / 2 - 1, 288, "1")
    _page_two(pdf, paper)
    return bytes(pdf.output())


def build_slow_pdf(ops: int = 3_000_000) -> bytes:
    """A valid, small PDF whose page 1 holds `ops` no-op text moves: parsing it takes very long
    (about a minute with pdfplumber at the default) while memory stays flat."""
    content = b"BT /F1 12 Tf 72 720 Td (Please wait) Tj " + b"0 0 Td " * ops + b"ET"
    stream = zlib.compress(content, 9)
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objs, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


def tiny_png(seed: int) -> bytes:
    """A 16×9 single-colour PNG (feed thumbnails)."""
    r, g, b = (seed >> 16) & 255, (seed >> 8) & 255, seed & 255
    raw = b"".join(b"\x00" + bytes((r, g, b)) * 16 for _ in range(9))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    header = (16).to_bytes(4, "big") + (9).to_bytes(4, "big") + bytes((8, 2, 0, 0, 0))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
