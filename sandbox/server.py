"""The sandbox HTTP server: HF feed, arXiv PDFs, OpenAI / Anthropic / Mistral, and a control API."""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
import traceback
from collections.abc import Callable
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

from sandbox import arxiv_api, feed, llm, telegram
from sandbox.batches import (
    anthropic_batch,
    anthropic_results,
    list_page,
    mistral_job,
    openai_batch,
    parse_multipart,
)
from sandbox.faults import Rule, llm_content
from sandbox.intent import infer_step
from sandbox.pdfgen import build_pdf, build_slow_pdf, tiny_png
from sandbox.prompt_cache import anthropic_breakpoints
from sandbox.providers import (
    auth_error_message,
    completion,
    error_body,
    parse_request,
    rate_limit_error,
    rate_limit_headers,
    retry_after_value,
)
from sandbox.state import SandboxState
from sandbox.synth import base_id, parse_date, stable_hash, synth_paper, with_feed_facts

LLM_ROUTES = {
    "/openai/v1/chat/completions": "openai",
    "/mistral/v1/chat/completions": "mistral",
    "/anthropic/v1/messages": "anthropic",
}
TELEGRAM_ROUTE = re.compile(r"^/bot([^/]*)/([A-Za-z]+)$")
# The batch APIs: OpenAI files + batches, Anthropic message batches, Mistral files + batch jobs.
BATCH_ROUTE = re.compile(r"^/(openai)/v1/(files|batches)(?:/([^/]+))?(?:/(content))?$"
                         r"|^/(anthropic)/v1/messages/(batches)(?:/([^/]+))?(?:/(results))?$"
                         r"|^/(mistral)/v1/(files|batch/jobs)(?:/([^/]+))?(?:/(content))?$")
