"""tasks.pdf: downloads against a local HTTP server, text extraction from real (read in place) and
synthetic PDFs, the parse time limit, and the pure text helpers."""

from __future__ import annotations

import contextlib
import functools
import json
import threading
import time
import unicodedata
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from fpdf import FPDF

from tasks import pdf as pdfmod
from tasks.errors import PdfError, RetriableError, is_retriable
from tasks.models import PdfText
from tasks.pdf import download_pdf, extract_text, front_matter, normalize_text

FIXTURES = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures"
PDFS = FIXTURES / "pdfs"
MANIFEST = PDFS / "MANIFEST.json"
NO_FIXTURES = f"real PDFs not found: expected {MANIFEST} (../shared/fixtures next to the repo)"


def _entries(expect: str) -> list[Any]:
    if not MANIFEST.is_file():
        return [pytest.param(None, marks=pytest.mark.skip(reason=NO_FIXTURES), id="no-fixtures")]
    entries = json.loads(MANIFEST.read_text(encoding="utf-8"))
    return [pytest.param(e, id=e["file"]) for e in entries if e["expect"] == expect]


@functools.cache
def _extract_fixture(name: str) -> PdfText:
    return extract_text((PDFS / name).read_bytes())


def _squash(text: str) -> str:
    """Compare institution names the way the brief asks: NFC, case-insensitive, spaces ignored."""
    return "".join(unicodedata.normalize("NFC", text).casefold().split())


@pytest.fixture(scope="module", autouse=True)
def _stop_workers() -> Iterator[None]:
    yield
    pdfmod.shutdown_workers()


# ------------------------------------------------------------------------------------------ synthetic PDFs


def _pdf(*pages: list[tuple[float, float, str]], rotated: str = "") -> bytes:
    """A PDF of our own: each page a list of (x, y, text) placed in 10 pt Helvetica."""
    doc = FPDF(unit="pt", format="A4")
    doc.set_font("Helvetica", size=10)
    for items in pages:
        doc.add_page()
        for x, y, text in items:
            doc.text(x, y, text)
        if rotated:  # like arXiv's margin stamp
            with doc.rotation(angle=90, x=20, y=500):
                doc.text(20, 500, rotated)
    return bytes(doc.output())


FRONT = [
    (60, 60, "A Synthetic Study of Placeholder Text"),
    (60, 80, "Ada Example and Bob Sample"),
    (60, 95, "Institute of Imaginary Studies, Nowhere"),
    (60, 125, "Abstract"),
    *[(60, 140 + 12 * i, f"Body sentence number {i} of the made-up abstract goes here.") for i in range(20)],
]
PAGE_2 = [(60, 60 + 12 * i, f"Second page line {i}.") for i in range(10)]


@pytest.fixture(scope="module")
def paper() -> bytes:
    return _pdf(FRONT, PAGE_2, rotated="arXiv:0000.00000v1 [cs.XX] 1 Jan 2000")


@pytest.fixture(scope="module")
def dense_paper() -> bytes:
    """One page of small text: ~0.2 s to parse, so a 10 ms limit always trips."""
    doc = FPDF(unit="pt", format="A4")
    doc.set_font("Helvetica", size=5)
    doc.add_page()
    for i in range(40):
        doc.text(20, 20 + 5.7 * i, "dense filler words for a slow page " * 5)
    return bytes(doc.output())


# -------------------------------------------------------------------------------------- real fixture PDFs


@pytest.mark.parametrize("entry", _entries("ok"))
def test_fixture_pdfs_give_front_matter_and_affiliations(entry: dict[str, Any]) -> None:
    text = _extract_fixture(entry["file"])
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
def test_fixture_institution_names_keep_their_spaces_and_accents(entry: dict[str, Any]) -> None:
    # Stricter than the squashed check: x_tolerance=1.5 keeps word spaces, accents are recombined.
    deep = _extract_fixture(entry["file"]).deep
    for affiliation in entry["affiliations"]:
        assert unicodedata.normalize("NFC", affiliation) in deep


@pytest.mark.parametrize("entry", _entries("error"))
def test_bad_fixture_pdfs_raise_a_clear_pdf_error(entry: dict[str, Any]) -> None:
    keyword = entry["file"].split("-")[2].removesuffix(".pdf")  # bad-01-truncated.pdf -> "truncated"
    with pytest.raises(PdfError) as info:
        extract_text((PDFS / entry["file"]).read_bytes())
    message = str(info.value)
    assert keyword in message.lower(), message
    assert "\n" not in message and "Traceback" not in message
    assert not is_retriable(info.value)


