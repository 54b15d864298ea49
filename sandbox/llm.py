"""Deterministic LLM answers for the pipeline's steps, fitted to a JSON schema when one is asked for."""

from __future__ import annotations

import json
import math
import random
import re
from functools import lru_cache
from typing import Any

from sandbox import words
from sandbox.synth import stable_hash

STEPS: tuple[str, ...] = ("affiliations", "topics", "review_ru", "summary_en", "summary_zh", "zh_reading")
LIST_STEPS = frozenset({"affiliations", "topics"})
REQUIRED_KEYS: dict[str, tuple[str, ...]] = {
    "review_ru": ("emoji", "title", "desc"),
    "summary_en": ("title", "desc"),
    "summary_zh": ("title", "desc"),
    "zh_reading": ("text", "pinyin", "vocab", "translation"),
}
# What a model says when it cannot tell what is asked: no JSON, so the pipeline rejects it.
CONFUSED = (
    "I'm not sure what you would like me to do with this text. Could you tell me what kind of answer you "
    "need, for example a summary, a list or a translation?"
)
_TOPIC_LINE = re.compile(r"^[ \t\-*•]*([A-Z0-9_]+)[ \t]*:[ \t]*\S", re.MULTILINE)


def tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


@lru_cache(maxsize=1)
def _institution_patterns() -> tuple[tuple[str, re.Pattern[str]], ...]:
    return tuple(
        (name, re.compile(r"\s+".join(re.escape(w) for w in name.split()))) for name in words.INSTITUTIONS
    )


def find_institutions(text: str) -> list[str]:
    """Sandbox institutions named in `text`, in order of first appearance."""
    found = [(m.start(), name) for name, pat in _institution_patterns() if (m := pat.search(text))]
    return [name for _, name in sorted(found)]


def topic_names(text: str) -> list[str]:
    names: list[str] = []
    for name in _TOPIC_LINE.findall(text):
        if name not in names:
            names.append(name)
    return names


def _rng(step: str, text: str) -> random.Random:
    return random.Random(stable_hash("llm", step, text))


def _topics(text: str) -> list[str]:
    names = topic_names(text)
    if not names:
        return []
    rng = _rng("topics", text)
    picked = set(rng.sample(names, min(len(names), rng.randint(1, 3))))
    return [n for n in names if n in picked]


def _review_ru(rng: random.Random) -> dict[str, str]:
    return {
        "emoji": rng.choice(words.EMOJIS),
        "title": rng.choice(words.RU_TITLES),
        "desc": " ".join(rng.sample(words.RU_SENTENCES, 4)),
    }


def _summary(
    rng: random.Random, titles: tuple[str, ...], sentences: tuple[str, ...], sep: str
) -> dict[str, str]:
    return {"title": rng.choice(titles), "desc": sep.join(rng.sample(sentences, 3))}


def _zh_reading(rng: random.Random) -> dict[str, Any]:
    idx = sorted(rng.sample(range(len(words.ZH_READING)), rng.randint(4, 5)))
    picked = [words.ZH_READING[i] for i in idx]
    text = "".join(s[0] for s in picked)
    used = [v for v in words.ZH_VOCAB if v[0] in text]
    rng.shuffle(used)
    vocab = used[: rng.randint(6, 8)]
    for extra in words.ZH_VOCAB:
        if len(vocab) >= 6:
            break
        if extra not in vocab:
            vocab.append(extra)
    return {
        "text": text,
        "pinyin": " ".join(s[1] for s in picked),
        "vocab": [{"word": w, "pinyin": p, "trans": t} for w, p, t in vocab],
        "translation": " ".join(s[2] for s in picked),
    }


def natural_answer(step: str, text: str) -> Any:
    """The step's answer without any schema: a list (affiliations, topics) or an object."""
    rng = _rng(step, text)
    if step == "affiliations":
        return find_institutions(text)
    if step == "topics":
        return _topics(text)
    if step == "review_ru":
        return _review_ru(rng)
    if step == "summary_en":
        return _summary(rng, words.EN_TITLES, words.EN_SENTENCES, " ")
    if step == "summary_zh":
        return _summary(rng, words.ZH_TITLES, words.ZH_SENTENCES, "")
    if step == "zh_reading":
        return _zh_reading(rng)
    raise ValueError(f"unknown step: {step!r}")


