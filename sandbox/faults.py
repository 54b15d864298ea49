"""Fault rules (what to break, for how many requests) and the LLM-content faults."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from sandbox.llm import REQUIRED_KEYS, wrong_language

TARGETS: tuple[str, ...] = ("hf", "pdf", "openai", "anthropic", "mistral", "arxiv", "telegram")
LLM_TARGETS = frozenset({"openai", "anthropic", "mistral"})
_COMMON = {"timeout", "truncate", "html", "malformed"}
MODES: dict[str, frozenset[str]] = {
    "hf": frozenset(_COMMON | {"wrong_schema", "empty"}),
    "pdf": frozenset(_COMMON | {"oversize", "hang_pdf", "empty"}),
    "arxiv": frozenset(_COMMON),  # the arXiv API (GET /api/query)
    "llm": frozenset(
        _COMMON | {"fenced", "prose", "wrong_schema", "empty", "missing_key", "python_list", "wrong_language"}
    ),
    "telegram": frozenset(_COMMON | {"chat_not_found"}),
}


@dataclass
class Rule:
    target: str
    status: int | None = None
    mode: str | None = None
    match: str | None = None
    step: str | None = None
    times: int | None = None  # requests left; None = forever
    retry_after: float | None = None
    delay: float = 30.0  # timeout mode
    size: int = 40 * 1024 * 1024  # oversize mode
    ops: int = 3_000_000  # hang_pdf mode: text operators on page 1
    hits: int = 0

    def matches(self, target: str, where: str, step: str | None) -> bool:
        if self.target != target or (self.times is not None and self.times <= 0):
            return False
        if self.match is not None and self.match not in where:
            return False
        return self.step is None or self.step == step

    def as_dict(self) -> dict[str, Any]:
        params = {"delay": "timeout", "size": "oversize", "ops": "hang_pdf"}
        keep = {k: v for k, v in asdict(self).items() if v is not None}
        return {k: v for k, v in keep.items() if k not in params or params[k] == self.mode}


def modes_for(target: str) -> frozenset[str]:
    return MODES["llm" if target in LLM_TARGETS else target]


def parse_rule(raw: Any) -> Rule:
    """A validated rule from its JSON form; ValueError says what is wrong."""
    if not isinstance(raw, dict):
        raise ValueError("a fault rule is a JSON object")
    unknown = set(raw) - {
        "target",
        "status",
        "mode",
        "match",
        "step",
        "times",
        "retry_after",
        "delay",
        "size",
        "ops",
    }
    if unknown:
        raise ValueError(f"unknown rule keys: {sorted(unknown)}")
    target = raw.get("target")
    if target not in TARGETS:
        raise ValueError(f"target must be one of {list(TARGETS)}")
    status, mode = raw.get("status"), raw.get("mode")
    if (status is None) == (mode is None):
        raise ValueError("a rule needs exactly one action: 'status' or 'mode'")
    if status is not None and not (isinstance(status, int) and 100 <= status <= 599):
        raise ValueError("status must be an HTTP status code")
    if mode is not None and mode not in modes_for(target):
        raise ValueError(f"mode {mode!r} is not valid for {target}; valid: {sorted(modes_for(target))}")
    times = raw.get("times")
    if times is not None and (not isinstance(times, int) or times < 0):
        raise ValueError("times must be a non-negative integer")
    return Rule(
        target=target,
        status=status,
        mode=mode,
        match=None if raw.get("match") is None else str(raw["match"]),
        step=None if raw.get("step") is None else str(raw["step"]),
        times=times,
        retry_after=None if raw.get("retry_after") is None else float(raw["retry_after"]),
        delay=float(raw.get("delay", 30.0)),
        size=int(raw.get("size", 40 * 1024 * 1024)),
        ops=int(raw.get("ops", 3_000_000)),
    )


def _py_literal(value: Any) -> str:
    """A Python literal with single-quoted strings (what a model may answer instead of JSON)."""
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, list):
        return "[" + ", ".join(_py_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_py_literal(str(k))}: {_py_literal(v)}" for k, v in value.items()) + "}"
    return repr(value)


def _wrong_schema(value: Any) -> Any:
    if isinstance(value, list):
        return {"answer": "; ".join(str(v) for v in value) or "none"}
    if isinstance(value, dict):
        return [v for v in value.values() if isinstance(v, str)]
    return [value]


def _missing_key(value: Any, step: str) -> Any:
    if not isinstance(value, dict) or not value:
        return value
    keys = [k for k in REQUIRED_KEYS.get(step, ()) if k in value] or list(value)
    out = dict(value)
    out.pop(keys[-1])
    return out


def llm_content(mode: str | None, value: Any, step: str) -> str:
    """The message content for `value` under an LLM-content fault mode (None: plain JSON)."""
    text = json.dumps(value, ensure_ascii=False)
    if mode == "malformed":
        return text[: max(1, len(text) // 2)] + " …(the answer stops here"
    if mode == "fenced":
        return f"```json\n{text}\n```"
    if mode == "prose":
        return f"Sure! Here is the answer in the requested format:\n{text}\nI hope this helps."
    if mode == "wrong_schema":
        return json.dumps(_wrong_schema(value), ensure_ascii=False)
    if mode == "empty":
        return "[]" if isinstance(value, list) else "{}"
    if mode == "missing_key":
        return json.dumps(_missing_key(value, step), ensure_ascii=False)
    if mode == "python_list":
        return _py_literal(value)
    if mode == "wrong_language":
        return json.dumps(wrong_language(value, step), ensure_ascii=False)
    return text
