"""Progress of a long backfill for a person at a terminal: dates done of total, papers, calls, dollars and ETA.

The backfill reports each date's outcome and the daily runs of the same process each finished step, so calls and
dollars move while a date runs; `hfdaily backfill` renders snapshots: one line redrawn in place on a terminal, a
plain line every so often where output is not a terminal (a log file, CI). The dashboard's progress artifact is
separate and stays. Nothing listens unless the CLI does: a run in a worker reports to no one.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TextIO

from tasks.models import Usage

TTY_EVERY_S = 0.5  # how often the line is redrawn on a terminal
PLAIN_EVERY_S = 30.0  # how often a line is printed elsewhere


@dataclass(frozen=True)
class Snapshot:
    total: int  # dates in the range
    done: int  # dates finished (ran, skipped or failed)
    skipped: int
    failed: int
    to_run: int  # dates the plan runs
    ran: int  # of those, finished
    papers: int
    calls: int
    cost_usd: float
    elapsed_s: float

    @property
    def eta_s(self) -> float | None:
        return eta(self.elapsed_s, self.ran, self.to_run)


def eta(elapsed_s: float, finished: int, total: int) -> float | None:
    """Seconds left at the pace so far (None before the first date is done; 0 when all are)."""
    if finished >= total:
        return 0.0
    if finished <= 0 or elapsed_s <= 0:
        return None
    return elapsed_s / finished * (total - finished)


def duration(seconds: float | None) -> str:
    """`45s`, `12m05s`, `3h32m`; `?` when unknown."""
    if seconds is None:
        return "?"
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def format_line(snap: Snapshot, label: str = "backfill") -> str:
    rate = f"{snap.ran / snap.elapsed_s * 60:.1f} dates/min · " if snap.ran and snap.elapsed_s > 0 else ""
    return (f"{label}: {snap.done}/{snap.total} dates ({snap.skipped} skipped, {snap.failed} failed) · "
            f"{snap.papers:,} papers · {snap.calls:,} calls · ${snap.cost_usd:,.2f} · {rate}"
            f"ETA {duration(snap.eta_s)}")


@dataclass
class Progress:
    """A thread-safe tally of a backfill, fed by the flows of this process."""

    clock: Callable[[], float] = time.monotonic
    total: int = 0
    to_run: int = 0
    skipped: int = 0
    failed: int = 0
    ran: int = 0
    papers: int = 0
    started: float | None = None
    ended: float | None = None  # when the last date finished: the pace stops there
    _usage: dict[str, Usage] = field(default_factory=dict)  # per date: its steps so far, then its run's total
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _now(self) -> float:
        return self.clock()

    def backfill_started(self, total: int, skipped: int) -> None:
        with self._lock:
            self.total, self.skipped, self.to_run = total, skipped, total - skipped
            self.started = self._now()
            self.ended = self.started if self.to_run == 0 else None

    def step_finished(self, date: str, usage: Usage) -> None:
        with self._lock:
            self._usage[date] = self._usage.get(date, Usage()) + usage

    def date_finished(self, date: str, status: str, papers: int | None, usage: Usage | None) -> None:
        with self._lock:
            if status == "skipped":
                return  # counted at the start
            self.ran += 1
            self.failed += status == "failed"
            self.papers += papers or 0
            if usage is not None:  # the run's own total (also what a date run elsewhere reports)
                self._usage[date] = usage
            if self.ran >= self.to_run:
                self.ended = self._now()

    def snapshot(self) -> Snapshot:
        with self._lock:
            spent = sum(u.cost_usd for u in self._usage.values())
            calls = sum(u.calls for u in self._usage.values())
            now = self.ended if self.ended is not None else self._now()
            elapsed = now - self.started if self.started is not None else 0.0
            return Snapshot(self.total, self.skipped + self.ran, self.skipped, self.failed, self.to_run, self.ran,
                            self.papers, calls, spent, elapsed)


# -- who listens ---------------------------------------------------------------------------------------------

_listening: list[Progress] = []


@contextlib.contextmanager
def listening(progress: Progress) -> Iterator[Progress]:
    """Feed `progress` from the flows of this process while the block runs."""
    _listening.append(progress)
    try:
        yield progress
    finally:
        _listening.remove(progress)


def backfill_started(total: int, skipped: int) -> None:
    for p in list(_listening):
        p.backfill_started(total, skipped)


def step_finished(date: str, usage: Usage) -> None:
    for p in list(_listening):
        p.step_finished(date, usage)


def date_finished(date: str, status: str, papers: int | None, usage: Usage | None) -> None:
    for p in list(_listening):
        p.date_finished(date, status, papers, usage)


# -- showing it ----------------------------------------------------------------------------------------------

class _ClearLine(logging.Filter):
    """Before a log line goes to the terminal, wipe the progress line it would otherwise run into."""

    def __init__(self, printer: ProgressPrinter) -> None:
        super().__init__()
        self.printer = printer

    def filter(self, record: logging.LogRecord) -> bool:
        self.printer.clear()
        return True


class ProgressPrinter:
    """Renders a Progress to `stream` from a background thread: a line redrawn in place on a terminal, plain lines
    every `every_s` seconds otherwise, and the last state when it stops."""

    def __init__(self, progress: Progress, stream: TextIO, *, every_s: float | None = None,
                 tty: bool | None = None) -> None:
        self.progress = progress
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self.every_s = every_s if every_s is not None else (TTY_EVERY_S if self.tty else PLAIN_EVERY_S)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._shown = False
        self._thread = threading.Thread(target=self._run, name="progress", daemon=True)
        self._filters: list[tuple[logging.Handler, logging.Filter]] = []

    def line(self) -> str:
        return format_line(self.progress.snapshot())

    def show(self) -> None:
        with self._lock:
            if self.tty:
                self.stream.write("\r" + self.line() + "\x1b[K")
                self._shown = True
            else:
                self.stream.write(self.line() + "\n")
            self.stream.flush()

    def clear(self) -> None:
        with self._lock:
            if self._shown:
                self.stream.write("\r\x1b[K")
                self.stream.flush()
                self._shown = False

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            if self.progress.started is not None:
                self.show()

    def __enter__(self) -> ProgressPrinter:
        if self.tty:
            for handler in _terminal_handlers(self.stream):
                flt = _ClearLine(self)
                handler.addFilter(flt)
                self._filters.append((handler, flt))
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        for handler, flt in self._filters:
            handler.removeFilter(flt)
        if self.progress.started is not None:
            self.show()
            if self.tty:
                with self._lock:
                    self.stream.write("\n")
                    self.stream.flush()
                    self._shown = False


def _terminal_handlers(stream: TextIO) -> list[logging.Handler]:
    """The logging handlers that write to a terminal (Prefect's console handlers among them)."""
    loggers = [logging.getLogger()] + [lg for lg in logging.Logger.manager.loggerDict.values()
                                        if isinstance(lg, logging.Logger)]
    found: list[logging.Handler] = []
    for lg in loggers:
        for handler in lg.handlers:
            target = getattr(handler, "stream", None) or getattr(getattr(handler, "console", None), "file", None)
            if target is not None and getattr(target, "isatty", lambda: False)() and handler not in found:
                found.append(handler)
    return found
