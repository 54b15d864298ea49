"""tasks.pdf.task and tasks.pdf.options without the engine: the cache key and the options built from Settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from tasks.pdf import extract
from tasks.pdf.options import PdfOptions
from tasks.pdf.task import pdf_cache_key
from tasks.settings import Settings


@pytest.mark.parametrize(
    ("arxiv_id", "key"),
    [("2401.01234", "pdf-text-v{v}-2401.01234"), ("cs/0112017", "pdf-text-v{v}-cs_0112017")],
)
def test_cache_key_is_the_extractor_version_and_the_id(arxiv_id: str, key: str) -> None:
    options = PdfOptions(arxiv_url="http://mirror.invalid", http_timeout=1)
    assert pdf_cache_key(None, {"arxiv_id": arxiv_id, "options": options}) == key.format(v=extract.EXTRACTOR_VERSION)
    assert pdf_cache_key(None, {"arxiv_id": arxiv_id, "options": PdfOptions()}) == key.format(
        v=extract.EXTRACTOR_VERSION
    )


def test_cache_key_follows_a_version_bump(monkeypatch: pytest.MonkeyPatch) -> None:
    before = pdf_cache_key(None, {"arxiv_id": "2401.01234"})
    monkeypatch.setattr(extract, "EXTRACTOR_VERSION", extract.EXTRACTOR_VERSION + 1)
    assert pdf_cache_key(None, {"arxiv_id": "2401.01234"}) != before


@pytest.mark.parametrize("arxiv_id", ["../../etc/passwd", "", "2401.1"])
def test_a_bad_id_is_not_cached(arxiv_id: str) -> None:
    assert pdf_cache_key(None, {"arxiv_id": arxiv_id}) is None


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
