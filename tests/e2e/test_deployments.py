"""prefect.yaml and `hfdaily serve` describe the same deployments (fast: no server, no worker)."""

from __future__ import annotations

import inspect

import pytest
from pydantic import SecretStr

from flows import serve as serve_mod
from flows.serve import (
    deployment_specs,
    key_sources,
    load_flow,
    serve_deployments,
    telegram_source,
    to_deployments,
)
from tasks.errors import HfDailyError
from tasks.settings import Settings


def test_prefect_yaml_has_the_five_deployments():
    import yaml

    doc = yaml.safe_load(serve_mod.PREFECT_YAML.read_text())
    assert doc["pull"] == [{"prefect.deployments.steps.set_working_directory":
                            {"directory": "{{ $HFDAILY_PROJECT_DIR }}"}}]
    specs = {s["name"]: s for s in deployment_specs()}
    assert sorted(specs) == ["backfill", "batch-collect", "daily", "rebuild-site", "review"]
    assert {s["work_pool"]["name"] for s in specs.values()} == {"hfdaily"}
    assert specs["daily"]["schedules"] == [{"cron": "0 */2 * * *", "timezone": "UTC", "active": True}]
    for spec in specs.values():
        flow = load_flow(spec["entrypoint"])
        assert flow.name == spec["name"]  # so the deployments are daily/daily, backfill/backfill, ...
        params = inspect.signature(flow.fn).parameters
        assert set(spec.get("parameters") or {}) <= set(params)
        for key, value in (spec.get("parameters") or {}).items():
            assert params[key].default == value, key  # the deployment's defaults are the flow's defaults
    assert "date" not in (specs["daily"].get("parameters") or {})  # no date: the scheduled date
    assert "end" not in (specs["backfill"].get("parameters") or {})  # no end: yesterday
    assert all(spec["enforce_parameter_schema"] is True for spec in specs.values())  # the server checks the form


def test_serve_builds_the_same_deployments():
    served = {d.name: d for d in to_deployments(deployment_specs())}
    assert sorted(served) == ["backfill", "batch-collect", "daily", "rebuild-site", "review"]
    daily = served["daily"]
    assert daily.entrypoint == "flows.daily.daily_digest"
    assert [(s.schedule.cron, s.schedule.timezone, s.active) for s in daily.schedules] == [("0 */2 * * *", "UTC", True)]
    assert served["backfill"].parameters == {"force": False, "max_parallel": 2}
    assert all(d.enforce_parameter_schema for d in served.values())
    schema = served["backfill"]._parameter_openapi_schema.model_dump_for_openapi()
    assert schema["properties"]["start"]["format"] == "date" and schema["properties"]["max_parallel"]["minimum"] == 1
    assert served["rebuild-site"].schedules == [] and all(d.tags == ["hfdaily"] for d in served.values())
    papers = served["review"]._parameter_openapi_schema.model_dump_for_openapi()["properties"]["papers"]
    assert (papers["type"], papers["minItems"], papers["maxItems"]) == ("array", 1, 50)
    assert served["review"].schedules == [] and served["review"].entrypoint == "flows.review.review"


def test_key_sources_name_where_keys_come_from_never_the_keys(monkeypatch):
    settings = Settings(openai_api_key=SecretStr("sk-env"), anthropic_api_key=None, mistral_api_key=None,
                        use_secret_blocks=True)
    monkeypatch.setattr("tasks.settings._secret_block", lambda name: "sk-block" if "anthropic" in name else None)
    sources = key_sources(settings)
    assert sources == {"openai": "env", "anthropic": "secret block", "mistral": "missing"}
    assert "sk-" not in repr(sources)


def test_serve_says_whether_it_posts_to_telegram_and_where_the_token_comes_from(monkeypatch):
    monkeypatch.setattr("tasks.settings._secret_block", lambda name: "123:block" if "telegram" in name else None)
    on_env = Settings(telegram_bot_token=SecretStr("123:env"), telegram_chat_id="@hfday", use_secret_blocks=False)
    assert telegram_source(on_env) == "posting to @hfday, token from env"
    on_block = Settings(telegram_bot_token=None, telegram_chat_id="@hfday", use_secret_blocks=True)
    assert telegram_source(on_block) == "posting to @hfday, token from secret block"
    no_chat = Settings(telegram_bot_token=SecretStr("123:env"), telegram_chat_id="", use_secret_blocks=False)
    assert telegram_source(no_chat) == "off (token from env, no HFDAILY_TELEGRAM_CHAT_ID)"
    assert telegram_source(Settings(telegram_bot_token=None, use_secret_blocks=False)) == "off (no bot token)"
    assert all("123:" not in telegram_source(s) for s in (on_env, on_block, no_chat))


def test_serve_needs_a_server():
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(restore_defaults={PREFECT_API_URL}), pytest.raises(HfDailyError, match="PREFECT_API_URL"):
        serve_deployments()
