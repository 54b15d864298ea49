"""Robust parsing of LLM answers: find the JSON (or Python-literal) value in free text and validate it.

An answer is untrusted data. Nothing here evaluates code: Python literals are read by walking the syntax tree
of `ast.parse` over a whitelist of literal nodes (the `ast.literal_eval` approach, extended so JSON's
`true`/`false`/`null` work too). Input size, nesting depth and scanning work are bounded.
"""

from __future__ import annotations

import ast
import json
import re
import unicodedata
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from tasks.errors import HfDailyError

MAX_CHARS = 200_000  # longest answer we look at
MAX_DEPTH = 32  # deepest list/object nesting we accept
MAX_ITEM_CHARS = 300  # longest item of a string list
# Work bounds per answer, so that no input costs more than a fraction of a second:
_MAX_TRIES = 2_000  # candidate start positions
_MAX_DECODE_CHARS = 5_000_000  # characters read by failed JSON decodes
_MAX_TOKENS = 300_000  # bracket/quote tokens read while delimiting Python literals
_MAX_ERRORS = 5  # validation errors listed in a ParseError

M = TypeVar("M", bound=BaseModel)


class ParseError(HfDailyError):
    """An LLM answer holds no usable value; the message (short) can be sent back to the LLM."""


class _Rejected(Exception):
    """A value that parsed but is not plain data (a set, a call, too deep, ...)."""


_NOTHING: Any = object()
_SURROGATES = re.compile("[\ud800-\udfff]")
_JUNK = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b\u2060\ufeff]")  # controls but \t \n; zero-width; BOM
_START = re.compile(r"[\[{]")
_FENCE = re.compile(r"```[^\n`]*\n(.*?)(?:```|\Z)", re.S)
_TOKEN = re.compile(r"""[\[\](){}]|"[^"\\\n]*(?:\\.[^"\\\n]*)*"|'[^'\\\n]*(?:\\.[^'\\\n]*)*'|["']""")
_OPEN = {"[": "]", "{": "}", "(": ")"}
_CLOSE = frozenset("]})")
_NAMES = {"None": None, "True": True, "False": False, "null": None, "true": True, "false": False}
_NOT_DATA = {ast.Set: "a set", ast.Call: "a function call", ast.Constant: "a non-JSON constant"}
_PARSE_ERRORS = (SyntaxError, ValueError, MemoryError, RecursionError, OverflowError)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(strict=False, parse_constant=_no_constant)  # strict=False: raw \n in strings


def _scrub(s: str) -> str:
    s = _SURROGATES.sub("\ufffd", s).replace("\r\n", "\n").replace("\r", "\n")
    return _JUNK.sub("", s)


def clean_text(s: str) -> str:
    """Drop control (but \\n, \\t) and zero-width chars, replace lone surrogates by U+FFFD, NFC, strip."""
    return unicodedata.normalize("NFC", _scrub(s)).strip()


def _python_literal(source: str) -> Any:
    with warnings.catch_warnings(action="ignore"):  # no SyntaxWarning noise for prose like "1st"
        tree = ast.parse(source, mode="eval")
    return _literal(tree.body)


def _literal(node: ast.expr) -> Any:
    """The value of a literal-data expression; anything else (calls, names, sets, operators) is rejected."""
    if isinstance(node, ast.Constant) and (node.value is None or type(node.value) in (str, int, float, bool)):
        return node.value
    if isinstance(node, ast.List | ast.Tuple):
        return [_literal(e) for e in node.elts]
    if isinstance(node, ast.Dict):
        keys = [_literal(k) if k is not None else None for k in node.keys]
        if not all(isinstance(k, str) for k in keys):
            raise _Rejected("object keys must be strings")
        return dict(zip(keys, map(_literal, node.values), strict=True))
    if isinstance(node, ast.Name) and node.id in _NAMES:
        return _NAMES[node.id]
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub | ast.UAdd)
        and isinstance(node.operand, ast.Constant)
        and type(node.operand.value) in (int, float)
    ):
        return -node.operand.value if isinstance(node.op, ast.USub) else node.operand.value
    if isinstance(node, ast.Set):
        for elt in node.elts:  # "{x}" in prose is no reason to complain about sets
            _literal(elt)
    what = _NOT_DATA.get(type(node))
    if what is None:
        raise ValueError("not a literal")  # names, operators, ...: prose like "[e.g. this]", no reason given
    raise _Rejected(f"{what} is not JSON data")


