"""The first-page picture: drawn in the PDF parser pool from real PDFs (read in place) within 40 KB, bad files as
one-line errors, the quality/size loop, and the spool that hands a PDF from the text step to the picture step."""

from __future__ import annotations

import base64
import io
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tasks.errors import PdfError
from tasks.pdf import spool
from tasks.pdf.extract import extract_text, new_parser_pool
from tasks.pdf.image import MAX_BYTES, WIDTH, fit
from tasks.pdf.picture import draw_first_page
from tasks.procpool import ProcessPool
from tests.pdf_samples import sample_paper

PDFS = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "pdfs"
MANIFEST = PDFS / "MANIFEST.json"
NO_FIXTURES = f"real PDFs not found: expected {MANIFEST} (../shared/fixtures next to the repo)"


def _files(expect: str) -> list[Any]:
    if not MANIFEST.is_file():
        return [pytest.param(None, marks=pytest.mark.skip(reason=NO_FIXTURES), id="no-fixtures")]
    entries = json.loads(MANIFEST.read_text(encoding="utf-8"))
    return [pytest.param(e["file"], id=e["file"]) for e in entries if e["expect"] == expect]


@pytest.fixture(scope="module")
def pool() -> Iterator[ProcessPool]:
    with new_parser_pool(size=1) as p:
        yield p


@pytest.mark.parametrize("name", _files("ok"))
def test_a_real_first_page_becomes_a_webp_of_at_most_40_kb(name: str, pool: ProcessPool) -> None:
    pic = draw_first_page((PDFS / name).read_bytes(), pool)
    assert 0 < len(pic.webp) <= MAX_BYTES == 40 * 1024
    with Image.open(io.BytesIO(pic.webp)) as img:
        assert img.format == "WEBP" and img.size == (pic.width, pic.height)
        assert WIDTH - 2 <= pic.width <= WIDTH and 150 < pic.height < pic.width  # the top of a page: wide
        # Not blank: the title block has dark ink on white paper.
        lo, hi = img.convert("L").getextrema()
        assert hi > 200 and lo < 80
    assert pic.name("2401.00001").startswith("2401.00001.") and pic.name("cs/0112017").startswith("cs_0112017.")


@pytest.mark.parametrize("name", _files("error"))
def test_a_bad_file_is_one_line_error(name: str, pool: ProcessPool) -> None:
    with pytest.raises(PdfError) as err:
        draw_first_page((PDFS / name).read_bytes(), pool)
    assert "\n" not in str(err.value) and len(str(err.value)) < 300


def test_a_busy_page_is_made_to_fit_by_lower_quality_then_a_smaller_picture() -> None:
    rng = random.Random(7)
    noise = Image.frombytes("RGB", (WIDTH, 300), bytes(rng.getrandbits(8) for _ in range(WIDTH * 300 * 3)))
    reply = fit(noise, 40 * 1024)
    assert "error" not in reply and reply["width"] < WIDTH  # noise does not compress: it had to shrink
    assert len(base64.b64decode(reply["webp"])) <= 40 * 1024
    assert "error" in fit(noise, 200)  # never an image over the cap


def test_text_and_picture_share_the_warm_workers(pool: ProcessPool) -> None:
    pdf = sample_paper()
    extract_text(pdf, pool)
    workers = pool.idle_pids()
    pic = draw_first_page(pdf, pool)
    assert pool.idle_pids() == workers and len(pic.webp) <= MAX_BYTES


def test_the_spool_hands_a_pdf_over_once_and_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spool, "MAX_FILES", 3)
    for i in range(5):
        spool.put(f"2401.0000{i}", b"%PDF-1.4 " + bytes([i]))
    assert spool.held()[-3:] == ["2401.00002", "2401.00003", "2401.00004"] and len(spool.held()) == 3
    assert spool.take("2401.00000") is None  # dropped, oldest first: its picture step downloads it again
    assert spool.take("2401.00004") == b"%PDF-1.4 \x04" and spool.take("2401.00004") is None
