"""Re-render the whole static site from the day store (after a template change, say)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from prefect import flow
from prefect.runtime import flow_run

from flows.runs import minute_name, name_if_crashed, never_fails
from tasks.log import get_logger
from tasks.render import render_site
from tasks.settings import load_settings


def site_name(parameters: Mapping[str, Any], scheduled: datetime | None) -> str:
    """`rebuild-site-2025-01-23T1405`: when the run was scheduled for (a run started by hand: when it was made)."""
    return minute_name("rebuild-site", scheduled)


@never_fails("rebuild-site")
def site_run_name() -> str:
    return site_name(flow_run.parameters, flow_run.scheduled_start_time)


@flow(name="rebuild-site", flow_run_name=site_run_name, log_prints=True, on_crashed=[name_if_crashed(site_name)])
def rebuild_site() -> int:
    """Render every page and feed from data/days; returns the number of files written."""
    written = render_site(load_settings())
    get_logger().info("rendered %d files", len(written))
    return len(written)
