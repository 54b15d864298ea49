"""The three providers' batch APIs: files, batches/jobs, their status and results, in each provider's own shapes.

A batch is answered when it is polled `seconds` after it was created (POST /_batches sets them; 0 by default):
each request as an online call would be (sandbox/server.py `_batch_answer`), without latency or rate limits.
`expire: true` ends the batches created while it is set expired with no answers (OpenAI `expired`, Anthropic
results of type `expired`, Mistral `TIMEOUT_EXCEEDED`); `fail_steps` errors the requests of those steps.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

# (provider, request body) -> (HTTP status, answer body, step)
Answer = Callable[[str, dict[str, Any]], tuple[int, dict[str, Any], str | None]]


def parse_multipart(content_type: str, raw: bytes) -> dict[str, tuple[str | None, bytes]]:
    """Form fields of a multipart/form-data body: name -> (file name, bytes)."""
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + raw)
    fields: dict[str, tuple[str | None, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            fields[str(name)] = (part.get_filename(), part.get_payload(decode=True) or b"")
    return fields


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


class Batches:
    """Files and batches of every provider (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.files: dict[str, dict[str, Any]] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.seconds = 0.0
        self.expire = False
        self.fail_steps: set[str] = set()
        self.submitted: list[tuple[str, str]] = []  # (batch id, custom id) of every request ever submitted

    def configure(self, raw: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            if "seconds" in raw:
                self.seconds = max(0.0, float(raw["seconds"]))
            if "expire" in raw:
                self.expire = bool(raw["expire"])
            if "fail_steps" in raw:
                self.fail_steps = set(raw["fail_steps"] or [])
            return {"seconds": self.seconds, "expire": self.expire, "fail_steps": sorted(self.fail_steps),
                    "batches": len(self.batches), "requests": len(self.submitted),
                    "duplicates": len(self.submitted) - len(set(c for _, c in self.submitted))}

    # -- files (OpenAI, Mistral) ---------------------------------------------------------------------
    def add_file(self, provider: str, name: str, data: bytes, purpose: str) -> dict[str, Any]:
        file_id = ("file-" if provider == "openai" else "") + uuid.uuid4().hex[:24]
        created = int(time.time())
        with self._lock:
            self.files[file_id] = {"provider": provider, "name": name, "data": data, "purpose": purpose,
                                   "created": created}
        if provider == "openai":
            return {"id": file_id, "object": "file", "bytes": len(data), "created_at": created, "filename": name,
                    "purpose": purpose, "status": "processed"}
        return {"id": file_id, "object": "file", "bytes": len(data), "created_at": created, "filename": name,
                "purpose": purpose, "sample_type": "batch_request", "source": "upload",
                "num_lines": data.count(b"\n")}

    def file_data(self, provider: str, file_id: str) -> bytes | None:
        with self._lock:
            f = self.files.get(file_id)
            return f["data"] if f and f["provider"] == provider else None

    def _jsonl(self, file_id: str) -> list[dict[str, Any]]:
        data = self.files[file_id]["data"]
        return [json.loads(line) for line in data.decode().splitlines() if line.strip()]

    # -- batches --------------------------------------------------------------------------------------
    def create(self, provider: str, requests: list[dict[str, Any]], info: dict[str, Any]) -> dict[str, Any]:
        prefix = {"openai": "batch_", "anthropic": "msgbatch_", "mistral": ""}[provider]
        batch_id = prefix + uuid.uuid4().hex[:24]
        with self._lock:
            self.batches[batch_id] = {"provider": provider, "requests": requests, "created": time.time(),
                                      "done": None, "results": None, "expired": False, "will_expire": self.expire,
                                      **info}
            self.submitted.extend((batch_id, str(r.get("custom_id"))) for r in requests)
        return self.batches[batch_id]

    def get(self, provider: str, batch_id: str, answer: Answer) -> dict[str, Any] | None:
        """The batch, answered first if its time has come."""
        with self._lock:
            batch = self.batches.get(batch_id)
            if batch is None or batch["provider"] != provider:
                return None
            due = batch["done"] is None and time.time() - batch["created"] >= self.seconds
            expire, fail_steps = batch["will_expire"], set(self.fail_steps)
        if due:
            results = [] if expire else [self._answer(provider, r, answer, fail_steps) for r in batch["requests"]]
            with self._lock:
                if batch["done"] is None:
                    batch["results"], batch["expired"], batch["done"] = results, expire, time.time()
        return batch

    @staticmethod
    def _answer(provider: str, request: dict[str, Any], answer: Answer, fail_steps: set[str]) -> dict[str, Any]:
        body = request.get("params" if provider == "anthropic" else "body") or {}
        status, out, step = answer(provider, body if isinstance(body, dict) else {})
        if step in fail_steps:
            status, out = 500, {"error": {"message": "the batch could not process this request"}}
        return {"custom_id": request.get("custom_id"), "status": status, "body": out}

    def list(self, provider: str) -> list[dict[str, Any]]:
        """The provider's batches, newest first (as the three APIs list them)."""
        with self._lock:
            return [dict(b, id=i) for i, b in reversed(self.batches.items()) if b["provider"] == provider]

    def result_file(self, provider: str, batch: dict[str, Any], ok: bool) -> str | None:
        """OpenAI / Mistral: the output (ok) or error file of an answered batch, stored as a file; its id."""
        rows = [r for r in batch["results"] or [] if (r["status"] == 200) == ok]
        if not rows:
            return None
        lines = []
        for r in rows:
            line: dict[str, Any] = {"id": f"req_{uuid.uuid4().hex[:16]}", "custom_id": r["custom_id"],
                                    "response": {"status_code": r["status"], "body": r["body"]}, "error": None}
            if not ok:
                line["error"] = {"code": "server_error", "message": "request failed"}
            lines.append(json.dumps(line, ensure_ascii=False))
        return self.add_file(provider, "output.jsonl", ("\n".join(lines) + "\n").encode(), "batch_output")["id"]


# ---- each provider's shape of a batch --------------------------------------------------------------------------

def openai_batch(batch_id: str, b: dict[str, Any], store: Batches) -> dict[str, Any]:
    status = "in_progress" if b["done"] is None else ("expired" if b["expired"] else "completed")
    results = b["results"] or []
    if b["done"] is not None and "output_file_id" not in b:
        b["output_file_id"] = store.result_file("openai", b, ok=True)
        b["error_file_id"] = store.result_file("openai", b, ok=False)
    failed = sum(r["status"] != 200 for r in results)
    return {
        "id": batch_id, "object": "batch", "endpoint": b.get("endpoint", "/v1/chat/completions"),
        "input_file_id": b.get("input_file_id", ""), "completion_window": "24h", "status": status,
        "created_at": int(b["created"]), "completed_at": int(b["done"]) if status == "completed" else None,
        "expired_at": int(b["done"]) if status == "expired" else None,
        "output_file_id": b.get("output_file_id"), "error_file_id": b.get("error_file_id"),
        "metadata": b.get("metadata") or None,
        "request_counts": {"total": len(b["requests"]), "completed": len(results) - failed, "failed": failed},
    }


def anthropic_batch(batch_id: str, b: dict[str, Any], base: str) -> dict[str, Any]:
    ended = b["done"] is not None
    results = b["results"] or []
    ok = sum(r["status"] == 200 for r in results)
    return {
        "id": batch_id, "type": "message_batch", "processing_status": "ended" if ended else "in_progress",
        "request_counts": {"processing": 0 if ended else len(b["requests"]), "succeeded": ok,
                           "errored": len(results) - ok, "canceled": 0,
                           "expired": len(b["requests"]) if b["expired"] else 0},
        "created_at": _iso(b["created"]), "expires_at": _iso(b["created"] + 86400),
        "ended_at": _iso(b["done"]) if ended else None, "archived_at": None, "cancel_initiated_at": None,
        "results_url": f"{base}/anthropic/v1/messages/batches/{batch_id}/results" if ended else None,
    }


def anthropic_results(b: dict[str, Any]) -> bytes:
    lines = []
    if b["expired"]:
        lines = [{"custom_id": r.get("custom_id"), "result": {"type": "expired"}} for r in b["requests"]]
    for r in b["results"] or []:
        if r["status"] == 200:
            lines.append({"custom_id": r["custom_id"], "result": {"type": "succeeded", "message": r["body"]}})
        else:
            lines.append({"custom_id": r["custom_id"], "result": {
                "type": "errored", "error": {"type": "error", "error": {"type": "api_error", "message": "failed"}}}})
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode()


def mistral_job(batch_id: str, b: dict[str, Any], store: Batches) -> dict[str, Any]:
    status = "RUNNING" if b["done"] is None else ("TIMEOUT_EXCEEDED" if b["expired"] else "SUCCESS")
    results = b["results"] or []
    if b["done"] is not None and "output_file" not in b:
        b["output_file"] = store.result_file("mistral", b, ok=True)
        b["error_file"] = store.result_file("mistral", b, ok=False)
    ok = sum(r["status"] == 200 for r in results)
    return {
        "id": batch_id, "object": "batch", "input_files": b.get("input_files", []),
        "endpoint": b.get("endpoint", "/v1/chat/completions"), "errors": [], "status": status,
        "created_at": int(b["created"]), "total_requests": len(b["requests"]), "completed_requests": len(results),
        "succeeded_requests": ok, "failed_requests": len(results) - ok, "metadata": b.get("metadata"),
        "output_file": b.get("output_file"), "error_file": b.get("error_file"),
        "completed_at": int(b["done"]) if b["done"] else None,
    }


# ---- listing: each API's paging and filters, over batches newest first --------------------------------------

# The query parameters of Mistral's GET /v1/batch/jobs; its SDK sends each `metadata` item as a parameter of its own.
MISTRAL_LIST_PARAMS = {"page", "page_size", "model", "agent_id", "created_after", "created_by_me", "status",
                       "order_by"}


def list_page(provider: str, batches: list[dict[str, Any]], query: dict[str, list[str]]) -> dict[str, Any]:
    """One page of a list request: `batches` newest first (raw, with their `id`); the provider's list body keys
    (`data` still raw, to be shaped by the caller)."""
    q = {k: v[-1] for k, v in query.items() if v}
    if provider == "mistral":
        wanted = {k: v for k, v in q.items() if k not in MISTRAL_LIST_PARAMS}
        rows = [b for b in batches if all(str((b.get("metadata") or {}).get(k)) == v for k, v in wanted.items())]
        if "created_after" in q:
            after = datetime.fromisoformat(q["created_after"].replace("Z", "+00:00")).timestamp()
            rows = [b for b in rows if b["created"] > after]
        if q.get("order_by") == "created":
            rows.reverse()
        size = max(1, int(q.get("page_size", 100)))
        page = max(0, int(q.get("page", 0)))
        return {"data": rows[page * size:(page + 1) * size], "total": len(rows)}
    limit = max(1, min(100 if provider == "openai" else 1000, int(q.get("limit", 20))))
    ids = [b["id"] for b in batches]
    start, end = 0, len(batches)
    after = q.get("after") if provider == "openai" else q.get("after_id")
    if after in ids:
        start = ids.index(after) + 1
    if provider == "anthropic" and q.get("before_id") in ids:
        end = ids.index(q["before_id"])
        start = max(start, end - limit)
    rows = batches[start:end][:limit]
    return {"data": rows, "has_more": start + len(rows) < end,
            "first_id": rows[0]["id"] if rows else None, "last_id": rows[-1]["id"] if rows else None}
