"""What an LLM request asks for, read from its content the way a model would read it.

A model follows the instructions and treats the quoted material as data: a paper abstract that talks about
"Chinese summarisation" does not turn a request for an English summary into a Chinese one. So the cues are
looked for in the instruction text only: the system and user messages without their quoted blocks
(\"\"\"…\"\"\" or ``` fences) and without labelled data lines ("Title: …", "Abstract: …"). A JSON schema sent for
structured output adds its property names as cues (a `pinyin` property is a request for pinyin).

Each step is recognised by the intent words its prompt (prompts/*.md) uses; a request that matches no step
gets `None`, and the sandbox then answers like a confused model, in prose.
"""

from __future__ import annotations

import re
from typing import Any

_QUOTED = re.compile(r'"""[\s\S]*?(?:"""|\Z)|```[\s\S]*?(?:```|\Z)')
_DATA_LINE = re.compile(r"^[ \t]*(?:paper[ \t]+)?(?:title|abstract|authors?)[ \t]*:.*$", re.I | re.M)
# A taxonomy line of the topics prompt: `NAME: definition`.
_TAXONOMY_LINE = re.compile(r"^[ \t\-*•]*[A-Z0-9_]{2,}[ \t]*:[ \t]*\S", re.M)

CUES: dict[str, re.Pattern[str]] = {
    name: re.compile(pattern, re.I)
    for name, pattern in {
        "institutions": r"\b(?:affiliat\w*|institutions?)\b",
        "topics": r"\b(?:tags?|tagging|topics?)\b",
        "review": r"\breview(?:s|er)?\b",
        "russian": r"\brussian\b|по-русски|на русском",
        "emoji": r"\bemojis?\b",
        "summary": r"\bsummar\w*|概括|总结|摘要",
        "english": r"\benglish\b",
        "chinese": r"\bchinese\b|中文|汉语",
        "reading": r"\breading\b|\bexercise\b|阅读",
        "pinyin": r"\bpinyin\b|拼音",
        "vocab": r"\bvocab\w*|\bglossary\b|词汇",
    }.items()
}
# Schema properties that ask for the same thing as a cue word.
_SCHEMA_CUES = {"pinyin": "pinyin", "vocab": "vocab", "emoji": "emoji", "affiliations": "institutions",
                "institutions": "institutions", "topics": "topics"}


def instructions(text: str) -> str:
    """The request text without its quoted data blocks and labelled data lines."""
    return _DATA_LINE.sub("", _QUOTED.sub("", text))


def _schema_properties(schema: Any, depth: int = 0) -> set[str]:
    """Property names anywhere in a JSON schema (bounded depth: the schema is client input)."""
    if depth > 8:
        return set()
    names: set[str] = set()
    if isinstance(schema, dict):
        props = schema.get("properties")
        if isinstance(props, dict):
            names |= {str(k).lower() for k in props}
        for value in schema.values():
            names |= _schema_properties(value, depth + 1)
    elif isinstance(schema, list):
        for value in schema:
            names |= _schema_properties(value, depth + 1)
    return names


def cues(text: str, schema: dict[str, Any] | None = None) -> set[str]:
    """The intent cues present in a request's instructions (and its schema)."""
    found = {name for name, pattern in CUES.items() if pattern.search(text)}
    found |= {cue for prop, cue in _SCHEMA_CUES.items() if prop in _schema_properties(schema)}
    return found


def infer_step(text: str, schema: dict[str, Any] | None = None) -> str | None:
    """The pipeline step a request asks for, or None when it does not say clearly.

    The most specific intents are checked first: a reading exercise also mentions Chinese and English, a
    topic taxonomy also mentions reviews and English.
    """
    told = instructions(text)
    c = cues(told, schema)
    if {"chinese", "pinyin", "vocab", "reading"} <= c:
        return "zh_reading"
    if {"russian", "emoji", "review"} <= c:
        return "review_ru"
    if "topics" in c and len(_TAXONOMY_LINE.findall(told)) >= 2:
        return "topics"
    if "institutions" in c:
        return "affiliations"
    if {"summary", "chinese"} <= c and "russian" not in c:
        return "summary_zh"
    if {"summary", "english"} <= c and not c & {"chinese", "russian"}:
        return "summary_en"
    return None
