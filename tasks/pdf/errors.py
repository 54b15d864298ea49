"""The PDF stage's errors and its one-line diagnoses of bad files.

The error types are the project's (`tasks.errors`: `PdfError` is final, `RetriableError` may heal), so the
retry condition and the flow read them like any other stage's. What this module adds is the wording: a human
reads it in the day file, so a bad file is named by what is wrong with it (empty, HTML, truncated, encrypted),
not by pdfminer's traceback.
"""

from __future__ import annotations

import re

from tasks.errors import PdfError, RetriableError

__all__ = ["PdfError", "RetriableError", "describe", "size_text", "sniff"]

_HTML_START = re.compile(rb"(?:<!doctype\s+html|<html|<head|<body|<\?xml|<!--)", re.IGNORECASE)
_LEADING_JUNK = b" \t\r\n\f\x00\xef\xbb\xbf"  # whitespace and a UTF-8 BOM some servers put first


def sniff(data: bytes) -> str | None:
    """Why `data` cannot be a PDF, judged from its first bytes; None when it may be one."""
    if not data:
        return "not a PDF: file is empty"
    head = data[:1024].lstrip(_LEADING_JUNK)
    if head.startswith(b"%PDF-"):
        return None
    if _HTML_START.match(head):
        return "not a PDF: it is an HTML page"
    return f"not a PDF: no %PDF- header (starts with {data[:12]!r})"


def describe(exc: BaseException, pdf: bytes) -> str:
    """One line saying what is wrong with the file pdfminer failed on (worker side)."""
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


def size_text(n: int) -> str:
    """A byte count as people write caps: '30 MB', '200000 bytes'."""
    return f"{n / 2**20:g} MB" if n >= 2**20 else f"{n} bytes"
