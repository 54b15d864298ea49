"""The site's parts under the real Prefect engine against the sandbox: the first-page picture step (made once,
from the PDF the text step downloaded; none for a paper whose PDF failed) and page generation as task runs
`render-DATE` / `render-shared`, cached on their inputs and retried on a transient write error."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import requests
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

from flows.daily import daily_digest
from tasks.pdf import picture
from tasks.pdf.image import MAX_BYTES
from tasks.pdf.image_task import pdf_image_task
from tasks.pdf.options import PdfOptions
from tasks.render_tasks import render_day_as_tasks
from tasks.settings import Settings, load_settings
from tasks.storage.local import LocalStorage
from tasks.store import load_day, save_day

DATE = "2025-01-23"


def _card(html: str, arxiv_id: str) -> str:
    return html.split(f'id="p-{arxiv_id}"')[1].split("</article>")[0]


def _task_runs(flow_run_id: Any, wanted: set[str]) -> dict[str, Any]:
    """The flow run's task runs by name (they reach the API as events, a little after the run returns)."""
    deadline = time.monotonic() + 30
    with get_client(sync_client=True) as client:
        while True:
            runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
            by_name = {r.name: r for r in runs}
            if (wanted <= set(by_name) and all(by_name[n].state and by_name[n].state.is_final() for n in wanted)
                    or time.monotonic() > deadline):
                return by_name
            time.sleep(0.3)


@flow(name="rerender")
def rerender(date: str) -> list[str]:
    return render_day_as_tasks(load_settings(), date)


def test_each_card_gets_its_first_page_once_from_the_pdf_already_downloaded(env, sandbox, monkeypatch) -> None:
    daily_digest(date=DATE)
    settings = Settings()
    day = load_day(settings, DATE)
    assert sandbox.stats()["requests"]["pdf"] == 5  # one download a paper: the picture step took the text step's
    html = (Path(settings.site_dir) / "d" / f"{DATE}.html").read_text(encoding="utf-8")
    for p in day.papers:
        assert p.steps["image"].status == "ok"
        name = p.image["path"].removeprefix("img/")
        stored = Path(settings.data_dir, "images", name).read_bytes()
        assert stored[:4] == b"RIFF" and stored[8:12] == b"WEBP" and len(stored) == p.image["bytes"] <= MAX_BYTES
        assert (Path(settings.site_dir) / "img" / name).read_bytes() == stored  # published with the pages
        img = re.search(r"<img [^>]*>", _card(html, p.arxiv_id))
        assert img, p.arxiv_id
        assert f'src="../img/{name}"' in img[0] and 'loading="lazy"' in img[0]
        assert f'width="{p.image["width"]}" height="{p.image["height"]}"' in img[0] and 'alt="First page of ' in img[0]
    mtimes = {f.name: f.stat().st_mtime_ns for f in Path(settings.data_dir, "images").iterdir()}

    # A re-run draws nothing and downloads nothing; a paper listed again elsewhere hits the picture cache.
    sandbox.reset()
    sandbox.config(papers_per_day=5)
    daily_digest(date=DATE)
    assert sandbox.stats()["requests"]["pdf"] == 0
    again = pdf_image_task.with_options(result_storage=Path(settings.data_dir, "cache", "pdf-image"), retries=0)(
        day.papers[0].arxiv_id, PdfOptions.from_settings(settings), settings.data.url, return_state=True)
    assert again.name == "Cached" and again.result() == day.papers[0].image
    assert sandbox.stats()["requests"]["pdf"] == 0
    assert {f.name: f.stat().st_mtime_ns for f in Path(settings.data_dir, "images").iterdir()} == mtimes

    # A new IMAGE_VERSION draws again; with no PDF left in this process's spool, the step downloads it itself.
    monkeypatch.setattr(picture, "IMAGE_VERSION", picture.IMAGE_VERSION + 1)
    bumped = pdf_image_task.with_options(result_storage=Path(settings.data_dir, "cache", "pdf-image"), retries=0)(
        day.papers[0].arxiv_id, PdfOptions.from_settings(settings), settings.data.url, return_state=True)
    assert bumped.name == "Completed" and bumped.result()["bytes"] <= MAX_BYTES
    assert sandbox.stats()["pdf_ids"] == {day.papers[0].arxiv_id: 1}


