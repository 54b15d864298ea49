"""The CLI's defaults for Prefect's temporary server: a longer start-up limit and no telemetry, unless the user
has set either anywhere Prefect reads settings from."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from flows import cli
from flows.cli import PREFECT_DEFAULTS, prefect_defaults

TIMEOUT = "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"
ANALYTICS = "PREFECT_SERVER_ANALYTICS_ENABLED"
ALL = {name: value for name, _, value in PREFECT_DEFAULTS}


@pytest.fixture
def cwd(tmp_path: Path) -> Path:
    (tmp_path / "work").mkdir()
    return tmp_path / "work"


def _env(tmp_path: Path, **more: str) -> dict[str, str]:
    return {"PREFECT_HOME": str(tmp_path / "home"), **more}


def test_both_defaults_when_the_user_set_nothing(tmp_path: Path, cwd: Path) -> None:
    assert prefect_defaults(_env(tmp_path), cwd) == {TIMEOUT: "90", ANALYTICS: "false"}
    assert int(ALL[TIMEOUT]) > 20  # more than Prefect's own limit


def test_a_value_in_the_environment_wins(tmp_path: Path, cwd: Path) -> None:
    assert prefect_defaults(_env(tmp_path, **{TIMEOUT: "300"}), cwd) == {ANALYTICS: "false"}
    assert prefect_defaults(_env(tmp_path, **{ANALYTICS: "true", TIMEOUT: "5"}), cwd) == {}


@pytest.mark.parametrize("where", [".env", "prefect.toml", "pyproject.toml", "profile", "profile by PREFECT_PROFILE"])
def test_a_value_in_a_prefect_settings_file_wins(tmp_path: Path, cwd: Path, where: str) -> None:
    env = _env(tmp_path)
    if where == ".env":
        (cwd / ".env").write_text(f"HFDAILY_DATA_DIR=x\n{TIMEOUT}=120\n")
    elif where == "prefect.toml":
        (cwd / "prefect.toml").write_text("[server.ephemeral]\nstartup_timeout_seconds = 120\n")
    elif where == "pyproject.toml":
        (cwd / "pyproject.toml").write_text("[project]\nname = 'x'\n[tool.prefect.server.ephemeral]\n"
                                            "startup_timeout_seconds = 120\n")
    else:
        home = tmp_path / "home"
        home.mkdir()
        active = "mine" if where == "profile" else "other"
        (home / "profiles.toml").write_text(f'active = "{active}"\n[profiles.mine]\n{TIMEOUT} = "120"\n'
                                            "[profiles.other]\n")
        if where != "profile":
            env["PREFECT_PROFILE"] = "mine"
    assert prefect_defaults(env, cwd) == {ANALYTICS: "false"}


def test_a_profile_that_is_not_active_does_not_count(tmp_path: Path, cwd: Path) -> None:
    profiles = tmp_path / "profiles.toml"
    profiles.write_text(f'active = "plain"\n[profiles.plain]\n[profiles.mine]\n{ANALYTICS} = "true"\n')
    assert prefect_defaults(_env(tmp_path, PREFECT_PROFILES_PATH=str(profiles)), cwd) == ALL


def test_a_broken_settings_file_is_left_to_prefect(tmp_path: Path, cwd: Path) -> None:
    (cwd / "prefect.toml").write_text("[server\n")
    assert prefect_defaults(_env(tmp_path), cwd) == ALL


def test_main_sets_the_defaults_only_where_absent(tmp_path: Path, cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, str | None] = {}

    def fake_site(args: object) -> int:
        seen.update({name: os.environ.get(name) for name in ALL})
        return 0

    monkeypatch.setitem(cli.COMMANDS, "site", fake_site)
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("PREFECT_PROFILES_PATH", str(tmp_path / "none.toml"))
    monkeypatch.setenv(TIMEOUT, "7")  # the user's own value
    monkeypatch.setenv(ANALYTICS, "")  # recorded, so that teardown removes what main adds
    monkeypatch.delenv(ANALYTICS)
    assert cli.main(["site"]) == 0
    assert seen == {TIMEOUT: "7", ANALYTICS: "false"}


def test_prefect_reads_what_main_sets(tmp_path: Path) -> None:
    """The names are Prefect's own: a fresh process running main() sees them in Prefect's settings."""
    probe = (
        "import json, flows.cli as c\n"
        "def show(args):\n"
        "    from prefect.settings import get_current_settings\n"
        "    s = get_current_settings().server\n"
        "    print(json.dumps([s.ephemeral.startup_timeout_seconds, s.analytics_enabled]))\n"
        "    return 0\n"
        "c.COMMANDS['site'] = show\n"
        "raise SystemExit(c.main(['site']))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {"PREFECT_HOME": str(tmp_path / "home"), "PREFECT_PROFILES_PATH": str(tmp_path / "none.toml")}
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == [90, False]
