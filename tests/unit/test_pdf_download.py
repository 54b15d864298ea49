"""tasks.pdf.download against a local HTTP server: the size cap, HTML instead of a PDF, truncated bodies, which
errors are retriable, and arXiv id validation before any request."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from tasks.errors import PdfError, RetriableError, is_retriable
from tasks.pdf.download import ARXIV_ID, download_pdf
from tests.pdf_samples import sample_paper


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
def paper() -> bytes:
    return sample_paper()


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
    assert ARXIV_ID.fullmatch(arxiv_id)


@pytest.mark.parametrize(
    "arxiv_id",
    ["", "2401.123", "2401.012345", "../../etc/passwd", "2401.01234/../x", "cs/011201", "2401.01234 "],
)
def test_invalid_arxiv_id_is_rejected_without_a_request(arxiv_id: str) -> None:
    # Port 9 refuses connections: had a request been made, this would be a RetriableError.
    with pytest.raises(PdfError, match="invalid arXiv id") as info:
        download_pdf(arxiv_id, base_url="http://127.0.0.1:9", timeout=1.0, max_bytes=1000)
    assert not is_retriable(info.value)
