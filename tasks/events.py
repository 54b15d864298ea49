"""The events a daily run sends to Prefect for its alerts (the automations are declared in flows/alerts.py).

A run that ends Failed or Crashed needs nothing from here: Prefect sends its state events itself. Two
outcomes are not run states, so the run reports them as events:

- `hfdaily.day.failed-steps`: the date ends with steps in error that were not in error when the run began
  (a paper whose PDF is not on arXiv yet fails again on every scheduled run; it is reported once);
- `hfdaily.run.budget-reached`: the run stopped starting LLM calls at its budget and left work undone.

At most one event per run, sent as its very last act: a run that sent one can no longer end Failed, so a state
alert and an event alert never both fire for the same run. When both outcomes apply, the budget event is sent
and carries the error counts too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tasks.log import get_logger
from tasks.models import DayFile
from tasks.steps import unfinished

FAILED_STEPS = "hfdaily.day.failed-steps"
BUDGET_REACHED = "hfdaily.run.budget-reached"
MAX_LISTED = 5  # error lines an alert quotes; the run's summary artifact has them all


def errors_of(day: DayFile) -> dict[str, str]:
    """Every step in error: `ARXIV_ID STEP` (or `day STEP`) → its error message."""
    out: dict[str, str] = {}
    for paper in day.papers:
        for name, state in paper.steps.items():
            if state.status == "error":
                out[f"{paper.arxiv_id} {name}"] = state.error or "error"
    for name, state in day.steps.items():
        if state.status == "error":
            out[f"day {name}"] = state.error or "error"
    return out


def llm_work_left(day: DayFile) -> int:
    """LLM steps the day still needs (not run, deferred, skipped or in error)."""
    return sum(1 for _, step in unfinished(day) if step.kind == "llm")


@dataclass
class RunOutcome:
    """What the alert needs to know about a finished daily run."""

    errors_before: set[str]
    budget_reached: bool
    max_cost: float | None = None
    spent_usd: float = 0.0
    flow_run_id: str | None = None
    page_url: str | None = None


def day_event(day: DayFile, outcome: RunOutcome) -> tuple[str, dict[str, Any]] | None:
    """(event name, payload) for the run's alert, or None when nothing needs telling."""
    errors = errors_of(day)
    new = [key for key in errors if key not in outcome.errors_before]
    left = llm_work_left(day)
    if outcome.budget_reached and left:
        name = BUDGET_REACHED
    elif new:
        name = FAILED_STEPS
    else:
        return None
    listed = (new + [k for k in errors if k not in new])[:MAX_LISTED]
    payload = {
        "date": day.date,
        "papers": len(day.papers),
        "failed_steps": len(errors),
        "new_failed_steps": len(new),
        "errors": [f"{key}: {_line(errors[key])}" for key in listed],
        "llm_steps_left": left,
        "max_cost": outcome.max_cost,
        "spent_usd": round(outcome.spent_usd, 6),
        "flow_run_id": outcome.flow_run_id or "",
        "page_url": outcome.page_url or "",
    }
    return name, payload


def _line(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def emit_day_event(day: DayFile, outcome: RunOutcome) -> str | None:
    """Send the run's alert event, if any; returns its name. Never fails the run (the day is already stored)."""
    found = day_event(day, outcome)
    if found is None:
        return None
    name, payload = found
    try:
        from prefect.events import emit_event

        # The run's flow run, flow and deployment are attached as related resources by Prefect.
        emit_event(name, resource={"prefect.resource.id": f"hfdaily.day.{day.date}",
                                   "prefect.resource.name": f"hfdaily {day.date}"}, payload=payload)
    except Exception as exc:
        get_logger().warning("%s: alert event %s not sent: %s", day.date, name, exc)
        return None
    get_logger().info("%s: sent %s (%d steps in error, %d new)", day.date, name, payload["failed_steps"],
                      payload["new_failed_steps"])
    return name
