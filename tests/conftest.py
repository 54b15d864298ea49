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


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory):
    """One moto server (a real S3-compatible HTTP server) for the session, started on first use."""
    pytest.importorskip("moto.server", reason="moto[server] is not installed (pip install -e '.[dev]')")
    from tests.s3server import moto_server

    with moto_server(tmp_path_factory.mktemp("moto") / "moto.log") as server:
        yield server


@pytest.fixture(params=["local", "s3"])
def store_urls(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """HFDAILY_DATA_DIR and HFDAILY_SITE_DIR as local folders, then as a fresh bucket on the moto server
    (the AWS_* variables set as a deployment would set them)."""
    if request.param == "local":
        urls = {"HFDAILY_DATA_DIR": str(tmp_path / "data"), "HFDAILY_SITE_DIR": str(tmp_path / "site")}
    else:
        server = request.getfixturevalue("s3_server")
        for key, value in server.env.items():
            monkeypatch.setenv(key, value)
        bucket = server.bucket()
        urls = {"HFDAILY_DATA_DIR": f"s3://{bucket}/data", "HFDAILY_SITE_DIR": f"s3://{bucket}/site"}
    return urls
