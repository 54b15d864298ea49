"""Output schemas of the LLM steps. Validation here is what stands between an answer and the page."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tasks.llm.scripts import CYRILLIC, HAN, LATIN, dominant, written_in

# Characters that make up one emoji grapheme besides the pictograph itself.
_JOINERS = {"\u200d", "\ufe0f", "\ufe0e", "\u20e3"}


def is_single_emoji(text: str) -> bool:
    """True for exactly one emoji (a pictograph, optionally with modifiers, ZWJ sequences or a flag)."""
    text = text.strip()
    if not text or len(text) > 16:
        return False
    pictographs = 0
    flags = 0
    prev_zwj = False
    for ch in text:
        cp = ord(ch)
        if ch in _JOINERS or 0x1F3FB <= cp <= 0x1F3FF or 0xE0020 <= cp <= 0xE007F:
            prev_zwj = ch == "\u200d"
            continue
        if 0x1F1E6 <= cp <= 0x1F1FF:
            flags += 1
            continue
        if unicodedata.category(ch) != "So":
            return False
        if not prev_zwj:
            pictographs += 1
        prev_zwj = False
    return (pictographs == 1 and flags == 0) or (pictographs == 0 and flags == 2)


_SENTENCE_END = re.compile(r"[.!?。！？…]+")


def count_sentences(text: str) -> int:
    return len([s for s in _SENTENCE_END.split(text) if s.strip()])


_LANGUAGES = {LATIN: "English", CYRILLIC: "Russian", HAN: "Chinese"}


def _written_in(script: str) -> Callable[[Any, str], str]:
    """A validator: the text must be mostly in `script` (the rule is in tasks/llm/scripts.py)."""
    language = _LANGUAGES[script]

    def check(cls: Any, v: str) -> str:
        if not written_in(v, script):
            found = dominant(v)
            mostly = f", not mostly {found.capitalize()}" if found and found != script else ""
            raise ValueError(f"must be written in {language} ({script.capitalize()} script{mostly})")
        return v

    return classmethod(check)  # type: ignore[return-value]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


class Review(_Strict):
    """review_ru: one emoji, a Russian slogan and a four-sentence Russian description."""

    emoji: str = Field(description="exactly one emoji")
    title: str = Field(min_length=3, max_length=200)
    desc: str = Field(min_length=40, max_length=3000)

    @field_validator("emoji")
    @classmethod
    def _one_emoji(cls, v: str) -> str:
        if not is_single_emoji(v):
            raise ValueError("must be exactly one emoji")
        return v

    _russian = field_validator("title", "desc")(_written_in(CYRILLIC))


class Summary(_Strict):
    """summary_en / summary_zh: a title and a short description."""

    title: str = Field(min_length=3, max_length=200)
    desc: str = Field(min_length=20, max_length=3000)


class SummaryEn(Summary):
    _english = field_validator("title", "desc")(_written_in(LATIN))


class SummaryZh(Summary):
    _chinese = field_validator("title", "desc")(_written_in(HAN))


class Vocab(_Strict):
    word: str = Field(min_length=1, max_length=40)
    pinyin: str = Field(min_length=1, max_length=120)
    trans: str = Field(min_length=1, max_length=200)

    _chinese = field_validator("word")(_written_in(HAN))
    _latin = field_validator("pinyin", "trans")(_written_in(LATIN))  # pinyin is Latin with tone marks


class ZhReadingOut(_Strict):
    """zh_reading: a short Chinese text with pinyin, a vocabulary list and an English translation."""

    text: str = Field(min_length=10, max_length=2000)
    pinyin: str = Field(min_length=10, max_length=6000)
    vocab: list[Vocab] = Field(min_length=1, max_length=40)
    translation: str = Field(min_length=10, max_length=4000)

    _chinese = field_validator("text")(_written_in(HAN))
    _latin = field_validator("pinyin", "translation")(_written_in(LATIN))


# `output:` names in prompt front matter → the model that validates the answer (None: a list of strings).
OUTPUT_MODELS: dict[str, type[BaseModel] | None] = {
    "string_list": None,
    "review": Review,
    "summary": SummaryEn,
    "summary_zh": SummaryZh,
    "zh_reading": ZhReadingOut,
}
