"""UI strings in ru / en / zh and the few date formats the pages print before JS localizes them.

The strings live in `templates/i18n.json` (data, edited by translators); the server renders the default
language, and the same table is shipped as `static/i18n.js` so the browser can switch without a reload.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from functools import lru_cache
from pathlib import Path

LANGS: tuple[str, ...] = ("ru", "en", "zh")
# The language of the HTML as written; the browser switches to the reader's choice (URL, storage, navigator).
DEFAULT_LANG = "en"

Strings = dict[str, dict[str, str]]

_MONTHS = {
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"),
    "ru": ("январь", "февраль", "март", "апрель", "май", "июнь", "июль", "август", "сентябрь",
           "октябрь", "ноябрь", "декабрь"),
}
# Russian dates use the genitive month name ("20 января").
_MONTHS_RU_GEN = ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября",
                  "октября", "ноября", "декабря")


@lru_cache(maxsize=4)
def load_strings(templates_dir: Path) -> Strings:
    """key -> {lang -> text}; read once per process."""
    raw = json.loads((templates_dir / "i18n.json").read_text(encoding="utf-8"))
    return {key: {lang: str(texts.get(lang) or texts.get("en") or key) for lang in LANGS}
            for key, texts in raw.items()}


def translator(strings: Strings, lang: str = DEFAULT_LANG) -> Callable[..., str]:
    """`t(key, **values)`: the string for `lang` with `{name}` placeholders filled in."""

    def t(key: str, **values: object) -> str:
        text = strings.get(key, {}).get(lang, key)
        for name, value in values.items():
            text = text.replace("{" + name + "}", str(value))
        return text

    return t


def i18n_script(strings: Strings) -> str:
    """The string table as a classic script (pages cannot fetch JSON from file://)."""
    body = json.dumps(strings, ensure_ascii=False, sort_keys=True, indent=0)
    header = '"use strict";\n// Generated from templates/i18n.json by tasks/site/i18n.py.\n'
    return f"{header}window.HFD_I18N = {body};\n"


def format_date(iso: str, style: str = "long", lang: str = DEFAULT_LANG) -> str:
    """`2025-01-20` as "20 January 2025" (long), "20 Jan 2025" (short) or "January 2025" (month)."""
    if style == "month":
        year, month = int(iso[:4]), int(iso[5:7])
        if lang == "zh":
            return f"{year}年{month}月"
        return f"{_MONTHS.get(lang, _MONTHS['en'])[month - 1]} {year}"
    d = date.fromisoformat(iso[:10])
    if lang == "zh":
        return f"{d.year}年{d.month}月{d.day}日"
    if lang == "ru":
        return f"{d.day} {_MONTHS_RU_GEN[d.month - 1]} {d.year}"
    name = _MONTHS["en"][d.month - 1]
    return f"{d.day} {name[:3] if style == 'short' else name} {d.year}"
