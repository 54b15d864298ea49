"""Batch mode: LLM calls sent as provider batches at half price, their state kept in the data Storage.

A backfill in batch mode (`mode=batch`) does not wait for a batch. Its run goes through the dates as usual; an LLM
call whose answer is not cached yet is *queued* (its step is left `deferred`), and at the end of the run the queue
is submitted, one batch per provider, and the run ends. A later run (the same backfill run again, or the scheduled
`batch-collect` deployment, flows/batches.py) *collects*: it polls each open batch, stores every valid answer in
the LLM answer cache, and runs the dates again, which now find their answers there.

Everything is keyed on the answer cache key (tasks/llm/cache.py), under `<data>/batches/`:
- `queue/KEY.json`        a call waiting to be submitted (all it needs: provider, model, messages, params);
- `submitting/TAG.json`   written before a batch is created, so a run killed between creating the batch and
                           recording it finds it again instead of submitting twice: by the tag in its metadata
                           (OpenAI, Mistral), or (Anthropic, no metadata) as the one batch created around that
                           time with that many requests (tasks/llm/batch_clients.py `AnthropicBatch.find`);
- `open/PROVIDER--ID.json` a submitted batch and the keys it holds; `pending/KEY.json` says which batch has KEY;
- `done/PROVIDER--ID.json` a collected batch, with the keys it failed or expired on;
- `failed/KEY.json`       a call no batch answered: the next run asks it online (never queued again).
A key is queued only if it is in none of these, so a killed or restarted backfill never submits a call twice.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

from tasks.errors import HfDailyError
from tasks.llm.providers import Completion
from tasks.log import get_logger
from tasks.storage import Storage

BatchState = Literal["in_progress", "ended", "failed", "expired"]


class BatchError(HfDailyError):
    """A batch request the provider refused (creating, polling or reading a batch); `gone`: it knows no such
    batch (404), so its calls will never be answered by it."""

    def __init__(self, message: str, *, gone: bool = False) -> None:
        super().__init__(message)
        self.gone = gone


@dataclass
class BatchCall:
    """One LLM call, as queued: everything a batch request needs, and what it is for."""

    key: str
    provider: str
    step: str
    model: str
    system: str
    user: str
    static: str = ""
    temperature: float = 0.0
    max_tokens: int = 800
    structured: bool = False
    date: str | None = None  # the date whose run queued it: the collector runs it again

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> BatchCall:
        return cls(**json.loads(raw))


@dataclass
class BatchResult:
    """What a batch said for one call: an answer, or why there is none."""

    completion: Completion | None = None
    error: str | None = None


@dataclass
class Submission:
    """A batch about to be created (`submitting/TAG.json`), written before the provider is asked: what a restart
    needs to find the batch if the run dies before recording it."""

    provider: str
    tag: str
    keys: dict[str, dict[str, Any]]  # key -> {date, step, model}
    at: float = 0.0  # this machine's clock just before the create request


# A batch found by `find` may have been created this long before or after `Submission.at` (clock skew between
# this machine and the provider, and a create request that took up to its timeout).
CLOCK_SLACK_S = 600.0
UNDECIDED = "?"  # `find`: a candidate exists but cannot be told apart yet; ask again on the next run


class BatchClient(Protocol):
    """One provider's batch API (tasks/llm/batch_clients.py): submit, poll, read results."""

    name: str

    def submit(self, calls: list[BatchCall], tag: str) -> str:
        """Create a batch of `calls` (custom ids: their keys), tagged `tag` in its metadata; its id."""
        ...

    def find(self, submission: Submission, known: set[str]) -> str | None:
        """The id of the batch `submission` created, if the provider has it; None if it has none; UNDECIDED if
        it cannot tell yet. `known`: batch ids already recorded (never the answer)."""
        ...

    def poll(self, batch_id: str) -> BatchState: ...

    def results(self, batch_id: str) -> dict[str, BatchResult]:
        """Results by custom id (the calls' keys); a key left out had no result."""
        ...


