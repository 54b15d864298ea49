"""Download one arXiv PDF: a validated id, a size cap that holds even when the server lies, typed errors.

Everything that may heal on a retry (429, 5xx, timeouts, a body cut short) is a `RetriableError`; everything
else (404, an HTML page instead of a PDF, too large, a bad id) is a final `PdfError`, so Prefect's retry
condition never re-downloads what cannot change.
"""

from __future__ import annotations

import re

import requests

from tasks import http
from tasks.pdf.errors import PdfError, RetriableError, size_text, sniff

# New style 2401.01234v2, old style cs/0112017 or math.GT/0309136.
ARXIV_ID = re.compile(r"(?:\d{4}\.\d{4,5}|[a-z]+(?:-[a-z]+)*(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?")
_CHUNK = 256 * 1024


def download_pdf(
    arxiv_id: str,
    *,
    base_url: str,
    timeout: float,
    max_bytes: int,
    max_wait: float = 60.0,
    session: requests.Session | None = None,
) -> bytes:
    """Fetch `{base_url}/pdf/{id}`: RetriableError if a retry may help (429, 5xx, network), else PdfError."""
    if not ARXIV_ID.fullmatch(arxiv_id):
        raise PdfError(f"invalid arXiv id {arxiv_id!r}")
    what = f"PDF {arxiv_id}"
    url = f"{base_url.rstrip('/')}/pdf/{arxiv_id}"
    own = session is None
    s = http.session() if session is None else session
    try:
        with s.get(url, stream=True, timeout=timeout) as resp:
            http.raise_if_retriable(resp, what, max_wait=max_wait)
            if not 200 <= resp.status_code < 300:
                raise PdfError(f"{what}: HTTP {resp.status_code} from {url}")
            if "html" in resp.headers.get("Content-Type", "").lower():
                raise PdfError(f"{what}: arXiv answered with an HTML page, not a PDF")
            body = _read_body(resp, what, max_bytes)
    except requests.exceptions.ChunkedEncodingError as exc:
        # urllib3 reports a body shorter than its Content-Length (or a broken chunk) this way.
        raise RetriableError(f"{what}: transfer broke off (truncated body)") from exc
    except (requests.Timeout, requests.ConnectionError) as exc:
        raise http.transport_error(exc, what) from exc
    except requests.RequestException as exc:  # bad URL, too many redirects: trying again will not help
        raise PdfError(f"{what}: request failed ({type(exc).__name__}: {exc})") from exc
    finally:
        if own:
            s.close()
    problem = sniff(body)
    if problem and "HTML" in problem:
        raise PdfError(f"{what}: arXiv answered with an HTML page, not a PDF")
    if problem:
        raise PdfError(f"{what}: arXiv answered with something that is {problem}")
    return body


def _read_body(resp: requests.Response, what: str, max_bytes: int) -> bytes:
    announced = _content_length(resp)
    cap = f"larger than {size_text(max_bytes)} cap"
    if announced is not None and announced > max_bytes:
        raise PdfError(f"{what}: {announced} bytes announced, {cap}")
    body = bytearray()
    for chunk in resp.iter_content(chunk_size=_CHUNK):
        body += chunk
        if len(body) > max_bytes:  # the header may be absent or lie: stop reading as soon as we know
            raise PdfError(f"{what}: {cap}")
    # urllib3 normally raises on a short body; this catches servers/proxies that get past it.
    if announced is not None and len(body) < announced and not resp.headers.get("Content-Encoding"):
        raise RetriableError(f"{what}: truncated transfer ({len(body)} of {announced} bytes)")
    return bytes(body)


def _content_length(resp: requests.Response) -> int | None:
    try:
        return int(resp.headers["Content-Length"])
    except (KeyError, ValueError):
        return None