def _clean(value: Any, depth: int = 0) -> Any:
    """Clean every string (keys too) and enforce the nesting limit."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list | dict) and depth >= MAX_DEPTH:
        raise _Rejected(f"the value is nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, list):
        return [_clean(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {clean_text(k): _clean(v, depth + 1) for k, v in value.items()}
    return value


class _Search:
    """One search for a value in an answer; `want` prefers values of the caller's shape."""

    def __init__(self, text: str, want: Callable[[Any], bool] | None) -> None:
        self.text, self.want = text, want
        self.tries = self.decoded = self.tokens = 0
        self.first: Any = _NOTHING  # first valid value, returned when no value is of the wanted shape
        self.reason: str | None = None  # why the last value that parsed was rejected

    def run(self) -> Any:
        whole = self._whole()
        if whole is not _NOTHING and (self.want is None or self.want(whole)):
            return whole
        for fence in _FENCE.finditer(self.text):  # fenced blocks first, in order ...
            if (value := self._scan(fence.start(1), fence.end(1))) is not _NOTHING:
                return value
        if (value := self._scan(0, len(self.text))) is not _NOTHING:  # ... then the whole answer
            return value
        for value in (self.first, whole):
            if value is not _NOTHING:
                return value
        msg = "no JSON value found in the answer"
        if self._exhausted():
            self.reason = "gave up: too many brackets to check"
        raise ParseError(f"{msg} ({self.reason})" if self.reason else msg)

    def _whole(self) -> Any:
        """The answer parsed as a single value (this is how bare strings, numbers and literals are found)."""
        s = self.text.strip()
        if s[0] in "[{":
            return _NOTHING  # the scan will find it
        try:
            value, end = _DECODER.raw_decode(s)
            if end != len(s):
                raise ValueError("trailing text")
        except (ValueError, RecursionError):
            try:
                value = _python_literal(s)
            except (_Rejected, *_PARSE_ERRORS):
                return _NOTHING
        try:
            return _clean(value)
        except _Rejected:
            return _NOTHING

    def _scan(self, start: int, stop: int) -> Any:
        """The first wanted value that begins with `[` or `{` in text[start:stop] (it may run past `stop`)."""
        pos = start
        while not self._exhausted() and (m := _START.search(self.text, pos, stop)):
            self.tries += 1
            ok, value, pos = self._parse_at(m.start())
            if ok:
                if self.want is None or self.want(value):
                    return value
                if self.first is _NOTHING:
                    self.first = value
        return _NOTHING

    def _exhausted(self) -> bool:
        return self.tries >= _MAX_TRIES or self.decoded >= _MAX_DECODE_CHARS or self.tokens >= _MAX_TOKENS

    def _parse_at(self, i: int) -> tuple[bool, Any, int]:
        """(parsed?, value, where to scan next) for a value at i; a rejected value is skipped whole."""
        try:
            value, end = _DECODER.raw_decode(self.text, i)
        except (ValueError, RecursionError) as exc:
            self.decoded += getattr(exc, "pos", i) - i
            span = self._span(i)
            if span is None:
                return False, None, i + 1
            end, depth = span
            if depth > MAX_DEPTH:
                self.reason = f"the value is nested more than {MAX_DEPTH} levels deep"
                return False, None, end
            try:
                value = _python_literal(self.text[i:end])
            except _Rejected as exc:
                self.reason = str(exc)
                return False, None, end
            except _PARSE_ERRORS:
                return False, None, i + 1
        try:
            return True, _clean(value), end
        except _Rejected as exc:
            self.reason = str(exc)
            return False, None, end

    def _span(self, start: int) -> tuple[int, int] | None:
        """(end, depth) of the balanced bracket span opening at `start` (strings skipped), else None."""
        stack: list[str] = []
        depth = 0
        for m in _TOKEN.finditer(self.text, start):
            self.tokens += 1
            if self.tokens > _MAX_TOKENS:
                return None
            tok = m.group()
            if tok in _OPEN:
                stack.append(_OPEN[tok])
                depth = max(depth, len(stack))
            elif tok in _CLOSE:
                if not stack or stack.pop() != tok:
                    return None
                if not stack:
                    return m.end(), depth
            elif len(tok) == 1:  # an unterminated quote
                return None
        return None


