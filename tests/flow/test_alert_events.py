"""The alert events a real daily run sends (Prefect test harness + sandbox): at most one per run, at its end.

`emit_event` is wrapped, not replaced: every event still goes to the harness's API; the wrapper records what
was sent. Which automation each event fires and what it says: tests/unit/test_alerts.py; a real server
delivering them to a webhook: tests/e2e/test_prefect_server.py.
"""

from __future__ import annotations

from typing import Any

import prefect.events
import pytest
import requests

from flows.daily import daily_digest
from tasks.errors import FeedError
from tasks.events import BUDGET_REACHED, FAILED_STEPS

DATE = "2025-01-23"


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, str], dict[str, Any]]]:
    calls: list[tuple[str, dict[str, str], dict[str, Any]]] = []
    real = prefect.events.emit_event

    def recording(event: str, resource: dict[str, str], **kwargs: Any) -> Any:
        calls.append((event, resource, kwargs.get("payload") or {}))
        return real(event, resource=resource, **kwargs)

    monkeypatch.setattr(prefect.events, "emit_event", recording)
    return calls


def _ids(sandbox: Any) -> list[str]:
    feed = requests.get(f"{sandbox.url}/api/daily_papers", params={"date": DATE}, timeout=5).json()
    return [item["paper"]["id"] for item in feed]


def test_a_clean_run_sends_no_alert_event(env, sandbox, sent):
    assert daily_digest(date=DATE, render=False)["failed"] == 0
    assert sent == []


def test_new_step_errors_send_one_event_and_the_next_run_does_not_repeat_it(env, sandbox, sent):
    broken = _ids(sandbox)[1]
    sandbox.faults([{"target": "pdf", "match": broken, "status": 404}])
    state = daily_digest(date=DATE, render=False, return_state=True)
    assert state.is_completed()
    [(name, resource, payload)] = sent
    assert name == FAILED_STEPS and resource["prefect.resource.id"] == f"hfdaily.day.{DATE}"
    assert payload["date"] == DATE and payload["papers"] == 5
    assert (payload["failed_steps"], payload["new_failed_steps"]) == (1, 1)
    assert payload["errors"][0].startswith(f"{broken} pdf: ") and "404" in payload["errors"][0]
    assert payload["flow_run_id"] == str(state.state_details.flow_run_id)

    daily_digest(date=DATE, render=False)  # the PDF is still missing: the same error, already reported
    assert len(sent) == 1


def test_a_run_stopped_at_its_budget_sends_the_budget_event(env, sandbox, sent):
    daily_digest(date=DATE, max_cost=0, render=False)
    [(name, _, payload)] = sent
    assert name == BUDGET_REACHED
    assert payload["max_cost"] == 0 and payload["spent_usd"] == 0
    assert payload["llm_steps_left"] == 5 * 5 + 1  # five LLM steps per paper and the day's reading
    assert sandbox.stats()["requests"]["openai"] == 0


def test_a_failed_run_sends_no_event(env, sandbox, sent):
    # Prefect's own Failed state event is the alert for this one; an event as well would alert twice.
    sandbox.faults([{"target": "hf", "status": 400, "match": f"date={DATE}"}])
    with pytest.raises(FeedError, match="HTTP 400"):
        daily_digest(date=DATE, render=False)
    assert sent == []
