"""The day store and the leases, on a local folder and on a real S3-compatible server (moto)."""

import json
import os
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tasks.enrich import StepResult
from tasks.errors import StoreError
from tasks.lease import LeaseLost, LeaseRecord, acquire, hold
from tasks.models import DayFile, Localized, Paper, StepState, Usage
from tasks.settings import Settings
from tasks.steps import apply_result
from tasks.store import DayWriter, day_key, day_lease, lease_key, load_day, merge_feed, save_day

DATE = "2025-01-20"


@pytest.fixture
def settings(store_urls: dict[str, str]) -> Settings:
    return Settings(_env_file=None, lease_ttl=3, lease_wait=20, **store_urls)


@pytest.fixture
def local(tmp_path: Path) -> Settings:
    return Settings(_env_file=None, HFDAILY_DATA_DIR=tmp_path / "data", HFDAILY_SITE_DIR=tmp_path / "site")


def _paper(aid, upvotes=1, rank=0):
    return Paper(arxiv_id=aid, title=f"Paper {aid}", abstract="a", upvotes=upvotes, feed_rank=rank)


def _ok(aid: str, title: str) -> StepResult:
    return StepResult(step="summary_en", arxiv_id=aid, state=StepState(status="ok"),
                      values={"en": Localized(title=title, desc="d")}, usage=Usage(calls=1))


def test_missing_day_is_empty(settings):
    day = load_day(settings, DATE)
    assert day.papers == [] and day.schema_version == 1


def test_merge_adds_refreshes_and_keeps_vanished():
    day = DayFile(date=DATE)
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
    # an older feed applied again (a merge after a conflict) rolls nothing back and flags nothing
    r = merge_feed(day, [_paper("2501.00001", upvotes=2)], now=t0)
    assert (r.updated, r.vanished) == (0, 0) and done.upvotes == 9 and day.paper("2501.00003").vanished_at is None


def test_writer_round_trip(settings):
    store = DayWriter(settings, DATE)
    store.apply(lambda d: merge_feed(d, [_paper("2501.00001")]))
    store.save()
    assert load_day(settings, DATE) == store.day
    assert json.loads(settings.data.read(day_key(DATE)))["schema_version"] == 1
    assert settings.data.list("days") == [day_key(DATE)]  # no temporary or lock file shows


def test_two_writers_of_one_day_lose_nothing_of_each_other(settings):
    """Both load the day, both store results: the second save meets the first's, merges and keeps both."""
    seed = DayWriter(settings, DATE)
    seed.apply(lambda d: merge_feed(d, [_paper("2501.00001"), _paper("2501.00002")]))
    seed.save()
    a, b = DayWriter(settings, DATE), DayWriter(settings, DATE)
    a.apply(lambda d: apply_result(d, _ok("2501.00001", "from A")))
    b.apply(lambda d: apply_result(d, _ok("2501.00002", "from B")))
    b.apply(lambda d: apply_result(d, _ok("2501.00001", "B's answer to a step A stored")))
    a.save()
    b.save()  # conflict: reload A's day, apply B's results again
    day = load_day(settings, DATE)
    assert day.paper("2501.00001").en.title == "from A" and day.paper("2501.00002").en.title == "from B"
    assert day.usage.calls == 3  # what both paid
    a.apply(lambda d: d.runs.clear())
    a.save()  # A meets B's save in turn, and keeps B's result
    assert load_day(settings, DATE).paper("2501.00002").en.title == "from B"


def test_corrupt_file_is_an_error_and_left_alone(local):
    path = Path(local.data_dir, day_key(DATE))
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with pytest.raises(StoreError, match="not valid JSON"):
        load_day(local, DATE)
    assert path.read_text() == "{not json"
    path.write_text(json.dumps({"schema_version": 99, "date": DATE}))
    with pytest.raises(StoreError, match="schema_version 99"):
        DayWriter(local, DATE)


def test_write_failure_keeps_previous_file(local, monkeypatch):
    store = DayWriter(local, DATE)
    store.apply(lambda d: merge_feed(d, [_paper("2501.00001")]))
    store.save()
    path = Path(local.data_dir, day_key(DATE))
    before = path.read_bytes()

    def disk_full(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    store.apply(lambda d: merge_feed(d, [_paper("2501.00002")]))
    with pytest.raises(StoreError, match="disk full"):
        store.save()
    with pytest.raises(StoreError, match="disk full"):
        save_day(local, store.day)
    assert path.read_bytes() == before
    assert not [p for p in path.parent.iterdir() if p.suffix == ".tmp"]


# -- leases ----------------------------------------------------------------------------------------------

def test_a_lease_excludes_a_second_holder_until_released(settings):
    waited: list[LeaseRecord] = []
    with day_lease(settings, DATE, run="run-a") as lease:
        record = LeaseRecord.model_validate_json(settings.data.read(lease_key(DATE)))
        assert record.run == "run-a" and record.what == f"a run of {DATE}" and not record.released
        with pytest.raises(StoreError, match=f"a run of {DATE} held leases/{DATE}.json for more than 1 s"):
            acquire(settings.data, lease_key(DATE), what="b", ttl=3, wait=1, on_wait=waited.append)
        assert [w.run for w in waited] == ["run-a"]
        lease.check()
    assert LeaseRecord.model_validate_json(settings.data.read(lease_key(DATE))).released
    with day_lease(settings, DATE, run="run-b"):  # a released lease is taken at once
        pass


def test_a_held_lease_is_renewed_and_a_dead_holders_lease_expires(settings):
    """A holder that renews keeps its lease past its ttl; one that stops (killed) loses it within one ttl
    (+ a poll) of its last renewal to a taker that was already waiting."""
    with hold(settings.data, lease_key("renewed"), what="renewing", ttl=3, wait=0) as lease:
        first = lease.version
        time.sleep(4.5)
        assert lease.version != first and not lease.lost.is_set()
        with pytest.raises(StoreError, match="held"):
            acquire(settings.data, lease_key("renewed"), what="b", ttl=3, wait=0.5)

    dead = acquire(settings.data, lease_key(DATE), what="killed run", ttl=3, wait=0)  # never renewed
    began = time.monotonic()
    taker = acquire(settings.data, lease_key(DATE), what="successor", ttl=3, wait=20)
    waited = time.monotonic() - began
    assert 2.5 <= waited <= 3 + 1.5, waited
    assert not dead.renew() and dead.lost.is_set()  # the old holder finds out at its next renewal ...
    with pytest.raises(LeaseLost):
        dead.check()  # ... and stops
    assert LeaseRecord.model_validate_json(settings.data.read(lease_key(DATE))).holder == taker.record.holder


def test_a_lease_left_long_ago_is_taken_at_once(settings):
    now = datetime.now(UTC)
    old = LeaseRecord(holder="gone:1:x", what="a run that died yesterday", ttl=60, acquired_at=now - timedelta(days=1),
                      renewed_at=now - timedelta(days=1), expires_at=now - timedelta(days=1) + timedelta(seconds=60))
    settings.data.write(lease_key(DATE), old.encode())
    began = time.monotonic()
    acquire(settings.data, lease_key(DATE), what="successor", ttl=60, wait=5)
    assert time.monotonic() - began < 1


def test_of_two_takers_of_a_free_lease_one_waits(settings):
    order: list[str] = []

    def run(name: str) -> None:
        with day_lease(settings, DATE, run=name):
            order.append(f"{name} in")
            time.sleep(0.5)
            order.append(f"{name} out")

    threads = [threading.Thread(target=run, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(order) == 4 and order[0][0] == order[1][0] and order[2][0] == order[3][0]
