"""Key-shaped text out of error messages, which are stored (day files, artifacts) and logged.

A provider's 401 can quote the key it got, masked or not ("Incorrect API key provided: sk-proj-****abcd"), and
any error text may carry a token. What is replaced by `[redacted]`:

- every configured key (registered when a client is built) wherever it appears;
- pieces of a configured key: a token of the text (a run of letters, digits, `_` and `-`) that is part of a key
  and at least 8 characters long, or that is the key's first or last 4+ characters. A token made of ordinary
  words (each all lower case, all upper case or Capitalized, joined by `-` or `_`) is taken for words, not for
  a piece: keys may contain words ("sandbox-anthropic-key"), and "anthropic" in a message must stay. Pieces of
  real, random keys have digits or mixed case; a masked quote is caught by its shape below;
- key shapes: `sk-…` / `sk-ant-…` / `sk-proj-…`, what follows `Bearer`, masked runs (`****abcd`, `ab••••cd`) and
  long token-like strings (32+ letters, digits, `_`, `-` with both letters and digits).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable

REDACTED = "[redacted]"
_MIN_KEY = 8  # shorter "keys" (test placeholders) would redact ordinary words

_known: set[str] = set()
_lock = threading.Lock()

_WORD = re.compile(r"[A-Za-z0-9_\-]{4,}")
_SHAPES = (
    re.compile(r"\b[sr]k-[A-Za-z0-9_\-*•…]{4,}"),  # sk-…, sk-ant-…, sk-proj-…, rk-…, masked or not
    re.compile(r"(?i)(?<=\bbearer )\S+"),
    re.compile(r"[A-Za-z0-9_\-]*[*•]{3,}[A-Za-z0-9_\-*•]*|[A-Za-z0-9_\-]{2,}…[A-Za-z0-9_\-]{2,}"),  # masked keys
    re.compile(r"\b(?=[A-Za-z0-9_\-]*\d)(?=[A-Za-z0-9_\-]*[A-Za-z])[A-Za-z0-9_\-]{32,}\b"),
)
_WORDS = re.compile(r"(?:[a-z]+|[A-Z]+|[A-Z][a-z]+)(?:[-_](?:[a-z]+|[A-Z]+|[A-Z][a-z]+))*")


def register_secret(value: str | None) -> None:
    """Remember a key in use, so that it and its pieces are redacted from every later error text."""
    if value and len(value) >= _MIN_KEY:
        with _lock:
            _known.add(value)


def _is_piece(token: str, keys: Iterable[str]) -> bool:
    if _WORDS.fullmatch(token):
        return False
    return any(
        token in key and (len(token) >= 8 or key.startswith(token) or key.endswith(token)) for key in keys
    )


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with keys, their pieces and key-shaped strings replaced by `[redacted]`."""
    with _lock:
        keys = sorted({*_known, *(s for s in secrets if s and len(s) >= _MIN_KEY)}, key=len, reverse=True)
    for key in keys:
        text = text.replace(key, REDACTED)
    for shape in _SHAPES:
        text = shape.sub(REDACTED, text)
    if keys:
        text = _WORD.sub(lambda m: REDACTED if _is_piece(m.group(), keys) else m.group(), text)
    return text
