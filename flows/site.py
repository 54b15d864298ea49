"""Re-render the whole static site from the day store (after a template change, say)."""

from __future__ import annotations

from prefect import flow

from tasks.log import get_logger
from tasks.render import render_site
from tasks.settings import Settings


@flow(name="rebuild-site", log_prints=True)
def rebuild_site() -> int:
    """Render every page and feed from data/days; returns the number of files written."""
    written = render_site(Settings())
    get_logger().info("rendered %d files", len(written))
    return len(written)
