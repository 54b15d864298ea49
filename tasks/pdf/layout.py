"""Page-layout geometry (worker side): a pdfplumber page's glyphs to text in reading order.

pdfplumber alone reads a two-column page line by line across both columns, glues TeX-set words and leaves TeX's
separately drawn accents beside their letters; this module reads the glyphs' positions to fix all three, and
drops arXiv's rotated margin stamp. pdfplumber is imported inside the functions: the parent process imports this
module's neighbours without paying for it. A change here changes extracted texts: bump `EXTRACTOR_VERSION`.
"""

from __future__ import annotations

from typing import Any

from tasks.pdf.text import ACCENTS, compose, normalize_text

X_TOLERANCE = 1.5  # pdfplumber's default (3) glues TeX-set words: 'MicrosoftResearch', 'KaimingHe'
MIN_GUTTER = 8  # pt: wider than a stretched word space, narrower than any journal's column gap
MIN_COLUMN_LINES = 10  # fewer aligned lines are an author grid or a table, not a column layout

Char = dict[str, Any]


def page_text(page: Any) -> str:
    """The page's text in reading order, normalised (see tasks.pdf.text.normalize_text)."""
    from pdfplumber.utils import extract_text as chars_to_text

    chars = page_chars(page)
    # Rotated glyphs are the arXiv margin stamp (it reads backwards); keep them only if they are the page.
    upright = [c for c in chars if c.get("upright", True)]
    chars = merge_accents(upright if 2 * len(upright) >= len(chars) else chars)
    blocks = reading_blocks(chars, float(page.width))
    return normalize_text("\n".join(chars_to_text(b, x_tolerance=X_TOLERANCE) for b in blocks))


def page_chars(page: Any) -> list[Char]:
    """The page's glyphs as the few keys text assembly reads. `page.chars` would be the same in the same
    coordinates, but it converts every attribute (colours, matrices, fonts) and that is ~45% of a parse."""
    from pdfminer.layout import LTChar, LTContainer

    mb_x0, mb_top = page.mediabox[:2]
    height, doctop = page.height, page.initial_doctop
    out: list[Char] = []

    def walk(objs: Any) -> None:
        for o in objs:
            if isinstance(o, LTChar):
                top = height - o.y1 + mb_top
                out.append(
                    {
                        "text": o.get_text(),
                        "x0": o.x0 + mb_x0,
                        "x1": o.x1 + mb_x0,
                        "top": top,
                        "bottom": height - o.y0 + mb_top,
                        "doctop": doctop + top,
                        "upright": o.upright,
                        "size": o.size,
                    }
                )
            elif isinstance(o, LTContainer):  # figures (form XObjects) hold text too
                walk(o)

    walk(page.layout)
    return out


def merge_accents(chars: list[Char]) -> list[Char]:
    """Fold each spacing accent into the letter under it, by position: text order is not reliable
    ('e´' with the default layout, '´ e' in stream order, '´ı' for í)."""
    out = list(chars)
    dropped: set[int] = set()
    for i, c in enumerate(chars):
        if c["text"] not in ACCENTS:
            continue
        mid = (c["x0"] + c["x1"]) / 2
        for j in (i - 1, i + 1, i - 2, i + 2):
            if not 0 <= j < len(out) or j in dropped:
                continue
            b = out[j]
            if (
                b["text"].isalpha()
                and b["text"] not in ACCENTS
                and b["x0"] - 0.5 <= mid <= b["x1"] + 0.5
                and abs(c["top"] - b["top"]) < b["size"]
                and (composed := compose(b["text"], c["text"]))
            ):
                out[j] = {**b, "text": composed}
                dropped.add(i)
                break
    return [c for k, c in enumerate(out) if k not in dropped]


def reading_blocks(chars: list[Char], width: float) -> list[list[Char]]:
    """Split chars into blocks in reading order: full-width bands as they come, and each run of two-column
    lines left column first. pdfplumber alone reads a two-column page line by line across both columns."""
    from pdfplumber.utils import cluster_objects

    lo = width * 0.3  # the gutter lies in the middle 40% of the page; 1 pt bins
    nbins = max(MIN_GUTTER, int(width * 0.4))
    lines = cluster_objects(chars, "top", 3)
    gaps = [wide_gaps(line, lo, nbins) for line in lines]
    # The gutter: the bin inside a wide gap on the most lines (the abstract's indent or a caption's ragged
    # end must not shift it, so it is chosen for the whole page, not line by line).
    counts = [0] * nbins
    for mask in gaps:
        while mask:
            low = mask & -mask
            counts[low.bit_length() - 1] += 1
            mask ^= low
    if max(counts) < MIN_COLUMN_LINES:
        return [chars]
    gutter = counts.index(max(counts))
    split = lo + gutter + 0.5

    blocks: list[list[Char]] = []
    band: list[Char] = []
    run: list[Char] = []
    run_lines = 0
    for line, mask in [*zip(lines, gaps, strict=True), ([], 0)]:  # a sentinel line flushes the last run
        if mask >> gutter & 1:
            run.extend(line)
            run_lines += 1
            continue
        if run_lines >= MIN_COLUMN_LINES:
            blocks += [band, [c for c in run if c["x0"] + c["x1"] < 2 * split]]
            blocks.append([c for c in run if c["x0"] + c["x1"] >= 2 * split])
            band = []
        else:
            band += run
        run, run_lines = [], 0
        band += line
    blocks.append(band)
    return [b for b in blocks if b]


def wide_gaps(line: list[Char], lo: float, nbins: int) -> int:
    """Bitmask of the bins inside the line's empty stretches at least MIN_GUTTER wide (not word spaces)."""
    occupied = 0
    for c in line:
        a, b = int(c["x0"] - lo), int(c["x1"] - lo)
        if b < 0 or a >= nbins or c["text"].isspace():
            continue
        a, b = max(a, 0), min(b, nbins - 1)
        occupied |= ((1 << (b - a + 1)) - 1) << a
    starts = ((1 << nbins) - 1) & ~occupied
    for _ in range(MIN_GUTTER - 1):  # keep bit i only if bins i .. i+7 are all free
        starts &= starts >> 1
    wide = starts
    for _ in range(MIN_GUTTER - 1):  # and give back the 7 bins each start covers
        wide |= wide << 1
    return wide
