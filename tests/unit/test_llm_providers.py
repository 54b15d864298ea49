"""The SDK clients against a bare local HTTP server: what they send, and what they make of odd answers."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from sandbox.providers import completion
from tasks.llm.providers import CLIENTS, LLMCallError

PROVIDERS = ("openai", "anthropic", "mistral")
BASE = {"openai": "/openai/v1", "anthropic": "/anthropic", "mistral": "/mistral"}
Reply = tuple[int, str, bytes]


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.seen: list[dict[str, str]] = []
        self.reply: Callable[[str], Reply] = _good_reply


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.seen.append({k.lower(): v for k, v in self.headers.items()})
        status, ctype, body = self.server.reply(self.path)
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _provider_of(path: str) -> str:
    return next(p for p in PROVIDERS if path.startswith(f"/{p}/"))


def _good_reply(path: str) -> Reply:
    answer = completion(_provider_of(path), "m", '{"title": "t", "desc": "d"}', 10, 5)
    return 200, "application/json", json.dumps(answer).encode()


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _complete(server: _Server, provider: str) -> Any:
    url = f"http://127.0.0.1:{server.server_port}{BASE[provider]}"
    client = CLIENTS[provider]("sk-test-key", url, 5.0)
    return client.complete(model="m", system="You summarise papers.", user="Summarise this paper.",
                           temperature=0.0, max_tokens=100, schema=None, step="summary_en")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_no_pipeline_header_reaches_the_provider(server: _Server, provider: str) -> None:
    done = _complete(server, provider)
    assert done.text == '{"title": "t", "desc": "d"}'
    (headers,) = server.seen
    assert not [k for k in headers if "hfdaily" in k], headers
    assert "summary_en" not in json.dumps(headers)


_ODD_ANSWERS: dict[str, Callable[[str], Reply]] = {
    "html-page": lambda path: (200, "text/html; charset=utf-8", b"<!doctype html><html><body>Just a moment</body>"),
    "plain-text": lambda path: (200, "text/plain", b"upstream connect error"),
    "json-not-an-answer": lambda path: (200, "application/json", b'{"status": "ok", "data": [1, 2]}'),
    "json-list": lambda path: (200, "application/json", b"[1, 2, 3]"),
    "json-string": lambda path: (200, "application/json", b'"maintenance"'),
    "content-not-text": lambda path: (
        200, "application/json",
        json.dumps({**completion(_provider_of(path), "m", "x", 1, 1)} | _bad_content(_provider_of(path))).encode(),
    ),
}


def _bad_content(provider: str) -> dict[str, Any]:
    if provider == "anthropic":
        return {"content": {"type": "text", "text": 5}}
    return {"choices": [{"index": 0, "message": {"role": "assistant", "content": {"x": 1}}}]}


@pytest.mark.parametrize("odd", list(_ODD_ANSWERS))
@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_answer_of_unexpected_shape_is_a_provider_error(server: _Server, provider: str, odd: str) -> None:
    server.reply = _ODD_ANSWERS[odd]
    with pytest.raises(LLMCallError) as err:
        _complete(server, provider)
    assert err.value.provider == provider and not err.value.retriable
    assert str(err.value).startswith(f"{provider}: ")
