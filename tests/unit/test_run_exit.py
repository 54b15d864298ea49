"""A deployment backfill waits for the worker's report that a finished date's process exited (tasks/run_exit.py).

The client here answers read_events like the server would for the filter it is given; the real server's answer
to the same query: tests/flow/test_run_exit.py; a real worker's report: tests/e2e/test_prefect_server.py."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from uuid import uuid4

import pytest

from tasks.run_exit import EXECUTED, ExitWatch


class _Server:
    """Holds the worker's reports (flow-run ids whose process exited) once `after` reads have gone by."""

    def __init__(self, exited: dict[str, int] | None = None, fail: bool = False) -> None:
        self.exited, self.fail, self.reads = exited or {}, fail, 0

    def read_events(self, filter, limit):
        self.reads += 1
        if self.fail:
            raise RuntimeError("503 Service Unavailable")
        assert filter.event.name == [EXECUTED] and limit == 1
        [related] = filter.related.id
        run = related.removeprefix("prefect.flow-run.")
        after = self.exited.get(run)
        return SimpleNamespace(events=[object()] if after is not None and self.reads > after else [])


SINCE = datetime(2025, 1, 1, tzinfo=UTC)


def test_the_wait_ends_when_the_worker_reports_the_exit():
    run = uuid4()
    server = _Server({str(run): 3})
    watch = ExitWatch(timeout=60, poll=0.01)
    assert watch.wait(server, run, SINCE) is True
    assert server.reads == 4 and len(watch.waited) == 1 and watch.active


def test_another_runs_report_does_not_count():
    server = _Server({str(uuid4()): 0})
    watch = ExitWatch(timeout=0.05, poll=0.01)
    assert watch.wait(server, uuid4(), SINCE) is False


def test_infrastructure_that_never_reports_costs_one_wait_per_backfill():
    server = _Server()
    watch = ExitWatch(timeout=0.05, poll=0.01)
    assert watch.wait(server, uuid4(), SINCE) is False
    reads = server.reads
    assert not watch.active
    assert watch.wait(server, uuid4(), SINCE) is False and server.reads == reads  # no second wait


def test_a_late_report_after_earlier_ones_keeps_the_watch_on():
    first, slow = uuid4(), uuid4()
    server = _Server({str(first): 0})
    watch = ExitWatch(timeout=0.05, poll=0.01)
    assert watch.wait(server, first, SINCE) is True
    assert watch.wait(server, slow, SINCE) is False  # this one's report is late: the date goes on without it
    assert watch.active  # the worker does report: later dates still wait


@pytest.mark.parametrize("reported_before", [False, True])
def test_a_server_that_cannot_answer_does_not_hold_the_backfill(reported_before):
    watch = ExitWatch(timeout=60, poll=0.01)
    if reported_before:
        run = uuid4()
        watch.wait(_Server({str(run): 0}), run, SINCE)
    server = _Server(fail=True)
    assert watch.wait(server, uuid4(), SINCE) is False
    assert server.reads == 1 and watch.active
