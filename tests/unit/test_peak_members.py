"""The scale benchmark's account of a deployment-mode peak: each flow-run process with its helpers, and whether
its run was already final (a process still exiting)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

from benchmarks.proc import Member
from benchmarks.scale import peak_line, peak_roles


class _Server:
    """Run "a" still running, run "b" final 10 s before the peak (at t=100)."""

    def read_flow_run(self, run_id: str) -> SimpleNamespace:
        final = run_id == "b"
        return SimpleNamespace(name=f"daily-{run_id}", state=SimpleNamespace(is_final=lambda: final),
                               end_time=datetime.fromtimestamp(90, UTC) if final else None)


def test_helpers_fold_into_their_run_and_a_final_run_shows_as_exiting():
    tree = [Member(1, 0, "prefect worker", 100, None),
            Member(2, 1, "prefect.engine", 250, "a"),
            Member(3, 2, "tasks.pdf.worker", 60, None),  # a PDF worker: a clean environment, no run id
            Member(4, 2, "pagefind --service", 70, "a"),  # Pagefind inherits the engine's environment
            Member(5, 1, "prefect.engine", 240, "b")]
    roles = peak_roles(tree, worker=1, at=100.0, client=_Server())
    assert [(r["role"], r["mb"], r["helpers"]) for r in roles] == [("daily-a", 380, 2), ("daily-b", 240, 0),
                                                                   ("worker", 100, 0)]
    assert roles[0]["final_before_s"] is None and roles[1]["final_before_s"] == 10.0
    assert peak_line(roles) == "daily-a 380 (+2 helpers) · daily-b 240 (final 10.0 s before) · worker 100"
