"""What the `hfdaily` commands print on the terminal, and the log file that keeps everything else.

An 8-paper day logs about 70 lines at INFO, 50 of them Prefect's per-task "Finished in state Completed(...)", and
a failed run printed three chained tracebacks before its one line. The dashboard should keep all of that; the
terminal should not. So, for `run`, `backfill`, `site` and `demo`:

- The terminal shows hfdaily's own lines (the feed, one line per PDF, retries as they happen, steps in error,
  warnings, the summary), Prefect's warnings and errors from outside its run engines, the temporary server's
  start (it explains a 10 s wait) and the client's waits on a busy API (tasks/api_waits.py): one line each,
  no traceback. What the run engines log (each task's final state, the flow's beginning and end, retries and
  failures with their exception reprs and tracebacks) is left out: the command's last line says how it ended.
- Prefect's API handler is not touched: the run's Logs tab in the dashboard keeps every line at INFO.
- A log file per command keeps everything, tracebacks included; an error line names it. It is opened at the
  first record, so a command that logs nothing (a bad argument) writes nothing.
- `--verbose` leaves Prefect's console as it is: every line, with tracebacks.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from tasks.api_waits import NOTICE

KEEP_LOGS = 50  # log files kept per folder; older ones are removed when a new one is opened
_ENGINES = ("flow_engine.py", "task_engine.py")


def _prefect_dir() -> str:
    import prefect

    return str(Path(prefect.__file__).resolve().parent) + os.sep


def on_console(record: logging.LogRecord, prefect_dir: str) -> bool:
    """Whether a record is shown on the terminal of a quiet (not --verbose) command."""
    if getattr(record, NOTICE, False):
        return True
    if not os.path.abspath(record.pathname).startswith(prefect_dir):
        return True  # hfdaily's own lines, and other libraries' (which reach the console at WARNING)
    if os.path.basename(record.pathname) in _ENGINES:
        return False
    if record.levelno >= logging.WARNING:
        return True
    return record.getMessage().startswith("Starting temporary server")


class QuietConsole(logging.Filter):
    def __init__(self) -> None:
        super().__init__("hfdaily-console")
        self.prefect_dir = _prefect_dir()

    def filter(self, record: logging.LogRecord) -> bool:
        return on_console(record, self.prefect_dir)


class OneLine(logging.Formatter):
    """The wrapped formatter's output for a copy of the record with only its first line and no traceback."""

    def __init__(self, inner: logging.Formatter | None) -> None:
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        lines = record.getMessage().splitlines()
        copy = logging.makeLogRecord(record.__dict__)
        copy.msg, copy.args = (lines[0] if lines else ""), ()
        copy.exc_info, copy.exc_text, copy.stack_info = None, None, None
        return self.inner.format(copy)


class CommandLog(logging.FileHandler):
    """The command's log file, `<folder>/YYYYMMDD-HHMMSS-<command>-<pid>.log`, chosen and opened at the first record.

    `folder()` is asked then (the demo points HFDAILY_DATA_DIR elsewhere after start-up); if it cannot be made,
    the system's temporary folder is used; if nothing can be opened, records are dropped, never an error.
    """

    def __init__(self, command: str, folder: Callable[[], Path]) -> None:
        super().__init__(os.devnull, delay=True, encoding="utf-8")
        self.command, self._folder = command, folder
        self.path: Path | None = None
        self._failed = False
        from prefect.logging.formatters import PrefectFormatter

        self.setFormatter(PrefectFormatter(
            "%(asctime)s | %(levelname)-7s | %(name)s - %(message)s",
            flow_run_fmt="%(asctime)s | %(levelname)-7s | Flow run %(flow_run_name)r - %(message)s",
            task_run_fmt="%(asctime)s | %(levelname)-7s | Task run %(task_run_name)r - %(message)s",
            defaults={"flow_run_name": "?", "task_run_name": "?"},
        ))

    def emit(self, record: logging.LogRecord) -> None:
        if not self._failed:
            super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:
        """A record that cannot be written is dropped: the log file never prints on the console."""

    def _open(self):  # type: ignore[no-untyped-def] - the stdlib's signature
        name = f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{self.command}-{os.getpid()}.log"
        for folder in (self._folder, lambda: Path(tempfile.gettempdir()) / "hfdaily-logs"):
            try:
                where = folder().expanduser().resolve()
                where.mkdir(parents=True, exist_ok=True)
                _prune(where, KEEP_LOGS - 1)
                self.baseFilename = str(where / name)
                stream = super()._open()
            except OSError:
                continue
            self.path = where / name
            return stream
        self._failed = True
        return None

    def write_failure(self, exc: BaseException) -> None:
        """The command's error with its traceback, in the file only."""
        record = logging.getLogger("hfdaily").makeRecord(
            "hfdaily", logging.ERROR, __file__, 0, "hfdaily %s failed: %s", (self.command, exc),
            (type(exc), exc, exc.__traceback__))
        self.handle(record)


def _prune(folder: Path, keep: int) -> None:
    logs = sorted(folder.glob("*.log"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in logs[keep:]:
        with contextlib.suppress(OSError):
            old.unlink()


def log_folder() -> Path:
    """`HFDAILY_DATA_DIR/logs` for a data dir on this machine, else `~/.hfdaily/logs`."""
    from tasks.settings import Settings

    try:
        data = str(Settings().data_dir)
    except Exception:
        data = "data"
    return Path("~/.hfdaily/logs").expanduser() if "://" in data else Path(data) / "logs"


@contextlib.contextmanager
def command_console(command: str, verbose: bool, quiet: bool = True) -> Iterator[CommandLog]:
    """For the duration of a command: the log file on the root logger and, unless verbose, a quiet console.

    `quiet=False` (serve, alerts) keeps Prefect's console as it is but still keeps the log file.
    """
    from prefect.logging.configuration import ensure_logging_setup
    from prefect.logging.handlers import PrefectConsoleHandler

    ensure_logging_setup()  # Prefect configures logging lazily: its console handler must exist to be quieted
    root = logging.getLogger()
    log = CommandLog(command, log_folder)
    consoles = [h for h in root.handlers if isinstance(h, PrefectConsoleHandler)] if quiet and not verbose else []
    saved = [(h, h.formatter) for h in consoles]
    quiet_filter = QuietConsole()
    for handler in consoles:
        handler.addFilter(quiet_filter)
        handler.setFormatter(OneLine(handler.formatter))
    root.addHandler(log)
    try:
        yield log
    finally:
        root.removeHandler(log)
        log.close()
        for handler, formatter in saved:
            handler.removeFilter(quiet_filter)
            handler.setFormatter(formatter)


def error_line(exc: BaseException, log: CommandLog | None) -> str:
    """`hfdaily: error: <what went wrong> (full log: PATH)` on one line."""
    from tasks.errors import HfDailyError

    text = " ".join(str(exc).split()) if isinstance(exc, HfDailyError) else \
        f"{type(exc).__name__}: {' '.join(str(exc).split())}"
    if len(text) > 400:
        text = text[:399] + "…"
    where = f" (full log: {log.path})" if log is not None and log.path is not None else ""
    return f"hfdaily: error: {text}{where}"


def print_traceback(exc: BaseException) -> None:
    traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
