"""arXiv PDFs: download one (size-capped, typed errors) and read the text of its first page(s).

pdfplumber runs in long-lived worker processes, not in the caller: a pathological PDF can keep pdfminer
busy for minutes or eat all memory, and only a separate process can be stopped. A round trip to a warm
worker costs ~0.1 ms; a fresh process per call would cost ~11 ms (forkserver) or ~50 ms plus ~130 ms of
imports (spawn), on a parse of ~120 ms. A worker that times out or dies is killed and replaced.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import unicodedata
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import requests

from tasks import http
from tasks.errors import PdfError, RetriableError
from tasks.models import PdfText

# New style 2401.01234v2, old style cs/0112017 or math.GT/0309136.
_ARXIV_ID = re.compile(r"(?:\d{4}\.\d{4,5}|[a-z]+(?:-[a-z]+)*(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?")
_HTML_START = re.compile(rb"(?:<!doctype\s+html|<html|<head|<body|<\?xml|<!--)", re.IGNORECASE)
_LEADING_JUNK = b" \t\r\n\f\x00\xef\xbb\xbf"  # whitespace and a UTF-8 BOM some servers put first


# --------------------------------------------------------------------------------------------- download


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
    if not _ARXIV_ID.fullmatch(arxiv_id):
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
    problem = _pdf_problem(body)
    if problem and "HTML" in problem:
        raise PdfError(f"{what}: arXiv answered with an HTML page, not a PDF")
    if problem:
        raise PdfError(f"{what}: arXiv answered with something that is {problem}")
    return body


def _read_body(resp: requests.Response, what: str, max_bytes: int) -> bytes:
    announced = _content_length(resp)
    cap = f"larger than {_size(max_bytes)} cap"
    if announced is not None and announced > max_bytes:
        raise PdfError(f"{what}: {announced} bytes announced, {cap}")
    body = bytearray()
    for chunk in resp.iter_content(chunk_size=256 * 1024):
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


def _size(n: int) -> str:
    return f"{n / 2**20:g} MB" if n >= 2**20 else f"{n} bytes"


def _pdf_problem(data: bytes) -> str | None:
    """Why `data` cannot be a PDF, judged from its first bytes; None when it may be one."""
    if not data:
        return "not a PDF: file is empty"
    head = data[:1024].lstrip(_LEADING_JUNK)
    if head.startswith(b"%PDF-"):
        return None
    if _HTML_START.match(head):
        return "not a PDF: it is an HTML page"
    return f"not a PDF: no %PDF- header (starts with {data[:12]!r})"


# ----------------------------------------------------------------------------------------------- text

_X_TOLERANCE = 1.5  # pdfplumber's default (3) glues TeX-set words: 'MicrosoftResearch', 'KaimingHe'
_MIN_GUTTER = 8  # pt: wider than a stretched word space, narrower than any journal's column gap
_MIN_COLUMN_LINES = 10  # fewer aligned lines are an author grid or a table, not a column layout
_MEMORY_LIMIT = 2 * 2**30  # address space of a worker: a decompression bomb fails there, not in the flow
_POOL_SIZE = max(1, min(4, os.cpu_count() or 1))  # parsing is CPU-bound: more workers than cores gain nothing
_START_TIMEOUT = 60.0
_PROJECT_ROOT = Path(__file__).resolve().parents[1]  # so the worker imports this very `tasks` package

# Spacing accents as pdfminer reports TeX's separately drawn accent glyphs, and their combining forms.
_ACCENTS = {
    "\u00b4": "\u0301",  # ´ acute
    "`": "\u0300",  # grave
    "\u00a8": "\u0308",  # ¨ diaeresis
    "\u02c6": "\u0302",  # ˆ circumflex
    "^": "\u0302",
    "\u02dc": "\u0303",  # ˜ tilde
    "\u00b8": "\u0327",  # ¸ cedilla
    "\u02c7": "\u030c",  # ˇ caron
    "\u02da": "\u030a",  # ˚ ring
    "\u02d8": "\u0306",  # ˘ breve
    "\u02dd": "\u030b",  # ˝ double acute
    "\u02db": "\u0328",  # ˛ ogonek
    "\u02d9": "\u0307",  # ˙ dot above
    "\u00af": "\u0304",  # ¯ macron
}
_DOTLESS = {"\u0131": "i", "\u0237": "j"}  # TeX puts accents on ı and ȷ: 'í' is ı + ´
# Text-level fallback for accents the geometric pass missed: an accent after its letter, as pdfplumber orders
# them, except before ı/ȷ, which take the accent that precedes them ('na¨ıve'). Not ASCII ` and ^: as text
# they are code or math ('e^x'), and real accents drawn with those glyphs are handled by position.
_LOOSE_ACCENT = re.compile(
    r"([\u00b4\u00a8\u02c6\u02dc])([\u0131\u0237])"
    r"|([^\W\d_])([\u00b4\u00a8\u02c6\u02dc\u00b8\u02c7\u02da\u02d8\u02dd\u02db\u02d9])(?![\u0131\u0237])"
)
_LIGATURES = str.maketrans(
    {
        "\ufb00": "ff",
        "\ufb01": "fi",
        "\ufb02": "fl",
        "\ufb03": "ffi",
        "\ufb04": "ffl",
        "\ufb05": "st",
        "\ufb06": "st",
    }
)
_CID = re.compile(r"\(cid:\d+\)")  # glyphs without a Unicode mapping
_INVISIBLE = re.compile(r"[\x00-\x08\x0e-\x1b\x7f\u00ad\u200b\u2060\ufeff]")
_SPACES = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r"\n{3,}")
# Where the front matter ends. Line 0 never counts: it is the title, which may start with "Abstract".
_HEADING = re.compile(
    r"^(?:(?:Abstract|ABSTRACT|A B S T R A C T|a b s t r a c t)(?![a-z])"
    r"|(?:1|I)\.?\s*(?:Introduction|INTRODUCTION)(?![a-z])"
    r"|(?:Introduction|INTRODUCTION)\s*$)",
    re.MULTILINE,
)
_GAP = "\n[…]\n"

Char = dict[str, Any]


def extract_text(
    pdf: bytes, *, head_chars: int = 2000, deep_chars: int = 6500, time_limit: float = 30.0
) -> PdfText:
    """Text of page 1 (and page 2 when page 1 is short): `head` is the front matter, `deep` a longer slice."""
    problem = _pdf_problem(pdf)
    if problem:  # no worker round trip for what the first bytes already tell
        raise PdfError(problem)
    reply = _get_pool().run((pdf, deep_chars), time_limit)
    if isinstance(reply, str):
        raise PdfError(reply)
    pages, texts = reply
    return PdfText(head=front_matter(texts[0], head_chars), deep=_deep(texts, deep_chars), pages=pages)


def front_matter(page1: str, limit: int) -> str:
    """Page 1's text before the Abstract / Introduction heading, or its first `limit` chars without one."""
    for m in _HEADING.finditer(page1):
        before = page1[: m.start()].strip()
        if before:
            return _clip(before, limit)
    return _clip(page1, limit)


