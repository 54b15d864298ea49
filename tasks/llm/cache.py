"""Content-addressed cache of LLM answers on disk: the same call is never paid for twice.

The key covers everything that determines an answer: the prompt file's digest, provider, model,
params, system and user messages. Only answers that parsed and validated are stored, so a failure is
asked again on the next run. Files are written atomically, so concurrent processes can share the cache.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from tasks.files import write_atomic


class CachedAnswer(BaseModel):
    text: str
    model: str
    input_tokens: int = 0
    output_tokens: int = 0


def cache_key(*, prompt_digest: str, provider: str, model: str, params: dict[str, Any], messages: list[dict]) -> str:
    material = json.dumps(
        {"prompt": prompt_digest, "provider": provider, "model": model, "params": params, "messages": messages},
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(material.encode()).hexdigest()


class AnswerCache:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> CachedAnswer | None:
        try:
            return CachedAnswer.model_validate_json(self._path(key).read_bytes())
        except (OSError, ValueError):
            return None  # absent or unreadable: ask again

    def put(self, key: str, answer: CachedAnswer) -> None:
        write_atomic(self._path(key), answer.model_dump_json())
