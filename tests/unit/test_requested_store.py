"""The store of requested papers: two runs writing one paper's file at once keep both runs' results; a stored
result is never replaced by a later failure; arXiv's facts refresh without undoing finished steps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tasks.enrich import StepResult
from tasks.errors import StoreError
from tasks.models import Localized, Paper, StepState
from tasks.requested import RequestWriter, load_request, request_key, request_leases
from tasks.settings import Settings
from tasks.steps import apply_to

T0 = datetime(2026, 11, 1, tzinfo=UTC)
META = Paper(arxiv_id="2501.04001", title="A title", abstract="An abstract.", authors=["A. Author"])


def _settings(root: Path) -> Settings:
    return Settings(_env_file=None, HFDAILY_DATA_DIR=root / "data", HFDAILY_SITE_DIR=root / "site",
                    HFDAILY_LEASE_TTL=3, HFDAILY_LEASE_WAIT=0)


def _result(step: str, status: str = "ok", **values: object) -> StepResult:
    return StepResult(step=step, arxiv_id=META.arxiv_id, values=values, state=StepState(status=status, error=None
                      if status == "ok" else "boom"))


def test_two_writers_at_once_keep_both_results_and_a_failure_never_replaces_one(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    first, second = RequestWriter(settings, META, T0), RequestWriter(settings, META, T0 + timedelta(seconds=1))
    first.apply(lambda r: apply_to(r.paper, _result("topics", topics=["RL"])))
    first.save()  # creates the file
    second.apply(lambda r: apply_to(r.paper, _result("summary_en", en=Localized(title="T", desc="D"))))
    second.apply(lambda r: apply_to(r.paper, _result("topics", "error")))
    second.save()  # meets the first writer's file: reloads, applies its own changes again
    stored = load_request(settings, META.arxiv_id)
    assert stored.paper.topics == ["RL"] and stored.paper.steps["topics"].status == "ok"
    assert stored.paper.en.title == "T" and stored.last_requested_at == T0 + timedelta(seconds=1)
    assert stored.requested_at == T0


def test_a_new_version_refreshes_arxiv_facts_and_keeps_finished_steps(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    writer = RequestWriter(settings, META, T0)
    writer.apply(lambda r: apply_to(r.paper, _result("topics", topics=["RL"])))
    writer.save()
    renamed = META.model_copy(update={"title": "A better title"})
    again = RequestWriter(settings, renamed, T0 + timedelta(days=1))
    again.save()
    stored = load_request(settings, META.arxiv_id)
    assert stored.paper.title == "A better title" and stored.paper.topics == ["RL"]
    assert (settings.data.local_path(request_key(META.arxiv_id))).name == "2501.04001.json"


def test_a_paper_under_review_elsewhere_is_not_reviewed_twice_at_once(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    with request_leases(settings, ["2501.04001", "hep-th/9901001"]) as lost:
        assert not lost.is_set()
        # HFDAILY_LEASE_WAIT=0: the second run gives up at once, saying who holds the paper
        with pytest.raises(StoreError, match="a review of hep-th/9901001 held"), \
                request_leases(settings, ["hep-th/9901001"]):
            pass
    with request_leases(settings, ["hep-th/9901001"]) as lost:  # released: free again
        assert not lost.is_set()
