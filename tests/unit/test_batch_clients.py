"""The batch clients (real SDKs) against the sandbox's batch APIs, and the batch state in Storage."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from sandbox.server import RunningSandbox, start
from tasks.llm.batch import BatchBook, BatchCall, Submission, collect, submit_queued
from tasks.llm.batch_clients import BATCH_CLIENTS
from tasks.llm.prompts import load_prompt
from tasks.storage import open_storage

BASE = {"openai": "/openai/v1", "anthropic": "/anthropic", "mistral": "/mistral"}


@pytest.fixture(scope="module")
def box() -> Iterator[RunningSandbox]:
    with start() as running:
        yield running


def _calls(provider: str, n: int = 3, prefix: str = "") -> list[BatchCall]:
    prompt = load_prompt("summary_en")
    entry = prompt.chain[0]
    out = []
    for i in range(n):
        inputs = {"title": f"Paper {i}", "abstract": f"We study thing {i}."}
        user = prompt.render(entry, inputs)
        out.append(BatchCall(key=f"{prefix or provider[:2]}{i:062d}", provider=provider, step="summary_en", model="m",
                             system=prompt.system, user=user, static=prompt.split(user, entry, inputs),
                             structured=provider == "openai", date="2025-01-23"))
    return out


def _client(box: RunningSandbox, provider: str):
    return BATCH_CLIENTS[provider]("sandbox-key", box.url + BASE[provider], 10.0)


@pytest.mark.parametrize("provider", ["openai", "anthropic", "mistral"])
def test_submit_poll_results_through_the_real_sdk(box: RunningSandbox, provider: str) -> None:
    box.state.batches.configure({"seconds": 0.3, "expire": False, "fail_steps": []})
    client = _client(box, provider)
    calls = _calls(provider)
    batch_id = client.submit(calls, tag="t-" + provider)
    assert client.poll(batch_id) == "in_progress"
    time.sleep(0.4)
    assert client.poll(batch_id) == "ended"
    results = client.results(batch_id)
    assert set(results) == {c.key for c in calls}
    for r in results.values():
        assert r.completion is not None and '"title"' in r.completion.text and r.completion.input_tokens > 0
    submission = Submission(provider, "t-" + provider, {c.key: {} for c in calls}, time.time())
    assert client.find(submission, set()) == batch_id
    assert client.find(submission, {batch_id}) is None  # a batch hfdaily recorded is never the answer


def test_expired_batch_has_no_answers(box: RunningSandbox) -> None:
    box.state.batches.configure({"seconds": 0, "expire": True})
    client = _client(box, "openai")
    batch_id = client.submit(_calls("openai"), tag="x")
    assert client.poll(batch_id) == "expired" and client.results(batch_id) == {}
    box.state.batches.configure({"expire": False})


def test_a_killed_submit_is_recorded_once_and_calls_are_never_sent_twice(box: RunningSandbox, tmp_path) -> None:
    box.state.batches.configure({"seconds": 0, "expire": False, "fail_steps": []})
    book = BatchBook(open_storage(str(tmp_path / "batches")))
    clients = {"openai": _client(box, "openai")}
    for call in _calls("openai", prefix="kk"):
        book.queue(call)
    before = box.state.batches.configure({})

    class Killed(Exception):
        pass

    real = BatchBook.record

    def die(self, batch):  # the provider created the batch; the run dies before recording it
        raise Killed

    BatchBook.record = die
    try:
        with pytest.raises(Killed):
            submit_queued(book, clients)
    finally:
        BatchBook.record = real
    assert book.intents() and len(book.queued()) == 3
    submit_queued(book, clients)  # the restart finds the batch by its tag instead of sending the calls again
    assert not book.intents() and not book.queued()
    counts = box.state.batches.configure({})
    assert counts["requests"] - before["requests"] == 3 and counts["duplicates"] == before["duplicates"]
    assert all(book.status(c.key) == "waiting" for c in _calls("openai", prefix="kk"))
    stored: dict[str, str] = {}
    done = collect(book, clients, lambda key, _, c: stored.setdefault(key, c.text) is not None)
    assert done.answers == 3 and done.dates == {"2025-01-23"} and len(stored) == 3
    assert all(book.status(c.key) == "new" for c in _calls("openai", prefix="kk"))


def test_a_batch_the_provider_lost_goes_online_and_an_unreachable_one_stays_open(tmp_path) -> None:
    from tasks.llm.batch import BatchError, OpenBatch

    book = BatchBook(open_storage(str(tmp_path / "batches")))
    book.record(OpenBatch("openai", "lost", 0.0, {"k1": {"date": "2025-01-23", "step": "summary_en"}}))
    book.record(OpenBatch("anthropic", "down", 0.0, {"k2": {"date": "2025-01-23", "step": "review_ru"}}))

    class Client:
        def __init__(self, gone: bool) -> None:
            self.gone = gone

        def poll(self, batch_id: str):
            raise BatchError(f"{batch_id}: HTTP {404 if self.gone else 503}", gone=self.gone)

    done = collect(book, {"openai": Client(True), "anthropic": Client(False)}, lambda *a: True)
    assert done.failed == 1 and done.still_open == 1
    assert book.status("k1") == "failed" and book.status("k2") == "waiting"


def test_the_cli_batch_flag_runs_the_backfill_in_batch_mode(monkeypatch, capsys) -> None:
    import flows.cli as cli
    import flows.launch

    seen: dict = {}

    def run_here(flow, name, **params):
        seen.update(params)
        return {"dates": {"2025-01-20": "ran: 5 papers"}, "failed": [],
                "batches": {"collected": {"batches": 1, "answers": 30, "failed": 0, "still_open": 0},
                            "submitted": {"batches": ["openai--b1"], "calls": 5, "queued_left": 0}}}

    monkeypatch.setattr(flows.launch, "run_here", run_here)
    args = cli._parser().parse_args(["backfill", "2025-01-20", "2025-01-20", "--batch"])
    assert cli._backfill(args) == 0 and seen["mode"] == "batch"
    assert capsys.readouterr().out.splitlines()[-1] == (
        "batches: collected 1 batches (30 answers, 0 for online calls), 0 still open; submitted 1 batches of 5 calls")
