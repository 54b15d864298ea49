"""The run forms as Prefect builds them from the flows, and the checks a run makes first thing (no engine).

The parameter schema (what the UI draws and, with `enforce_parameter_schema`, what the server checks) is read
from the flows exactly as `prefect deploy` reads it; the server's check is Prefect's own `validate` with the
arguments the server passes when a run is created. tests/e2e/test_prefect_server.py repeats the essentials
against a real server.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from prefect.exceptions import ParameterTypeError
from prefect.utilities.callables import parameter_schema, parameter_schema_from_entrypoint
from prefect.utilities.schema_tools.validation import ValidationError, validate
from pydantic import MISSING

import flows.backfill
import flows.daily
from flows.backfill import backfill, backfill_run_name
from flows.daily import daily_digest, daily_run_name
from flows.params import given
from flows.serve import deployment_specs, load_flow
from tasks.dates import today_utc
from tasks.errors import InvalidDateError

DATE_FIELDS = {"daily": ["date"], "backfill": ["start", "end"]}


def _schema(flow_name: str) -> dict[str, Any]:
    flow = {"daily": daily_digest, "backfill": backfill}[flow_name]
    return parameter_schema(flow).model_dump_for_openapi()


def _server_accepts(flow_name: str, parameters: dict[str, Any]) -> bool:
    """What the API does with a new run's parameters when the deployment enforces its schema."""
    try:
        validate(parameters, _schema(flow_name), raise_on_error=True)
    except ValidationError:
        return False
    return True


# -- what the form shows -------------------------------------------------------------------------------

@pytest.mark.parametrize(("flow_name", "field"), [(f, p) for f, ps in DATE_FIELDS.items() for p in ps])
def test_date_parameters_are_dates_so_the_form_shows_a_date_picker(flow_name, field):
    prop = _schema(flow_name)["properties"][field]
    assert prop["type"] == "string" and prop["format"] == "date"
    assert "anyOf" not in prop  # an optional date is still one date field, not a "date / None" toggle
    assert prop["pattern"].startswith("^\\d{4}-")


@pytest.mark.parametrize("flow_name", ["daily", "backfill"])
def test_bounds_are_in_the_schema_and_no_parameter_is_a_type_toggle(flow_name):
    props = _schema(flow_name)["properties"]
    assert props["max_cost"] == {**props["max_cost"], "type": "number", "minimum": 0}
    if flow_name == "backfill":
        assert props["max_parallel"] == {**props["max_parallel"], "type": "integer", "minimum": 1, "default": 2}
    assert not [name for name, prop in props.items() if "anyOf" in prop or "type" not in prop]


def test_defaults_and_required_fields():
    daily, bf = _schema("daily"), _schema("backfill")
    assert "required" not in daily  # an empty date is the scheduled date
    assert {k: v["default"] for k, v in daily["properties"].items() if "default" in v} == {
        "render": True, "post": True, "mode": "online"}
    assert bf["required"] == ["start"]  # an empty end is yesterday
    assert {k: v["default"] for k, v in bf["properties"].items() if "default" in v} == {
        "force": False, "max_parallel": 2, "use_deployments": False, "mode": "online"}


@pytest.mark.parametrize("flow_name", ["daily", "backfill"])
def test_a_form_submitted_as_the_ui_fills_it_is_accepted(flow_name):
    # Prefect's run form starts from the schema's defaults and sends them all; a "default": null on a date or
    # number field would come back as null and be refused. Fields that may stay empty have no default.
    form = {k: v["default"] for k, v in _schema(flow_name)["properties"].items() if "default" in v}
    form |= {"start": "2025-01-20"} if flow_name == "backfill" else {}
    assert _server_accepts(flow_name, form)
    empty = ["date", "max_cost"] if flow_name == "daily" else ["end", "max_cost"]
    assert _server_accepts(flow_name, form | dict.fromkeys(empty))  # an explicit null is an empty field too