def wrong_language(value: Any, step: str) -> Any:
    """The step's answer in a language it did not ask for (an English summary in Chinese, ...)."""
    if not isinstance(value, dict):
        return value  # institution and topic names are names in any language
    rng = _rng("wrong-language", json.dumps(value, ensure_ascii=False, sort_keys=True))
    if step == "summary_en":
        return {**value, **_summary(rng, words.ZH_TITLES, words.ZH_SENTENCES, "")}
    if step in ("summary_zh", "review_ru"):
        return {**value, **_summary(rng, words.EN_TITLES, words.EN_SENTENCES, " ")}
    if step == "zh_reading":
        return {**value, "text": " ".join(rng.sample(words.EN_SENTENCES, 4))}
    return value


# ---- JSON schema fitting -------------------------------------------------------------------------


def _resolve(schema: Any, root: dict[str, Any]) -> dict[str, Any]:
    seen = 0
    while isinstance(schema, dict) and "$ref" in schema and seen < 20:
        node: Any = root
        for part in str(schema["$ref"]).lstrip("#/").split("/"):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        schema, seen = node, seen + 1
    if not isinstance(schema, dict):
        return {}
    for key in ("anyOf", "oneOf"):
        options = [_resolve(s, root) for s in schema.get(key) or []]
        options = [s for s in options if s.get("type") != "null"]
        if options:
            return options[0]
    if isinstance(schema.get("allOf"), list) and len(schema["allOf"]) == 1:
        return _resolve(schema["allOf"][0], root)
    return schema


def _type(schema: dict[str, Any]) -> str | None:
    t = schema.get("type")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), None)
    if t is None and "properties" in schema:
        return "object"
    if t is None and "items" in schema:
        return "array"
    return t


def fit(value: Any, schema: Any, root: dict[str, Any] | None = None) -> Any:
    """`value` reshaped to fit `schema` (object keys, arrays, enums, $defs/$ref, anyOf)."""
    root = root if root is not None else (schema if isinstance(schema, dict) else {})
    s = _resolve(schema, root)
    if "const" in s:
        return s["const"]
    if isinstance(s.get("enum"), list) and s["enum"]:
        return value if value in s["enum"] else s["enum"][stable_hash("enum", value) % len(s["enum"])]
    kind = _type(s)
    if kind == "object":
        return _fit_object(value, s, root)
    if kind == "array":
        return _fit_array(value, s, root)
    if kind == "string":
        return (
            value
            if isinstance(value, str)
            else ("" if value is None else json.dumps(value, ensure_ascii=False))
        )
    if kind in ("integer", "number"):
        return value if isinstance(value, int | float) and not isinstance(value, bool) else 0
    if kind == "boolean":
        return value if isinstance(value, bool) else False
    if kind == "null":
        return None
    return value


def _fit_object(value: Any, s: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = s.get("properties") or {}
    if not props:
        return value if isinstance(value, dict) else {}
    spare = [v for k, v in value.items() if k not in props] if isinstance(value, dict) else []
    out: dict[str, Any] = {}
    for key, sub in props.items():
        kind = _type(_resolve(sub, root))
        if isinstance(value, dict) and key in value:
            out[key] = fit(value[key], sub, root)
        elif isinstance(value, list) and kind == "array":
            out[key] = fit(value, sub, root)
        elif spare and kind == "string" and isinstance(spare[0], str):
            out[key] = fit(spare.pop(0), sub, root)
        else:
            out[key] = fit(None, sub, root)
    return out


def _fit_array(value: Any, s: dict[str, Any], root: dict[str, Any]) -> list[Any]:
    if isinstance(value, dict):
        value = next((v for v in value.values() if isinstance(v, list)), [])
    items = value if isinstance(value, list) else []
    item_schema = _resolve(s.get("items") or {}, root)
    enum = item_schema.get("enum")
    if isinstance(enum, list) and enum:
        items = [v for v in items if v in enum] or [enum[stable_hash("enum", json.dumps(value)) % len(enum)]]
    out = [fit(v, item_schema, root) for v in items]
    min_items = int(s.get("minItems") or 0)
    while len(out) < min_items:
        out.append(fit(None, item_schema, root))
    max_items = s.get("maxItems")
    return out[: int(max_items)] if isinstance(max_items, int) else out


def answer_value(step: str, text: str, schema: dict[str, Any] | None = None) -> Any:
    value = natural_answer(step, text)
    return fit(value, schema) if schema else value
