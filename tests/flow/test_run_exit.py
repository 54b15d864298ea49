"""The exit report a deployment backfill waits for, asked of a real Prefect server (the test harness): the event
a process worker emits once a flow run's process has exited (Prefect's BaseWorker: `executed-flow-run`, related
to the flow run), found for its own run only. A real worker's report: tests/e2e/test_prefect_server.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from prefect.client.orchestration import get_client
from prefect.events import emit_event
from prefect.events.worker import EventsWorker

from tasks.run_exit import EXECUTED, ExitWatch, exit_reported


def _worker_report(run_id) -> None:
    """What ProcessWorker sends after the process ended: its own resource, the flow run among the related."""
    emit_event(EXECUTED, resource={"prefect.resource.id": "prefect.worker.process.test-worker"},
               related=[{"prefect.resource.id": f"prefect.flow-run.{run_id}", "prefect.resource.role": "flow-run",
                         "prefect.infrastructure.status-code": "0"}])
    EventsWorker.drain_all()


def test_the_wait_ends_on_the_servers_copy_of_the_workers_report(prefect_harness):
    since = datetime.now(UTC) - timedelta(minutes=1)
    run, other = uuid4(), uuid4()
    _worker_report(run)
    watch = ExitWatch(timeout=60, poll=0.2)
    with get_client(sync_client=True) as client:
        assert watch.wait(client, run, since) is True  # the server stores events a few seconds late
        assert not exit_reported(client, other, since)
        assert not exit_reported(client, run, datetime.now(UTC) + timedelta(minutes=1))  # only since the run began