@dataclass
class OpenBatch:
    provider: str
    batch_id: str
    submitted_at: float
    keys: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> {date, step, model}
    tag: str = ""  # the submission's tag: a restart that finds its intent left knows the batch is recorded

    @property
    def name(self) -> str:
        return f"{self.provider}--{self.batch_id}"


class BatchBook:
    """The batch state in the data Storage (layout in the module docstring)."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage  # <data>/batches

    # -- what a run asks about one key -------------------------------------------------------------
    def status(self, key: str) -> Literal["new", "waiting", "failed"]:
        if self.storage.exists(f"failed/{key}.json"):
            return "failed"
        if self.storage.exists(f"pending/{key}.json") or self.storage.exists(f"queue/{key}.json"):
            return "waiting"
        return "new"

    def queue(self, call: BatchCall) -> None:
        self.storage.write(f"queue/{call.key}.json", call.to_json(), content_type="application/json")

    def queued(self) -> list[BatchCall]:
        keys = [k for k in self.storage.list("queue") if k.endswith(".json")]
        return [BatchCall.from_json(raw) for raw in self.storage.read_many(keys).values()]

    # -- batches --------------------------------------------------------------------------------------
    def open_batches(self) -> list[OpenBatch]:
        keys = [k for k in self.storage.list("open") if k.endswith(".json")]
        return [OpenBatch(**json.loads(raw)) for raw in self.storage.read_many(keys).values()]

    def record(self, batch: OpenBatch) -> None:
        """A created batch: its file, then a `pending` marker per key, then its calls off the queue."""
        self.storage.write(f"open/{batch.name}.json", json.dumps(asdict(batch)).encode(),
                           content_type="application/json", durable=True)
        for key in batch.keys:
            self.storage.write(f"pending/{key}.json", json.dumps({"batch": batch.name}).encode())
        for key in batch.keys:
            self.storage.delete(f"queue/{key}.json")

    def close(self, batch: OpenBatch, failed: list[str]) -> None:
        """A collected batch: its failed keys marked for online calls, its markers removed."""
        for key in failed:
            self.storage.write(f"failed/{key}.json", json.dumps({"batch": batch.name}).encode())
        done = {**asdict(batch), "failed": failed, "collected_at": time.time()}
        self.storage.write(f"done/{batch.name}.json", json.dumps(done).encode(), content_type="application/json")
        for key in batch.keys:
            self.storage.delete(f"pending/{key}.json")
        self.storage.delete(f"open/{batch.name}.json")

    def intents(self) -> dict[str, Submission]:
        keys = [k for k in self.storage.list("submitting") if k.endswith(".json")]
        return {k: Submission(**json.loads(raw)) for k, raw in self.storage.read_many(keys).items()}

    def known_batches(self) -> dict[str, str]:
        """Every recorded batch (open or collected): its id -> its submission's tag ("" before tags were kept)."""
        names = [k for k in (*self.storage.list("open"), *self.storage.list("done")) if k.endswith(".json")]
        out = {}
        for raw in self.storage.read_many(names).values():
            batch = json.loads(raw)
            out[str(batch["batch_id"])] = str(batch.get("tag") or "")
        return out


