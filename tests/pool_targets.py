"""Jobs for tests/unit/test_procpool.py, imported by name inside the pool's worker processes."""

from __future__ import annotations

import os
import resource
import time
from typing import Any


def environ() -> dict[str, str]:
    return dict(os.environ)


def pid_after(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def exit_now(code: int) -> None:
    os._exit(code)


def fail(message: str) -> None:
    raise ValueError(message)


def allocate(n: int) -> int:
    return len(bytearray(n))


def address_space_limit() -> list[int]:
    return list(resource.getrlimit(resource.RLIMIT_AS))


def not_json() -> Any:
    return {1, 2}


def fail_init() -> None:
    raise RuntimeError("cannot start")


def crash_on_job(*args: Any) -> None:
    os._exit(7)


def malformed_pages(pdf: bytes, deep_chars: int) -> dict[str, Any]:
    return {"pages": 1, "texts": "not a list of page texts"}


def heavy_modules_after_import(module: str) -> list[str]:
    import importlib
    import sys

    importlib.import_module(module)
    return [name for name in ("requests", "pydantic", "prefect", "tasks.models") if name in sys.modules]