def test_every_parameter_of_every_deployment_has_a_description():
    for spec in deployment_specs():
        entrypoint = spec["entrypoint"]
        for schema in (load_flow(entrypoint).parameters.model_dump_for_openapi(),
                       parameter_schema_from_entrypoint(entrypoint).model_dump_for_openapi()):  # as deploy reads it
            for name, prop in schema["properties"].items():
                assert len(prop.get("description") or "") > 30, f"{spec['name']}.{name} has no real description"
    for flow_name, fields in DATE_FIELDS.items():
        for field in fields:  # the format, what empty means
            text = _schema(flow_name)["properties"][field]["description"]
            assert "YYYY-MM-DD" in text and ("empty" in text or field == "start"), (flow_name, field, text)


# -- what the server refuses when a run is created ----------------------------------------------------

@pytest.mark.parametrize(("flow_name", "parameters", "accepted"), [
    ("daily", {}, True),
    ("daily", {"date": "2025-01-23"}, True),
    ("daily", {"date": "2025-01-23", "max_cost": 0, "render": False}, True),
    ("daily", {"date": "2025-13-45"}, False),
    ("daily", {"date": "23.01.2025"}, False),
    ("daily", {"date": "2025-1-23"}, False),
    ("daily", {"date": "2025-01-23", "max_cost": -1}, False),
    ("backfill", {"start": "2025-01-20"}, True),
    ("backfill", {"start": "2025-01-20", "end": "2025-01-22", "max_parallel": 4, "max_cost": 0.5}, True),
    ("backfill", {}, False),
    ("backfill", {"start": "2025-01-20", "end": "2025-02-31x"}, False),
    ("backfill", {"start": "2025-01-20", "max_parallel": 0}, False),
    ("backfill", {"start": "2025-01-20", "max_cost": -0.01}, False),
])
def test_the_server_refuses_what_the_schema_rules_out(flow_name, parameters, accepted):
    assert _server_accepts(flow_name, parameters) is accepted


def test_the_forms_own_check_rejects_a_non_date_too():
    # The UI asks /ui/schemas/validate, which also checks `format`.
    errors = validate({"date": "2025-13-45"}, _schema("daily"))
    assert errors and all(e.path[0] == "date" for e in errors)


# -- what reaches the flow -----------------------------------------------------------------------------

def test_date_strings_become_dates_and_non_dates_reach_the_run_unchanged():
    assert daily_digest.validate_parameters({"date": "2025-01-23"})["date"] == date(2025, 1, 23)
    assert daily_digest.validate_parameters({"date": date(2025, 1, 23)})["date"] == date(2025, 1, 23)
    assert given(daily_digest.validate_parameters({})["date"]) is None  # left empty
    assert daily_digest.validate_parameters({"date": None, "max_cost": None}) == {
        "date": None, "max_cost": None, "render": True, "post": True, "mode": "online"}
    # Not a date: handed on, so the run rejects it itself in one line under its usual name.
    assert daily_digest.validate_parameters({"date": "2025-02-30"})["date"] == "2025-02-30"
    with pytest.raises(ParameterTypeError):
        backfill.validate_parameters({"start": "2025-01-20", "max_parallel": 0})
    with pytest.raises(ParameterTypeError):
        daily_digest.validate_parameters({"max_cost": -1})


# -- checked first thing in the run ----------------------------------------------------------------------

@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HFDAILY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HFDAILY_SITE_DIR", str(tmp_path / "site"))
    return tmp_path


@pytest.fixture
def children(monkeypatch) -> list[str]:
    """Dates the backfill started a child run for (the child runs themselves are not made)."""
    started: list[str] = []

    def child(date_: str, max_cost: float | None) -> flows.backfill.ChildRun:
        started.append(date_)
        return flows.backfill.ChildRun(None, f"daily-{date_}", "not run in this test")

    monkeypatch.setattr(flows.backfill, "_in_process", child)
    monkeypatch.setattr(flows.backfill, "_via_deployment", child)
    monkeypatch.setattr(flows.backfill, "create_markdown_artifact", lambda *a, **k: None)
    monkeypatch.setattr(flows.backfill, "_progress", lambda *a, **k: None)
    return started


