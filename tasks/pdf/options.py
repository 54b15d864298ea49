"""The PDF stage's configuration: one frozen object built from Settings, passed to the task whole.

It replaces the task's seven loose arguments. None of it is part of a cached text's identity (the mirror,
timeouts and caps do not change what a paper's first page says), so the task's cache key leaves it out.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tasks.settings import Settings


class PdfOptions(BaseModel):
    """How to download and parse a paper's PDF; each field names the setting it comes from."""

    model_config = ConfigDict(frozen=True)

    arxiv_url: str = Field("https://arxiv.org", description="PDF base, `{arxiv_url}/pdf/<id>` (HFDAILY_ARXIV_URL)")
    http_timeout: float = Field(30.0, gt=0, description="seconds to connect / between bytes (HFDAILY_HTTP_TIMEOUT)")
    max_bytes: int = Field(30 * 2**20, gt=0, description="size cap of a PDF, bytes (HFDAILY_PDF_MAX_BYTES)")
    max_wait: float = Field(60.0, ge=0, description="longest Retry-After honoured, s (HFDAILY_RETRY_MAX_WAIT)")
    parse_timeout: float = Field(30.0, gt=0, description="parse time limit, s (HFDAILY_PDF_PARSE_TIMEOUT)")
    keep_dir: str | None = Field(None, description="keep downloaded PDFs in this folder or URL (<data>/pdfs with "
                                                   "HFDAILY_KEEP_PDFS)")
    downloads: int = Field(4, ge=1, description="downloads in flight per process (HFDAILY_PDF_CONCURRENCY)")

    @field_validator("keep_dir", mode="before")
    @classmethod
    def _folder(cls, value: object) -> object:
        return str(value) if isinstance(value, Path) else value

    @classmethod
    def from_settings(cls, settings: Settings) -> PdfOptions:
        return cls(
            arxiv_url=settings.arxiv_url,
            http_timeout=settings.http_timeout,
            max_bytes=settings.pdf_max_bytes,
            max_wait=settings.retry_max_wait,
            parse_timeout=settings.pdf_parse_timeout,
            keep_dir=settings.data.child("pdfs").url if settings.keep_pdfs else None,
            downloads=settings.pdf_concurrency,
        )
