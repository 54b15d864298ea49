"""Alerts: three Prefect automations that notify the operator, declared here and applied by `hfdaily alerts`.

- `hfdaily: run failed`: a `daily`, `backfill`, `review` or `batch-collect` flow run ends Failed, Crashed or
  TimedOut (Prefect's own state events, so in-process backfill dates and scheduled runs are covered too).
- `hfdaily: steps in error`: the event `hfdaily.day.failed-steps` that a daily run sends when the date ends with
  steps newly in error (tasks/events.py).
- `hfdaily: budget reached`: the event `hfdaily.run.budget-reached`, a run that stopped at its budget.

A daily run sends at most one of those events and only once it can no longer fail, and a backfill that
finishes reports its failed dates through their own runs: one alert per run that went wrong.

Each automation sends its text through one notification block the operator chooses (a Custom Webhook by
default; Slack, Discord, Teams, Sendgrid email … as Prefect offers them). Applying is idempotent: an
automation of the same name is updated in place, never duplicated.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from string import Template
from uuid import UUID

from prefect.automations import AutomationCore, EventTrigger, Posture, SendNotification
from prefect.settings import get_current_settings

from tasks.errors import HfDailyError
from tasks.events import BUDGET_REACHED, FAILED_STEPS
from tasks.settings import Settings

DEFAULT_BLOCK = "custom-webhook/hfdaily-alerts"
RUN_FLOWS = ("daily", "backfill", "review", "batch-collect")
FAILED_STATES = ("Failed", "Crashed", "TimedOut")
RUN_FAILED, STEPS_IN_ERROR, BUDGET = "hfdaily: run failed", "hfdaily: steps in error", "hfdaily: budget reached"


@dataclass(frozen=True)
class Links:
    """Base URLs written into the alert texts: the Prefect UI, and the public site (empty: no page link)."""

    ui_url: str
    site_url: str = ""


# -- the texts (Jinja templates the server renders with the event and its flow run) --------------------
# `$ui` and `$site` are filled in when the automations are applied; everything in {{ }} when an alert fires.

# What the run was for, from its name: daily-DATE, backfill-START-to-END, review-ID[-and-N-more]; the batch
# collector's runs have Prefect's generated names.
_RUN_WHAT = ("{% set n = flow_run.name %}{% if n.startswith('daily-') %}{% set what = 'Date: ' ~ n[6:] %}"
             "{% elif n.startswith('backfill-') %}{% set what = 'Date: ' ~ n[9:]|replace('-to-', ' to ') %}"
             "{% elif n.startswith('review-') %}{% set what = 'Papers: ' ~ n[7:]|replace('-and-', ' and ')"
             "|replace('-more', ' more') %}{% else %}{% set what = 'Batches: the collector of batch backfills "
             "(state in the data dir, batches/)' %}{% endif %}")
_RUN_FAILED_SUBJECT = "hfdaily: {{ flow_run.name }} {{ flow_run.state.name|lower }}"
_RUN_FAILED_BODY = _RUN_WHAT + """{{ flow_run.name }} ended {{ flow_run.state.name }}.
{{ what }}
Reason: {{ flow_run.state.message or 'none given' }}
Steps in error: not counted; the run ended before its steps did (the day file keeps what earlier runs stored).
Run: $ui/runs/flow-run/{{ flow_run.id }}$page"""
_RUN_PAGE = "{% if flow_run.name.startswith('daily-') %}\nPage: $site/d/{{ n[6:] }}.html{% endif %}"

_STEPS_SUBJECT = "hfdaily {{ event.payload.date }}: {{ event.payload.failed_steps }} step(s) in error"
_STEPS_BODY = """{{ event.payload.date }} ended with {{ event.payload.failed_steps }} step(s) in error \
({{ event.payload.new_failed_steps }} new since the run before) over {{ event.payload.papers }} papers. \
The next run retries them.
{% for line in event.payload.errors %}- {{ line }}
{% endfor %}Run: $ui/runs/flow-run/{{ event.payload.flow_run_id }}
Page: {{ event.payload.page_url or 'not rendered' }}"""

_BUDGET_SUBJECT = "hfdaily {{ event.payload.date }}: stopped at its budget"
_BUDGET_BODY = """{{ event.payload.date }} stopped at its budget of {{ event.payload.max_cost }} USD \
({{ event.payload.spent_usd }} USD spent by this run): {{ event.payload.llm_steps_left }} LLM step(s) left for the \
next run, {{ event.payload.failed_steps }} step(s) in error.
Run: $ui/runs/flow-run/{{ event.payload.flow_run_id }}
Page: {{ event.payload.page_url or 'not rendered' }}"""


def _fill(template: str, links: Links) -> str:
    page = Template(_RUN_PAGE).substitute(site=links.site_url.rstrip("/")) if links.site_url else ""
    return Template(template).substitute(ui=links.ui_url.rstrip("/"), site=links.site_url.rstrip("/"), page=page)


def _notify(block_id: UUID, subject: str, body: str, links: Links) -> SendNotification:
    return SendNotification(block_document_id=block_id, subject=_fill(subject, links), body=_fill(body, links))


def _on_each(events: list[str], match: dict[str, str], match_related: dict[str, str | list[str]] | None = None,
             ) -> EventTrigger:
    """A trigger that fires once for every matching event."""
    return EventTrigger(expect=set(events), match=match, match_related=match_related or {},
                        posture=Posture.Reactive, threshold=1, within=timedelta(0))


def declared(block_id: UUID, links: Links) -> list[AutomationCore]:
    """The three automations, sending through the notification block `block_id`."""
    run_failed = _on_each([f"prefect.flow-run.{state}" for state in FAILED_STATES],
                          {"prefect.resource.id": "prefect.flow-run.*"},
                          {"prefect.resource.role": "flow", "prefect.resource.name": list(RUN_FLOWS)})
    day = {"prefect.resource.id": "hfdaily.day.*"}
    return [
        AutomationCore(
            name=RUN_FAILED, trigger=run_failed,
            description="A daily, backfill, review or batch-collect run ended Failed, Crashed or TimedOut "
                        "(declared in flows/alerts.py).",
            actions=[_notify(block_id, _RUN_FAILED_SUBJECT, _RUN_FAILED_BODY, links)],
        ),
        AutomationCore(
            name=STEPS_IN_ERROR, trigger=_on_each([FAILED_STEPS], day),
            description="A date ended with steps newly in error (declared in flows/alerts.py).",
            actions=[_notify(block_id, _STEPS_SUBJECT, _STEPS_BODY, links)],
        ),
        AutomationCore(
            name=BUDGET, trigger=_on_each([BUDGET_REACHED], day),
            description="A daily run stopped at its budget with work left (declared in flows/alerts.py).",
            actions=[_notify(block_id, _BUDGET_SUBJECT, _BUDGET_BODY, links)],
        ),
    ]


# -- applying them ---------------------------------------------------------------------------------------

def notification_block(ref: str, webhook_url: str | None = None) -> UUID:
    """The id of the notification block `TYPE/NAME`; with a webhook URL, first save it as a Custom Webhook block."""
    from prefect.blocks.notifications import CustomWebhookNotificationBlock
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    slug, _, name = ref.partition("/")
    if not slug or not name:
        raise HfDailyError(f"block {ref!r}: expected TYPE/NAME, e.g. {DEFAULT_BLOCK} or slack-webhook/ops")
    if webhook_url:
        if slug != "custom-webhook":
            raise HfDailyError(f"a webhook URL makes a custom-webhook block, not {slug}; use custom-webhook/{name}")
        CustomWebhookNotificationBlock(
            name="hfdaily", url=webhook_url, json_data={"subject": "{{subject}}", "body": "{{body}}"},
        ).save(name, overwrite=True)
    with get_client(sync_client=True) as client:
        try:
            doc = client.read_block_document_by_name(name, block_type_slug=slug)
        except ObjectNotFound:
            hint = " (or set HFDAILY_ALERT_WEBHOOK_URL to create it)" if slug == "custom-webhook" else ""
            raise HfDailyError(f"no notification block {ref}: create it in the UI (Blocks → +){hint}") from None
    if doc.block_schema is None or "notify" not in doc.block_schema.capabilities:
        raise HfDailyError(f"block {ref} cannot send notifications; choose a notification block")
    assert doc.id is not None
    return doc.id


def apply(automations: list[AutomationCore]) -> list[tuple[str, str]]:
    """Create each automation, or update the one of the same name (extra copies are removed)."""
    from prefect.client.orchestration import get_client

    done = []
    with get_client(sync_client=True) as client:
        for automation in automations:
            existing = client.read_automations_by_name(automation.name)
            if existing:
                client.update_automation(existing[0].id, automation)
                for extra in existing[1:]:
                    client.delete_automation(extra.id)
                done.append((automation.name, "updated"))
            else:
                client.create_automation(automation)
                done.append((automation.name, "created"))
    return done


def links_from_settings(settings: Settings) -> Links:
    ui_url = get_current_settings().ui_url
    if not ui_url:
        raise HfDailyError("hfdaily alerts needs a running Prefect server: set PREFECT_API_URL "
                           "(e.g. http://127.0.0.1:4200/api)")
    return Links(ui_url=ui_url, site_url=settings.site_url)


def setup_alerts(block: str = DEFAULT_BLOCK, webhook_url: str | None = None) -> list[tuple[str, str]]:
    """`hfdaily alerts`: the notification block, then the three automations pointing at it."""
    settings = Settings()
    links = links_from_settings(settings)
    url = webhook_url or (settings.alert_webhook_url.get_secret_value() if settings.alert_webhook_url else None)
    return apply(declared(notification_block(block, url), links))
