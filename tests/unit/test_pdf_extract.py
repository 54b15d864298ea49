"""tasks.pdf.extract: text from real (read in place) and synthetic PDFs through the parser pool, the parse time
limit, typed errors for bad files, and the parser workers' environment and memory cap."""

from __future__ import annotations

import json
import time
import unicodedata
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fpdf import FPDF

from tasks.errors import PdfError, RetriableError, is_retriable
from tasks.models import PdfText
from tasks.pdf.extract import extract_text, new_parser_pool, parser_pool, shutdown_workers
from tasks.pdf.worker import MEMORY_LIMIT
from tasks.procpool import ProcessPool
from tests.pdf_samples import dense_page, sample_paper, synthetic_pdf
from tests.planted_secrets import SECRETS

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures"
PDFS = FIXTURES / "pdfs"
MANIFEST = PDFS / "MANIFEST.json"
NO_FIXTURES = f"real PDFs not found: expected {MANIFEST} (../shared/fixtures next to the repo)"


def _entries(expect: str) -> list[Any]:
    if not MANIFEST.is_file():
        return [pytest.param(None, marks=pytest.mark.skip(reason=NO_FIXTURES), id="no-fixtures")]
    entries = json.loads(MANIFEST.read_text(encoding="utf-8"))
    return [pytest.param(e, id=e["file"]) for e in entries if e["expect"] == expect]


def _squash(text: str) -> str:
    """Compare institution names the way the brief asks: NFC, case-insensitive, spaces ignored."""
    return "".join(unicodedata.normalize("NFC", text).casefold().split())


@pytest.fixture(scope="module")
def pool() -> Iterator[ProcessPool]:
    with new_parser_pool() as p:
        yield p


_extracted: dict[str, PdfText] = {}


def _extract_fixture(name: str, pool: ProcessPool) -> PdfText:
    if name not in _extracted:
        _extracted[name] = extract_text((PDFS / name).read_bytes(), pool)
    return _extracted[name]


@pytest.fixture(scope="module")
def paper() -> bytes:
    return sample_paper()


@pytest.fixture(scope="module")
def dense_paper() -> bytes:
    return dense_page()


# -------------------------------------------------------------------------------------- real fixture PDFs


@pytest.mark.parametrize("entry", _entries("ok"))
def test_fixture_pdfs_give_front_matter_and_affiliations(entry: dict[str, Any], pool: ProcessPool) -> None:
    text = _extract_fixture(entry["file"], pool)
    assert text.pages >= 1
    assert 0 < len(text.head) <= 2000
    assert 0 < len(text.deep) <= 6500
    deep = _squash(text.deep)
    missing = [a for a in entry["affiliations"] if _squash(a) not in deep]
    assert not missing, f"{entry['file']}: deep text lacks {missing}"
    # The first attempt only sees `head`: it must keep the author block, so at least one institution.
    assert any(_squash(a) in _squash(text.head) for a in entry["affiliations"])
    assert "(cid:" not in text.deep
    assert "  " not in text.deep and "\n\n\n" not in text.deep


@pytest.mark.parametrize("entry", _entries("ok"))
def test_fixture_institution_names_keep_their_spaces_and_accents(entry: dict[str, Any], pool: ProcessPool) -> None:
    # Stricter than the squashed check: x_tolerance=1.5 keeps word spaces, accents are recombined.
    deep = _extract_fixture(entry["file"], pool).deep
    for affiliation in entry["affiliations"]:
        assert unicodedata.normalize("NFC", affiliation) in deep


@pytest.mark.parametrize("entry", _entries("error"))
def test_bad_fixture_pdfs_raise_a_clear_pdf_error(entry: dict[str, Any], pool: ProcessPool) -> None:
    keyword = entry["file"].split("-")[2].removesuffix(".pdf")  # bad-01-truncated.pdf -> "truncated"
    with pytest.raises(PdfError) as info:
        extract_text((PDFS / entry["file"]).read_bytes(), pool)
    message = str(info.value)
    assert keyword in message.lower(), message
    assert "\n" not in message and "Traceback" not in message
    assert not is_retriable(info.value)


# ------------------------------------------------------------------------------------------- extraction


def test_synthetic_paper_head_deep_and_pages(paper: bytes, pool: ProcessPool) -> None:
    text = extract_text(paper, pool)
    assert text.pages == 2
    assert text.head == "A Synthetic Study of Placeholder Text\nAda Example and Bob Sample\n" + (
        "Institute of Imaginary Studies, Nowhere"
    )
    assert text.deep.startswith(text.head + "\nAbstract\nBody sentence number 0")
    assert "Second page line 9." in text.deep  # page 1 is short, so page 2 is read too
    assert "arXiv:" not in text.deep  # rotated margin stamp dropped


def test_page_two_is_skipped_when_page_one_fills_deep(paper: bytes, pool: ProcessPool) -> None:
    text = extract_text(paper, pool, head_chars=50, deep_chars=300)
    assert len(text.head) <= 50 and len(text.deep) <= 300
    assert "Second page" not in text.deep


