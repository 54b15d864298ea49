"""`hfdaily alerts` against a real Prefect API (the test harness's): the block, then the automations, idempotently."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from prefect.automations import AutomationCore
from prefect.blocks.notifications import CustomWebhookNotificationBlock
from prefect.blocks.system import Secret
from prefect.client.orchestration import get_client

from flows.alerts import BUDGET, RUN_FAILED, STEPS_IN_ERROR, setup_alerts
from flows.cli import main
from tasks.errors import HfDailyError

NAMES = [RUN_FAILED, STEPS_IN_ERROR, BUDGET]


def _automations() -> dict[str, list[Any]]:
    with get_client(sync_client=True) as client:
        return {name: client.read_automations_by_name(name) for name in NAMES}


@pytest.fixture
def server(prefect_harness: None, tmp_path, monkeypatch) -> Iterator[None]:
    """The harness's API, with none of our automations before or after the test."""
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.delenv("HFDAILY_ALERT_WEBHOOK_URL", raising=False)

    def clear() -> None:
        with get_client(sync_client=True) as client:
            for found in _automations().values():
                for automation in found:
                    client.delete_automation(automation.id)

    clear()
    yield
    clear()


def test_alerts_are_created_once_and_updated_in_place(server):
    first = setup_alerts("custom-webhook/hfdaily-test", webhook_url="http://127.0.0.1:9/first")
    assert first == [(name, "created") for name in NAMES]
    block = CustomWebhookNotificationBlock.load("hfdaily-test")
    assert block.url == "http://127.0.0.1:9/first" and block.json_data == {"subject": "{{subject}}", "body": "{{body}}"}
    ids = {name: found[0].id for name, found in _automations().items()}

    with get_client(sync_client=True) as client:  # muted in the UI: applying again leaves it muted
        client.pause_automation(ids[BUDGET])
    again = setup_alerts("custom-webhook/hfdaily-test", webhook_url="http://127.0.0.1:9/second")
    assert again == [(name, "updated") for name in NAMES]
    found = _automations()
    assert {name: [a.id for a in autos] for name, autos in found.items()} == {n: [i] for n, i in ids.items()}
    assert CustomWebhookNotificationBlock.load("hfdaily-test").url == "http://127.0.0.1:9/second"
    for name, [automation] in found.items():
        assert automation.enabled is (name != BUDGET)
        assert automation.actions[0].block_document_id == block._block_document_id
    assert "/runs/flow-run/" in found[RUN_FAILED][0].actions[0].body  # the UI address is written in


def test_extra_copies_are_removed(server):
    setup_alerts("custom-webhook/hfdaily-test", webhook_url="http://127.0.0.1:9/x")
    [original] = _automations()[RUN_FAILED]
    copy = AutomationCore.model_validate(original.model_dump(exclude={"id"}))
    with get_client(sync_client=True) as client:  # e.g. made again by hand with `prefect automation create`
        client.create_automation(copy)
    assert len(_automations()[RUN_FAILED]) == 2
    setup_alerts("custom-webhook/hfdaily-test")  # the block exists now: no URL needed
    [kept] = _automations()[RUN_FAILED]  # one left, up to date
    assert kept.trigger == original.trigger and kept.actions == original.actions


def test_the_url_can_come_from_the_environment_and_the_cli_prints_what_it_did(server, monkeypatch, capsys):
    monkeypatch.setenv("HFDAILY_ALERT_WEBHOOK_URL", "http://127.0.0.1:9/from-env")
    assert main(["alerts", "--block", "custom-webhook/hfdaily-env"]) == 0
    assert capsys.readouterr().out.splitlines() == [f"created: {name}" for name in NAMES]
    assert CustomWebhookNotificationBlock.load("hfdaily-env").url == "http://127.0.0.1:9/from-env"


def test_a_missing_or_unsuitable_block_is_one_clear_line(server, capsys):
    with pytest.raises(HfDailyError, match="no notification block custom-webhook/nowhere.*HFDAILY_ALERT_WEBHOOK_URL"):
        setup_alerts("custom-webhook/nowhere")
    Secret(value="x").save("hfdaily-not-a-notifier", overwrite=True)
    with pytest.raises(HfDailyError, match="cannot send notifications"):
        setup_alerts("secret/hfdaily-not-a-notifier")
    with pytest.raises(HfDailyError, match="expected TYPE/NAME"):
        setup_alerts("just-a-name")
    assert main(["alerts", "--block", "slack-webhook/nowhere"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("hfdaily: error: no notification block slack-webhook/nowhere")
    assert all(found == [] for found in _automations().values())  # nothing half-made