def test_a_paper_whose_pdf_failed_has_no_picture_and_its_page_renders(env, sandbox) -> None:
    feed = requests.get(f"{sandbox.url}/api/daily_papers", params={"date": DATE}, timeout=5).json()
    broken = feed[1]["paper"]["id"]
    sandbox.faults([{"target": "pdf", "match": broken, "status": 404}])
    summary = daily_digest(date=DATE)
    settings = Settings()
    day = load_day(settings, DATE)
    record = day.paper(broken)
    assert summary["failed"] == 1 and "image" not in record.steps and "image" not in (record.model_extra or {})
    html = (Path(settings.site_dir) / "d" / f"{DATE}.html").read_text(encoding="utf-8")
    assert "<img " not in _card(html, broken)
    assert all("<img " in _card(html, p.arxiv_id) for p in day.papers if p.arxiv_id != broken)


def test_pages_are_task_runs_cached_on_their_inputs(env, sandbox) -> None:
    state = daily_digest(date=DATE, return_state=True)
    names = {f"render-{DATE}", "render-shared"}
    runs = _task_runs(state.state_details.flow_run_id, names)
    assert all(runs[n].state.name == "Completed" for n in names), {n: runs[n].state.name for n in names}

    # Nothing changed since the run's render: both parts are cache hits and write nothing.
    site = Path(Settings().site_dir)
    page = site / "d" / f"{DATE}.html"
    before = page.stat().st_mtime_ns
    state = rerender(DATE, return_state=True)
    runs = _task_runs(state.state_details.flow_run_id, names)
    assert {runs[n].state.name for n in names} == {"Cached"} and all(runs[n].state.is_completed() for n in names)
    assert page.stat().st_mtime_ns == before
    keys = state.result()  # what the first render wrote, every one of them still on the site
    assert f"d/{DATE}.html" in keys and all((site / k).is_file() for k in keys)

    # A page gone from the site is rendered again, even with unchanged inputs.
    page.unlink()
    state = rerender(DATE, return_state=True)
    runs = _task_runs(state.state_details.flow_run_id, names)
    assert runs[f"render-{DATE}"].state.name == "Completed" and runs["render-shared"].state.name == "Cached"
    assert page.is_file()

    # A changed day file (a new upvote count) makes its date's part and the shared part render again.
    settings = Settings()
    day = load_day(settings, DATE)
    day.papers[0].upvotes += 1000
    save_day(settings, day)
    state = rerender(DATE, return_state=True)
    runs = _task_runs(state.state_details.flow_run_id, names)
    assert runs[f"render-{DATE}"].state.name == runs["render-shared"].state.name == "Completed"
    assert f"</span> {day.papers[0].upvotes}</span>" in page.read_text(encoding="utf-8")


def test_a_transient_write_error_is_retried(env, sandbox, monkeypatch) -> None:
    daily_digest(date=DATE, render=False)
    real = LocalStorage.write
    failures: list[str] = []

    def flaky(self: LocalStorage, key: str, data: bytes, **kw: Any) -> None:
        if key == f"d/{DATE}.html" and not failures:
            failures.append(key)
            raise ConnectionResetError("connection reset by peer")
        real(self, key, data, **kw)

    monkeypatch.setattr(LocalStorage, "write", flaky)
    state = rerender(DATE, return_state=True)
    runs = _task_runs(state.state_details.flow_run_id, {f"render-{DATE}"})
    assert failures and runs[f"render-{DATE}"].state.name == "Completed" and runs[f"render-{DATE}"].run_count == 2
    assert (Path(Settings().site_dir) / "d" / f"{DATE}.html").is_file()
