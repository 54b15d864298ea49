"""The PDF text cache under the real Prefect engine (test harness) against a tiny local arXiv.

The key is the arXiv id and EXTRACTOR_VERSION: a second call is a hit with no download and no parse, whatever the
options; a cosmetic edit of the task wrapper keeps the hit; bumping the version downloads and parses again; and a
record is read by another process with its own PREFECT_HOME. Records live in the data dir: a local folder, or a
bucket on a real S3-compatible server (Prefect's RemoteFileSystem on the same prefix).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from prefect import task

from tasks.models import PdfText
from tasks.pdf import extract
from tasks.pdf.options import PdfOptions
from tasks.pdf.task import PDF_CACHE, pdf_result_storage, pdf_text_task
from tasks.settings import PROJECT_ROOT
from tasks.storage import Storage, open_storage
from tests.pdf_samples import sample_paper

ID = "2401.00001"


class _Arxiv(BaseHTTPRequestHandler):
    body = b""
    hits: Counter[str]

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.hits[self.path] += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/pdf")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)


@pytest.fixture(scope="module")
def arxiv() -> Iterator[tuple[str, Counter[str]]]:
    hits: Counter[str] = Counter()
    handler = type("Handler", (_Arxiv,), {"body": sample_paper(), "hits": hits})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", hits
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts the task's calls of the real extract_text."""
    count: Counter[str] = Counter()
    real = extract.extract_text

    def counting(*args: Any, **kwargs: Any) -> PdfText:
        count["parse"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(extract, "extract_text", counting)
    return count


def _records(data: Storage) -> list[str]:
    return [key.rsplit("/", 1)[-1] for key in data.list("cache/pdf-text")]


@pytest.fixture
def data(store_urls: dict[str, str]) -> Storage:
    return open_storage(store_urls["HFDAILY_DATA_DIR"], conditional=True)


def test_second_call_is_a_hit_and_a_version_bump_downloads_and_parses_again(
    prefect_harness: None, arxiv: tuple[str, Counter[str]], parses: Counter[str], data: Storage,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, hits = arxiv
    hits.clear()
    cached = pdf_text_task.with_options(result_storage=pdf_result_storage(data), retries=0)
    options = PdfOptions(arxiv_url=url, http_timeout=5)

    first = cached(ID, options, return_state=True)
    assert first.is_completed() and first.name != "Cached"
    text = first.result()
    assert text.pages == 2 and "Institute of Imaginary Studies" in text.head
    assert hits[f"/pdf/{ID}"] == 1 and parses["parse"] == 1
    assert _records(data) == [f"pdf-text-v{extract.EXTRACTOR_VERSION}-{ID}"]

    # Other timeouts, caps and slots change nothing a page says: still a hit.
    again = cached(ID, PdfOptions(arxiv_url=url, http_timeout=9, parse_timeout=5, downloads=1), return_state=True)
    assert again.name == "Cached" and again.result() == text
    assert hits[f"/pdf/{ID}"] == 1 and parses["parse"] == 1

    monkeypatch.setattr(extract, "EXTRACTOR_VERSION", extract.EXTRACTOR_VERSION + 1)
    bumped = cached(ID, options, return_state=True)
    assert bumped.name != "Cached" and bumped.result() == text
    assert hits[f"/pdf/{ID}"] == 2 and parses["parse"] == 2
    assert len(_records(data)) == 2


def test_a_cosmetic_edit_of_the_task_wrapper_keeps_the_cache(
    prefect_harness: None, arxiv: tuple[str, Counter[str]], parses: Counter[str], tmp_path: Path
) -> None:
    url, hits = arxiv
    hits.clear()
    options = PdfOptions(arxiv_url=url, http_timeout=5)
    storage = pdf_result_storage(open_storage(tmp_path))
    text = pdf_text_task.with_options(result_storage=storage, retries=0)(ID, options)

    def pdf_text_edited(arxiv_id: str, options: PdfOptions) -> PdfText:
        """The same wrapper after a cosmetic edit: another docstring, a local variable."""
        result = pdf_text_task.fn(arxiv_id, options)
        return result

    edited = task(name="pdf-text", cache_policy=PDF_CACHE, result_storage=storage)(
        pdf_text_edited
    )
    state = edited(ID, options, return_state=True)
    assert state.name == "Cached" and state.result() == text
    assert hits[f"/pdf/{ID}"] == 1 and parses["parse"] == 1


_CHILD = """
import sys
from tasks.pdf.options import PdfOptions
from tasks.pdf.task import pdf_result_storage, pdf_text_task
from tasks.storage import open_storage
task = pdf_text_task.with_options(result_storage=pdf_result_storage(open_storage(sys.argv[1])), retries=0)
state = task(sys.argv[2], PdfOptions(arxiv_url=sys.argv[3], http_timeout=5), return_state=True)
print(state.name, "|", state.result().head.splitlines()[0])
"""


def test_a_record_is_read_by_another_process_with_its_own_prefect_home(
    prefect_harness: None, arxiv: tuple[str, Counter[str]], data: Storage, tmp_path: Path
) -> None:
    from prefect.settings import get_current_settings

    url, hits = arxiv
    hits.clear()
    pdf_text_task.with_options(result_storage=pdf_result_storage(data), retries=0)(
        ID, PdfOptions(arxiv_url=url, http_timeout=5)
    )
    assert hits[f"/pdf/{ID}"] == 1
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "other-prefect-home"),
           "PREFECT_API_URL": get_current_settings().api.url, "PYTHONPATH": str(PROJECT_ROOT)}
    child = subprocess.run([sys.executable, "-c", _CHILD, data.url, ID, url], env=env, cwd=tmp_path,
                           capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, child.stderr[-2000:]
    assert child.stdout.strip().splitlines()[-1] == "Cached | A Synthetic Study of Placeholder Text"
    assert hits[f"/pdf/{ID}"] == 1
