"""Render the static site from the day store (public entry point; the pieces live in `tasks.site`).

    load_days(settings)            every valid data/days/*.json, by date
    render_site(settings)          rebuild every page, feed and asset; remove pages of deleted days
    render_for_day(settings, date) only what a daily run over `date` changes
    day_page_path(settings, date)  where a day's page is written

Pages use relative links and embed their data, so the site works from any static host and from file://.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import ValidationError

from tasks.files import write_atomic
from tasks.log import get_logger
from tasks.models import DayFile
from tasks.settings import TEMPLATES_DIR, Settings
from tasks.site import feeds
from tasks.site.i18n import i18n_script, load_strings
from tasks.site.output import prune, sync_static
from tasks.site.pages import (
    Site,
    Target,
    all_targets,
    day_relpath,
    render_archive,
    render_day,
    render_month,
    render_zh,
    targets_for_day,
)
from tasks.store import site_lock

_DAY_FILE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def day_page_path(settings: Settings, date: str) -> Path:
    return settings.site_dir / day_relpath(date)


def load_days(settings: Settings) -> dict[str, DayFile]:
    """Every readable day file, keyed and sorted by date; unreadable or mismatched files are logged and
    skipped so that one bad file never takes the whole site down."""
    days: dict[str, DayFile] = {}
    folder = settings.days_dir
    if not folder.is_dir():
        get_logger().warning("no day store at %s: rendering an empty site", folder)
        return days
    for path in sorted(folder.glob("*.json")):
        if not _DAY_FILE.match(path.stem):
            get_logger().warning("skipping %s: not named YYYY-MM-DD.json", path)
            continue
        try:
            day = DayFile.model_validate_json(path.read_bytes())
        except (OSError, ValidationError, ValueError) as exc:
            get_logger().error("skipping unreadable day file %s: %s", path, str(exc).splitlines()[0])
            continue
        if day.date != path.stem:
            get_logger().error("skipping %s: it holds date %s", path, day.date)
            continue
        days[day.date] = day
    return days


def render_site(settings: Settings) -> list[Path]:
    """Rebuild the whole site; returns every file written (and logs pages removed for deleted days)."""
    with site_lock(settings):
        site = Site(load_days(settings), TEMPLATES_DIR)
        written = _render(settings, site, all_targets(site))
        removed = prune(settings.site_dir, set(written))
    if removed:
        get_logger().info("removed %d pages whose day file is gone", len(removed))
    return written


def render_for_day(settings: Settings, date: str) -> list[Path]:
    """Re-render only the pages a run over `date` affects (see `targets_for_day`).

    The day files are read under the site lock: renders of parallel runs take turns, and the last one sees
    every date saved before it, so no shared page (month, archive, feeds) is left without a date.
    """
    with site_lock(settings):
        site = Site(load_days(settings), TEMPLATES_DIR)
        if date not in site.days:
            get_logger().warning("no stored day %s: re-rendering its neighbours and the overview pages only", date)
        return _render(settings, site, targets_for_day(site, date))


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


def _render(settings: Settings, site: Site, targets: list[Target]) -> list[Path]:
    out = settings.site_dir
    strings = load_strings(TEMPLATES_DIR)
    written = sync_static(TEMPLATES_DIR / "static", out / "static", {"i18n.js": i18n_script(strings)})
    if not settings.site_url and any(kind == "feeds" for kind, _ in targets):
        _warn_relative_feed_links()
    for kind, key in dict.fromkeys(targets):  # ordered and deduplicated
        if kind == "day":
            written.append(write_atomic(out / day_relpath(key), render_day(site, key, "../")))
        elif kind == "index":
            # With no stored day yet the front page is the (empty) archive rather than a 404.
            page = render_day(site, site.latest, "") if site.latest else render_archive(site)
            written.append(write_atomic(out / "index.html", page))
        elif kind == "month":
            written.append(write_atomic(out / "m" / f"{key}.html", render_month(site, key)))
        elif kind == "zh":
            written.append(write_atomic(out / "zh" / f"{key}.html", render_zh(site, key)))
        elif kind == "archive":
            written.append(write_atomic(out / "archive.html", render_archive(site)))
        elif kind == "feeds":
            written.append(write_atomic(out / "feed.xml", feeds.atom_feed(site.days, settings.site_url)))
            written.append(write_atomic(out / "feed.json", feeds.json_feed(site.days, settings.site_url)))
    return written
