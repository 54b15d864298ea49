"""`hfdaily` against Prefect's temporary server, as a new user runs it: offline, nothing configured."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_site_on_a_temporary_server_logs_no_telemetry_error(tmp_path: Path) -> None:
    # None of the test session's Prefect settings (it turns telemetry off itself): only a private home.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "HFDAILY_"))}
    env |= {"PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_PROFILES_PATH": str(tmp_path / "none.toml"),
            "HFDAILY_DATA_DIR": str(tmp_path / "data"), "HFDAILY_SITE_DIR": str(tmp_path / "site")}
    done = subprocess.run([sys.executable, "-m", "flows.cli", "site"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=300)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "Starting temporary server" in output  # it did run against a temporary server
    assert "rendered" in done.stdout
    assert "telemetry" not in output.lower(), output
