"""Things said or named once: the missing-HFDAILY_SITE_URL warning once per command (never in the demo), the
names every run gets from the start (CLI runs, a backfill's deployment runs), and names that cannot fail."""

from __future__ import annotations

import argparse
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import flows.backfill
import flows.cli
import flows.launch
import sandbox.server
import tasks.render
from flows.runs import minute_name, never_fails
from tasks.render import render_for_day
from tasks.settings import Settings
from tests.site_data import small_store, write_store


@pytest.fixture
def fresh_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tasks.render, "_site_url_warned", False)


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "HFDAILY_SITE_URL is not set" in r.getMessage()]


def test_the_site_url_warning_is_given_once_not_once_per_date(tmp_path: Path, fresh_process: None,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path / "data", site_dir=tmp_path / "site")
    write_store(Path(settings.data_dir, "days"), small_store())
    with caplog.at_level(logging.WARNING):
        for date in ("2025-01-20", "2025-01-21", "2025-01-23"):  # a backfill's dates, in one process
            render_for_day(settings, date)
    assert len(_warnings(caplog)) == 1


def test_the_demo_never_gives_it(tmp_path: Path, fresh_process: None, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    class FakeSandbox:
        url = "http://127.0.0.1:9"

        def __enter__(self) -> FakeSandbox:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

    calls: list[tuple[str, dict[str, Any]]] = []

    def run_here(flow: Any, name: str, **parameters: Any) -> dict[str, str]:
        calls.append((name, parameters))
        return {"line": "ok"}

    monkeypatch.setattr(sandbox.server, "start", FakeSandbox)
    monkeypatch.setattr(flows.launch, "run_here", run_here)
    for key in flows.cli.sandbox_env("x", tmp_path):
        monkeypatch.setenv(key, "")  # recorded, so that teardown removes what the demo sets
    flows.cli._demo(argparse.Namespace(out=tmp_path / "demo", dates=[datetime(2025, 1, 22).date()]))
    assert tasks.render._site_url_warned is True  # as if said already: the demo's site is opened from disk
    assert [name for name, _ in calls] == ["daily-2025-01-22"]


def test_a_deployment_backfill_names_its_date_runs_from_the_start(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    class Child:
        id, name, state = None, "daily-2025-01-20", None

    def run_deployment(name: str, **kw: Any) -> Child:
        seen.update(kw, deployment=name)
        return Child()

    monkeypatch.setattr(flows.backfill, "run_deployment", run_deployment)
    monkeypatch.setattr(flows.backfill, "_wait_for", lambda run_id, date, settings: (Child(), None))
    flows.backfill._via_deployment("2025-01-20", None)
    assert (seen["deployment"], seen["flow_run_name"]) == ("daily/daily", "daily-2025-01-20")


def test_a_name_callable_that_fails_gives_its_fallback() -> None:
    @never_fails("daily-invalid-date")
    def broken() -> str:
        raise KeyError("date")

    assert broken() == "daily-invalid-date" and broken.__name__ == "broken"


def test_minute_names() -> None:
    assert minute_name("rebuild-site", datetime(2025, 1, 23, 14, 5, 59, tzinfo=UTC)) == "rebuild-site-2025-01-23T1405"
    assert minute_name("rebuild-site", None).startswith(f"rebuild-site-{datetime.now(UTC):%Y-%m-%d}T")