@pytest.mark.parametrize(("start", "end", "reason"), [
    (date(2025, 1, 22), date(2025, 1, 20), "end 2025-01-20 is before start 2025-01-22"),
    ("2025-01-22", "2025-01-20", "end 2025-01-20 is before start 2025-01-22"),
    (date(2023, 4, 1), date(2023, 5, 3), "before 2023-05-01"),
    (date(2025, 1, 20), today_utc() + timedelta(days=1), "in the future"),
    ("2025-02-30", "2025-03-02", "invalid date '2025-02-30'"),
    (today_utc(), None, "(end left empty: yesterday, UTC)"),
])
def test_a_bad_range_fails_the_backfill_first_with_one_line_and_no_child_run(start, end, reason, workdir, children):
    for use_deployments in (False, True):
        with pytest.raises(InvalidDateError) as err:
            backfill.fn(start=start, end=end, use_deployments=use_deployments)
        assert reason in str(err.value) and "\n" not in str(err.value)
    assert children == []
    assert list(workdir.iterdir()) == []  # nothing read or written before the check


def test_an_empty_end_is_yesterday_utc(workdir, children, monkeypatch):
    monkeypatch.setattr(flows.backfill, "yesterday_utc", lambda: date(2025, 1, 22))
    result = backfill.fn(start=date(2025, 1, 20), max_parallel=1)
    assert sorted(children) == ["2025-01-20", "2025-01-21", "2025-01-22"]
    assert list(result["dates"]) == ["2025-01-20", "2025-01-21", "2025-01-22"]


@pytest.mark.parametrize(("value", "reason"), [
    (date(2999, 1, 1), "in the future"),
    (date(2023, 4, 30), "before 2023-05-01"),
    ("2025-02-30", "invalid date '2025-02-30'"),
    (20250123, "expected YYYY-MM-DD"),
])
def test_a_bad_date_fails_the_daily_run_first_with_one_line(value, reason, workdir):
    with pytest.raises(InvalidDateError, match=reason) as err:
        daily_digest.fn(date=value)
    assert "\n" not in str(err.value)
    assert list(workdir.iterdir()) == []


# -- names from the parameters -------------------------------------------------------------------------

@pytest.mark.parametrize(("parameters", "name"), [
    ({"date": date(2025, 1, 23)}, "daily-2025-01-23"),
    ({"date": "2025-01-23"}, "daily-2025-01-23"),
    ({"date": date(2999, 1, 1)}, "daily-2999-01-01"),  # fails first thing, but the name says what was asked
    ({"date": "2025-02-30"}, "daily-invalid-date"),
    ({}, "daily-2025-03-04"),
    ({"date": MISSING}, "daily-2025-03-04"),  # what a run left empty has in its context
])
def test_daily_run_names(parameters, name, monkeypatch):
    fake = SimpleNamespace(parameters=parameters, scheduled_start_time=datetime(2025, 3, 4, 6, tzinfo=UTC))
    monkeypatch.setattr(flows.daily, "flow_run", fake)
    assert daily_run_name() == name


@pytest.mark.parametrize(("parameters", "name"), [
    ({"start": date(2025, 1, 20), "end": date(2025, 1, 22)}, "backfill-2025-01-20-to-2025-01-22"),
    ({"start": "2025-01-20", "end": "2025-01-22"}, "backfill-2025-01-20-to-2025-01-22"),
    ({"start": date(2025, 1, 20), "end": None}, "backfill-2025-01-20-to-2025-03-03"),
    ({"start": date(2025, 1, 20)}, "backfill-2025-01-20-to-2025-03-03"),
    ({"start": date(2025, 1, 20), "end": MISSING}, "backfill-2025-01-20-to-2025-03-03"),
    ({"start": "2025-02-30", "end": "2025-03-01"}, "backfill-invalid-date-to-2025-03-01"),
])
def test_backfill_run_names(parameters, name, monkeypatch):
    monkeypatch.setattr(flows.backfill, "flow_run", SimpleNamespace(parameters=parameters))
    monkeypatch.setattr(flows.backfill, "yesterday_utc", lambda: date(2025, 3, 3))
    assert backfill_run_name() == name
