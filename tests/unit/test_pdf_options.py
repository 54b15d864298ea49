"""tasks.pdf.options: the PDF stage's options, built from Settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from tasks.pdf.options import PdfOptions
from tasks.settings import Settings


def test_options_from_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name, value in {"HFDAILY_DATA_DIR": str(tmp_path), "HFDAILY_ARXIV_URL": "http://127.0.0.1:1",
                        "HFDAILY_HTTP_TIMEOUT": "7", "HFDAILY_PDF_MAX_BYTES": "1000", "HFDAILY_RETRY_MAX_WAIT": "3",
                        "HFDAILY_PDF_PARSE_TIMEOUT": "4", "HFDAILY_KEEP_PDFS": "true",
                        "HFDAILY_PDF_CONCURRENCY": "2"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)  # no stray .env
    options = PdfOptions.from_settings(Settings())
    assert options == PdfOptions(arxiv_url="http://127.0.0.1:1", http_timeout=7, max_bytes=1000, max_wait=3,
                                 parse_timeout=4, keep_dir=tmp_path / "pdfs", downloads=2)
    monkeypatch.setenv("HFDAILY_KEEP_PDFS", "false")
    assert PdfOptions.from_settings(Settings()).keep_dir is None


def test_options_are_frozen_and_checked() -> None:
    options = PdfOptions()
    with pytest.raises(ValidationError):
        options.parse_timeout = 1  # type: ignore[misc]
    with pytest.raises(ValidationError):
        PdfOptions(downloads=0)
