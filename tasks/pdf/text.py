"""Pure text helpers of the PDF stage: normalise what pdfminer gives, cut the front matter and the deep slice.

No PDF library here: these run on strings, so they test fast and the parent can use them without a worker.
A change here changes extracted texts: bump `EXTRACTOR_VERSION` (tasks/pdf/extract.py).
"""

from __future__ import annotations

import re
import unicodedata

# Spacing accents as pdfminer reports TeX's separately drawn accent glyphs, and their combining forms.
ACCENTS = {
    "\u00b4": "\u0301",  # ´ acute
    "`": "\u0300",  # grave
    "\u00a8": "\u0308",  # ¨ diaeresis
    "\u02c6": "\u0302",  # ˆ circumflex
    "^": "\u0302",
    "\u02dc": "\u0303",  # ˜ tilde
    "\u00b8": "\u0327",  # ¸ cedilla
    "\u02c7": "\u030c",  # ˇ caron
    "\u02da": "\u030a",  # ˚ ring
    "\u02d8": "\u0306",  # ˘ breve
    "\u02dd": "\u030b",  # ˝ double acute
    "\u02db": "\u0328",  # ˛ ogonek
    "\u02d9": "\u0307",  # ˙ dot above
    "\u00af": "\u0304",  # ¯ macron
}
_DOTLESS = {"\u0131": "i", "\u0237": "j"}  # TeX puts accents on ı and ȷ: 'í' is ı + ´
# Text-level fallback for accents the geometric pass missed: an accent after its letter, as pdfplumber orders
# them, except before ı/ȷ, which take the accent that precedes them ('na¨ıve'). Not ASCII ` and ^: as text
# they are code or math ('e^x'), and real accents drawn with those glyphs are handled by position.
_LOOSE_ACCENT = re.compile(
    r"([\u00b4\u00a8\u02c6\u02dc])([\u0131\u0237])"
    r"|([^\W\d_])([\u00b4\u00a8\u02c6\u02dc\u00b8\u02c7\u02da\u02d8\u02dd\u02db\u02d9])(?![\u0131\u0237])"
)
_LIGATURES = str.maketrans(
    {
        "\ufb00": "ff",
        "\ufb01": "fi",
        "\ufb02": "fl",
        "\ufb03": "ffi",
        "\ufb04": "ffl",
        "\ufb05": "st",
        "\ufb06": "st",
    }
)
_CID = re.compile(r"\(cid:\d+\)")  # glyphs without a Unicode mapping
_INVISIBLE = re.compile(r"[\x00-\x08\x0e-\x1b\x7f\u00ad\u200b\u2060\ufeff]")
_SPACES = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r"\n{3,}")
# Where the front matter ends. Line 0 never counts: it is the title, which may start with "Abstract".
_HEADING = re.compile(
    r"^(?:(?:Abstract|ABSTRACT|A B S T R A C T|a b s t r a c t)(?![a-z])"
    r"|(?:1|I)\.?\s*(?:Introduction|INTRODUCTION)(?![a-z])"
    r"|(?:Introduction|INTRODUCTION)\s*$)",
    re.MULTILINE,
)
_GAP = "\n[…]\n"


def normalize_text(text: str) -> str:
    """NFC, loose accents folded into their letter; ligatures expanded, (cid:N) dropped, spaces collapsed."""
    text = _CID.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = _INVISIBLE.sub("", text)
    text = _LOOSE_ACCENT.sub(_fold_accent, text)
    text = unicodedata.normalize("NFC", text.translate(_LIGATURES))
    text = "\n".join(line.strip() for line in _SPACES.sub(" ", text).split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip()


def compose(base: str, accent: str) -> str | None:
    """`base` with spacing `accent` folded in, if Unicode has that letter as one code point (so not 'x^')."""
    composed = unicodedata.normalize("NFC", _DOTLESS.get(base, base) + ACCENTS[accent])
    return composed if len(composed) == 1 else None


def _fold_accent(m: re.Match[str]) -> str:
    composed = compose(m[2], m[1]) if m[1] else compose(m[3], m[4])
    return composed or m[0]


def front_matter(page1: str, limit: int) -> str:
    """Page 1's text before the Abstract / Introduction heading, or its first `limit` chars without one."""
    for m in _HEADING.finditer(page1):
        before = page1[: m.start()].strip()
        if before:
            return clip(before, limit)
    return clip(page1, limit)


def deep_slice(texts: list[str], limit: int) -> str:
    """At most `limit` chars of the pages' texts; a dense page 1 keeps its bottom, where footnotes name places."""
    first = texts[0]
    if len(first) <= limit:
        return clip("\n\n".join(texts), limit)
    # A dense page 1: trade its middle for its bottom, where footnotes carry affiliations.
    tail = first[-(limit // 5) :]
    tail = tail[tail.find("\n") + 1 :] if "\n" in tail[:-1] else tail
    return clip(first, limit - len(tail) - len(_GAP)) + _GAP + tail


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` chars, at a line or word end when one is near."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = max(cut.rfind("\n"), cut.rfind(" "))
    return (cut[:space] if space > limit * 0.8 else cut).rstrip()
