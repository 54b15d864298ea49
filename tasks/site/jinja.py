"""The Jinja2 environment: compiled once per process, autoescaping every template."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

from tasks.site.i18n import DEFAULT_LANG, LANGS, format_date, load_strings, translator
from tasks.site.views import short_count, tag_label

# Restrictive by default; 'self' covers the sibling static/ files. Chromium treats every file:// URL as
# matching 'self' for a file:// page, so the same policy works on a web host and when opened from disk.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "base-uri 'none'; form-action 'none'")
# The search page only: Pagefind's engine is WebAssembly ('wasm-unsafe-eval' lets the page compile it, and allows
# nothing else: no eval, no inline script) and it fetches its index chunks from the site (connect-src 'self').
# It runs on the page itself (search.js: noWorker), so no worker-src is needed.
SEARCH_CSP = ("default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'; style-src 'self'; "
              "img-src 'self' data:; base-uri 'none'; form-action 'none'")


_FIXED_STRING = re.compile(r"\{\{\s*T\['([A-Za-z0-9_]+)'\]\s*\}\}")
_SYNTAX = ("{{", "{%", "{#", "}}", "%}", "#}")


class FixedStringsLoader(FileSystemLoader):
    """Templates with each `{{ T['key'] }}` replaced by the key's text, escaped, as if typed into the template.

    The strings are fixed for the environment (the default language's; the page script swaps them per reader), so
    the card macro, run for every paper of the year on a full rebuild, need not look up and escape the same 22
    strings for every card. An unknown key, or a text that reads as template syntax, is left as an expression:
    the render then fails or escapes it exactly as before."""

    def __init__(self, searchpath: Path, strings: Mapping[str, Markup]) -> None:
        super().__init__(searchpath)
        self.strings = strings

    def _text(self, match: re.Match[str]) -> str:
        text = self.strings.get(match.group(1))
        return match.group(0) if text is None or any(s in text for s in _SYNTAX) else str(text)

    def get_source(self, environment: Environment, template: str) -> tuple[str, str | None, Callable[[], bool] | None]:
        source, filename, uptodate = super().get_source(environment, template)
        return _FIXED_STRING.sub(self._text, source), filename, uptodate


@lru_cache(maxsize=4)
def environment(templates_dir: Path) -> Environment:
    strings = load_strings(templates_dir)
    # Escaped once here (they are the project's own strings, never LLM text), so autoescape passes them through.
    fixed = {key: escape(texts[DEFAULT_LANG]) for key, texts in strings.items()}
    env = Environment(
        loader=FixedStringsLoader(templates_dir, fixed),
        autoescape=True,  # every template, whatever its extension
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # templates do not change during a render; skip the per-lookup stat()
    )
    env.globals.update(
        t=translator(strings, DEFAULT_LANG),
        # The same strings as a plain dict, for keys known only at render time (`T[l.key]`); a literal key is
        # folded into the template's text by the loader.
        T=fixed,
        lang=DEFAULT_LANG,
        langs=LANGS,
        csp=CSP,
        fmt_date=lambda iso, style="long": format_date(iso, style, DEFAULT_LANG),
        tag_label=tag_label,
        short_count=short_count,
    )
    return env