def _deep(texts: list[str], limit: int) -> str:
    first = texts[0]
    if len(first) <= limit:
        return _clip("\n\n".join(texts), limit)
    # A dense page 1: trade its middle for its bottom, where footnotes carry affiliations.
    tail = first[-(limit // 5) :]
    tail = tail[tail.find("\n") + 1 :] if "\n" in tail[:-1] else tail
    return _clip(first, limit - len(tail) - len(_GAP)) + _GAP + tail


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = max(cut.rfind("\n"), cut.rfind(" "))
    return (cut[:space] if space > limit * 0.8 else cut).rstrip()


def normalize_text(text: str) -> str:
    """NFC, loose accents folded into their letter; ligatures expanded, (cid:N) dropped, spaces collapsed."""
    text = _CID.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _INVISIBLE.sub("", text)
    text = _LOOSE_ACCENT.sub(_fold_accent, text)
    text = unicodedata.normalize("NFC", text.translate(_LIGATURES))
    text = "\n".join(line.strip() for line in _SPACES.sub(" ", text).split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip()


def _fold_accent(m: re.Match[str]) -> str:
    composed = _compose(m[2], m[1]) if m[1] else _compose(m[3], m[4])
    return composed or m[0]


def _compose(base: str, accent: str) -> str | None:
    """`base` with `accent` folded in, if Unicode has that letter as one code point (so not 'x^')."""
    composed = unicodedata.normalize("NFC", _DOTLESS.get(base, base) + _ACCENTS[accent])
    return composed if len(composed) == 1 else None


# ------------------------------------------------------------------------------- page layout (worker side)


def _page_text(page: Any) -> str:
    from pdfplumber.utils import extract_text as chars_to_text

    chars = _chars(page)
    # Rotated glyphs are the arXiv margin stamp (it reads backwards); keep them only if they are the page.
    upright = [c for c in chars if c.get("upright", True)]
    chars = _merge_accents(upright if 2 * len(upright) >= len(chars) else chars)
    blocks = _reading_blocks(chars, float(page.width))
    return normalize_text("\n".join(chars_to_text(b, x_tolerance=_X_TOLERANCE) for b in blocks))


def _chars(page: Any) -> list[Char]:
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


def _merge_accents(chars: list[Char]) -> list[Char]:
    """Fold each spacing accent into the letter under it, by position: text order is not reliable
    ('e´' with the default layout, '´ e' in stream order, '´ı' for í)."""
    out = list(chars)
    dropped: set[int] = set()
    for i, c in enumerate(chars):
        if c["text"] not in _ACCENTS:
            continue
        mid = (c["x0"] + c["x1"]) / 2
        for j in (i - 1, i + 1, i - 2, i + 2):
            if not 0 <= j < len(out) or j in dropped:
                continue
            b = out[j]
            if (
                b["text"].isalpha()
                and b["text"] not in _ACCENTS
                and b["x0"] - 0.5 <= mid <= b["x1"] + 0.5
                and abs(c["top"] - b["top"]) < b["size"]
                and (composed := _compose(b["text"], c["text"]))
            ):
                out[j] = {**b, "text": composed}
                dropped.add(i)
                break
    return [c for k, c in enumerate(out) if k not in dropped]


def _reading_blocks(chars: list[Char], width: float) -> list[list[Char]]:
    """Split chars into blocks in reading order: full-width bands as they come, and each run of two-column
    lines left column first. pdfplumber alone reads a two-column page line by line across both columns."""
    from pdfplumber.utils import cluster_objects

    lo = width * 0.3  # the gutter lies in the middle 40% of the page; 1 pt bins
    nbins = max(_MIN_GUTTER, int(width * 0.4))
    lines = cluster_objects(chars, "top", 3)
    gaps = [_wide_gaps(line, lo, nbins) for line in lines]
    # The gutter: the bin inside a wide gap on the most lines (the abstract's indent or a caption's ragged
    # end must not shift it, so it is chosen for the whole page, not line by line).
    counts = [0] * nbins
    for mask in gaps:
        while mask:
            low = mask & -mask
            counts[low.bit_length() - 1] += 1
            mask ^= low
    if max(counts) < _MIN_COLUMN_LINES:
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
        if run_lines >= _MIN_COLUMN_LINES:
            blocks += [band, [c for c in run if c["x0"] + c["x1"] < 2 * split]]
            blocks.append([c for c in run if c["x0"] + c["x1"] >= 2 * split])
            band = []
        else:
            band += run
        run, run_lines = [], 0
        band += line
    blocks.append(band)
    return [b for b in blocks if b]


def _wide_gaps(line: list[Char], lo: float, nbins: int) -> int:
    """Bitmask of the bins inside the line's empty stretches at least _MIN_GUTTER wide (not word spaces)."""
    occupied = 0
    for c in line:
        a, b = int(c["x0"] - lo), int(c["x1"] - lo)
        if b < 0 or a >= nbins or c["text"].isspace():
            continue
        a, b = max(a, 0), min(b, nbins - 1)
        occupied |= ((1 << (b - a + 1)) - 1) << a
    starts = ((1 << nbins) - 1) & ~occupied
    for _ in range(_MIN_GUTTER - 1):  # keep bit i only if bins i .. i+7 are all free
        starts &= starts >> 1
    wide = starts
    for _ in range(_MIN_GUTTER - 1):  # and give back the 7 bins each start covers
        wide |= wide << 1
    return wide


def _read_pages(pdf: bytes, deep_chars: int) -> tuple[int, list[str]]:
    import pdfplumber

    with pdfplumber.open(io.BytesIO(pdf)) as doc:
        pages = doc.pages
        if not pages:
            raise PdfError("corrupt PDF: it has no pages")
        texts = [_page_text(pages[0])]
        if not texts[0]:
            raise PdfError("no text layer on page 1")
        if len(texts[0]) < deep_chars and len(pages) > 1:
            with contextlib.suppress(Exception):  # a damaged page 2 costs only the extra text
                texts.append(_page_text(pages[1]))
        return len(pages), texts


def _describe(exc: BaseException, pdf: bytes) -> str:
    """One line saying what is wrong with the file, instead of pdfminer's traceback."""
    from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
    from pdfminer.psparser import PSEOF

    cause = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else exc  # PdfminerException
    detail = " ".join(str(cause).split())[:160]
    if isinstance(cause, PDFPasswordIncorrect | PDFEncryptionError):
        return "encrypted PDF: cannot be read without a password"
    if b"endobj" not in pdf:
        return "corrupt PDF: no PDF objects after the header (garbage?)"
    if isinstance(cause, PSEOF) or "EOF" in detail or b"%%EOF" not in pdf[-2048:]:
        return "corrupt PDF: unexpected end of file (truncated?)"
    return (
        f"corrupt PDF: {type(cause).__name__}: {detail}" if detail else f"corrupt PDF: {type(cause).__name__}"
    )


def _job(pdf: bytes, deep_chars: int) -> tuple[int, list[str]] | str:
    """Run in the worker: the pages' texts, or an error message (exceptions do not cross the pipe well)."""
    try:
        return _read_pages(pdf, deep_chars)
    except PdfError as exc:
        return str(exc)
    except MemoryError:
        return f"corrupt PDF: parsing needs more than {_size(_MEMORY_LIMIT)} of memory"
    except RecursionError:
        return "corrupt PDF: objects nested too deeply"
    except Exception as exc:
        return _describe(exc, pdf)


def _serve_fd(fd: int) -> None:
    """Worker entry point (see _Worker): serve jobs on the inherited socket `fd`."""
    _serve(Connection(fd))


def _serve(conn: Connection) -> None:
    """Worker main loop: one (pdf, deep_chars) job in, one reply out, until the parent goes away."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent, which then stops us
    try:
        import resource

        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        soft = _MEMORY_LIMIT if hard == resource.RLIM_INFINITY else min(_MEMORY_LIMIT, hard)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    except (ImportError, ValueError, OSError):  # not on Linux, or not allowed: parse without the cap
        pass
    # An idle worker sees EOF when the parent dies; a busy one (a PDF that never ends) needs this watchdog.
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    logging.getLogger("pdfminer").setLevel(logging.ERROR)  # its warnings about odd PDFs are noise here
    import pdfplumber  # noqa: F401  (imported before "ready" so start-up is not billed to a parse)

    conn.send("ready")
    while True:
        try:
            pdf, deep_chars = conn.recv()
        except (EOFError, OSError):
            return
        conn.send(_job(pdf, deep_chars))


def _exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


# ------------------------------------------------------------------------------------- worker processes


class _Worker:
    """One parser process and our end of its socket.

    Started as a fresh interpreter (`python -c`), not by multiprocessing: fork is unsafe in a threaded caller
    (Prefect's runner), and multiprocessing's spawn re-runs the caller's __main__ script in the child, which
    breaks any script without an `if __name__ == "__main__"` guard.
    """

    def __init__(self) -> None:
        ours, theirs = socket.socketpair()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_PROJECT_ROOT), env.get("PYTHONPATH")) if p)
        code = f"from tasks.pdf import _serve_fd; _serve_fd({theirs.fileno()})"
        with theirs:
            self.process = subprocess.Popen(
                [sys.executable, "-c", code], pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, env=env
            )
        self.conn = Connection(ours.detach())
        try:
            ready = self.conn.poll(_START_TIMEOUT) and self.conn.recv() == "ready"
        except (EOFError, OSError):
            ready = False
        if not ready:  # the machine's trouble, not the PDF's: worth another try later
            self.stop()
            raise RetriableError("PDF parser process failed to start")

    def alive(self) -> bool:
        return self.process.poll() is None

    def call(self, job: tuple[bytes, int], time_limit: float) -> tuple[int, list[str]] | str:
        try:
            self.conn.send(job)
            if not self.conn.poll(time_limit):
                raise PdfError(f"PDF parsing exceeded {time_limit:g} s")
            return self.conn.recv()
        except (EOFError, OSError) as exc:
            try:
                code = self.process.wait(1)
            except subprocess.TimeoutExpired:
                code = None
            raise PdfError(f"PDF parser crashed (exit code {code})") from exc

    def stop(self) -> None:
        self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):  # unkillable (D state): leave it to the OS
            self.process.wait(5)
        self.conn.close()


class _Pool:
    """At most `size` workers, each serving one caller at a time; safe to use from many threads."""

    def __init__(self, size: int) -> None:
        self.pid = os.getpid()
        self._slots = threading.BoundedSemaphore(size)
        self._lock = threading.Lock()
        self._idle: list[_Worker] = []
        self._closed = False

    def run(self, job: tuple[bytes, int], time_limit: float) -> tuple[int, list[str]] | str:
        with self._slots:
            worker = self._checkout()
            try:
                reply = worker.call(job, time_limit)
            except BaseException:
                worker.stop()  # timed out, crashed or interrupted mid-job: its state is unknown
                raise
            with self._lock:
                closed = self._closed
                if not closed:
                    self._idle.append(worker)
            if closed:
                worker.stop()
            return reply

    def _checkout(self) -> _Worker:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.alive():
                    return worker
                worker.stop()
        return _Worker()  # outside the lock: start-up takes ~0.15 s

    def close(self) -> None:
        with self._lock:
            idle, self._idle, self._closed = self._idle, [], True
        for worker in idle:
            worker.stop()


_pool: _Pool | None = None
_pool_lock = threading.Lock()


def _get_pool() -> _Pool:
    global _pool
    with _pool_lock:
        if _pool is None or _pool.pid != os.getpid():  # a forked child must not share its parent's workers
            _pool = _Pool(_POOL_SIZE)
            atexit.unregister(shutdown_workers)  # once is enough
            atexit.register(shutdown_workers)
        return _pool


def shutdown_workers() -> None:
    """Stop the idle parser processes (they also exit on their own when this process does)."""
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.close()
