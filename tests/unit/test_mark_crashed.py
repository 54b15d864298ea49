"""A backfill marks a dead date run Crashed even when the server refuses the first write."""

from __future__ import annotations

from types import SimpleNamespace
from uuid import uuid4

import flows.backfill as backfill


class _Server:
    def __init__(self, refusals: int) -> None:
        self.refusals, self.state, self.writes = refusals, "Running", 0

    def __enter__(self) -> _Server:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def set_flow_run_state(self, run_id, state, force=False):
        self.writes += 1
        if self.refusals:
            self.refusals -= 1
            raise RuntimeError("503 Service Unavailable")
        assert force
        self.state = state.name

    def read_flow_run(self, run_id):
        return SimpleNamespace(state_name=self.state)


def _patch(monkeypatch, server: _Server) -> None:
    monkeypatch.setattr("prefect.client.orchestration.get_client", lambda sync_client=True: server)
    monkeypatch.setattr(backfill.time, "sleep", lambda s: None)


def test_a_refused_write_is_tried_again_until_the_run_reads_crashed(monkeypatch):
    server = _Server(refusals=2)
    _patch(monkeypatch, server)
    backfill._mark_crashed(uuid4(), "lease unrenewed")
    assert server.state == "Crashed" and server.writes == 3


def test_a_server_that_keeps_refusing_costs_a_warning_not_the_backfill(monkeypatch, caplog):
    server = _Server(refusals=10)
    _patch(monkeypatch, server)
    backfill._mark_crashed(uuid4(), "lease unrenewed")
    assert server.state == "Running" and server.writes == backfill.MARK_ATTEMPTS
    assert "could not mark run" in caplog.text and "503" in caplog.text
