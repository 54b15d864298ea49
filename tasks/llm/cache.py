"""Content-addressed cache of LLM answers in the data dir: the same call is never paid for twice.

The key covers everything that determines an answer: the prompt file's digest, provider, model,
params, system and user messages. Only answers that parsed and validated are stored, so a failure is
asked again on the next run. Each answer is one object written whole (tasks/storage), so concurrent
processes on any machine sharing the data dir share the cache.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel

from tasks.log import get_logger
from tasks.models import Usage
from tasks.storage import Storage


class CachedAnswer(BaseModel):
    text: str
    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    # An answer collected from a batch carries what the batch charged for it, until the first run that uses it
    # books it on its paper (tasks/llm/runner.py); after that it is a plain cached answer.
    batch_usage: Usage | None = None


def cache_key(*, prompt_digest: str, provider: str, model: str, params: dict[str, Any], messages: list[dict]) -> str:
    material = json.dumps(
        {"prompt": prompt_digest, "provider": provider, "model": model, "params": params, "messages": messages},
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(material.encode()).hexdigest()


class AnswerCache:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage  # <data>/cache/llm

    def _key(self, key: str) -> str:
        return f"{key[:2]}/{key}.json"

    def get(self, key: str) -> CachedAnswer | None:
        try:
            return CachedAnswer.model_validate_json(self.storage.read(self._key(key)))
        except (OSError, ValueError):
            return None  # absent or unreadable: ask again

    def put(self, key: str, answer: CachedAnswer) -> None:
        """Store a validated answer; a store that cannot take it costs a later re-ask, never this answer."""
        try:
            self.storage.write(self._key(key), answer.model_dump_json().encode(), content_type="application/json")
        except OSError as exc:
            get_logger().warning("LLM answer not cached (%s): %s", self.storage.describe(self._key(key)), exc)
