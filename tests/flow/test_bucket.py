"""A daily run whose data dir and site are in a bucket of a real S3-compatible server (moto), not on disk.

Everything a run needs lands in the bucket: the day file, the LLM answers, the PDF text records (Prefect's result
storage on the same prefix), the kept PDFs, the lease, and the site with its content types. The run's working
directory stays empty, and a second run, which could be on any other machine, pays for nothing again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from flows.daily import daily_digest
from flows.site import rebuild_site
from tasks.lease import LeaseRecord
from tasks.settings import Settings
from tasks.store import load_day

DATE = "2025-01-23"
LLM = ("openai", "anthropic", "mistral")


@pytest.fixture
def bucket(env: Path, s3_server: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    for key, value in s3_server.env.items():
        monkeypatch.setenv(key, value)
    name = s3_server.bucket()
    monkeypatch.setenv("HFDAILY_DATA_DIR", f"s3://{name}/data")
    monkeypatch.setenv("HFDAILY_SITE_DIR", f"s3://{name}/site")
    monkeypatch.setenv("HFDAILY_KEEP_PDFS", "true")
    return name


def test_a_day_in_a_bucket_leaves_nothing_on_disk_and_a_rerun_pays_nothing(
    env: Path, sandbox: Any, s3_server: Any, bucket: str
) -> None:
    before = sorted(p.name for p in env.iterdir())
    summary = daily_digest(date=DATE)
    assert summary["papers"] == 5 and summary["failed"] == 0
    assert summary["page"] == f"s3://{bucket}/site/d/{DATE}.html"
    assert sorted(p.name for p in env.iterdir()) == before  # no data/, site/ or `s3:` folder in the cwd

    keys = s3_server.keys(bucket)
    day = load_day(Settings(), DATE)
    ids = sorted(p.arxiv_id for p in day.papers)
    assert f"data/days/{DATE}.json" in keys
    assert sorted(k.rsplit("/", 1)[1] for k in keys if k.startswith("data/cache/pdf-text/")) == sorted(
        f"pdf-text-v1-{i}" for i in ids)
    assert sorted(k for k in keys if k.startswith("data/pdfs/")) == [f"data/pdfs/{i}.pdf" for i in ids]
    answers = [k for k in keys if k.startswith("data/cache/llm/")]
    assert len(answers) == day.usage.calls == sum(sandbox.stats()["requests"][p] for p in LLM)
    lease = LeaseRecord.model_validate_json(Settings().data.read(f"leases/{DATE}.json"))
    assert lease.released and lease.what == f"a run of {DATE}"

    client = s3_server.client()

    def content_type(key: str) -> str:
        return client.head_object(Bucket=bucket, Key=key)["ContentType"]

    assert content_type(f"site/d/{DATE}.html") == "text/html; charset=utf-8"
    assert content_type("site/index.html") == "text/html; charset=utf-8"
    assert content_type("site/static/site.css") == "text/css; charset=utf-8"
    assert content_type("site/feed.xml") == "application/atom+xml; charset=utf-8"
    assert content_type(f"data/pdfs/{ids[0]}.pdf") == "application/pdf"
    page = client.get_object(Bucket=bucket, Key=f"site/d/{DATE}.html")["Body"].read().decode()
    assert all(f'id="p-{i}"' in page for i in ids)

    sandbox.reset()
    sandbox.config(papers_per_day=5)
    daily_digest(date=DATE)
    stats = sandbox.stats()
    assert stats["requests"]["pdf"] == 0 and sum(stats["requests"][p] for p in LLM) == 0
    assert len(load_day(Settings(), DATE).runs) == 2

    client.put_object(Bucket=bucket, Key="site/d/2024-12-31.html", Body=b"a page whose day is gone")
    assert rebuild_site() > 0
    site_keys = s3_server.keys(bucket, "site/")
    assert "site/d/2024-12-31.html" not in site_keys and f"site/d/{DATE}.html" in site_keys
