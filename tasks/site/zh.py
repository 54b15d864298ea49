"""The Chinese reading exercise split into numbered sentences, with pinyin and translation aligned to them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tasks.models import ZhReading

# A Chinese sentence ends with a full-width (or ASCII) terminator, optionally followed by closing quotes.
_ZH_SENTENCE = re.compile(r"[^。！？!?]+(?:[。！？!?]+[”’」』）)]*|$)")
# Pinyin and the translation are Latin text: split after . ! ? (or the full-width forms) before a space.
_LATIN_BREAK = re.compile(r"(?<=[.!?。！？])[\"”’)]*\s+")


@dataclass(frozen=True, slots=True)
class Sentence:
    n: int
    text: str
    pinyin: str
    translation: str


@dataclass(frozen=True, slots=True)
class Reading:
    sentences: list[Sentence]
    aligned: bool  # False: pinyin/translation did not split into as many parts; shown as whole blocks
    pinyin: str
    translation: str


def split_zh(text: str) -> list[str]:
    return [s.strip() for s in _ZH_SENTENCE.findall(text or "") if s.strip()]


def split_latin(text: str) -> list[str]:
    return [s.strip() for s in _LATIN_BREAK.split((text or "").strip()) if s.strip()]


def reading(zh: ZhReading) -> Reading:
    hanzi = split_zh(zh.text)
    pinyin, translation = split_latin(zh.pinyin), split_latin(zh.translation)
    aligned = len(hanzi) == len(pinyin) == len(translation)
    sentences = [
        Sentence(i + 1, s, pinyin[i] if aligned else "", translation[i] if aligned else "")
        for i, s in enumerate(hanzi)
    ]
    return Reading(sentences, aligned, zh.pinyin.strip(), zh.translation.strip())
