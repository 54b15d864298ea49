"""The providers' prompt caches, as each real API decides them from the request it is given.

- OpenAI and Mistral cache automatically: a prompt of `min_tokens` or more is stored by prefix, and a later
  request whose start matches a stored prefix reads it back, in steps of 128 tokens from `min_tokens` on
  (`usage.prompt_tokens_details.cached_tokens`).
- Anthropic caches only up to a content block marked `cache_control`: the prefix through the marked block, if it
  is `min_tokens` or longer, is written on a miss (`cache_creation_input_tokens`) and read on a hit
  (`cache_read_input_tokens`); `input_tokens` is what is left.
Entries live `ttl` seconds from their last use (Anthropic's default 5 minutes; OpenAI's are at least as long).
Tokens are the sandbox's tokens (a quarter of the characters: sandbox/llm.py).
"""

from __future__ import annotations

import hashlib
import threading
import time
from typing import Any

from sandbox.llm import tokens

STEP = 128  # OpenAI's cache hits grow in steps of 128 tokens
DEFAULT_MIN_TOKENS = 1024  # the shortest prompt the providers cache (Anthropic's Sonnet/Opus; OpenAI)
DEFAULT_TTL = 300.0
_MAX_ENTRIES = 200_000


def _content(content: Any) -> list[tuple[str, bool]]:
    """(text, marked cache_control) per block, the way sandbox/providers.py joins them."""
    if isinstance(content, str):
        return [(content, False)]
    if isinstance(content, list):
        return [
            (str(p.get("text", "")), bool(p.get("cache_control"))) if isinstance(p, dict) else (str(p), False)
            for p in content
        ]
    return [("", False)]


def anthropic_breakpoints(body: dict[str, Any]) -> list[int]:
    """Character lengths of the request text (as parse_request joins it) through each `cache_control` block."""
    pieces: list[tuple[str, bool]] = []
    if body.get("system"):
        blocks = _content(body["system"])
        pieces.append(("\n".join(t for t, _ in blocks), any(m for _, m in blocks)))
    for msg in body.get("messages") or []:
        if isinstance(msg, dict):
            pieces.extend(_content(msg.get("content")))  # blocks joined by "\n", as messages are
    marks, length = [], 0
    for i, (text, marked) in enumerate(pieces):
        length += len(text) + (1 if i else 0)
        if marked:
            marks.append(length)
    return marks


class PromptCache:
    """Prefixes seen, per provider and model, with the time each stays cached (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._until: dict[bytes, float] = {}
        self.min_tokens = DEFAULT_MIN_TOKENS
        self.ttl = DEFAULT_TTL

    def configure(self, min_tokens: int | None = None, ttl: float | None = None) -> dict[str, float]:
        with self._lock:
            if min_tokens is not None:
                self.min_tokens = max(1, int(min_tokens))
            if ttl is not None:
                self.ttl = max(0.0, float(ttl))
            return {"min_tokens": self.min_tokens, "ttl": self.ttl}

    def reset(self) -> None:
        with self._lock:
            self._until.clear()

    def _hit(self, key: bytes, now: float) -> bool:
        until = self._until.get(key)
        return until is not None and until > now

    def _keep(self, key: bytes, now: float) -> None:
        if len(self._until) >= _MAX_ENTRIES:
            self._until = {k: v for k, v in self._until.items() if v > now}
        self._until[key] = now + self.ttl

    def automatic(self, provider: str, model: str, text: str) -> int:
        """OpenAI / Mistral: cached tokens of this request, and its prefixes stored for the next ones."""
        total = tokens(text)
        with self._lock:
            if total < self.min_tokens:
                return 0
            now, cached = time.monotonic(), 0
            digest = hashlib.sha256(f"{provider}\0{model}\0".encode())
            done = 0
            for length in range(self.min_tokens, total + 1, STEP):
                chars = length * 4
                digest.update(text[done:chars].encode())
                done = chars
                key = digest.copy().digest()
                if self._hit(key, now):
                    cached = length
                self._keep(key, now)
            return cached

    def marked(self, model: str, text: str, breakpoints: list[int]) -> tuple[int, int]:
        """Anthropic: (tokens read from the cache, tokens written to it) for the marked prefixes."""
        with self._lock:
            now, read, written = time.monotonic(), 0, 0
            for chars in sorted(breakpoints):
                length = tokens(text[:chars])
                if length < self.min_tokens:
                    continue
                key = hashlib.sha256(f"anthropic\0{model}\0{text[:chars]}".encode()).digest()
                if self._hit(key, now):
                    read, written = length, 0
                else:
                    written = length - read
                self._keep(key, now)
            return read, written
