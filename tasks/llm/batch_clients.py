"""The three providers' batch APIs behind one interface (tasks/llm/batch.py `BatchClient`), with the real SDKs.

- OpenAI: a JSONL file of `/v1/chat/completions` requests (`files.create`, purpose `batch`), `batches.create`
  (24 h window, the run's tag in `metadata`), `batches.retrieve`, the output and error files' content.
- Anthropic: `messages.batches.create` with the requests inline, `retrieve`, `results` (JSONL); no metadata, so
  a batch of a killed run is found by its creation time and request count (`AnthropicBatch.find`).
- Mistral: a JSONL file (`files.upload`, purpose `batch`), `batch.jobs.create`, `batch.jobs.get`, `files.download`.
Each request's custom id is its answer cache key. SDK retries stay off, as for online calls.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from tasks.llm.batch import (
    CLOCK_SLACK_S,
    UNDECIDED,
    BatchCall,
    BatchClient,
    BatchError,
    BatchResult,
    BatchState,
    Submission,
)
from tasks.llm.providers import Completion, anthropic_content, strict_json_schema
from tasks.llm.redact import redact, register_secret

TAG = "hfdaily_tag"


@contextmanager
def _errors(provider: str, what: str) -> Iterator[None]:
    try:
        yield
    except BatchError:
        raise
    except Exception as exc:  # any SDK or transport error: the batch step reports it in one line
        gone = getattr(exc, "status_code", None) == 404
        raise BatchError(redact(f"{provider} batch {what}: {type(exc).__name__}: {exc}"), gone=gone) from exc


def _schema(call: BatchCall) -> dict[str, Any] | None:
    if not call.structured:
        return None
    from tasks.llm.prompts import load_prompt

    model = load_prompt(call.step).output_model
    return strict_json_schema(model) if model is not None else None


def chat_body(call: BatchCall) -> dict[str, Any]:
    """An OpenAI / Mistral chat completion request, as the online clients send it."""
    messages = [{"role": "system", "content": call.system}] if call.system else []
    messages.append({"role": "user", "content": call.user})
    body: dict[str, Any] = {"model": call.model, "messages": messages, "temperature": call.temperature,
                            "max_tokens": call.max_tokens}
    if call.provider == "openai" and (schema := _schema(call)) is not None:
        body["response_format"] = {"type": "json_schema",
                                   "json_schema": {"name": call.step, "schema": schema, "strict": True}}
    return body


def _jsonl(lines: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode()


def _chat_completion(body: Any) -> Completion:
    """A Completion from a chat completion body (a dict read off a results file)."""
    choice = body["choices"][0]["message"]
    content = choice.get("content") or ""
    if isinstance(content, list):
        content = "".join(str(c.get("text", "")) for c in content if isinstance(c, dict))
    usage = body.get("usage") or {}
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    return Completion(text=str(content), model=str(body.get("model") or ""), input_tokens=int(usage["prompt_tokens"]),
                      output_tokens=int(usage["completion_tokens"]), cached_tokens=int(cached))


def read_results_file(text: str) -> dict[str, BatchResult]:
    """An OpenAI / Mistral output or error file: one JSON line per request, keyed by custom id."""
    out: dict[str, BatchResult] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            key = str(row["custom_id"])
        except (ValueError, KeyError, TypeError):
            continue
        response = row.get("response") or {}
        status = response.get("status_code")
        if row.get("error") or status != 200:
            out[key] = BatchResult(error=str(row.get("error") or f"HTTP {status}")[:200])
            continue
        try:
            out[key] = BatchResult(completion=_chat_completion(response.get("body") or {}))
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            out[key] = BatchResult(error=f"unreadable answer: {type(exc).__name__}")
    return out


class OpenAIBatch:
    name = "openai"
    _STATES: dict[str, BatchState] = {"completed": "ended", "failed": "failed", "expired": "expired",
                                      "cancelled": "failed"}

    def __init__(self, api_key: str, base_url: str | None, timeout: float) -> None:
        import openai

        register_secret(api_key)
        self._client = openai.OpenAI(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0)

    def submit(self, calls: list[BatchCall], tag: str) -> str:
        lines = [{"custom_id": c.key, "method": "POST", "url": "/v1/chat/completions", "body": chat_body(c)}
                 for c in calls]
        with _errors(self.name, "submit"):
            upload = self._client.files.create(file=("hfdaily-batch.jsonl", io.BytesIO(_jsonl(lines))),
                                               purpose="batch")
            batch = self._client.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions",
                                                completion_window="24h", metadata={TAG: tag})
        return batch.id

    def find(self, submission: Submission, known: set[str]) -> str | None:
        """The batch whose metadata carries the submission's tag; the list is newest first, so it stops at
        batches created well before the submission."""
        since = submission.at - CLOCK_SLACK_S
        with _errors(self.name, "list"):
            for batch in self._client.batches.list(limit=100):
                if batch.created_at < since:
                    break
                if (batch.metadata or {}).get(TAG) == submission.tag and batch.id not in known:
                    return batch.id
        return None

    def poll(self, batch_id: str) -> BatchState:
        with _errors(self.name, "poll"):
            status = self._client.batches.retrieve(batch_id).status
        return self._STATES.get(status, "in_progress")

    def results(self, batch_id: str) -> dict[str, BatchResult]:
        with _errors(self.name, "results"):
            batch = self._client.batches.retrieve(batch_id)
            out: dict[str, BatchResult] = {}
            for file_id in (batch.error_file_id, batch.output_file_id):  # an output line wins over an error
                if file_id:
                    out.update(read_results_file(self._client.files.content(file_id).text))
        return out


class AnthropicBatch:
    name = "anthropic"

    def __init__(self, api_key: str, base_url: str | None, timeout: float) -> None:
        import anthropic

        register_secret(api_key)
        self._client = anthropic.Anthropic(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0)

    def submit(self, calls: list[BatchCall], tag: str) -> str:
        requests = []
        for c in calls:
            params: dict[str, Any] = {"model": c.model, "max_tokens": c.max_tokens,
                                      "messages": [{"role": "user", "content": anthropic_content(c.user, c.static)}]}
            if c.system:
                params["system"] = c.system
            requests.append({"custom_id": c.key, "params": params})
        with _errors(self.name, "submit"):
            return self._client.messages.batches.create(requests=requests).id

    def find(self, submission: Submission, known: set[str]) -> str | None:
        """Message batches carry no metadata, so the batch is told by what the API does show: created within
        CLOCK_SLACK_S of the submission, not recorded by hfdaily, with exactly as many requests. An ended
        candidate is decided by its results' custom ids (the calls' keys). One candidate still in progress (none
        ended matching) is taken as it; several are UNDECIDED until they end (their calls wait rather than be
        sent twice)."""
        since, until = submission.at - CLOCK_SLACK_S, submission.at + CLOCK_SLACK_S
        candidates: list[Any] = []
        with _errors(self.name, "list"):
            for batch in self._client.messages.batches.list(limit=100):
                created = batch.created_at.timestamp()
                if created < since:
                    break  # newest first: the rest is older
                counts = batch.request_counts
                total = counts.processing + counts.succeeded + counts.errored + counts.canceled + counts.expired
                if batch.id not in known and created <= until and total == len(submission.keys):
                    candidates.append(batch)
            waiting = []
            for batch in candidates:
                if batch.processing_status != "ended":
                    waiting.append(batch.id)
                elif {row.custom_id for row in self._client.messages.batches.results(batch.id)} == set(
                        submission.keys):
                    return batch.id
        if len(waiting) == 1:
            return waiting[0]
        return UNDECIDED if waiting else None

    def poll(self, batch_id: str) -> BatchState:
        with _errors(self.name, "poll"):
            batch = self._client.messages.batches.retrieve(batch_id)
        return "ended" if batch.processing_status == "ended" else "in_progress"

    def results(self, batch_id: str) -> dict[str, BatchResult]:
        out: dict[str, BatchResult] = {}
        with _errors(self.name, "results"):
            for row in self._client.messages.batches.results(batch_id):
                result = row.result
                if result.type != "succeeded":
                    out[row.custom_id] = BatchResult(error=result.type)
                    continue
                msg = result.message
                text = "".join(b.text for b in msg.content if getattr(b, "type", "") == "text")
                read = msg.usage.cache_read_input_tokens or 0
                written = msg.usage.cache_creation_input_tokens or 0
                out[row.custom_id] = BatchResult(completion=Completion(
                    text=text, model=msg.model, input_tokens=msg.usage.input_tokens + read + written,
                    output_tokens=msg.usage.output_tokens, cached_tokens=read, cache_write_tokens=written))
        return out


class MistralBatch:
    name = "mistral"
    _STATES: dict[str, BatchState] = {"SUCCESS": "ended", "FAILED": "failed", "TIMEOUT_EXCEEDED": "ended",
                                      "CANCELLED": "failed"}  # a timed-out job still has results for what it did

    def __init__(self, api_key: str, base_url: str | None, timeout: float) -> None:
        import httpx
        from mistralai.client import Mistral

        register_secret(api_key)
        self._client = Mistral(api_key=api_key, server_url=base_url, timeout_ms=int(timeout * 1000),
                               client=httpx.Client(follow_redirects=True))

    def submit(self, calls: list[BatchCall], tag: str) -> str:
        lines = [{"custom_id": c.key, "body": chat_body(c)} for c in calls]
        with _errors(self.name, "submit"):
            upload = self._client.files.upload(file={"file_name": "hfdaily-batch.jsonl", "content": _jsonl(lines)},
                                               purpose="batch")
            job = self._client.batch.jobs.create(input_files=[upload.id], endpoint="/v1/chat/completions",
                                                 metadata={TAG: tag})
        return job.id

    def find(self, submission: Submission, known: set[str]) -> str | None:
        """The job listed for the submission's tag (the API filters jobs by metadata)."""
        since = datetime.fromtimestamp(submission.at - CLOCK_SLACK_S, UTC)
        with _errors(self.name, "list"):
            jobs = self._client.batch.jobs.list(metadata={TAG: submission.tag}, created_after=since, page_size=100)
        found = [j.id for j in (jobs.data or []) if (j.metadata or {}).get(TAG) == submission.tag
                 and j.id not in known]
        return found[0] if found else None

    def poll(self, batch_id: str) -> BatchState:
        with _errors(self.name, "poll"):
            status = self._client.batch.jobs.get(job_id=batch_id).status
        return self._STATES.get(str(status), "in_progress")

    def results(self, batch_id: str) -> dict[str, BatchResult]:
        out: dict[str, BatchResult] = {}
        with _errors(self.name, "results"):
            job = self._client.batch.jobs.get(job_id=batch_id)
            for file_id in (job.error_file, job.output_file):
                if isinstance(file_id, str) and file_id:
                    out.update(read_results_file(self._client.files.download(file_id=file_id).read().decode()))
        return out


BATCH_CLIENTS: dict[str, Callable[[str, str | None, float], BatchClient]] = {
    "openai": OpenAIBatch, "anthropic": AnthropicBatch, "mistral": MistralBatch,
}


def batch_clients(settings: Any) -> dict[str, BatchClient]:
    """A batch client for each provider with a key."""
    out: dict[str, BatchClient] = {}
    for provider, factory in BATCH_CLIENTS.items():
        key = settings.api_key(provider)
        if key:
            with _errors(provider, "client"):
                out[provider] = factory(key, settings.base_url(provider), settings.llm_timeout)
    return out
