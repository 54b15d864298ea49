"""A backfill date whose child run the API refuses to create (a busy server's 503) is tried again."""

from __future__ import annotations

from uuid import uuid4

import httpx
import pytest
from prefect.exceptions import PrefectHTTPStatusError
from prefect.states import Completed

import flows.backfill as backfill


def _refused(status: int) -> PrefectHTTPStatusError:
    request = httpx.Request("POST", "http://127.0.0.1:4200/api/task_runs/")
    response = httpx.Response(status, request=request, json={"exception_message": "Service Unavailable"})
    return PrefectHTTPStatusError.from_httpx_error(httpx.HTTPStatusError("refused", request=request, response=response))


def _daily(outcomes: list):
    calls = []

    def fake(**kw):
        calls.append(kw)
        outcome = outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    return fake, calls


def test_a_refused_start_is_tried_again(monkeypatch):
    state = Completed()
    state.state_details.flow_run_id = uuid4()
    fake, calls = _daily([_refused(503), _refused(503), state])
    monkeypatch.setattr(backfill, "daily_digest", fake)
    monkeypatch.setattr(backfill, "START_RETRY_DELAYS", (0.0, 0.0))
    child = backfill._in_process("2025-01-22", None)
    assert len(calls) == 3 and child.error is None and child.id == state.state_details.flow_run_id


@pytest.mark.parametrize(("outcomes", "tries"), [([503, 503, 503], 3), ([404], 1)])
def test_it_gives_up_after_the_retries_or_on_a_permanent_error(monkeypatch, outcomes, tries):
    fake, calls = _daily([_refused(code) for code in outcomes])
    monkeypatch.setattr(backfill, "daily_digest", fake)
    monkeypatch.setattr(backfill, "START_RETRY_DELAYS", (0.0, 0.0))
    with pytest.raises(PrefectHTTPStatusError):
        backfill._in_process("2025-01-22", None)
    assert len(calls) == tries
