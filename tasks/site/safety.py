"""Output safety: which URLs may become links, and JSON that can sit inside a <script> element."""

from __future__ import annotations

import json
import re
from typing import Any

from markupsafe import Markup

# http(s), a non-empty host, then a path/query/fragment. Whitespace, quotes, angle brackets, backslashes and
# control characters never appear in a URL we would link to; refusing them (instead of percent-encoding)
# keeps a mangled or hostile value from turning into a surprising link. A regex, not urlsplit: it runs for
# every link of every card, and this shape check is all a link needs.
_URL_SHAPE = re.compile(
    r"^https?://[a-z0-9._~%!$&()*+,;=:@\[\]-]*[a-z0-9\]](?::\d+)?(?:[/?#][^\s<>\"'`\\\x00-\x1f\x7f]*)?\Z",
    re.IGNORECASE,
)

# Characters that could end the <script> element or open an HTML comment / CDATA section inside it, and
# the two line separators old JS engines treat as newlines. All are legal as \u escapes in JSON strings (and
# only occur inside strings), so the result is still valid JSON that JSON.parse reads back unchanged.
_SCRIPT_ESCAPES = (
    ("<", "\\u003c"),
    (">", "\\u003e"),
    ("&", "\\u0026"),
    ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029"),
)


def safe_url(url: str | None) -> str | None:
    """`url` if it is an absolute http(s) URL with a host, else None (javascript:, data:, relative …)."""
    if not url:
        return None
    url = url.strip()
    return url if _URL_SHAPE.match(url) else None


def script_json(data: Any) -> Markup:
    """`data` as JSON that is safe to place verbatim inside `<script type="application/json">`."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    for char, escaped in _SCRIPT_ESCAPES:  # str.replace is C-fast; str.translate with a dict is not
        text = text.replace(char, escaped)
    return Markup(text)
