"""Shared test setup: a private PREFECT_HOME, and where the shared real-data fixtures live."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT.parent / "shared" / "fixtures"

# Set before anything imports prefect, so no test ever touches the user's ~/.prefect.
_PREFECT_HOME = tempfile.mkdtemp(prefix="hfdaily-test-prefect-")
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ.pop("PREFECT_API_URL", None)
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


def fixtures_dir(*parts: str) -> Path:
    """A folder of the shared real-data fixtures, or skip the test where a fresh clone has none."""
    path = FIXTURES.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared fixtures not found at {path} (they live beside the repo, not in it)")
    return path