def _extract(text: str, want: Callable[[Any], bool] | None) -> Any:
    if not isinstance(text, str):
        raise ParseError(f"answer is {type(text).__name__}, not text")
    if len(text) > MAX_CHARS:
        raise ParseError(f"answer is too long ({len(text)} characters, max {MAX_CHARS})")
    text = _scrub(text)
    if not text.strip():
        raise ParseError("answer is empty")
    return _Search(text, want).run()


def extract_json(text: str) -> Any:
    """The first JSON value (or Python literal of plain data) in an LLM answer; strings come out cleaned.

    Looks at the whole answer, then inside ``` fences (first block that parses wins), then anywhere in the
    prose. Tuples become lists; sets, bytes, calls and other code are rejected. Trailing commas are accepted
    (the Python-literal fallback reads them, also with true/false/null). Raises ParseError.
    """
    return _extract(text, None)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return {str: "a string", int: "a number", float: "a number", list: "a list", dict: "an object"}.get(
        type(value), type(value).__name__
    )


def _as_list(value: Any) -> list[Any] | None:
    """The list itself, or the only list value of an object like {"affiliations": [...]}."""
    if isinstance(value, dict):
        lists = [v for v in value.values() if isinstance(v, list)]
        value = lists[0] if len(lists) == 1 else value
    return value if isinstance(value, list) else None


def _is_string_list(value: Any) -> bool:
    items = _as_list(value)
    return items is not None and all(isinstance(item, str) for item in items)


def parse_string_list(text: str) -> list[str]:
    """A list of strings: stripped, empty items dropped, deduplicated case-insensitively (first one kept)."""
    value = _extract(text, _is_string_list)
    items = _as_list(value)
    if items is None:
        raise ParseError(f"expected a JSON list of strings, got {_kind(value)}")
    result: list[str] = []
    seen: set[str] = set()
    for n, item in enumerate(items):
        if not isinstance(item, str):
            raise ParseError(f"item [{n}] is {_kind(item)}, not a string")
        if len(item) > MAX_ITEM_CHARS:
            raise ParseError(f"item [{n}] is too long ({len(item)} characters, max {MAX_ITEM_CHARS})")
        if item and (key := item.casefold()) not in seen:
            seen.add(key)
            result.append(item)
    return result


def _as_object(value: Any) -> dict[str, Any] | None:
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value if isinstance(value, dict) else None


def _validation_message(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False, include_input=False)
    parts = []
    for err in errors[:_MAX_ERRORS]:
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
        msg = re.sub(r"^(Value error|Assertion failed), ", "", err["msg"])[:200]
        parts.append(f"field '{loc}': {msg}" if loc else msg)
    if len(errors) > _MAX_ERRORS:
        parts.append(f"and {len(errors) - _MAX_ERRORS} more errors")
    return "; ".join(parts)


def parse_model(text: str, model: type[M]) -> M:
    """The answer's JSON object (or a list holding exactly one object) validated as `model`."""
    value = _extract(text, lambda v: _as_object(v) is not None)
    obj = _as_object(value)
    if obj is None:
        raise ParseError(f"expected a JSON object, got {_kind(value)}")
    try:
        return model.model_validate(obj)
    except ValidationError as exc:
        raise ParseError(_validation_message(exc)) from None
