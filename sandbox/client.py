"""Driving a sandbox from tests: the control API over HTTP, and the sandbox as a child process."""

from __future__ import annotations

import os
import re
import selectors
import subprocess
import sys
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
_LINE = re.compile(r"^sandbox listening on (http://\S+)$")


class SandboxClient:
    """The control API of a running sandbox (`/_stats`, `/_reset`, `/_faults`, …)."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._http = requests.Session()

    def _call(self, method: str, path: str, payload: Any = None) -> Any:
        resp = self._http.request(method, self.url + path, json=payload, timeout=self.timeout)
        if resp.status_code >= 400:
            raise ValueError(f"sandbox {method} {path}: HTTP {resp.status_code}: {resp.text}")
        return resp.json()

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "/_stats")

    def reset(self) -> None:
        self._call("POST", "/_reset")

    def faults(self, rules: list[dict[str, Any]] | dict[str, Any]) -> int:
        """Append fault rules; returns how many rules are active."""
        return int(self._call("POST", "/_faults", rules)["active"])

    def active_faults(self) -> list[dict[str, Any]]:
        return self._call("GET", "/_faults")

    def latency(self, **seconds: Any) -> dict[str, Any]:
        """latency(hf=…, pdf=…, llm=…) or per provider (openai=…, anthropic=…, mistral=…): seconds, or
        {"median": s, "p99": s} for a log-normal latency; seed=n reseeds the draws."""
        return self._call("POST", "/_latency", seconds)

    def limits(self, **kw: Any) -> dict[str, Any]:
        """limits(openai={"rpm": n, "tpm": n}, anthropic={"rpm", "tpm", "otpm"}, mistral={…}, burst_s=s,
        time_scale=x): per-minute limits answered with 429s (null or 0 removes one)."""
        return self._call("POST", "/_limits", kw)

    def requests(self, since: int = 0) -> list[dict[str, Any]]:
        """The request log since the last reset: target, status, start/end, drawn latency, tokens, charges."""
        return self._call("GET", f"/_requests?since={since}")

    def config(self, **kw: Any) -> dict[str, Any]:
        """config(papers_per_day=n, empty_dates=["YYYY-MM-DD", ...])."""
        return self._call("POST", "/_config", kw)

    def prompt_cache(self, **kw: Any) -> dict[str, Any]:
        """prompt_cache(min_tokens=n, ttl=s): the providers' prompt caches (sandbox/prompt_cache.py)."""
        return self._call("POST", "/_prompt_cache", kw)

    def batches(self, **kw: Any) -> dict[str, Any]:
        """batches(seconds=s, expire=bool, fail_steps=[...]) -> config and counts (batches, requests, duplicates)."""
        return self._call("POST", "/_batches", kw)

    def planted(self, arxiv_id: str) -> dict[str, Any]:
        """{"affiliations": [...], "layout": ..., "title": ..., "authors": [...]} of a paper's PDF."""
        return self._call("GET", f"/_planted/{arxiv_id}")

    def telegram(self) -> dict[str, Any]:
        """The Bot API stand-in's record: `calls` (method, bot, chat_id, message_id, text, parse_mode, at, status)
        and `chats` (chat id → its messages: message_id, text, entities, html, edits)."""
        return self._call("GET", "/_telegram")

    def telegram_delete(self, chat_id: str, message_id: int) -> bool:
        """Delete a channel message behind the bot's back (as an admin would)."""
        return bool(self._call("POST", "/_telegram/delete", {"chat_id": chat_id, "message_id": message_id})["deleted"])

    def close(self) -> None:
        self._http.close()


class SandboxProcess:
    """`python -m sandbox` as a child process on a free port; a context manager that stops it."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        recorded: str | Path | None = None,
        papers_per_day: int | None = None,
        verbose: bool = False,
        start_timeout: float = 20.0,
    ) -> None:
        cmd = [sys.executable, "-m", "sandbox", "--host", host, "--port", "0"]
        if recorded is not None:
            cmd += ["--recorded", str(recorded)]
        if papers_per_day is not None:
            cmd += ["--papers-per-day", str(papers_per_day)]
        if verbose:
            cmd.append("--verbose")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
        env["PYTHONUNBUFFERED"] = "1"
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, cwd=ROOT, env=env, text=True)
        try:
            self.url = self._read_url(start_timeout)
        except BaseException:
            self.stop()
            raise
        self.port = int(self.url.rsplit(":", 1)[1])
        self.client = SandboxClient(self.url)

    def _read_url(self, timeout: float) -> str:
        assert self.proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            if not sel.select(timeout):
                raise RuntimeError(f"sandbox did not start within {timeout} s")
        line = self.proc.stdout.readline().strip()
        match = _LINE.match(line)
        if not match:
            raise RuntimeError(f"sandbox did not start (exit code {self.proc.poll()}): {line!r}")
        return match.group(1)

    def stop(self, timeout: float = 5.0) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def spawn_sandbox(**kw: Any) -> SandboxProcess:
    """Start `python -m sandbox` (see SandboxProcess for options); use it as a context manager."""
    return SandboxProcess(**kw)
