"""Alerts without a server: which event a daily run sends, which automation an event fires, what the alert says.

Trigger matching and template rendering use Prefect's own server-side code (`EventTrigger.covers`, the
sandboxed user-template renderer), the same that runs when an automation fires. The end-to-end proof (a real
server, a real notification block, a webhook receiver) is in tests/e2e/test_prefect_server.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest
from prefect.server.events.schemas.automations import EventTrigger as ServerTrigger
from prefect.server.events.schemas.events import ReceivedEvent
from prefect.server.schemas.core import FlowRun
from prefect.server.schemas.states import State, StateType
from prefect.server.utilities.user_templates import render_user_template_sync

from flows.alerts import BUDGET, RUN_FAILED, STEPS_IN_ERROR, Links, declared
from tasks.events import BUDGET_REACHED, FAILED_STEPS, MAX_LISTED, RunOutcome, day_event, errors_of
from tasks.models import DayFile, PaperRecord, StepState
from tasks.steps import STEPS, paper_steps

BLOCK = UUID("00000000-0000-0000-0000-0000000000b1")
LINKS = Links(ui_url="http://127.0.0.1:4300/", site_url="https://digest.example/")


def _paper(arxiv_id: str, **status: str) -> PaperRecord:
    paper = PaperRecord(arxiv_id=arxiv_id, title="t")
    for step in paper_steps():
        if status.get(step.name) != "missing":
            paper.steps[step.name] = StepState(status=status.get(step.name, "ok"),
                                               error=f"{step.name} broke" if status.get(step.name) == "error" else None)
    return paper


def _day(*papers: PaperRecord) -> DayFile:
    return DayFile(date="2025-01-24", papers=list(papers), steps={"zh_reading": StepState(status="ok")})


def _outcome(before: set[str] | None = None, budget: bool = False) -> RunOutcome:
    return RunOutcome(errors_before=before or set(), budget_reached=budget, max_cost=0.05, spent_usd=0.0512,
                      flow_run_id="7c6a7d5e-0000-4000-8000-000000000001",
                      page_url="https://digest.example/d/2025-01-24.html")


# -- which event a run sends -------------------------------------------------------------------------------

def test_a_clean_day_sends_nothing():
    assert day_event(_day(_paper("2501.00001"), _paper("2501.00002")), _outcome()) is None
    assert day_event(DayFile(date="2025-01-25"), _outcome()) is None  # an empty weekend


def test_new_errors_send_one_failed_steps_event_with_the_numbers():
    day = _day(_paper("2501.00001", pdf="error", affiliations="missing"), _paper("2501.00002", topics="error"))
    day.steps["zh_reading"] = StepState(status="error", error="zh broke")
    name, payload = day_event(day, _outcome())
    assert name == FAILED_STEPS
    assert payload["date"] == "2025-01-24" and payload["papers"] == 2
    assert payload["failed_steps"] == 3 and payload["new_failed_steps"] == 3
    assert payload["errors"] == ["2501.00001 pdf: pdf broke", "2501.00002 topics: topics broke",
                                 "day zh_reading: zh broke"]
    assert payload["page_url"].endswith("/d/2025-01-24.html") and payload["flow_run_id"]


def test_errors_already_reported_by_an_earlier_run_do_not_alert_again():
    day = _day(_paper("2501.00001", pdf="error", affiliations="missing"))
    assert day_event(day, _outcome(before={"2501.00001 pdf"})) is None
    day.papers.append(_paper("2501.00002", summary_en="error"))  # a new one does, and lists itself first
    name, payload = day_event(day, _outcome(before={"2501.00001 pdf"}))
    assert name == FAILED_STEPS and (payload["failed_steps"], payload["new_failed_steps"]) == (2, 1)
    assert payload["errors"][0].startswith("2501.00002 summary_en")


def test_stopping_at_the_budget_sends_the_budget_event_even_with_errors():
    day = _day(_paper("2501.00001", summary_zh="deferred", review_ru="missing"),
               _paper("2501.00002", pdf="error", affiliations="missing"))
    name, payload = day_event(day, _outcome(budget=True))
    assert name == BUDGET_REACHED  # one event per run: the budget one carries the error count
    assert payload["llm_steps_left"] == 3 and payload["failed_steps"] == 1 and payload["max_cost"] == 0.05
    # The budget was reached but nothing is left undone: no budget alert.
    assert day_event(_day(_paper("2501.00001")), _outcome(budget=True)) is None


def test_an_alert_quotes_a_few_errors_on_one_line_each():
    day = _day(*[_paper(f"2501.{i:05d}", topics="error") for i in range(MAX_LISTED + 3)])
    day.papers[0].steps["topics"].error = "line one\nline two " + "x" * 400
    _, payload = day_event(day, _outcome())
    assert len(payload["errors"]) == MAX_LISTED and payload["failed_steps"] == MAX_LISTED + 3
    assert all("\n" not in e and len(e) < 200 for e in payload["errors"])
    assert errors_of(day)["2501.00000 topics"].startswith("line one\n")  # the day file keeps it whole


# -- which automation an event fires -------------------------------------------------------------------------

def _server_triggers() -> dict[str, ServerTrigger]:
    return {a.name: ServerTrigger.model_validate(a.trigger.model_dump(mode="json")) for a in declared(BLOCK, LINKS)}


def _state_event(state: str, flow: str, kind: str = "flow-run") -> ReceivedEvent:
    return ReceivedEvent(
        id=uuid4(), occurred=datetime.now(UTC), event=f"prefect.{kind}.{state}",
        resource={"prefect.resource.id": f"prefect.{kind}.{uuid4()}", "prefect.resource.name": f"{flow}-x"},
        related=[{"prefect.resource.id": f"prefect.flow.{uuid4()}", "prefect.resource.role": "flow",
                  "prefect.resource.name": flow},
                 {"prefect.resource.id": "prefect.tag.hfdaily", "prefect.resource.role": "tag"}],
    )


def _day_event(name: str) -> ReceivedEvent:
    return ReceivedEvent(
        id=uuid4(), occurred=datetime.now(UTC), event=name, payload={"date": "2025-01-24"},
        resource={"prefect.resource.id": "hfdaily.day.2025-01-24", "prefect.resource.name": "hfdaily 2025-01-24"},
        related=[{"prefect.resource.id": f"prefect.flow-run.{uuid4()}", "prefect.resource.role": "flow-run"}],
    )


@pytest.mark.parametrize(("event", "fires"), [
    (_state_event("Failed", "daily"), [RUN_FAILED]),
    (_state_event("Crashed", "daily"), [RUN_FAILED]),
    (_state_event("TimedOut", "backfill"), [RUN_FAILED]),
    (_state_event("Failed", "backfill"), [RUN_FAILED]),
    (_state_event("Failed", "review"), [RUN_FAILED]),
    (_state_event("Crashed", "batch-collect"), [RUN_FAILED]),
    (_state_event("Completed", "daily"), []),
    (_state_event("Cancelled", "backfill"), []),  # cancelled on purpose: nobody needs telling
    (_state_event("Failed", "rebuild-site"), []),
    (_state_event("Failed", "daily", kind="task-run"), []),  # a failed step is reported by its date, once
    (_day_event(FAILED_STEPS), [STEPS_IN_ERROR]),
    (_day_event(BUDGET_REACHED), [BUDGET]),
    (_day_event("hfdaily.day.something-else"), []),
])
def test_each_problem_fires_exactly_one_automation(event, fires):
    assert [name for name, trigger in _server_triggers().items() if trigger.covers(event)] == fires


def test_the_automations_fire_on_every_matching_event_and_use_the_chosen_block():
    automations = declared(BLOCK, LINKS)
    assert [a.name for a in automations] == [RUN_FAILED, STEPS_IN_ERROR, BUDGET]
    for automation in automations:
        assert automation.enabled and automation.trigger.threshold == 1
        assert automation.trigger.within.total_seconds() == 0 and automation.trigger.posture == "Reactive"
        assert [(a.type, a.block_document_id) for a in automation.actions] == [("send-notification", BLOCK)]


# -- what an alert says ---------------------------------------------------------------------------------

def _render(automation_name: str, context: dict[str, Any], links: Links = LINKS) -> tuple[str, str]:
    [automation] = [a for a in declared(BLOCK, links) if a.name == automation_name]
    action = automation.actions[0]
    return render_user_template_sync(action.subject, context), render_user_template_sync(action.body, context)


def _flow_run(name: str, message: str, state: StateType = StateType.FAILED) -> FlowRun:
    run = FlowRun(flow_id=uuid4(), name=name)
    run.state = State(type=state, name=state.value.title(), message=message)
    return run


def test_a_failed_daily_run_alert_says_the_date_the_reason_and_links_run_and_page():
    run = _flow_run("daily-2025-01-27", "Flow run encountered an exception: FeedError: HF feed 2025-01-27 "
                                        "page 0: HF rejected the request (HTTP 400)")
    subject, body = _render(RUN_FAILED, {"flow_run": run, "event": None})
    assert subject == "hfdaily: daily-2025-01-27 failed"
    lines = body.splitlines()
    assert lines[0] == "daily-2025-01-27 ended Failed."
    assert "Date: 2025-01-27" in lines and any(line.startswith("Reason: ") and "HTTP 400" in line for line in lines)
    assert f"Run: http://127.0.0.1:4300/runs/flow-run/{run.id}" in lines
    assert "Page: https://digest.example/d/2025-01-27.html" in lines
    _, no_site = _render(RUN_FAILED, {"flow_run": run}, Links(ui_url="http://127.0.0.1:4300"))
    assert "Page:" not in no_site and no_site.endswith(str(run.id))  # no public site: no page link to give


def test_a_failed_backfill_alert_says_its_range():
    run = _flow_run("backfill-2025-01-22-to-2025-01-20", "InvalidDateError: end 2025-01-20 is before start 2025-01-22")
    subject, body = _render(RUN_FAILED, {"flow_run": run})
    assert subject == "hfdaily: backfill-2025-01-22-to-2025-01-20 failed"
    assert "Date: 2025-01-22 to 2025-01-20" in body.splitlines() and "Page:" not in body
    assert body.endswith(f"/runs/flow-run/{run.id}")


def test_a_failed_review_alert_says_which_papers():
    run = _flow_run("review-2501.06600-and-3-more", "ValueError: no paper to review")
    subject, body = _render(RUN_FAILED, {"flow_run": run})
    assert subject == "hfdaily: review-2501.06600-and-3-more failed"
    assert "Papers: 2501.06600 and 3 more" in body.splitlines() and "Page:" not in body and "Date:" not in body


def test_a_failed_batch_collector_alert_names_the_batches():
    run = _flow_run("quiet-heron", "BatchError: the OpenAI batch API answered HTTP 500", StateType.CRASHED)
    subject, body = _render(RUN_FAILED, {"flow_run": run})
    assert subject == "hfdaily: quiet-heron crashed"
    assert any(line.startswith("Batches: the collector of batch backfills") for line in body.splitlines())
    assert "Date:" not in body and "Page:" not in body


def test_a_steps_in_error_alert_says_the_date_how_many_and_links_run_and_page():
    day = _day(_paper("2501.00001", pdf="error", affiliations="missing"), _paper("2501.00002"))
    name, payload = day_event(day, _outcome())
    event = _day_event(name).model_copy(update={"payload": payload})
    subject, body = _render(STEPS_IN_ERROR, {"event": event})
    assert subject == "hfdaily 2025-01-24: 1 step(s) in error"
    lines = body.splitlines()
    assert lines[0].startswith("2025-01-24 ended with 1 step(s) in error (1 new since the run before) over 2 papers")
    assert "- 2501.00001 pdf: pdf broke" in lines
    assert f"Run: http://127.0.0.1:4300/runs/flow-run/{payload['flow_run_id']}" in lines
    assert "Page: https://digest.example/d/2025-01-24.html" in lines


def test_a_budget_alert_says_the_budget_what_is_left_and_links_run_and_page():
    day = _day(_paper("2501.00001", summary_zh="deferred"))
    name, payload = day_event(day, _outcome(budget=True))
    event = _day_event(name).model_copy(update={"payload": payload})
    subject, body = _render(BUDGET, {"event": event})
    assert subject == "hfdaily 2025-01-24: stopped at its budget"
    assert body.splitlines()[0] == ("2025-01-24 stopped at its budget of 0.05 USD (0.0512 USD spent by this run): "
                                    "1 LLM step(s) left for the next run, 0 step(s) in error.")
    assert "Page: https://digest.example/d/2025-01-24.html" in body


def test_every_llm_step_counts_as_work_left_at_the_budget():
    llm = [s.name for s in STEPS.values() if s.kind == "llm" and s.scope == "paper"]
    day = _day(_paper("2501.00001", **{name: "missing" for name in llm}))
    _, payload = day_event(day, _outcome(budget=True))
    assert payload["llm_steps_left"] == len(llm)