# ------------------------------------------------------------------------------------------- extraction


def test_synthetic_paper_head_deep_and_pages(paper: bytes) -> None:
    text = extract_text(paper)
    assert text.pages == 2
    assert text.head == "A Synthetic Study of Placeholder Text\nAda Example and Bob Sample\n" + (
        "Institute of Imaginary Studies, Nowhere"
    )
    assert text.deep.startswith(text.head + "\nAbstract\nBody sentence number 0")
    assert "Second page line 9." in text.deep  # page 1 is short, so page 2 is read too
    assert "arXiv:" not in text.deep  # rotated margin stamp dropped


def test_page_two_is_skipped_when_page_one_fills_deep(paper: bytes) -> None:
    text = extract_text(paper, head_chars=50, deep_chars=300)
    assert len(text.head) <= 50 and len(text.deep) <= 300
    assert "Second page" not in text.deep


def test_two_columns_are_read_left_column_first() -> None:
    lines = [(60, 60, "A Two Column Synthetic Paper With A Wide Title")]
    for i in range(14):
        lines += [
            (60, 100 + 12 * i, f"left column line {i:02}"),
            (320, 100 + 12 * i, f"right column line {i:02}"),
        ]
    deep = extract_text(_pdf(lines)).deep
    assert deep.index("left column line 13") < deep.index("right column line 00")
    assert "left column line 00\nleft column line 01" in deep


def test_page_without_text_layer() -> None:
    doc = FPDF(unit="pt", format="A4")
    doc.add_page()
    doc.rect(50, 50, 300, 400, style="F")  # a "scan": ink but no text
    with pytest.raises(PdfError, match="no text layer on page 1"):
        extract_text(bytes(doc.output()))


@pytest.mark.parametrize(
    ("data", "keyword"),
    [
        (b"", "empty"),
        (b"\xef\xbb\xbf  <!DOCTYPE html><html><body>503</body></html>", "HTML"),
        (b"PK\x03\x04 a zip file", "no %PDF- header"),
        (b"%PDF-1.7\n" + bytes(range(256)) * 8, "garbage"),
    ],
)
def test_not_a_pdf(data: bytes, keyword: str) -> None:
    with pytest.raises(PdfError, match=keyword):
        extract_text(data)


def test_truncated_synthetic_pdf(paper: bytes) -> None:
    with pytest.raises(PdfError, match="truncated"):
        extract_text(paper[: len(paper) // 3])


def test_parse_time_limit_kills_the_worker_and_the_next_call_works(dense_paper: bytes, paper: bytes) -> None:
    start = time.monotonic()
    with pytest.raises(PdfError, match=r"PDF parsing exceeded 0.01 s"):
        extract_text(dense_paper, time_limit=0.01)
    assert time.monotonic() - start < 5
    assert extract_text(paper).pages == 2  # a fresh worker replaced the killed one


def test_concurrent_calls_from_threads(paper: bytes, dense_paper: bytes) -> None:
    inputs = [paper, dense_paper] * 3
    expected = {id(p): extract_text(p) for p in (paper, dense_paper)}
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(extract_text, inputs))
    assert [r == expected[id(p)] for r, p in zip(results, inputs, strict=True)] == [True] * len(inputs)


# ---------------------------------------------------------------------------------------- text helpers


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Universite\u00b4 de Montre\u00b4al", "Universit\u00e9 de Montr\u00e9al"),
        ("De\u00b4partement", "D\u00e9partement"),
        (
            "E\u00b4cole, Franc\u00b8ais, Mu\u00a8ller, Jo\u02c6me, Pen\u02dca",
            "\u00c9cole, Fran\u00e7ais, M\u00fcller, J\u00f4me, Pe\u00f1a",
        ),
        ("na\u00a8\u0131ve Garc\u00b4\u0131a", "na\u00efve Garc\u00eda"),  # accent before a dotless i
        ("e\u0301t\u00e9", "\u00e9t\u00e9"),  # NFD -> NFC
        ("x^2, e^x and `code`", "x^2, e^x and `code`"),  # ASCII ^ and ` are not accents as text
        ("\ufb01t the \ufb00ect", "fit the ffect"),
        ("a(cid:12)b (cid:3)c", "ab c"),
        ("  one \t two\u00a0three  \n\n\n\n four \r\nfive", "one two three\n\nfour\nfive"),
    ],
)
def test_normalize_text(raw: str, clean: str) -> None:
    assert normalize_text(raw) == clean


