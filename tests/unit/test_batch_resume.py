"""A run killed while submitting a batch: the restart finds the batch the provider created (OpenAI and Mistral by
the tag in its metadata, Anthropic by creation time, request count and results) and never sends a call twice."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from typing import Any

import pytest

from sandbox.server import RunningSandbox, start
from tasks.llm.batch import UNDECIDED, BatchBook, OpenBatch, Submission, submit_queued
from tasks.llm.batch_clients import BATCH_CLIENTS
from tests.unit.test_batch_clients import BASE, _calls

PROVIDERS = ["openai", "anthropic", "mistral"]


class Killed(Exception):
    pass


@pytest.fixture()
def box() -> Iterator[RunningSandbox]:
    with start() as running:  # a provider of its own: no other test's batches in its lists
        running.state.batches.configure({"seconds": 0})
        yield running


def _client(box: RunningSandbox, provider: str):
    return BATCH_CLIENTS[provider]("sandbox-key", box.url + BASE[provider], 10.0)


def _book(tmp_path, provider: str, box: RunningSandbox, n: int = 3) -> BatchBook:
    from tasks.storage import open_storage

    book = BatchBook(open_storage(str(tmp_path / "batches")))
    for call in _calls(provider, n):
        book.queue(call)
    return book


def _put(book: BatchBook, name: str, record: Any) -> None:
    book.storage.write(name, json.dumps(asdict(record)).encode())


def _killed_in(monkeypatch, where: str) -> Callable:
    """Die in BatchBook.record: before writing anything ("create": the provider has the batch, hfdaily does not
    know its id), or after writing the batch's file ("record": before its calls leave the queue)."""
    real = BatchBook.record

    def die(self, batch):
        if where == "record":
            _put(self, f"open/{batch.name}.json", batch)
        raise Killed

    monkeypatch.setattr(BatchBook, "record", die)
    return real


@pytest.mark.parametrize("where", ["create", "record"])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_restart_after_a_kill_in_submit_sends_no_call_twice(box, tmp_path, monkeypatch, provider, where):
    book = _book(tmp_path, provider, box)
    clients = {provider: _client(box, provider)}
    real = _killed_in(monkeypatch, where)
    with pytest.raises(Killed):
        submit_queued(book, clients)
    monkeypatch.setattr(BatchBook, "record", real)
    assert len(book.intents()) == 1 and len(book.queued()) == 3

    assert submit_queued(book, clients) == []  # the restart records the batch it finds and creates none
    counts = box.state.batches.configure({})
    assert counts["batches"] == 1 and counts["requests"] == 3 and counts["duplicates"] == 0
    assert not book.intents() and not book.queued()
    [batch] = book.open_batches()
    assert set(batch.keys) == {c.key for c in _calls(provider)} and batch.tag


@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_intent_the_provider_never_saw_is_dropped_and_its_calls_submitted_once(box, tmp_path, provider):
    book = _book(tmp_path, provider, box)
    stale = Submission(provider, "never-sent", {c.key: {} for c in _calls(provider)}, time.time())
    _put(book, "submitting/never-sent.json", stale)
    [created] = submit_queued(book, {provider: _client(box, provider)})
    assert set(created.keys) == {c.key for c in _calls(provider)} and not book.intents()
    assert box.state.batches.configure({})["duplicates"] == 0


def test_anthropic_waits_while_two_batches_could_be_the_one_then_tells_them_apart_by_their_results(box, tmp_path):
    box.state.batches.configure({"seconds": 3600})
    client = _client(box, "anthropic")
    book = _book(tmp_path, "anthropic", box)
    ours = _calls("anthropic")
    at = time.time()
    theirs = client.submit(_calls("anthropic", prefix="zz"), tag="another run's")  # same size, same minute
    mine = client.submit(ours, tag="lost")  # created by a run killed before it recorded the id
    lost = Submission("anthropic", "lost", {c.key: {} for c in ours}, at)
    assert client.find(lost, set()) == UNDECIDED
    assert client.find(lost, {theirs}) == mine  # a batch hfdaily recorded is ruled out

    _put(book, "submitting/lost.json", lost)
    assert submit_queued(book, {"anthropic": client}) == []  # undecided: its calls wait, nothing is sent
    assert book.intents() and len(book.queued()) == 3

    box.state.batches.configure({"seconds": 0})  # both end: the results' custom ids decide
    assert submit_queued(book, {"anthropic": client}) == []
    assert [b.batch_id for b in book.open_batches()] == [mine] and not book.intents() and not book.queued()
    assert box.state.batches.configure({})["duplicates"] == 0


def test_a_recorded_batch_is_found_by_its_tag_without_asking_the_provider(tmp_path):
    from tasks.storage import open_storage

    book = BatchBook(open_storage(str(tmp_path / "batches")))
    _put(book, "open/anthropic--b1.json", OpenBatch("anthropic", "b1", 0.0, {"k": {}}, "t1"))
    _put(book, "submitting/t1.json", Submission("anthropic", "t1", {"k": {}}, 0.0))

    class NoLookups:
        def find(self, *a):
            raise AssertionError("the provider need not be asked")

    assert submit_queued(book, {"anthropic": NoLookups()}) == [] and not book.intents()


def test_the_sandbox_lists_batches_newest_first_in_pages_and_filters_mistral_jobs_by_metadata(box):
    openai = _client(box, "openai")
    ids = [openai.submit(_calls("openai", 1, prefix=f"p{i}"), tag=f"t{i}") for i in range(5)]
    listed = [b.id for b in openai._client.batches.list(limit=2)]  # the SDK follows `after` page by page
    assert listed == ids[::-1]

    anthropic = _client(box, "anthropic")
    sent = [anthropic.submit(_calls("anthropic", 1, prefix=f"a{i}"), tag="") for i in range(3)]
    assert [b.id for b in anthropic._client.messages.batches.list(limit=2)] == sent[::-1]  # pages by after_id

    mistral = _client(box, "mistral")
    jobs = [mistral.submit(_calls("mistral", 1, prefix=f"m{i}"), tag=f"t{i}") for i in range(3)]
    page = mistral._client.batch.jobs.list(metadata={"hfdaily_tag": "t1"})
    assert [j.id for j in page.data] == [jobs[1]] and page.total == 1
    assert mistral.find(Submission("mistral", "t2", {}, time.time()), set()) == jobs[2]
    assert mistral.find(Submission("mistral", "t2", {}, time.time() + 3600), set()) is None  # created too early