def test_two_columns_are_read_left_column_first(pool: ProcessPool) -> None:
    lines = [(60, 60, "A Two Column Synthetic Paper With A Wide Title")]
    for i in range(14):
        lines += [
            (60, 100 + 12 * i, f"left column line {i:02}"),
            (320, 100 + 12 * i, f"right column line {i:02}"),
        ]
    deep = extract_text(synthetic_pdf(lines), pool).deep
    assert deep.index("left column line 13") < deep.index("right column line 00")
    assert "left column line 00\nleft column line 01" in deep


def test_page_without_text_layer(pool: ProcessPool) -> None:
    doc = FPDF(unit="pt", format="A4")
    doc.add_page()
    doc.rect(50, 50, 300, 400, style="F")  # a "scan": ink but no text
    with pytest.raises(PdfError, match="no text layer on page 1"):
        extract_text(bytes(doc.output()), pool)


@pytest.mark.parametrize(
    ("data", "keyword"),
    [
        (b"", "empty"),
        (b"\xef\xbb\xbf  <!DOCTYPE html><html><body>503</body></html>", "HTML"),
        (b"PK\x03\x04 a zip file", "no %PDF- header"),
        (b"%PDF-1.7\n" + bytes(range(256)) * 8, "garbage"),
    ],
)
def test_not_a_pdf(data: bytes, keyword: str, pool: ProcessPool) -> None:
    with pytest.raises(PdfError, match=keyword):
        extract_text(data, pool)


def test_truncated_synthetic_pdf(paper: bytes, pool: ProcessPool) -> None:
    with pytest.raises(PdfError, match="truncated"):
        extract_text(paper[: len(paper) // 3], pool)


def test_parse_time_limit_kills_the_worker_and_the_next_call_works(
    dense_paper: bytes, paper: bytes, pool: ProcessPool
) -> None:
    start = time.monotonic()
    with pytest.raises(PdfError, match=r"PDF parsing exceeded 0.01 s") as info:
        extract_text(dense_paper, pool, time_limit=0.01)
    assert not is_retriable(info.value)
    assert time.monotonic() - start < 5
    assert extract_text(paper, pool).pages == 2  # a fresh worker replaced the killed one


def test_concurrent_calls_from_threads(paper: bytes, dense_paper: bytes, pool: ProcessPool) -> None:
    inputs = [paper, dense_paper] * 3
    expected = {id(p): extract_text(p, pool) for p in (paper, dense_paper)}
    with ThreadPoolExecutor(max_workers=8) as threads:
        results = list(threads.map(lambda p: extract_text(p, pool), inputs))
    assert [r == expected[id(p)] for r, p in zip(results, inputs, strict=True)] == [True] * len(inputs)


def test_the_shared_pool_is_made_once_and_remade_after_shutdown(paper: bytes) -> None:
    shared = parser_pool()
    assert parser_pool() is shared
    assert extract_text(paper, shared).pages == 2
    shutdown_workers()
    assert not shared.usable and parser_pool() is not shared
    shutdown_workers()


# ------------------------------------------------------------------------------ the parser workers themselves


def test_parser_workers_hold_no_secret_and_a_2_gib_cap(paper: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers parse untrusted PDFs: their real initial environment (/proc/PID/environ) holds no key."""
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    with new_parser_pool(size=1) as fresh:
        assert extract_text(paper, fresh).pages == 2
        (pid,) = fresh.idle_pids()
        environ = Path(f"/proc/{pid}/environ").read_bytes()
        limits = Path(f"/proc/{pid}/limits").read_text()
    leaked = [name for name, value in SECRETS.items() if value.encode() in environ or name.encode() in environ]
    assert not leaked, f"parser worker started with {leaked}"
    (address_space,) = [line.split()[3] for line in limits.splitlines() if line.startswith("Max address space")]
    assert int(address_space) == MEMORY_LIMIT


def test_a_parser_worker_imports_no_requests_pydantic_or_prefect() -> None:
    """A worker's start-up stays cheap: it loads the worker module and pdfplumber, not the pipeline."""
    with ProcessPool("tests.pool_targets:heavy_modules_after_import", size=1, initializer="tasks.pdf.worker:init") as p:
        assert p.run("tasks.pdf.worker", timeout=30) == []


# ------------------------------------------------------------------- the pool's failures, as the stage reports them


def test_a_worker_dying_mid_parse_is_a_final_pdf_error(paper: bytes) -> None:
    crashing = ProcessPool("tests.pool_targets:crash_on_job", size=1)
    with crashing, pytest.raises(PdfError, match=r"PDF parser crashed \(exit code 7\)") as info:
        extract_text(paper, crashing)
    assert not is_retriable(info.value)


def test_a_worker_that_cannot_start_is_retriable(paper: bytes) -> None:
    broken = ProcessPool("tasks.pdf.worker:parse", size=1, initializer="tests.pool_targets:fail_init")
    with broken, pytest.raises(RetriableError, match="PDF parser process failed to start"):
        extract_text(paper, broken)


def test_a_malformed_reply_is_a_pdf_error(paper: bytes) -> None:
    odd = ProcessPool("tests.pool_targets:malformed_pages", size=1)
    with odd, pytest.raises(PdfError, match="malformed reply"):
        extract_text(paper, odd)