def test_merge_accents_by_position() -> None:
    def char(text: str, x0: float, x1: float, top: float = 100.0) -> dict[str, Any]:
        return {"text": text, "x0": x0, "x1": x1, "top": top, "size": 10.0}

    # '´' drawn over 'e' (after it in the list) and over 'ı' (before it); a far-away '´' stays.
    chars = [
        char("e", 10, 15),
        char("\u00b4", 11, 14, 99),
        char("\u00b4", 19.5, 22.5, 99),
        char("\u0131", 20, 22),
    ]
    chars.append(char("\u00b4", 60, 63))
    assert [c["text"] for c in pdfmod._merge_accents(chars)] == ["\u00e9", "\u00ed", "\u00b4"]


@pytest.mark.parametrize(
    ("page", "head"),
    [
        ("Title\nA. Author\nSome University\nAbstract\nWe study.", "Title\nA. Author\nSome University"),
        ("Title\nA. Author\nABSTRACT\nWe study.", "Title\nA. Author"),
        ("Title\nA. Author\nAbstract. We study.", "Title\nA. Author"),
        ("Title\nA. Author\nAbstract\u2014We study.", "Title\nA. Author"),
        ("Title\nA. Author\nAbstractWe study.", "Title\nA. Author"),  # pdfplumber glued the heading
        ("Title\nA. Author\n1 Introduction\nText.", "Title\nA. Author"),
        ("Title\nA. Author\n1. INTRODUCTION. Text.", "Title\nA. Author"),
        ("Title\nA. Author\nI. INTRODUCTION\nText.", "Title\nA. Author"),
        ("Title\nA. Author\nIntroduction\nText.", "Title\nA. Author"),
        ("Abstract Algebra for Robots\nA. Author\nAbstract\nText.", "Abstract Algebra for Robots\nA. Author"),
        ("Title\nA. Author\nAbstractions are everywhere.", "Title\nA. Author\nAbstractions are everywhere."),
    ],
)
def test_front_matter(page: str, head: str) -> None:
    assert front_matter(page, 2000) == head


def test_front_matter_without_heading_is_capped() -> None:
    page = "word " * 1000
    head = front_matter(page.strip(), 2000)
    assert 1600 < len(head) <= 2000 and head.endswith("word")


def test_deep_keeps_the_bottom_of_a_dense_page_one() -> None:
    page1 = "\n".join(f"body line {i} " + "x" * 60 for i in range(150)) + "\n*Footnote: Far Away Institute"
    deep = pdfmod._deep([page1, "page two"], 6500)
    assert len(deep) <= 6500
    assert deep.startswith("body line 0 ") and deep.endswith("Far Away Institute")
    assert "page two" not in deep


# ------------------------------------------------------------------------------------------- downloads


class _Handler(BaseHTTPRequestHandler):
    """Answers /pdf/<id> in the way the id's last digits ask for (see `server` below)."""

    good: bytes = b""

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, ctype: str = "application/pdf", **headers: str) -> None:
        headers = {"Content-Type": ctype, "Content-Length": str(len(body))} | {
            name.replace("_", "-"): value for name, value in headers.items()
        }
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up on purpose
            self.wfile.write(body)

    def do_GET(self) -> None:
        case = self.path.rsplit(".", 1)[-1].split("v")[0]  # /pdf/2401.00404v2 -> "00404"
        if case == "00001":
            self._send(200, self.good)
        elif case in ("00403", "00404"):
            self._send(int(case[2:]), b"Not Found", "text/plain")
        elif case in ("00429", "00503"):
            self._send(int(case[2:]), b"busy", "text/plain", Retry_After="0")
        elif case == "00200":
            self._send(
                200, b"<!DOCTYPE html><html><body>Please wait</body></html>", "text/html; charset=utf-8"
            )
        elif case == "00201":  # HTML under a PDF content type
            self._send(200, b"\n<!doctype html><html><body>Rate limited</body></html>")
        elif case == "00413":  # announces a huge body and sends none
            self._send(200, b"", Content_Length=str(10**9))
        elif case == "00414":  # no Content-Length, just keeps sending
            self.send_response(200)
            self.send_header("Content-Type", "application/pdf")
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                for _ in range(40):
                    self.wfile.write(b"%PDF-1.4\n" + b"0" * 65536)
        elif case == "00206":  # announces 5000 bytes, sends 1000, closes
            self._send(200, self.good[:1000], Content_Length="5000")
        elif case == "00408":
            time.sleep(1.0)
            self._send(200, self.good)
        else:
            self._send(500, b"unexpected test path", "text/plain")


