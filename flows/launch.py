"""How the `hfdaily` command runs a flow in its own process: named from the start, and final whatever happens.

Calling a flow (`daily_digest(...)`) lets Prefect create the run, with a random name, and set its state as it
goes. Two gaps showed up in operation:

- an error in the engine's set-up, after the run is Running but before the flow's body (a bad setting read by
  the task runner did it), left the run Running for good: 14 minutes later it was still at the top of the UI's
  runs chart. `run_here` creates the run itself, so it knows its id, and whatever ends the call, it leaves the
  run in a final state: Crashed with a one-line reason if the engine did not get to set one.
- a run that never began kept its random name. `run_here` creates it under the name its flow would give it.

`settle` is for the temporary server only: Prefect records task runs from events that the client sends in the
background and the server writes one by one; a command that exits as soon as its flow returns stops the server
in the middle of that, which logged "Error flushing 1 events" with two tracebacks and lost the last task states
(the dashboard kept them Running). It waits, boundedly, until they are written.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any
from uuid import UUID

STARTED: list[UUID] = []  # runs this process created with run_here, for settle()
SETTLE_TIMEOUT = 30.0  # seconds at most; a busy 2-core machine needed about 6 for a 60-task run


def run_here(flow: Any, name: str, **parameters: Any) -> Any:
    """Run `flow(**parameters)` in this process as a run named `name`; its result, or its exception."""
    from prefect.client.orchestration import get_client
    from prefect.flow_engine import run_flow
    from prefect.states import Pending
    from prefect.utilities.callables import get_call_parameters

    values = get_call_parameters(flow.fn, (), parameters)
    with get_client(sync_client=True) as client:
        created = client.create_flow_run(flow, name=name, parameters=flow.serialize_parameters(values),
                                         state=Pending())
    STARTED.append(created.id)
    try:
        return run_flow(flow, flow_run=created, parameters=values, return_type="result")
    except BaseException as exc:
        leave_final(created.id, exc)
        raise


def leave_final(run_id: UUID, exc: BaseException) -> None:
    """Crash the run if it is not final yet (the engine failed before it could say how the run ended)."""
    from prefect.client.orchestration import get_client
    from prefect.states import Crashed

    reason = " ".join(str(exc).split())[:300] or type(exc).__name__
    try:
        with get_client(sync_client=True) as client:
            run = client.read_flow_run(run_id)
            if run.state is None or not run.state.is_final():
                client.set_flow_run_state(run_id, Crashed(message=f"{type(exc).__name__}: {reason}"), force=True)
    except Exception:  # the API itself is gone: nothing can be recorded, and the caller reports the error
        pass


def uses_temporary_server() -> bool:
    """Whether this process's Prefect client talks to a temporary server it started (no PREFECT_API_URL)."""
    from prefect.settings import get_current_settings

    return not get_current_settings().api.url


def stop_temporary_server() -> None:
    """Stop the temporary server now (Prefect would at exit): its stop is then the command's business, not a
    line printed after the command's last one."""
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()  # the one get_client() started (None port), or a new idle one
    if server.running:
        server.stop()


def settle(run_ids: Iterable[UUID] = (), timeout: float = SETTLE_TIMEOUT) -> int:
    """Wait until the server has written the final state of every task run of these runs and their child runs.

    Sends what the client still holds first (events, logs), then polls. Returns how many task runs are still not
    final when it gives up (0 when all are written); a run whose tasks never end (it was killed) costs `timeout`.
    """
    ids = [str(i) for i in (run_ids or STARTED)]
    if not ids:
        return 0
    from prefect.client.orchestration import get_client
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    EventsWorker.drain_all(timeout=10)
    APILogWorker.drain_all(timeout=10)
    runs = {"operator": "or_", "id": {"any_": ids}, "parent_flow_run_id": {"any_": ids}}
    open_states = {"state": {"type": {"any_": ["PENDING", "RUNNING", "SCHEDULED", "PAUSED", "CANCELLING"]}}}
    deadline = time.monotonic() + timeout
    last_total, steady_since = -1, time.monotonic()
    with get_client(sync_client=True) as client:
        while True:
            total = client.request("POST", "/task_runs/count", json={"flow_runs": runs}).json()
            waiting = client.request("POST", "/task_runs/count", json={"flow_runs": runs, "task_runs": open_states})
            left = int(waiting.json())
            if total != last_total:
                last_total, steady_since = total, time.monotonic()
            # Task runs appear as their first event is written: no new ones for a second, and none open, is done.
            if left == 0 and time.monotonic() - steady_since >= 1.0:
                return 0
            if time.monotonic() > deadline:
                return left
            time.sleep(0.25)
