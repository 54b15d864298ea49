"""Page generation as Prefect tasks: each part of a daily render (tasks/render.py: `render-DATE` for a date's own
pages, `render-shared` for months, home, archive, feeds and search) is a task run, cached and retried.

Cached on the content of what the part reads, not on the task's source: the SHA-256 of the day files it reads, a
digest of the templates folder, `RENDER_VERSION`, and the settings that change its output. A date's own pages read
their day file, their neighbours' dates and their papers' canonical institutions (which depend on every day); the
shared pages read every day's summary (tasks/site/summary.py) and the day files of the days they show, so they are
keyed on every day file. An unchanged part is a cache hit (state Cached) and writes nothing, but only while
its pages (and pictures) are still on the site: a missing one makes the part render again (refreshing its record).
Records live in `<data>/cache/render`, beside the PDF caches.

Retried on transient write errors, which matter once the site is a bucket: OSError (a dropped connection, a 5xx
turned into one by the storage library) and errors marked retriable, but not a missing folder or a refused
permission, which no retry heals. A part cut short because another render took the site lease over ends Failed
(not cached): the render that took over writes the rest.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from prefect import task
from prefect.cache_policies import CacheKeyFnPolicy
from prefect.context import TaskRunContext

from tasks.errors import HfDailyError, is_retriable
from tasks.log import get_logger
from tasks.pdf.task import pdf_result_storage
from tasks.render import RenderJob, render_for_day, render_part
from tasks.retrying import retry_notice, retry_options
from tasks.settings import TEMPLATES_DIR, Settings
from tasks.site import search
from tasks.site.images import image_key
from tasks.site.pages import day_relpath, shown_papers

# Bump when the pages change for the same day files and templates: tasks/render.py, tasks/site/*.py. Cached
# renders are keyed on it, so a bump renders every part again.
RENDER_VERSION = 1
CACHE_FOLDER = "cache/render"
_NO_HEAL = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)


class SiteTakenOver(HfDailyError):
    """Another render took the site lease over while this part was writing (`written`: what it wrote before)."""

    def __init__(self, message: str, written: list[str]) -> None:
        super().__init__(message)
        self.written = written


def retry_if_write_error(task: Any, task_run: Any, state: Any) -> bool:
    """Retry a part whose write failed transiently; say so in one line, as the HTTP tasks do."""
    try:
        state.result()
    except Exception as exc:
        if isinstance(exc, SiteTakenOver) or not (is_retriable(exc) or
                                                  (isinstance(exc, OSError) and not isinstance(exc, _NO_HEAL))):
            return False
        get_logger().info("%s", retry_notice(exc, task_run, task))
        return True
    return False


def templates_digest(folder: Path = TEMPLATES_DIR) -> str:
    """SHA-256 over the templates folder: every file's relative path and bytes."""
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def part_inputs(job: RenderJob) -> dict[str, Any]:
    """What the part's pages are made of, as plain data (the cache key is its digest)."""
    site, part, settings = job.site, job.part, job.settings
    inputs: dict[str, Any] = {
        "version": RENDER_VERSION, "templates": templates_digest(), "site": settings.site.url,
        "part": part.name, "targets": part.targets,
    }
    if part.shared:
        inputs.update(days=job.digests, site_url=settings.site_url, search_index=settings.search_index)
        return inputs
    for _, date in part.targets:
        day = site.days.get(date)
        inputs[date] = {
            "day": job.digests.get(date), "prev": site.prev_date(date), "next": site.next_date(date),
            "institutions": [site.institutions_of(p) for p in day.papers] if day else [],
        }
    return inputs


def _outputs(job: RenderJob) -> list[str]:
    """Pages and pictures the part leaves on the site, all of which a cache hit relies on being there."""
    keys: list[str] = []
    for kind, key in job.part.targets:
        keys += {"day": [day_relpath(key)], "zh": [f"zh/{key}.html"], "month": [f"m/{key}.html"],
                 "index": ["index.html"], "archive": ["archive.html"], "feeds": ["feeds.html"],
                 "search-page": ["search.html"]}.get(kind, [])
    return keys


def part_key(job: RenderJob) -> str:
    """`render-…-<digest of the part's inputs>`."""
    blob = json.dumps(part_inputs(job), sort_keys=True, default=str).encode()
    return f"{job.part.name}-{hashlib.sha256(blob).hexdigest()[:32]}"


def outputs_missing(job: RenderJob) -> bool:
    """Whether a page or picture of the part is not on the site (then a cached record must not stand for it)."""
    out = job.settings.site
    if not all(out.exists(k) for k in _outputs(job)):
        return True
    if job.site.images is not None:
        wanted = {k for p in shown_papers(job.site, job.part.targets) if (k := image_key(p))}
        if not wanted <= job.site.images.present():  # a picture lost from the data dir keeps this True: no harm
            return True
    return job.settings.search_index and any(
        kind == "search" and not out.list(search.bundle_dir(month)) for kind, month in job.part.targets)


def _cache_key(context: TaskRunContext | None, parameters: dict[str, Any]) -> str | None:
    key = parameters.get("key")
    return key if isinstance(key, str) else None


RENDER_CACHE = CacheKeyFnPolicy(cache_key_fn=_cache_key)


@task(name="render", task_run_name="{name}", cache_policy=RENDER_CACHE, retry_condition_fn=retry_if_write_error)
def render_pages(name: str, key: str, job: RenderJob) -> list[str]:
    """Render one part of the site (its name says which); the site keys written."""
    written = render_part(job)
    if job.lease.lost.is_set():
        raise SiteTakenOver(f"{name}: another render took the site over after {len(written)} files; it writes the rest",
                            written)
    return written


def render_part_as_task(job: RenderJob) -> list[str]:
    """A `tasks.render.PartRunner`: the part as a task run named after it, cached and retried."""
    settings = job.settings
    options = retry_options(settings) | {"retry_condition_fn": retry_if_write_error}
    # Outputs missing on the site (a first render, a wiped folder): render, and store the record anew.
    runner = render_pages.with_options(result_storage=pdf_result_storage(settings.data, CACHE_FOLDER),
                                       refresh_cache=outputs_missing(job), **options)
    state = runner(job.part.name, part_key(job), job, return_state=True)
    if state.is_failed():
        try:
            state.result()
        except SiteTakenOver as exc:  # already said as a warning by the render itself
            get_logger().info("%s", exc)
            return exc.written
    return state.result()  # type: ignore[no-any-return]


def render_day_as_tasks(settings: Settings, date: str) -> list[str]:
    """`tasks.render.render_for_day` with each part a Prefect task (inside a flow: the daily run's render)."""
    return render_for_day(settings, date, run=render_part_as_task)
