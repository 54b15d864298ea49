"""The quiet console of `hfdaily` (what a record shows on the terminal), its log file, the error line, the retry
notices of the HTTP tasks and of Prefect's client (the client's real retry path, with a mock transport)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

import flows.console as console
from flows.console import CommandLog, OneLine, error_line, on_console
from tasks.api_waits import NOTICE, announce_api_waits, describe_wait
from tasks.errors import FeedError, RetriableError
from tasks.retrying import retry_if_transient, retry_notice

PREFECT = console._prefect_dir()


def _record(path: str, level: int = logging.INFO, msg: str = "x", exc: bool = False) -> logging.LogRecord:
    info = None
    if exc:
        try:
            raise ValueError("boom")
        except ValueError:
            info = sys.exc_info()
    return logging.LogRecord("prefect.task_runs", level, path, 1, msg, (), info)


@pytest.mark.parametrize(("path", "level", "msg", "shown"), [
    ("/repo/tasks/feed.py", logging.INFO, "feed 2025-01-23: 8 papers", True),  # hfdaily's own line
    ("/repo/flows/daily.py", logging.WARNING, "2025-01-23: pdf 2501.1: HTTP 404", True),
    (PREFECT + "task_engine.py", logging.INFO, "Finished in state Completed()", False),  # 50 of 70 lines
    (PREFECT + "task_engine.py", logging.ERROR, "Task run failed with exception - Retries are exhausted", False),
    (PREFECT + "flow_engine.py", logging.ERROR, "Encountered exception during execution", False),
    (PREFECT + "flow_engine.py", logging.INFO, "Beginning flow run 'daily-2025-01-23'", False),
    (PREFECT + "server/api/server.py", logging.INFO, "Starting temporary server on http://127.0.0.1:8000\nSee", True),
    (PREFECT + "server/api/server.py", logging.INFO, "Stopping temporary server on http://127.0.0.1:8000", False),
    (PREFECT + "events/worker.py", logging.WARNING, "Events could not be sent", True),  # a real problem
])
def test_what_the_quiet_console_shows(path: str, level: int, msg: str, shown: bool) -> None:
    assert on_console(_record(path, level, msg), PREFECT) is shown


def test_a_rewritten_client_wait_is_shown_though_it_comes_from_prefect() -> None:
    record = _record(PREFECT + "client/base.py", logging.INFO, "Prefect API busy ...")
    assert not on_console(record, PREFECT)
    setattr(record, NOTICE, True)
    assert on_console(record, PREFECT)


def test_one_line_drops_the_traceback_and_further_lines_but_leaves_the_record_alone() -> None:
    record = _record("/repo/x.py", logging.ERROR, "first line\nsecond line", exc=True)
    text = OneLine(logging.Formatter("%(levelname)s %(message)s")).format(record)
    assert text == "ERROR first line"
    assert record.exc_info is not None and record.getMessage() == "first line\nsecond line"  # the file gets it all
    assert "Traceback" in logging.Formatter().format(record)


def test_the_log_file_is_made_at_the_first_record_and_names_itself(tmp_path: Path) -> None:
    log = CommandLog("run", lambda: tmp_path / "data" / "logs")
    assert log.path is None and not (tmp_path / "data").exists()  # a command that logs nothing writes nothing
    try:
        log.handle(_record("/repo/x.py", logging.INFO, "hello"))
        try:
            raise FeedError("HF feed 2025-01-23 page 0: HTTP 400")
        except FeedError as exc:
            log.write_failure(exc)
    finally:
        log.close()
    assert log.path is not None and log.path.parent == tmp_path / "data" / "logs"
    assert log.path.name.endswith(f"-run-{__import__('os').getpid()}.log")
    text = log.path.read_text()
    assert "hello" in text and "hfdaily run failed: HF feed 2025-01-23 page 0: HTTP 400" in text
    assert "Traceback" in text


def test_an_unwritable_log_folder_falls_back_and_never_raises(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    log = CommandLog("site", lambda: blocked / "logs")
    try:
        log.handle(_record("/repo/x.py", logging.INFO, "hello"))
    finally:
        log.close()
    assert log.path is not None and log.path.parent.name == "hfdaily-logs" and "hello" in log.path.read_text()
    log.path.unlink()


def test_old_log_files_are_pruned(tmp_path: Path) -> None:
    for i in range(console.KEEP_LOGS + 5):
        (tmp_path / f"old-{i:03d}.log").write_text("x")
    log = CommandLog("run", lambda: tmp_path)
    try:
        log.handle(_record("/repo/x.py", logging.INFO, "new"))
    finally:
        log.close()
    assert len(list(tmp_path.glob("*.log"))) == console.KEEP_LOGS and log.path is not None and log.path.exists()


def test_the_error_line_is_one_line_and_names_the_log_file(tmp_path: Path) -> None:
    log = CommandLog("run", lambda: tmp_path)
    assert error_line(FeedError("bad\nfeed"), log) == "hfdaily: error: bad feed"  # nothing logged: no file named
    log.handle(_record("/repo/x.py"))
    log.close()
    assert error_line(FeedError("bad feed"), log) == f"hfdaily: error: bad feed (full log: {log.path})"
    assert error_line(KeyError("k"), None) == "hfdaily: error: KeyError: 'k'"  # unexpected: its type is named


# ---- retries, announced as they are decided --------------------------------------------------------------

def _failed(exc: Exception) -> SimpleNamespace:
    def result() -> None:
        raise exc

    return SimpleNamespace(result=result)


def test_a_transient_error_is_retried_and_announced(caplog: pytest.LogCaptureFixture) -> None:
    task = SimpleNamespace(retries=3, retry_delay_seconds=[2.0, 4.0, 8.0])
    exc = RetriableError("HF feed 2025-01-23 page 0: connection failed (ConnectionError)")
    with caplog.at_level(logging.INFO, logger="hfdaily"):
        assert retry_if_transient(task, SimpleNamespace(run_count=2), _failed(exc)) is True
    assert caplog.messages == ["HF feed 2025-01-23 page 0: connection failed (ConnectionError); retry 2/3 in about 4 s"]


def test_a_permanent_error_is_not_retried_and_not_announced(caplog: pytest.LogCaptureFixture) -> None:
    task = SimpleNamespace(retries=3, retry_delay_seconds=[2.0, 4.0, 8.0])
    with caplog.at_level(logging.INFO, logger="hfdaily"):
        assert retry_if_transient(task, SimpleNamespace(run_count=1), _failed(FeedError("HTTP 400"))) is False
    assert caplog.messages == []


@pytest.mark.parametrize(("delays", "attempt", "when"), [
    ([2.0, 4.0, 8.0], 1, "in about 2 s"), ([2.0, 4.0], 3, "in about 4 s"), (0.01, 1, "in about 0.01 s"),
    (0, 1, "now"),
])
def test_retry_notice_names_the_attempt_and_the_wait(delays: object, attempt: int, when: str) -> None:
    task = SimpleNamespace(retries=3, retry_delay_seconds=delays)
    assert retry_notice(RuntimeError("x"), SimpleNamespace(run_count=attempt), task) == f"x; retry {attempt}/3 {when}"


# ---- Prefect's client waiting on a busy API ----------------------------------------------------------------

def test_describe_wait_reads_prefects_retry_lines() -> None:
    assert describe_wait("Received response with retryable status code 503. Another attempt will be made in "
                         "4.123s. This is attempt 2/6.") == (
        "Prefect API busy (HTTP 503; a SQLite server says so while another write holds the database): the call is "
        "retried in 4.1 s (attempt 2 of 6)")
    assert describe_wait("Encountered retryable exception during request. Another attempt will be made in 2s. "
                         "This is attempt 1/6.", "ConnectError").startswith("Prefect API did not answer (ConnectError)")
    assert describe_wait("Connecting to API at http://x/api/") is None


def test_the_clients_503_retries_are_said_at_info(caplog: pytest.LogCaptureFixture,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Through Prefect's own HTTP client: a 503 ("database is locked"), then 200."""
    from prefect.client.base import PrefectHttpxSyncClient

    answers = iter([httpx.Response(503, headers={"Retry-After": "0"}, json={"detail": "database is locked"}),
                    httpx.Response(200, json={})])
    client = PrefectHttpxSyncClient(transport=httpx.MockTransport(lambda request: next(answers)),
                                    base_url="http://prefect.test/api", enable_csrf_support=False)
    announce_api_waits()
    announce_api_waits()  # idempotent
    logger = logging.getLogger("prefect.client")
    assert len([f for f in logger.filters if f.name == "hfdaily-api-waits"]) == 1
    with caplog.at_level(logging.INFO):
        assert client.get("/health").status_code == 200
    waits = [r for r in caplog.records if r.name == "prefect.client"]
    assert [(r.levelname, r.getMessage()) for r in waits] == [(
        "INFO", "Prefect API busy (HTTP 503; a SQLite server says so while another write holds the database): "
        "the call is retried in 0.0 s (attempt 1 of 6)")]
    assert all(r.levelno >= logging.INFO for r in caplog.records)  # no other DEBUG line let through
