import json
import os
from datetime import UTC, datetime

import pytest

from tasks.errors import StoreError
from tasks.models import DayFile, Localized, Paper, StepState
from tasks.settings import Settings
from tasks.store import day_lock, day_path, load_day, merge_feed, save_day


@pytest.fixture
def settings(tmp_path):
    return Settings(_env_file=None, HFDAILY_DATA_DIR=tmp_path / "data", HFDAILY_SITE_DIR=tmp_path / "site")


def _paper(aid, upvotes=1, rank=0):
    return Paper(arxiv_id=aid, title=f"Paper {aid}", abstract="a", upvotes=upvotes, feed_rank=rank)


def test_missing_day_is_empty(settings):
    day = load_day(settings, "2025-01-20")
    assert day.papers == [] and day.schema_version == 1


def test_merge_adds_refreshes_and_keeps_vanished(settings):
    day = DayFile(date="2025-01-20")
    t0 = datetime(2025, 1, 20, 8, tzinfo=UTC)
    r = merge_feed(day, [_paper("2501.00001"), _paper("2501.00002")], now=t0)
    assert (r.new, r.updated, r.vanished) == (2, 0, 0)
    done = day.paper("2501.00001")
    done.en = Localized(title="T", desc="D")
    done.steps["summary_en"] = StepState(status="ok")
    t1 = datetime(2025, 1, 20, 10, tzinfo=UTC)
    r = merge_feed(day, [_paper("2501.00001", upvotes=9), _paper("2501.00003")], now=t1)
    assert (r.new, r.updated, r.vanished) == (1, 1, 1)
    assert done.upvotes == 9 and done.en.title == "T" and done.step_ok("summary_en")
    gone = day.paper("2501.00002")
    assert gone is not None and gone.vanished_at == t1
    # it comes back: the flag is cleared
    r = merge_feed(day, [_paper("2501.00002")], now=t1)
    assert gone.vanished_at is None
    # an empty feed flags nothing (an upstream hiccup, not every paper moving)
    assert merge_feed(day, [], now=t1).vanished == 0


def test_roundtrip_and_atomic_write(settings):
    day = DayFile(date="2025-01-20")
    merge_feed(day, [_paper("2501.00001")])
    path = save_day(settings, day)
    assert load_day(settings, "2025-01-20") == day
    assert not [p for p in path.parent.iterdir() if p.suffix == ".tmp"]
    assert json.loads(path.read_text())["schema_version"] == 1


def test_corrupt_file_is_an_error_and_left_alone(settings):
    path = day_path(settings, "2025-01-20")
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with pytest.raises(StoreError, match="not valid JSON"):
        load_day(settings, "2025-01-20")
    assert path.read_text() == "{not json"
    path.write_text(json.dumps({"schema_version": 99, "date": "2025-01-20"}))
    with pytest.raises(StoreError, match="schema_version 99"):
        load_day(settings, "2025-01-20")




def test_write_failure_keeps_previous_file(settings, monkeypatch):
    day = DayFile(date="2025-01-20")
    merge_feed(day, [_paper("2501.00001")])
    save_day(settings, day)
    before = day_path(settings, "2025-01-20").read_bytes()

    def disk_full(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    merge_feed(day, [_paper("2501.00002")])
    with pytest.raises(StoreError, match="disk full"):
        save_day(settings, day)
    assert day_path(settings, "2025-01-20").read_bytes() == before
    assert not [p for p in day_path(settings, "x").parent.iterdir() if p.suffix == ".tmp"]


def test_day_lock_excludes_a_second_holder(settings):
    with (day_lock(settings, "2025-01-20"), pytest.raises(StoreError, match="another run"),
          day_lock(settings, "2025-01-20", timeout=0.3)):
        pass
    with day_lock(settings, "2025-01-20", timeout=0.3):
        pass
