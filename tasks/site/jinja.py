"""The Jinja2 environment: compiled once per process, autoescaping every template."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import escape

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


@lru_cache(maxsize=4)
def environment(templates_dir: Path) -> Environment:
    env = Environment(
        loader=FileSystemLoader(templates_dir),
        autoescape=True,  # every template, whatever its extension
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,  # templates do not change during a render; skip the per-lookup stat()
    )
    strings = load_strings(templates_dir)
    env.globals.update(
        t=translator(strings, DEFAULT_LANG),
        # The same strings as a plain dict: `T['key']` is a subscript, far cheaper than a call per card. Escaped
        # once here (they are the project's own strings, never LLM text), so autoescape passes them through.
        T={key: escape(texts[DEFAULT_LANG]) for key, texts in strings.items()},
        lang=DEFAULT_LANG,
        langs=LANGS,
        csp=CSP,
        fmt_date=lambda iso, style="long": format_date(iso, style, DEFAULT_LANG),
        tag_label=tag_label,
        short_count=short_count,
    )
    return env
