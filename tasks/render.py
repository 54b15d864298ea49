"""Render the static site from the day store (public entry point; the pieces live in `tasks.site`).

    load_days(settings)            every valid days/*.json of the data dir, by date
    load_for_day(settings, date)   what a render of `date` reads: every day's summary, and the day files of only
                                   the dates whose pages it writes (so its memory does not grow with the store)
    render_site(settings)          rebuild every page, feed and asset; remove pages of deleted days
    render_for_day(settings, date) only what a daily run over `date` changes, in parts: each date's own pages
                                   (`render-DATE`) and the shared ones (`render-shared`); a runner given as `run`
                                   renders each part (tasks/render_tasks.py: as cached, retried Prefect tasks)
    day_page_key(date)             where a day's page is written, relative to the site dir

Pages use relative links and embed their data, so the site works from any static host and from file://. Both
the day store and the site may be local folders or buckets (tasks/storage); renders return the keys they wrote.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from pydantic import ValidationError

from tasks.lease import Lease
from tasks.log import get_logger
from tasks.memory import collector_paused
from tasks.models import DayFile
from tasks.settings import TEMPLATES_DIR, Settings
from tasks.site import search
from tasks.site.i18n import i18n_script, load_strings
from tasks.site.images import SiteImages
from tasks.site.output import discard, drop_dirs, prune, sync_dir, sync_static, write_page
from tasks.site.pages import (
    Site,
    Target,
    all_targets,
    day_relpath,
    days_read,
    feed_files,
    render_archive,
    render_day,
    render_month,
    render_search,
    render_zh,
    search_records,
    shown_papers,
    targets_for_day,
    unpublished_pages,
)
from tasks.site.summary import DaySummary, summarize
from tasks.storage import Storage
from tasks.store import DAYS, day_key, site_lease

_DAY_FILE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MONTH = re.compile(r"^\d{4}-\d{2}$")
SHARED = "render-shared"  # the part of a render that writes the pages every date shares
READ_CHUNK = 32  # day files read at once (a bucket reads them in parallel); parsed, then summarized or kept


def day_page_key(date: str) -> str:
    return day_relpath(date)


def _day_keys(store: Storage) -> list[str]:
    """The keys of the day files, in date order (others are logged and left alone)."""
    keys = store.list(DAYS)
    if not keys:
        get_logger().warning("no day store at %s: rendering an empty site", store.describe(DAYS))
        return []
    wanted = []
    for key in keys:
        name = key.rsplit("/", 1)[-1]
        if not name.endswith(".json"):
            continue
        if not _DAY_FILE.match(name.removesuffix(".json")):
            get_logger().warning("skipping %s: not named YYYY-MM-DD.json", store.describe(key))
            continue
        wanted.append(key)
    return sorted(wanted)


def _read_days(store: Storage, keys: list[str]) -> Iterator[tuple[DayFile, str]]:
    """Each readable day file of `keys` with its SHA-256, a chunk of files at a time (never the whole store in
    memory); unreadable or mismatched files are logged and skipped so that one bad file never takes the whole
    site down."""
    for i in range(0, len(keys), READ_CHUNK):
        for key, raw in sorted(store.read_many(keys[i:i + READ_CHUNK]).items()):
            stem = key.rsplit("/", 1)[-1].removesuffix(".json")
            try:
                day = DayFile.model_validate_json(raw)
            except (ValidationError, ValueError) as exc:
                get_logger().error("skipping unreadable day file %s: %s", store.describe(key),
                                   str(exc).splitlines()[0])
                continue
            if day.date != stem:
                get_logger().error("skipping %s: it holds date %s", store.describe(key), day.date)
                continue
            yield day, hashlib.sha256(raw).hexdigest()


def load_days(settings: Settings, digests: dict[str, str] | None = None) -> dict[str, DayFile]:
    """Every readable day file, keyed and sorted by date. `digests`, if given, receives each loaded file's SHA-256
    by date (what a cached render is keyed on)."""
    days: dict[str, DayFile] = {}
    for day, digest in _read_days(settings.data, _day_keys(settings.data)):
        days[day.date] = day
        if digests is not None:
            digests[day.date] = digest
    return days


def load_for_day(settings: Settings, date: str, digests: dict[str, str]) -> Site:
    """The site as a render of `date` sees it: every stored day as a summary, and the day files of the dates its
    pages show (`days_read` of `targets_for_day`), read again after the summaries. `digests` receives every day
    file's SHA-256 (of the version read last). Should a day file change between the two reads so that the pages
    need another date (a date's first paper saved meanwhile), every day file is read, as a whole-site render does."""
    store = settings.data
    keys = _day_keys(store)
    summaries: dict[str, DaySummary] = {}
    for day, digest in _read_days(store, keys):
        summaries[day.date] = summarize(day)
        digests[day.date] = digest
    images = SiteImages(settings.data, settings.site)
    outline = Site({}, TEMPLATES_DIR, summaries=summaries)
    wanted = days_read(outline, targets_for_day(outline, date))
    days: dict[str, DayFile] = {}
    for day, digest in _read_days(store, [day_key(d) for d in sorted(wanted)]):
        days[day.date] = day
        summaries[day.date] = summarize(day)
        digests[day.date] = digest
    site = Site(days, TEMPLATES_DIR, images=images, summaries=summaries)
    if not days_read(site, targets_for_day(site, date)) <= set(days):
        get_logger().info("day files changed while %s was rendered: reading every day file", date)
        digests.clear()
        site = Site(load_days(settings, digests), TEMPLATES_DIR, images=images)
    return site


def render_site(settings: Settings) -> list[str]:
    """Rebuild the whole site; returns every key written (and logs pages removed for deleted days)."""
    # The collector waits only once this render holds the site: renders of parallel runs take turns for it, and
    # one waiting for its turn must not keep the collector off for the others' whole render.
    with site_lease(settings) as lease, collector_paused():  # loading the store makes no garbage either
        images = SiteImages(settings.data, settings.site)
        dropped = images.prune()  # first: no card is rendered with a picture about to go
        site = Site(load_days(settings), TEMPLATES_DIR, images=images)
        written = _render(settings, site, all_targets(site), lease)
        removed = []
        if not lease.lost.is_set():
            removed = prune(settings.site, set(written))
            removed += drop_dirs(settings.site, search.INDEX_DIR, set(site.months), MONTH)
    if dropped:
        get_logger().info("removed %d pictures whose source is gone from the data dir", len(dropped))
    if removed:
        get_logger().info("removed %d pages whose day file is gone", len(removed))
    from tasks.site.requested import render_requested  # papers reviewed on request (u/), after the site lease

    return written + render_requested(settings)


@dataclass(frozen=True)
class Part:
    """Some pages of a render, rendered (and, as a task, cached and retried) together: `render-DATE` for a date's
    own pages (its day page and zh page), `render-shared` for the rest (months, home, archive, feeds, search)."""

    name: str
    targets: list[Target]

    @property
    def shared(self) -> bool:
        return self.name == SHARED


def split_parts(targets: list[Target]) -> list[Part]:
    """The targets as parts: one per date with pages of its own (in date order), then the shared part."""
    own: dict[str, list[Target]] = {}
    shared: list[Target] = []
    for kind, key in dict.fromkeys(targets):
        if kind in ("day", "zh"):
            own.setdefault(key, []).append((kind, key))
        else:
            shared.append((kind, key))
    return [Part(f"render-{d}", own[d]) for d in sorted(own)] + [Part(SHARED, shared)]


class RenderJob:
    """One part to render with what it reads: an opaque object (Prefect does not walk into it for futures)."""

    __slots__ = ("digests", "lease", "part", "settings", "site")

    def __init__(self, settings: Settings, site: Site, part: Part, lease: Lease, digests: dict[str, str]) -> None:
        self.settings, self.site, self.part, self.lease, self.digests = settings, site, part, lease, digests


PartRunner = Callable[[RenderJob], list[str]]


def render_part(job: RenderJob) -> list[str]:
    """Write one part's pages (the shared part also the static assets); the keys written."""
    return _render(job.settings, job.site, job.part.targets, job.lease, static=job.part.shared)


def render_for_day(settings: Settings, date: str, run: PartRunner = render_part) -> list[str]:
    """Re-render only the pages a run over `date` affects (see `targets_for_day`), part by part (`split_parts`).

    The day files are read under the site lease, held across every part: renders of parallel runs take turns,
    and the last one sees every date saved before it, so no shared page (month, archive, feeds) is left without
    a date.
    """
    with site_lease(settings) as lease, collector_paused():  # once it holds the site (see render_site)
        digests: dict[str, str] = {}
        site = load_for_day(settings, date, digests)
        if date not in site.summaries:
            get_logger().warning("no stored day %s: re-rendering its neighbours and the overview pages only", date)
        elif date not in site.dates:
            get_logger().info("%s has no papers (yet): no day page; the home page stays on %s", date, site.latest)
        written: list[str] = []
        for part in split_parts(targets_for_day(site, date)):
            if lease.lost.is_set():
                break  # said once, by the part that saw it (`_render`)
            written += run(RenderJob(settings, site, part, lease, digests))
        removed = [] if lease.lost.is_set() else [k for rel in unpublished_pages(site, date)
                                                   if (k := discard(settings.site, rel))]
    if removed:
        get_logger().info("removed %s: the date has no papers", ", ".join(removed))
    if not settings.site.exists("u/index.html"):  # every page's navigation links the list of reviews on request
        from tasks.site.requested import render_requested

        written += render_requested(settings, [])
    return written


_site_url_warned = False  # once per process: per command, per deployment run, per backfill (not per date)


def _warn_relative_feed_links() -> None:
    global _site_url_warned
    if not _site_url_warned:
        _site_url_warned = True
        get_logger().warning("HFDAILY_SITE_URL is not set: feed links are relative, most feed readers need absolute")


def quiet_site_url_warning() -> None:
    """No warning about relative feed links in this process (the demo's site is only ever opened from disk)."""
    global _site_url_warned
    _site_url_warned = True


def _render(settings: Settings, site: Site, targets: list[Target], lease: Lease, static: bool = True) -> list[str]:
    """Write the targets' pages (and with `static` the static assets); stops early (keeping what it wrote) if
    another render took the lease over, since that render read the day files later and writes every page this
    one would. The first-page pictures of the cards shown are published first, so no card waits for its picture."""
    out = settings.site
    written = []
    if static:
        written += sync_static(TEMPLATES_DIR / "static", out, {"i18n.js": i18n_script(load_strings(TEMPLATES_DIR))})
    if site.images is not None:
        written += site.images.publish(shown_papers(site, targets))
    if not settings.site_url and any(kind == "feeds" for kind, _ in targets):
        _warn_relative_feed_links()
    months = [key for kind, key in targets if kind == "search"] if settings.search_index else []
    index = search.BackgroundBuild(lambda: {m: search_records(site, m) for m in months}, out) if months else None
    for kind, key in dict.fromkeys(targets):  # ordered and deduplicated
        if lease.lost.is_set():
            get_logger().warning("another render took the site over; it writes the remaining pages")
            break
        if kind == "day":
            written.append(write_page(out, day_relpath(key), render_day(site, key, "../")))
        elif kind == "index":
            # With no stored day yet the front page is the (empty) archive rather than a 404.
            page = render_day(site, site.latest, "") if site.latest else render_archive(site)
            written.append(write_page(out, "index.html", page))
        elif kind == "month":
            written.append(write_page(out, f"m/{key}.html", render_month(site, key)))
        elif kind == "zh":
            written.append(write_page(out, f"zh/{key}.html", render_zh(site, key)))
        elif kind == "archive":
            written.append(write_page(out, "archive.html", render_archive(site)))
        elif kind == "feeds":
            written += [write_page(out, rel, content) for rel, content in feed_files(site, settings.site_url)]
        elif kind == "search-page":
            written.append(write_page(out, "search.html", render_search(site, settings.search_index)))
    if index is not None:
        written += _write_index(out, index)
    return written


def _write_index(out: Storage, index: search.BackgroundBuild) -> list[str]:
    """The rebuilt search bundles, through the writer; a failed index is logged and leaves the previous bundles."""
    try:
        bundles = index.result()
    except Exception as exc:  # the pages are written: a broken index must not fail the run that stored the day
        get_logger().error("search index not rebuilt, the previous one stays: %s", exc)
        return []
    written = [k for name, files in bundles.items()
               for k in sync_dir(out, search.bundle_dir(name), files, search.named_by_content)]
    if bundles:
        get_logger().info("search index: %d month bundles, %d records in %.1f s (%d up to date)",
                          len(bundles), index.records, index.seconds, len(index.skipped))
    return written
