"""The backfill's progress line: ETA math, the line's format, plain lines off a terminal, redrawn on one."""

from __future__ import annotations

import io
import logging
import time

import pytest

from tasks import progress as live
from tasks.models import Usage
from tasks.progress import Progress, ProgressPrinter, Snapshot, duration, eta, format_line


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_eta_is_the_pace_so_far_times_what_is_left():
    assert eta(120.0, 2, 10) == pytest.approx(480.0)  # 60 s a date, 8 dates to go
    assert eta(120.0, 0, 10) is None  # no pace yet
    assert eta(120.0, 10, 10) == 0.0
    assert [duration(s) for s in (None, 4.4, 65, 3599, 3600 * 3 + 32 * 60 + 10)] == ["?", "4s", "1m05s", "59m59s",
                                                                                    "3h32m"]


def test_the_line_says_dates_papers_calls_dollars_pace_and_eta():
    clock = Clock()
    p = Progress(clock=clock)
    p.backfill_started(total=10, skipped=2)
    p.step_finished("2025-01-03", Usage(calls=5, cost_usd=0.01))  # calls move while a date runs
    clock.t += 120
    p.date_finished("2025-01-03", "ran", 25, Usage(calls=160, cost_usd=0.5))  # then its run's own total
    p.date_finished("2025-01-04", "failed", None, None)
    p.step_finished("2025-01-05", Usage(calls=7, cost_usd=0.02))
    snap = p.snapshot()
    assert snap == Snapshot(total=10, done=4, skipped=2, failed=1, to_run=8, ran=2, papers=25, calls=167,
                            cost_usd=pytest.approx(0.52), elapsed_s=120.0)
    assert format_line(snap) == ("backfill: 4/10 dates (2 skipped, 1 failed) · 25 papers · 167 calls · $0.52 · "
                                 "1.0 dates/min · ETA 6m00s")
    for d in range(6):
        p.date_finished(f"2025-01-1{d}", "ran", 25, None)
    clock.t += 1000  # the backfill is over: its pace and elapsed time stop with its last date
    assert p.snapshot().elapsed_s == 120.0 and p.snapshot().eta_s == 0


def test_off_a_terminal_plain_lines_come_every_so_often_and_at_the_end():
    out = io.StringIO()
    p = Progress()
    with live.listening(p), ProgressPrinter(p, out, every_s=0.05):
        live.backfill_started(3, 0)
        live.step_finished("2025-01-01", Usage(calls=3, cost_usd=0.003))
        time.sleep(0.3)
        for d in ("2025-01-01", "2025-01-02", "2025-01-03"):
            live.date_finished(d, "ran", 5, Usage(calls=33, cost_usd=0.02))
    lines = out.getvalue().splitlines()
    assert len(lines) >= 3 and "\r" not in out.getvalue() and "\x1b" not in out.getvalue()
    assert lines[0].startswith("backfill: 0/3 dates (0 skipped, 0 failed) · 0 papers · 3 calls · $0.00 ·")
    assert lines[-1].startswith("backfill: 3/3 dates (0 skipped, 0 failed) · 15 papers · 99 calls · $0.06 ·")
    assert lines[-1].endswith("ETA 0s")
    live.date_finished("2025-01-04", "ran", 5, None)  # nobody listens any more: nothing happens
    assert p.ran == 3


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_one_line_is_redrawn_and_log_lines_do_not_run_into_it():
    term = Terminal()
    handler = logging.StreamHandler(term)
    log = logging.getLogger("hfdaily-progress-test")
    log.addHandler(handler)
    try:
        p = Progress()
        p.backfill_started(2, 0)
        with ProgressPrinter(p, term, every_s=0.02):
            time.sleep(0.1)
            log.warning("a log line")
            time.sleep(0.1)
            p.date_finished("2025-01-01", "ran", 5, Usage(calls=33))
        text = term.getvalue()
    finally:
        log.removeHandler(handler)
    assert text.count("\rbackfill: ") >= 3 and text.endswith("\n")
    assert "\r\x1b[Ka log line\n" in text  # the line was wiped first, then redrawn below the log line
    assert "\n" not in text.split("a log line\n")[0]  # nothing but redraws before it