def submit_queued(book: BatchBook, clients: dict[str, BatchClient], max_per_batch: int = 10_000) -> list[OpenBatch]:
    """Submit every queued call, one batch per provider (split at `max_per_batch`); the batches created.

    Before creating a batch an intent is written (`submitting/TAG.json`): a run killed after the provider created
    the batch but before it was recorded finds it by its tag on the next run (`recover`), and its calls, still
    queued, are not sent again.
    """
    held = recover(book, clients)
    by_provider: dict[str, list[BatchCall]] = {}
    for call in book.queued():
        if call.key not in held:
            by_provider.setdefault(call.provider, []).append(call)
    created: list[OpenBatch] = []
    for provider, calls in sorted(by_provider.items()):
        client = clients.get(provider)
        if client is None:
            continue  # no key for it: its calls stay queued, and the runs report the steps deferred
        for start in range(0, len(calls), max_per_batch):
            chunk = calls[start:start + max_per_batch]
            tag = uuid.uuid4().hex
            keys = {c.key: {"date": c.date, "step": c.step, "model": c.model} for c in chunk}
            intent = Submission(provider, tag, keys, time.time())
            book.storage.write(f"submitting/{tag}.json", json.dumps(asdict(intent)).encode(), durable=True)
            batch_id = client.submit(chunk, tag)
            batch = OpenBatch(provider, batch_id, time.time(), keys, tag)
            book.record(batch)
            book.storage.delete(f"submitting/{tag}.json")
            get_logger().info("%s: batch %s submitted with %d calls", provider, batch_id, len(chunk))
            created.append(batch)
    return created


def recover(book: BatchBook, clients: dict[str, BatchClient]) -> set[str]:
    """Intents left by a killed run: a batch the provider created is recorded; one it never created is dropped
    (its calls are still queued and go into the next batch). The keys of an intent the provider cannot decide
    yet (or whose provider has no client now) are returned: they stay queued, and are not submitted this run."""
    held: set[str] = set()
    log = get_logger()
    known = book.known_batches()
    by_tag = {tag: batch_id for batch_id, tag in known.items() if tag}
    for name, intent in book.intents().items():
        client = clients.get(intent.provider)
        if (batch_id := by_tag.get(intent.tag)) is not None:
            pass  # killed while recording it: finish recording
        elif client is None:
            held.update(intent.keys)
            continue
        else:
            batch_id = client.find(intent, set(known))
        if batch_id == UNDECIDED:
            log.warning("%s: a batch of a stopped run may hold %d calls; they wait until it can be told",
                        intent.provider, len(intent.keys))
            held.update(intent.keys)
            continue
        if batch_id is not None:
            book.record(OpenBatch(intent.provider, batch_id, time.time(), intent.keys, intent.tag))
            known[batch_id] = intent.tag
            log.info("%s: batch %s of a stopped run found and recorded", intent.provider, batch_id)
        book.storage.delete(name)
    return held


@dataclass
class Collected:
    """What a collection did: batches finished, answers stored, calls left for online, dates to run again."""

    batches: int = 0
    answers: int = 0
    failed: int = 0
    still_open: int = 0
    dates: set[str] = field(default_factory=set)


def collect(book: BatchBook, clients: dict[str, BatchClient],
            store: Callable[[str, dict[str, Any], Completion], bool]) -> Collected:
    """Poll every open batch; for each one that ended, `store(key, {date, step, model}, completion) -> bool` keeps
    a valid answer (False: invalid); what a batch did not answer validly is marked for an online call."""
    out = Collected()
    for batch in book.open_batches():
        client = clients.get(batch.provider)
        if client is None:
            out.still_open += 1
            continue
        try:
            state = client.poll(batch.batch_id)
        except BatchError as exc:
            if not exc.gone:  # the provider is unreachable for now: the next collection polls again
                get_logger().warning("%s", exc)
                out.still_open += 1
                continue
            get_logger().warning("%s; its calls will be made online", exc)
            state = "failed"
        if state == "in_progress":
            out.still_open += 1
            continue
        results = client.results(batch.batch_id) if state == "ended" else {}
        failed = []
        for key in batch.keys:
            result = results.get(key)
            if result is None or result.completion is None or not store(key, batch.keys[key], result.completion):
                failed.append(key)
        book.close(batch, failed)
        out.batches += 1
        out.failed += len(failed)
        out.answers += len(batch.keys) - len(failed)
        out.dates.update(info["date"] for info in batch.keys.values() if info.get("date"))
        get_logger().info("%s: batch %s %s: %d answers, %d left for online calls", batch.provider, batch.batch_id,
                          state, len(batch.keys) - len(failed), len(failed))
    return out
