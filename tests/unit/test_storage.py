"""The storage seam on a local folder and on a real S3-compatible server (moto): the same tests, both stores.

Plain and conditional writes, listings, content types, and the refusal of locations hfdaily cannot use.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tasks.settings import Settings
from tasks.storage import Storage, StorageUnsupported, check_location, open_storage


@pytest.fixture
def store(store_urls: dict[str, str]) -> Storage:
    return open_storage(store_urls["HFDAILY_DATA_DIR"], conditional=True)


def test_read_write_list_delete(store: Storage) -> None:
    assert store.list("days") == [] and not store.exists("days/a.json")
    with pytest.raises(FileNotFoundError):
        store.read("days/a.json")
    store.write("days/a.json", b"1")
    store.write("days/b.json", b"2", content_type="application/json")
    store.write("days/sub/c.json", b"3")
    store.write("other/d.json", b"4")
    assert store.read("days/a.json") == b"1" and store.exists("days/b.json")
    assert store.list("days") == ["days/a.json", "days/b.json"]
    assert store.list("days", recursive=True) == ["days/a.json", "days/b.json", "days/sub/c.json"]
    assert store.read_many(["days/a.json", "days/none.json", "days/sub/c.json"]) == {
        "days/a.json": b"1", "days/sub/c.json": b"3"}
    sub = store.child("days")
    assert sub.read("sub/c.json") == b"3" and sub.list() == ["a.json", "b.json"]
    store.write("days/a.json", b"one")  # a write replaces the whole object
    assert store.read("days/a.json") == b"one"
    assert store.delete("days/a.json") and not store.delete("days/a.json")
    assert store.list("days") == ["days/b.json"]
    with pytest.raises(ValueError):
        store.read("days/../other/d.json")


def test_create_is_exclusive_and_replace_needs_the_version_read(store: Storage) -> None:
    assert store.read_versioned("leases/x.json") is None
    first = store.create("leases/x.json", b"A")
    assert first is not None
    assert store.create("leases/x.json", b"B") is None  # already there
    data, version = store.read_versioned("leases/x.json")
    assert (data, version) == (b"A", first)
    second = store.replace("leases/x.json", b"C", version)
    assert second is not None and second != first
    assert store.replace("leases/x.json", b"D", version) is None  # changed since `version` was read
    assert store.read("leases/x.json") == b"C"
    assert store.replace("leases/none.json", b"E", first) is None  # gone: nothing to replace


def test_of_many_concurrent_creates_and_replaces_exactly_one_wins(store: Storage) -> None:
    wins: list[str] = []
    barrier = threading.Barrier(6)

    def take(i: int) -> None:
        barrier.wait()
        if store.create("leases/race.json", f"holder {i}".encode()) is not None:
            wins.append(f"create {i}")

    threads = [threading.Thread(target=take, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1
    _, version = store.read_versioned("leases/race.json")
    replaced: list[int] = []

    def swap(i: int) -> None:
        barrier.wait()
        if store.replace("leases/race.json", f"next {i}".encode(), version) is not None:
            replaced.append(i)

    threads = [threading.Thread(target=swap, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(replaced) == 1 and store.read("leases/race.json") == f"next {replaced[0]}".encode()


def test_site_files_carry_their_content_types(store_urls: dict[str, str], request: pytest.FixtureRequest) -> None:
    from tasks.site.output import write_page

    site = open_storage(store_urls["HFDAILY_SITE_DIR"])
    for key in ("index.html", "static/site.css", "static/site.js", "feed.xml", "feed.json"):
        write_page(site, key, "x")
    if site.local_path() is not None:
        assert (site.local_path() / "static" / "site.css").read_text() == "x"
        return
    server = request.getfixturevalue("s3_server")
    bucket, _, prefix = site.url.removeprefix("s3://").partition("/")
    types = {key: server.client().head_object(Bucket=bucket, Key=f"{prefix}/{key}")["ContentType"]
             for key in ("index.html", "static/site.css", "static/site.js", "feed.xml", "feed.json")}
    assert types == {"index.html": "text/html; charset=utf-8", "static/site.css": "text/css; charset=utf-8",
                     "static/site.js": "text/javascript; charset=utf-8",
                     "feed.xml": "application/atom+xml; charset=utf-8", "feed.json": "application/json"}


def test_local_store_leaves_no_lock_or_temporary_file_in_listings(tmp_path: Path) -> None:
    store = open_storage(tmp_path, conditional=True)
    store.create("days/x.json", b"1")
    store.replace("days/x.json", b"2", store.read_versioned("days/x.json")[1])
    assert store.list("days") == ["days/x.json"]
    assert sorted(p.name for p in (tmp_path / "days").iterdir()) == [".x.json.lock", "x.json"]


@pytest.mark.parametrize(("value", "message"), [
    ("s3:/bucket/data", "looks like a URL but has no '//'"),
    ("s3:bucket", "looks like a URL"),
    ("s3://", "names no bucket"),
    ("nosuch://bucket/x", "unknown storage scheme nosuch://"),
    ("memory://x", "cannot hold the data dir"),
    ("", "is empty"),
])
def test_unusable_data_locations_are_refused_in_one_line(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as refused:
        check_location(value, conditional=True)
    assert "\n" not in str(refused.value)


def test_usable_locations() -> None:
    assert check_location("data", conditional=True) == "data"
    assert check_location("./s3:odd", conditional=True) == "./s3:odd"
    assert check_location("file:///srv/hfdaily/data", conditional=True) == "/srv/hfdaily/data"
    assert check_location("s3://bucket/prefix/", conditional=True) == "s3://bucket/prefix"
    assert check_location("memory://site", conditional=False) == "memory://site"  # the site needs no conditions
    with pytest.raises(StorageUnsupported, match="no conditional writes"):
        open_storage("memory://site").create("x", b"1")


def test_settings_refuse_a_bad_data_dir_and_the_cli_says_so_in_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pydantic import ValidationError

    from flows.cli import main

    with pytest.raises(ValidationError, match="looks like a URL"):
        Settings(_env_file=None, HFDAILY_DATA_DIR="s3:/bucket/data")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HFDAILY_DATA_DIR", "s3:/bucket/data")
    assert main(["run", "--date", "2025-01-20"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("hfdaily: error: bad setting: HFDAILY_DATA_DIR='s3:/bucket/data': 's3:/bucket/data' looks "
                          "like a URL") and "\n" not in err
    assert list(tmp_path.iterdir()) == []  # no folder named `s3:`
    assert Settings(_env_file=None, HFDAILY_DATA_DIR="s3://bucket/data").data_dir == "s3://bucket/data"
