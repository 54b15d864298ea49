"""Text for XML 1.0 documents written as strings (the Atom feeds): escaped, and without the characters XML 1.0
forbids, which no parser accepts and which LLM text or a hand-edited day file may still carry."""

from __future__ import annotations

import re

_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def xml_text(value: str) -> str:
    """Element content: `&`, `<` and `>` escaped, forbidden characters dropped."""
    # str.replace chains: far quicker than str.translate with a table, and this runs for every feed entry.
    return _FORBIDDEN.sub("", value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def xml_attr(value: str) -> str:
    """A double-quoted attribute's value: also `"` and the whitespace a parser would otherwise normalise."""
    return (xml_text(value).replace('"', "&quot;").replace("\n", "&#10;").replace("\r", "&#13;")
            .replace("\t", "&#9;"))
