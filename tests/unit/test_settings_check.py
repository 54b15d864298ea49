"""A bad setting is one line naming the variable and its rule: from `load_settings`, from the CLI (exit 2, before
anything runs), and from a flow's first line (so a worker's bad environment fails its run at once)."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.cli import main
from flows.daily import daily_digest
from tasks.errors import HfDailyError, InvalidSettingError
from tasks.lanes import LaneTaskRunner
from tasks.settings import _problem, load_settings


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("HFDAILY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HFDAILY_SITE_DIR", str(tmp_path / "site"))
    monkeypatch.setenv("HFDAILY_HF_URL", "http://127.0.0.1:9")
    return tmp_path


@pytest.mark.parametrize(("env", "expected"), [
    ({"HFDAILY_MAX_COST": "-1"}, "HFDAILY_MAX_COST='-1': input should be greater than or equal to 0"),
    ({"HFDAILY_HTTP_TIMEOUT": "0"}, "HFDAILY_HTTP_TIMEOUT='0': input should be greater than 0"),
    ({"HFDAILY_MAX_WORKERS": "many"}, "HFDAILY_MAX_WORKERS='many': input should be a valid integer"),
    ({"HFDAILY_USE_SECRET_BLOCKS": "maybe"}, "HFDAILY_USE_SECRET_BLOCKS='maybe': input should be a valid boolean"),
    ({"HFDAILY_PRICES": "{not json"}, "HFDAILY_PRICES is not valid JSON (JSONDecodeError: "),
    ({"HFDAILY_PRICES": '{"m": [1]}'}, "HFDAILY_PRICES[m]: tuple should have at least 2 items"),
    ({"HFDAILY_PRICES": '{"m": [1, 2, 3, 4, 5]}'}, "HFDAILY_PRICES[m]: tuple should have at most 4 items"),
])
def test_a_bad_setting_is_one_line_naming_the_variable_and_the_rule(env: dict[str, str], expected: str,
                                                                     workdir: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(InvalidSettingError) as err:
        load_settings()
    assert str(err.value).startswith(expected) and "\n" not in str(err.value)
    assert isinstance(err.value, HfDailyError)


def test_every_bad_setting_is_named_at_once(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HFDAILY_MAX_COST", "-1")
    monkeypatch.setenv("HFDAILY_RETRIES", "x")
    with pytest.raises(InvalidSettingError) as err:
        load_settings()
    problems = sorted(str(err.value).split("; "))
    assert [p.split(":")[0] for p in problems] == ["HFDAILY_MAX_COST='-1'", "HFDAILY_RETRIES='x'"]


def test_a_secret_value_is_never_quoted() -> None:
    line = _problem({"loc": ("OPENAI_API_KEY",), "msg": "String should have at most 5 characters",
                     "input": "sk-very-secret"})
    assert line == "OPENAI_API_KEY: string should have at most 5 characters"


def test_the_cli_refuses_a_bad_setting_before_anything_runs(workdir: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HFDAILY_MAX_COST", "-1")
    for argv in (["run", "--date", "2025-01-23"], ["backfill", "2025-01-20", "2025-01-21"], ["site"]):
        assert main(argv) == 2
        out = capsys.readouterr()
        assert out.out == ""
        assert out.err == ("hfdaily: error: bad setting: HFDAILY_MAX_COST='-1': input should be greater than or "
                           "equal to 0 (nothing was run)\n")
    assert list(workdir.iterdir()) == []  # no data/, no log file


def test_the_daily_flow_checks_its_settings_first(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HFDAILY_MAX_COST", "-1")
    with pytest.raises(InvalidSettingError, match="HFDAILY_MAX_COST"):
        daily_digest.fn(date="2025-01-23")  # the body, without the engine: it fails before any I/O
    assert list(workdir.iterdir()) == []


def test_the_task_runner_never_fails_on_a_bad_setting(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Entered by the engine before the flow's body: an error there left the run Running for good."""
    monkeypatch.setenv("HFDAILY_MAX_WORKERS", "0")
    with LaneTaskRunner() as pool:
        assert pool._max_workers == 16
    monkeypatch.setenv("HFDAILY_MAX_WORKERS", "3")
    with LaneTaskRunner() as pool:
        assert pool._max_workers == 3 and pool.sizes["default"] == 3
