"""Which writing system a text is in, so that a localized field in the wrong language is rejected.

The rule. A text is cut into units: each Han character is one unit (a Chinese word is one to three of them),
each run of letters of one alphabet (Latin, Cyrillic, Greek, ...) is one unit (a word), and each kana or hangul
character is one unit. Digits, hyphens and apostrophes inside a word belong to it ("GPT-4o" is one Latin
unit); spaces and punctuation separate words. A field is in its language's script when that script holds at
least half of the units, and at least one.

Why units and not characters: technical terms stay in their own script inside a localized text ("LLM",
"Transformer" in Russian or Chinese), and counting letters would let two long English terms outweigh a short
Russian title. Counting words keeps one term one vote. Ties pass, so a short title with as many terms as words
("LLM учится у Transformer": 2 Cyrillic, 2 Latin) is accepted, while a text mostly in the wrong language (an
English summary written in Chinese: dozens of Han units, a few Latin ones) is not. Han is counted per
character, which favours Chinese: a Chinese summary with English names easily holds the majority.
"""

from __future__ import annotations

import unicodedata
from collections import Counter

LATIN, CYRILLIC, HAN = "latin", "cyrillic", "han"
_IN_WORD = set("-'’_") | {str(d) for d in range(10)}


def _script(ch: str) -> str | None:
    """The script of one character: 'han', 'latin', 'cyrillic', another name, or None (not a letter)."""
    cp = ord(ch)
    if 0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0xF900 <= cp <= 0xFAFF or 0x20000 <= cp <= 0x2FA1F:
        return HAN
    if not ch.isalpha():
        return None
    name = unicodedata.name(ch, "")
    return name.split(" ", 1)[0].lower() if name else "other"


_PER_CHARACTER = {HAN, "hiragana", "katakana", "hangul", "cjk"}


def script_units(text: str) -> Counter[str]:
    """Units of `text` per script (see the module docstring)."""
    units: Counter[str] = Counter()
    run: str | None = None  # script of the word being read
    for ch in text:
        script = _script(ch)
        if script is None:
            if ch not in _IN_WORD:
                run = None
            continue
        if script in _PER_CHARACTER:
            units[script] += 1
            run = None
        elif script != run:
            units[script] += 1
            run = script
    return units


def written_in(text: str, script: str) -> bool:
    """True when `script` holds at least half of the text's units (and at least one)."""
    units = script_units(text)
    mine = units[script]
    return mine > 0 and 2 * mine >= sum(units.values())


def dominant(text: str) -> str | None:
    units = script_units(text)
    return units.most_common(1)[0][0] if units else None
