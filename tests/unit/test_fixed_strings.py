"""The loader folds `{{ T['key'] }}` into the template's text: the same bytes as the expression, escaped once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jinja2 import Environment, FileSystemLoader, StrictUndefined, UndefinedError
from markupsafe import escape

from tasks.settings import TEMPLATES_DIR
from tasks.site.i18n import DEFAULT_LANG
from tasks.site.jinja import FixedStringsLoader, environment

TEMPLATE = ("<b title=\"{{ T['quote'] }}\">{{ T['plain'] }}</b>{{T['looks_like_syntax']}}"
            "{% for k in keys %}[{{ T[k] }}]{% endfor %}")
STRINGS = {"quote": 'say "hi" & <go>', "plain": "Authors", "looks_like_syntax": "{{ x }}"}


def _env(tmp_path: Path, fold: bool) -> Environment:
    (tmp_path / "page.html").write_text(TEMPLATE, encoding="utf-8")
    fixed = {k: escape(v) for k, v in STRINGS.items()}
    loader = FixedStringsLoader(tmp_path, fixed) if fold else FileSystemLoader(tmp_path)
    env = Environment(loader=loader, autoescape=True, undefined=StrictUndefined)
    env.globals["T"] = fixed
    return env


def test_folded_strings_render_the_same_bytes_as_the_lookups(tmp_path: Path) -> None:
    folded = _env(tmp_path, fold=True)
    source = folded.loader.get_source(folded, "page.html")[0]  # type: ignore[union-attr]
    assert "T['quote']" not in source and "T['plain']" not in source  # folded into text
    assert "T['looks_like_syntax']" in source and "T[k]" in source  # template syntax, and a key known only later
    page = folded.get_template("page.html").render(keys=["plain", "quote"])
    assert page == _env(tmp_path, fold=False).get_template("page.html").render(keys=["plain", "quote"])
    assert 'title="say &#34;hi&#34; &amp; &lt;go&gt;"' in page and "{{ x }}" in page


def test_an_unknown_key_still_fails_the_render(tmp_path: Path) -> None:
    (tmp_path / "bad.html").write_text("{{ T['no_such_key'] }}", encoding="utf-8")
    env = Environment(loader=FixedStringsLoader(tmp_path, {}), autoescape=True, undefined=StrictUndefined)
    env.globals["T"] = {}
    with pytest.raises(UndefinedError):
        env.get_template("bad.html").render()


def test_the_site_templates_have_their_fixed_strings_folded() -> None:
    env = environment(TEMPLATES_DIR)
    strings = json.loads((TEMPLATES_DIR / "i18n.json").read_text(encoding="utf-8"))
    source = env.loader.get_source(env, "_cards.html")[0]  # type: ignore[union-attr]
    assert "T['upvotes']" not in source and str(escape(strings["upvotes"][DEFAULT_LANG])) in source