@pytest.fixture(scope="module")
def server(paper: bytes) -> Iterator[str]:
    handler = type("Handler", (_Handler,), {"good": paper})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _get(base_url: str, arxiv_id: str, **kw: Any) -> bytes:
    kw = {"timeout": 5.0, "max_bytes": 1_000_000, "max_wait": 0.0} | kw
    return download_pdf(arxiv_id, base_url=base_url, **kw)


def test_download_good_pdf(server: str, paper: bytes) -> None:
    assert _get(server, "2401.00001") == paper
    with requests.Session() as session:  # a caller's session is used and left open
        assert _get(server + "/", "2401.00001v2", session=session) == paper
        assert _get(server, "2401.00001", session=session) == paper


@pytest.mark.parametrize("status", ["00404", "00403"])
def test_download_client_errors_are_final(server: str, status: str) -> None:
    with pytest.raises(PdfError, match=f"HTTP {int(status)}") as info:
        _get(server, f"2401.{status}")
    assert not is_retriable(info.value)


@pytest.mark.parametrize("status", ["00503", "00429"])
def test_download_server_busy_is_retriable(server: str, status: str) -> None:
    with pytest.raises(RetriableError, match=f"HTTP {int(status)}") as info:
        _get(server, f"2401.{status}", max_wait=60.0)
    assert info.value.retry_after == 0.0


@pytest.mark.parametrize("case", ["00200", "00201"])
def test_download_html_page(server: str, case: str) -> None:
    with pytest.raises(PdfError, match="arXiv answered with an HTML page, not a PDF") as info:
        _get(server, f"2401.{case}")
    assert not is_retriable(info.value)


def test_download_oversize_announced_is_rejected_before_reading(server: str) -> None:
    start = time.monotonic()
    with pytest.raises(PdfError, match="larger than 30 MB cap"):
        _get(server, "2401.00413", max_bytes=30 * 2**20)
    assert time.monotonic() - start < 2


def test_download_oversize_stream_stops_at_the_cap(server: str) -> None:
    with pytest.raises(PdfError, match="larger than 200000 bytes cap") as info:
        _get(server, "2401.00414", max_bytes=200_000)
    assert not is_retriable(info.value)


def test_download_truncated_body_is_retriable(server: str) -> None:
    with pytest.raises(RetriableError, match="truncated"):
        _get(server, "2401.00206")


def test_download_timeout_and_refused_connection_are_retriable(server: str) -> None:
    with pytest.raises(RetriableError, match="timed out"):
        _get(server, "2401.00408", timeout=0.2)
    with pytest.raises(RetriableError, match="connection failed"):
        _get("http://127.0.0.1:9", "2401.00001", timeout=2.0)  # discard port: nothing listens


@pytest.mark.parametrize(
    "arxiv_id",
    ["2401.01234", "2401.01234v12", "0704.0001", "cs/0112017", "math.GT/0309136", "hep-th/9901001v2"],
)
def test_valid_arxiv_ids(arxiv_id: str) -> None:
    assert pdfmod._ARXIV_ID.fullmatch(arxiv_id)


@pytest.mark.parametrize(
    "arxiv_id",
    ["", "2401.123", "2401.012345", "../../etc/passwd", "2401.01234/../x", "cs/011201", "2401.01234 "],
)
def test_invalid_arxiv_id_is_rejected_without_a_request(arxiv_id: str) -> None:
    # Port 9 refuses connections: had a request been made, this would be a RetriableError.
    with pytest.raises(PdfError, match="invalid arXiv id") as info:
        download_pdf(arxiv_id, base_url="http://127.0.0.1:9", timeout=1.0, max_bytes=1000)
    assert not is_retriable(info.value)
