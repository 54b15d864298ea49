"""A real S3-compatible server for tests: moto's server mode as a child process on a free port.

The tests talk to it over HTTP like to any S3 endpoint: with the standard AWS_* variables (`env`), which the
AWS SDK under s3fs reads, and with a fresh bucket per test (`bucket()`), so tests never see each other's objects.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests

REGION = "us-east-1"


class MotoServer:
    def __init__(self, log: Path | None = None) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.env = {"AWS_ACCESS_KEY_ID": "testing-key-id", "AWS_SECRET_ACCESS_KEY": "testing-secret-key",
                    "AWS_DEFAULT_REGION": REGION, "AWS_ENDPOINT_URL": self.endpoint}
        out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115 - closed in stop()
        self._log = out
        self.proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self._wait()

    def _wait(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"moto server exited with {self.proc.returncode}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.endpoint}/moto-api/", timeout=1).status_code < 500:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"moto server not up within {timeout:g} s")

    def client(self) -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name=REGION,
                            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"])

    def bucket(self, prefix: str = "hfdaily") -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:10]}"
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait(5)
        if self._log is not subprocess.DEVNULL:
            self._log.close()


@contextlib.contextmanager
def moto_server(log: Path | None = None) -> Iterator[MotoServer]:
    server = MotoServer(log)
    try:
        yield server
    finally:
        server.stop()
