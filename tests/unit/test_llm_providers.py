"""The SDK clients against a bare local HTTP server: what they send, and what they make of odd answers."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from sandbox.providers import completion
from tasks.llm.providers import CLIENTS

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