_HTML = (
    b"<!doctype html><html><head><title>Just a moment...</title></head><body><h1>Please wait</h1>"
    b"<p>Checking your browser before accessing the site.</p></body></html>"
)
_slow_pdf = lru_cache(maxsize=4)(build_slow_pdf)


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], state: SandboxState, *, verbose: bool = False) -> None:
        self.state = state
        self.verbose = verbose
        super().__init__(address, Handler)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "hfdaily-sandbox/0.1"
    timeout = 120  # idle keep-alive connections give their thread back after this
    # Headers and body go out in two writes: with Nagle's algorithm the body waits for the client's delayed
    # ACK, 40 ms per answer on Linux. TCP_NODELAY makes a round trip ~1 ms.
    disable_nagle_algorithm = True
    server: SandboxServer

    def send_response(self, code: int, message: str | None = None) -> None:
        self._status = code  # for the request log
        super().send_response(code, message)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        if self.server.verbose:
            super().log_message(format, *args)

    # ---- plumbing -----------------------------------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            data = bytearray()
            while (size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)) > 0:
                data += self.rfile.read(size)
                self.rfile.readline()
            self.rfile.readline()
            return bytes(data)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, status: int, body: bytes, ctype: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, value: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(value, ensure_ascii=False).encode(), "application/json", headers)

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        body = self._read_body() if method == "POST" else b""
        try:
            if method == "GET" and url.path == "/api/daily_papers":
                self._hf(parse_qs(url.query))
            elif method == "GET" and url.path == "/api/query":
                self._arxiv_api(url.query)
            elif method == "GET" and url.path.startswith("/pdf/"):
                self._pdf(url.path.removeprefix("/pdf/"))
            elif method == "GET" and url.path.startswith("/thumbnails/"):
                self._send(200, tiny_png(stable_hash("thumb", url.path) % 2**24), "image/png")
            elif (route := BATCH_ROUTE.match(url.path)) is not None:
                groups = [g for g in route.groups()]
                at = next(i for i in (0, 4, 8) if groups[i])
                self._batch(method, *groups[at:at + 4], body, parse_qs(url.query))
            elif method == "POST" and url.path in LLM_ROUTES:
                self._llm(LLM_ROUTES[url.path], body)
            elif (bot := TELEGRAM_ROUTE.match(url.path)) is not None:
                self._telegram(bot.group(1), bot.group(2), url.query, body)
            elif url.path.startswith("/_"):
                self._control(method, url.path, body)
            else:
                self._json(404, {"error": f"no route for {method} {url.path}"})
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # a sandbox bug: answer 500 rather than drop the connection
            traceback.print_exc()
            self.close_connection = True
            with contextlib.suppress(OSError):
                self._json(500, {"error": f"sandbox internal error: {type(exc).__name__}: {exc}"})

    # ---- faults -------------------------------------------------------------------------------------

    def _pre(self, target: str, where: str, step: str | None = None) -> Rule | None:
        """Latency, then the fault rule for this request; status and timeout faults are answered here."""
        state = self.server.state
        self._drawn = delay = state.latency_for(target)  # simulated seconds, recorded in the request log
        if delay:
            time.sleep(state.real_seconds(delay))
        rule = state.take_rule(target, where, step)
        if rule is None:
            return None
        if rule.status is not None and target == "telegram":  # the Bot API says how long to wait in its body
            self._json(rule.status, telegram.error(rule.status, retry_after=rule.retry_after))
            return rule
        if rule.status is not None:
            headers = {} if rule.retry_after is None else {"Retry-After": f"{rule.retry_after:g}"}
            message = f"sandbox fault: HTTP {rule.status}"
            if rule.status == 401 and target in LLM_ROUTES.values():  # as the real APIs word it
                message = auth_error_message(target, self._api_key(target))
            if target == "pdf":
                html = f"<html><body><h1>Error {rule.status}</h1><p>{message}</p></body></html>"
                self._send(rule.status, html.encode(), "text/html; charset=utf-8", headers)
            else:
                self._json(rule.status, error_body(target, rule.status, message), headers)
            return rule
        if rule.mode == "timeout":
            time.sleep(rule.delay)
            self.close_connection = True
        return rule

    @staticmethod
    def _answered(rule: Rule | None) -> bool:
        return rule is not None and (rule.status is not None or rule.mode == "timeout")

    def _finish(self, mode: str | None, body: bytes, ctype: str, headers: dict[str, str] | None = None) -> None:
        """Send a 200 answer, broken by a transport-level fault mode."""
        if mode == "html":
            self._send(200, _HTML, "text/html; charset=utf-8")
        elif mode == "truncate":
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
        elif mode == "malformed" and not ctype.startswith("application/pdf"):
            self._send(200, body[: len(body) // 2] + b"<!-- broken", ctype)
        else:
            self._send(200, body, ctype, headers)

    def _record(self, target: str, status: int, started: float, **extra: Any) -> None:
        """One line of the request log (GET /_requests): when, the drawn latency, and what else is known."""
        self.server.state.log.add({"target": target, "status": status, "start": started, "end": time.time(),
                                   "latency_s": getattr(self, "_drawn", 0.0), **extra})

    # ---- HF feed ------------------------------------------------------------------------------------

    def _hf(self, query: dict[str, list[str]]) -> None:
        started, self._drawn, self._status = time.time(), 0.0, 0
        try:
            self._hf_answer(query)
        finally:
            self._record("hf", self._status, started, subject=(query.get("date") or [""])[0])

    def _hf_answer(self, query: dict[str, list[str]]) -> None:
        state = self.server.state
        state.count("hf")
        rule = self._pre("hf", self.path)
        if self._answered(rule):
            return
        date = (query.get("date") or [time.strftime("%Y-%m-%d", time.gmtime())])[0]
        if parse_date(date) is None:
            self._json(400, {"error": "Invalid date"})
            return
        try:
            limit = int((query.get("limit") or ["50"])[0])
            p = int((query.get("p") or ["0"])[0])
        except ValueError:
            self._json(400, {"error": "Invalid limit or page"})
            return
        if state.answers_empty(date):
            items = []
        elif state.recorded_dir is not None:
            items = feed.recorded_items(state.recorded_dir, date)
        else:
            host = self.headers.get("Host") or f"{self.server.server_address[0]}:{self.server.server_port}"
            items = feed.synthetic_items(date, state.papers_per_day, f"http://{host}")
        value: Any = feed.page(items, limit, p)
        mode = rule.mode if rule else None
        if mode == "empty":
            value = []
        elif mode == "wrong_schema":
            value = {"papers": value, "count": len(value)}
        self._finish(mode, json.dumps(value, ensure_ascii=False).encode(), "application/json")

    # ---- arXiv API ----------------------------------------------------------------------------------

    def _arxiv_api(self, raw_query: str) -> None:
        self.server.state.count("arxiv")
        rule = self._pre("arxiv", self.path)
        if self._answered(rule):
            return
        query = parse_qs(raw_query)
        try:
            max_results = int((query.get("max_results") or ["10"])[0])
        except ValueError:
            max_results = 10
        status, body = arxiv_api.answer(raw_query, (query.get("id_list") or [""])[0], max_results, self._paper)
        if status != 200:
            self._send(status, body, "application/atom+xml; charset=utf-8")
            return
        self._finish(rule.mode if rule else None, body, "application/atom+xml; charset=utf-8")

    # ---- PDFs ---------------------------------------------------------------------------------------

    def _paper(self, arxiv_id: str) -> Any:
        paper = synth_paper(arxiv_id)
        recorded = self.server.state.recorded_dir
        if recorded is not None:
            facts = feed.recorded_index(recorded).get(paper.arxiv_id)
            if facts:
                paper = with_feed_facts(paper, facts[0], list(facts[1]))
        return paper

    def _pdf(self, raw_id: str) -> None:
        started, self._drawn, self._status = time.time(), 0.0, 0
        arxiv_id = base_id(raw_id)
        title = self._paper(arxiv_id).title if arxiv_id else None
        if title:
            self.server.state.log.served(title)
        try:
            self._pdf_answer(arxiv_id)
        finally:
            self._record("pdf", self._status, started, subject=title, arxiv_id=arxiv_id)

    def _pdf_answer(self, arxiv_id: str) -> None:
        self.server.state.count("pdf", pdf_id=arxiv_id)
        rule = self._pre("pdf", self.path)
        if self._answered(rule):
            return
        if not arxiv_id:
            self._send(404, b"<html><body>Not found</body></html>", "text/html")
            return
        mode = rule.mode if rule else None
        if mode == "oversize":
            self._oversize(rule.size if rule else 0)
        elif mode == "hang_pdf":
            self._send(200, _slow_pdf(rule.ops if rule else 0), "application/pdf")
        elif mode == "empty":
            self._send(200, b"", "application/pdf")
        elif mode == "malformed":
            junk = bytes((stable_hash("junk", arxiv_id, i) % 256) for i in range(4096))
            self._send(200, b"%PDF-1.7\n" + junk, "application/pdf")
        else:
            self._finish(mode, build_pdf(self._paper(arxiv_id)), "application/pdf")

    def _oversize(self, size: int) -> None:
        total = size + 64 * 1024
        self.send_response(200)
        self.send_header("Content-Type", "application/pdf")
        self.send_header("Content-Length", str(total))
        self.end_headers()
        head = b"%PDF-1.4\n%" + b"\x00" * 1024
        self.wfile.write(head)
        sent, chunk = len(head), b"0" * 65536
        while sent < total:
            piece = chunk[: total - sent]
            self.wfile.write(piece)
            sent += len(piece)

    # ---- LLMs ---------------------------------------------------------------------------------------

    def _llm(self, provider: str, raw: bytes) -> None:
        started, self._drawn, self._status = time.time(), 0.0, 0
        facts: dict[str, Any] = {}
        try:
            self._llm_answer(provider, raw, facts)
        finally:
            self._record(provider, self._status, started, **facts)

    def _llm_answer(self, provider: str, raw: bytes, facts: dict[str, Any]) -> None:
        state = self.server.state
        try:
            body = json.loads(raw or b"{}")
            req = parse_request(provider, body if isinstance(body, dict) else {})
        except ValueError:
            state.count(provider)
            self._json(400, error_body(provider, 400, "request body is not valid JSON"))
            return
        step = infer_step(req.text, req.schema)  # what is asked, read from the request like a model would
        state.count(provider, step=step)
        value: Any = None
        if step is not None:
            value = llm.answer_value(step, req.text, req.schema)
            if req.json_object and isinstance(value, list):
                value = {"items": value}
        natural = llm.CONFUSED if step is None else llm_content(None, value, step)
        facts.update(step=step, model=req.model, subject=state.log.subject(req.text),
                     input_tokens=llm.tokens(req.text), output_tokens=llm.tokens(natural))
        if not self._admitted(provider, req.model, facts):  # a 429 comes back at once, before any latency
            return
        rule = self._pre(provider, f"{self.path}\n{req.text}", step)
        if self._answered(rule):
            return
        if not self._authorized(provider):
            self._json(401, error_body(provider, 401, auth_error_message(provider, "")))
            return
        mode = rule.mode if rule else None
        content = natural if mode is None or step is None else llm_content(mode, value, step)
        cached, written = self._prompt_cache(provider, req.model, req.text, body)
        facts.update(cached_tokens=cached, cache_write_tokens=written)
        answer = completion(provider, req.model, content, facts["input_tokens"], llm.tokens(content), cached, written)
        body_bytes = json.dumps(answer, ensure_ascii=False).encode()
        snap = state.limit_snapshot(provider)  # where the caller stands now, as the answer leaves
        headers = rate_limit_headers(provider, snap, exact=state.exact_times, charged=facts.get("charged"))
        self._finish(None if mode == "malformed" else mode, body_bytes, "application/json", headers)

    def _prompt_cache(self, provider: str, model: str, text: str, body: Any) -> tuple[int, int]:
        """(cached, written) input tokens, decided from the request as the provider would (sandbox/prompt_cache.py)."""
        cache = self.server.state.prompt_cache
        if provider == "anthropic":
            return cache.marked(model, text, anthropic_breakpoints(body if isinstance(body, dict) else {}))
        return cache.automatic(provider, model, text), 0

    # ---- batch APIs (sandbox/batches.py) ---------------------------------------------------------------

    def _batch(self, method: str, provider: str, kind: str, item: str | None, tail: str | None, raw: bytes,
               query: dict[str, list[str]]) -> None:
        state = self.server.state
        store = state.batches
        state.count(provider)
        if not self._authorized(provider):
            self._json(401, error_body(provider, 401, auth_error_message(provider, "")))
            return
        base = f"http://{self.headers.get('Host', '127.0.0.1')}"
        if kind == "files" and method == "POST" and item is None:
            fields = parse_multipart(self.headers.get("Content-Type", ""), raw)
            name, data = fields.get("file", (None, b""))
            purpose = (fields.get("purpose", (None, b"batch"))[1] or b"batch").decode()
            self._json(200, store.add_file(provider, name or "batch.jsonl", data, purpose))
            return
        if kind == "files" and method == "GET" and item and tail == "content":
            data = store.file_data(provider, item)
            if data is None:
                self._json(404, error_body(provider, 404, f"No such File object: {item}"))
            else:
                self._send(200, data, "application/octet-stream")
            return
        if method == "POST" and item is None:
            try:
                body = json.loads(raw or b"{}")
                if provider == "anthropic":
                    requests, info = list(body["requests"]), {}
                else:
                    file_id = body["input_file_id"] if provider == "openai" else body["input_files"][0]
                    if store.file_data(provider, file_id) is None:
                        raise KeyError(file_id)
                    requests = store._jsonl(file_id)
                    info = {"input_file_id": file_id, "input_files": [file_id], "metadata": body.get("metadata"),
                            "endpoint": body.get("endpoint")}
            except (ValueError, KeyError, TypeError, IndexError) as exc:
                self._json(400, error_body(provider, 400, f"bad batch request: {exc}"))
                return
            batch = store.create(provider, requests, info)
            batch_id = next(i for i, b in store.batches.items() if b is batch)
            self._json(200, self._batch_shape(provider, batch_id, batch, base))
            return
        if method == "GET" and item is None:  # list: newest first, paged and filtered as each API does
            try:
                for listed in store.list(provider):  # a batch whose time has come is listed as ended
                    store.get(provider, listed["id"], self._batch_answer)
                page = list_page(provider, store.list(provider), query)
            except ValueError as exc:
                self._json(400, error_body(provider, 400, f"bad list request: {exc}"))
                return
            page["data"] = [self._batch_shape(provider, b.pop("id"), b, base) for b in page["data"]]
            self._json(200, {"object": "list", **page})
            return
        batch = store.get(provider, item or "", self._batch_answer)
        if batch is None:
            self._json(404, error_body(provider, 404, f"no batch {item}"))
        elif tail == "results":
            if batch["done"] is None:
                self._json(400, error_body(provider, 400, "batch is still processing"))
            else:
                self._send(200, anthropic_results(batch), "application/binary")
        else:
            self._json(200, self._batch_shape(provider, item or "", batch, base))

    def _batch_shape(self, provider: str, batch_id: str, batch: dict[str, Any], base: str) -> dict[str, Any]:
        store = self.server.state.batches
        if provider == "openai":
            return openai_batch(batch_id, batch, store)
        if provider == "anthropic":
            return anthropic_batch(batch_id, batch, base)
        return mistral_job(batch_id, batch, store)

    def _batch_answer(self, provider: str, body: dict[str, Any]) -> tuple[int, dict[str, Any], str | None]:
        """One request of a batch, answered as an online call would be (no latency, no rate limits)."""
        state = self.server.state
        started = time.time()
        req = parse_request(provider, body)
        step = infer_step(req.text, req.schema)
        state.count(provider, step=step)
        value: Any = None
        if step is not None:
            value = llm.answer_value(step, req.text, req.schema)
            if req.json_object and isinstance(value, list):
                value = {"items": value}
        content = llm.CONFUSED if step is None else llm_content(None, value, step)
        cached, written = self._prompt_cache(provider, req.model, req.text, body)
        input_tokens = llm.tokens(req.text)
        answer = completion(provider, req.model, content, input_tokens, llm.tokens(content), cached, written)
        self._status = 200
        self._record(provider, 200, started, step=step, model=req.model, subject=state.log.subject(req.text),
                     input_tokens=input_tokens, output_tokens=llm.tokens(content), cached_tokens=cached,
                     cache_write_tokens=written, batch=True)
        return 200, answer, step

    def _admitted(self, provider: str, model: str, facts: dict[str, Any]) -> bool:
        """Charge the request to the provider's limits (if any are set); answer 429 when one is exhausted."""
        state = self.server.state
        verdict, snap = state.admit(provider, facts["input_tokens"], facts["output_tokens"])
        if verdict.refused_by is None:
            if verdict.charged:
                facts["charged"] = verdict.charged
            return True
        exact = state.exact_times
        wait = state.real_seconds(verdict.wait)
        headers = rate_limit_headers(provider, snap, exact=exact)
        headers["retry-after"] = retry_after_value(wait, exact)
        if provider == "openai":
            headers["retry-after-ms"] = str(max(1, round(wait * 1000)))
        facts["refused_by"] = verdict.refused_by
        limit = snap[verdict.refused_by]["limit"]
        self._json(429, rate_limit_error(provider, verdict.refused_by, model, limit, wait), headers)
        return False

    def _api_key(self, provider: str) -> str:
        """The key the request carries ('' for none)."""
        if provider == "anthropic" and (key := self.headers.get("x-api-key", "").strip()):
            return key
        auth = self.headers.get("Authorization", "")
        return auth[7:].strip() if auth.lower().startswith("bearer ") else ""

    def _authorized(self, provider: str) -> bool:
        return bool(self._api_key(provider))

    # ---- Telegram Bot API ---------------------------------------------------------------------------

    def _telegram(self, token: str, method: str, query: str, raw: bytes) -> None:
        state = self.server.state
        params: dict[str, Any] = dict(parse_qsl(query))
        ctype = self.headers.get("Content-Type", "")
        try:
            if "json" in ctype and raw.strip():
                body = json.loads(raw)
                params.update(body if isinstance(body, dict) else {})
            elif raw.strip():
                params.update(parse_qsl(raw.decode()))
        except (ValueError, UnicodeDecodeError):
            state.count("telegram")
            self._json(400, telegram.error(400, "Bad Request: can't parse request body"))
            return
        state.count("telegram")
        call = state.telegram.record(method, token, params)
        rule = self._pre("telegram", f"/{method}\n{params.get('text') or ''}")
        if self._answered(rule):
            call["status"] = rule.status if rule and rule.status is not None else "timeout"
            return
        mode = rule.mode if rule else None
        if mode == "chat_not_found":
            status, answer = 400, telegram.error(400, "Bad Request: chat not found")
        else:
            status, answer = state.telegram.answer(method, token, params)
        call["status"] = status
        if status != 200:
            self._json(status, answer)
            return
        self._finish(mode, json.dumps(answer, ensure_ascii=False).encode(), "application/json")

    # ---- control ------------------------------------------------------------------------------------

    def _control(self, method: str, path: str, raw: bytes) -> None:
        state = self.server.state
        query = parse_qs(urlsplit(self.path).query)
        try:
            payload = json.loads(raw) if raw.strip() else {}
        except ValueError:
            self._json(400, {"error": "body is not valid JSON"})
            return
        routes: dict[tuple[str, str], Callable[[], Any]] = {
            ("GET", "/_health"): lambda: {"ok": True},
            ("GET", "/_stats"): state.stats,
            ("POST", "/_reset"): lambda: (state.reset(), {"ok": True})[1],
            ("GET", "/_faults"): state.list_rules,
            ("POST", "/_faults"): lambda: {"active": state.add_rules(payload)},
            ("GET", "/_latency"): lambda: state.set_latency({}),
            ("POST", "/_latency"): lambda: state.set_latency(payload),
            ("GET", "/_limits"): lambda: state.set_limits({}),
            ("POST", "/_limits"): lambda: state.set_limits(payload),
            ("GET", "/_config"): lambda: state.set_config({}),
            ("POST", "/_config"): lambda: state.set_config(payload),
            # The prompt caches' minimum prompt (tokens) and lifetime (s): {"min_tokens": n, "ttl": s}.
            ("GET", "/_prompt_cache"): lambda: state.prompt_cache.configure(),
            # Batches: {"seconds": s until a batch is answered, "expire": bool, "fail_steps": [...]}; GET: counts.
            ("GET", "/_batches"): lambda: state.batches.configure({}),
            ("POST", "/_batches"): lambda: state.batches.configure(payload),
            ("POST", "/_prompt_cache"): lambda: state.prompt_cache.configure(
                payload.get("min_tokens"), payload.get("ttl")),
            ("GET", "/_telegram"): state.telegram.snapshot,
            ("POST", "/_telegram/delete"): lambda: {
                "deleted": state.telegram.delete(str(payload.get("chat_id")), int(payload.get("message_id", 0)))},
        }
        try:
            if method == "GET" and path.startswith("/_planted/"):
                paper = self._paper(path.removeprefix("/_planted/"))
                result: Any = {
                    "arxiv_id": paper.arxiv_id,
                    "affiliations": list(paper.affiliations),
                    "layout": paper.layout,
                    "title": paper.title,
                    "authors": list(paper.authors),
                }
            elif method == "GET" and path == "/_requests":
                result = state.log.since(int((query.get("since") or ["0"])[0]))
            elif (method, path) in routes:
                result = routes[(method, path)]()
            else:
                self._json(404, {"error": f"no control route {method} {path}"})
                return
        except (ValueError, TypeError) as exc:
            self._json(400, {"error": str(exc)})
            return
        self._json(200, result)


# ---- running it ---------------------------------------------------------------------------------------


def make_server(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    recorded_dir: str | Path | None = None,
    papers_per_day: int = 8,
    verbose: bool = False,
) -> SandboxServer:
    state = SandboxState(
        recorded_dir=Path(recorded_dir) if recorded_dir else None, papers_per_day=papers_per_day
    )
    return SandboxServer((host, port), state, verbose=verbose)


def serve(host: str, port: int, *, recorded_dir: str | Path | None = None, papers_per_day: int = 8) -> None:
    """Serve in the foreground until interrupted."""
    server = make_server(host, port, recorded_dir=recorded_dir, papers_per_day=papers_per_day)
    try:
        server.serve_forever()
    finally:
        server.server_close()


class RunningSandbox:
    """A sandbox served from a background thread of this process."""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server
        self.port: int = server.server_port
        host = server.server_address[0]
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=server.serve_forever, name="hfdaily-sandbox", daemon=True)
        self._thread.start()

    @property
    def state(self) -> SandboxState:
        return self.server.state

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> RunningSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start(host: str = "127.0.0.1", port: int = 0, **kw: Any) -> RunningSandbox:
    return RunningSandbox(make_server(host, port, **kw))
