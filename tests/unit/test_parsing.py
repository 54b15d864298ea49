"""Parsing of untrusted LLM answers: real-world shapes, hostile input and property tests."""

from __future__ import annotations

import contextlib
import json
import time
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, field_validator

from tasks.errors import HfDailyError
from tasks.llm.parsing import (
    MAX_CHARS,
    ParseError,
    clean_text,
    extract_json,
    parse_model,
    parse_string_list,
)
from tasks.models import Localized, ZhReading

# --- extract_json ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("[]", []),
        ('{"a": 1}', {"a": 1}),
        ('  \n["x", 1, 2.5, true, null]\n', ["x", 1, 2.5, True, None]),
        ('```json\n["MIT", "ETH Zurich"]\n```', ["MIT", "ETH Zurich"]),
        ("```python\n['MIT', 'Stanford University']\n```", ["MIT", "Stanford University"]),
        ('```\n{"k": "v"}\n```', {"k": "v"}),
        ('``` JSON\n{"k": "v"}```', {"k": "v"}),
        ('Sure! Here is the JSON:\n\n```json\n{"k": [1, 2]}\n```\n\nLet me know.', {"k": [1, 2]}),
        ('Here is the list: ["Inria", "CNRS"] Hope this helps', ["Inria", "CNRS"]),
        (
            'The result {as requested}: {"title": "a {b} c", "desc": "}{"} -- done',
            {"title": "a {b} c", "desc": "}{"},
        ),
        ('```json\n{"first": 1}\n```\nor maybe\n```json\n{"second": 2}\n```', {"first": 1}),
        ('```bash\nls -la\n```\n```json\n{"second": 2}\n```', {"second": 2}),
        ('```json\n{"broken": \n```\n```json\n{"ok": true}\n```', {"ok": True}),
        ('```json\n["unclosed fence"]', ["unclosed fence"]),
        ("[None, 'a', True, -1, +2.5, ('t', 1)]", [None, "a", True, -1, 2.5, ["t", 1]]),
        ("{'nested': {'k': [1, {'x': None}]}}", {"nested": {"k": [1, {"x": None}]}}),
        ('["a", "b",]', ["a", "b"]),  # trailing commas are accepted (via the Python-literal reader)
        ('{"a": true, "b": null,}', {"a": True, "b": None}),
        ('"just a string"', "just a string"),
        ("42", 42),
        (
            '["Московский университет", "清华大学", "🤗 Hugging Face"]',
            ["Московский университет", "清华大学", "🤗 Hugging Face"],
        ),
        ('["\\u041c\\u0418\\u0424\\u0418", "\\ud83d\\ude00"]', ["МИФИ", "😀"]),
        ('\ufeff\u200b["MIT"\u2060]', ["MIT"]),
        ('{"desc": "line one\nline two\ttab"}', {"desc": "line one\nline two\ttab"}),  # raw newline in string
        ('["  padded  ", "bell\\u0007"]', ["padded", "bell"]),
        ("See [1] and [Smith et al.]: ['x']", [1]),  # the first parseable value wins
    ],
)
def test_extract_json(answer: str, expected: object) -> None:
    assert extract_json(answer) == expected


@pytest.mark.parametrize(
    "answer",
    [
        "['King\\'s College London', \"Institut Polytechnique\"]",
        "```python\n['King\\'s College London', \"Institut Polytechnique\"]\n```",
        "[\"King's College London\", 'Institut Polytechnique']",
        'It\'s the King\'s list: ["King\'s College London", "Institut Polytechnique"]',
    ],
)
def test_apostrophes_survive(answer: str) -> None:
    assert extract_json(answer) == ["King's College London", "Institut Polytechnique"]


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ("", "answer is empty"),
        (" \n\t\ufeff\u200b ", "answer is empty"),
        ("Sorry, I cannot find any affiliations.", "no JSON value found"),
        ("[this is not json] nor {this}", "no JSON value found"),
        ('["unterminated', "no JSON value found"),
        ("{'a', 'b'}", "set is not JSON data"),
        ("[b'bytes']", "not JSON data"),
        ("[1j]", "not JSON data"),
        ("{1: 'int key'}", "keys must be strings"),
        ("[f'{x}']", "no JSON value found"),
        ("[NaN, Infinity]", "no JSON value found"),
        ("[" + "1" * 5000 + "]", "no JSON value found"),
        ("x" * (MAX_CHARS + 1), "too long"),
    ],
)
def test_extract_json_errors(answer: str, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        extract_json(answer)


@pytest.mark.parametrize(
    "answer",
    [
        "__import__('os').system('touch /tmp/pwned')",
        "[__import__('os').system('touch /tmp/pwned')]",
        "```python\n{'a': __import__('os').system('touch /tmp/pwned')}\n```",
        "[(lambda: __import__('os'))()]",
        "[open('/etc/passwd').read()]",
        "[x for x in ().__class__.__base__.__subclasses__()]",
    ],
)
def test_code_is_never_executed(answer: str, monkeypatch: pytest.MonkeyPatch) -> None:
    called: list[object] = []
    monkeypatch.setattr("os.system", lambda *a: called.append(a))
    monkeypatch.setattr("builtins.open", lambda *a, **k: called.append(a))
    with pytest.raises(ParseError):
        extract_json(answer)
    assert not called


def test_parse_error_is_an_hfdaily_error() -> None:
    assert issubclass(ParseError, HfDailyError)
    assert not ParseError("x").retriable


def test_large_valid_answer() -> None:
    items = [f"Institution number {i}" for i in range(5000)]
    assert extract_json("Here you go:\n" + json.dumps(items)) == items


@pytest.mark.parametrize(
    "answer",
    [
        "[" * 150_000,
        "[" * 50_000 + "]" * 50_000,
        "{" * 100_000,
        '{"a":' * 30_000 + "1" + "}" * 30_000,
        "[x" * 90_000,
        "['a', " * 30_000,
        "[" * 30 + "'a' " * 40_000 + "?" + "]" * 30,
        "[1, " * 45_000 + "]",
        '"' * 100_000,
        "```\n" * 40_000,
    ],
)
def test_pathological_answers_are_fast(answer: str) -> None:
    start = time.perf_counter()
    with pytest.raises(ParseError):
        extract_json(answer)
    assert time.perf_counter() - start < 2


def test_many_brackets_before_the_json() -> None:
    assert extract_json("[a](https://x.org) {b} [c] " * 500 + '["found"]') == ["found"]
    with pytest.raises(ParseError, match="gave up"):
        extract_json("[a](b) " * 25_000 + '["too far"]')


def test_prose_brackets_give_the_plain_message() -> None:
    with pytest.raises(ParseError, match=r"^no JSON value found in the answer$"):
        extract_json("See {a} and [citation] and [e.g. this].")


def test_depth_limit_rejects_the_whole_value_not_an_inner_one() -> None:
    with pytest.raises(ParseError, match="nested more than"):
        extract_json("[" * 40 + "1" + "]" * 40)
    assert extract_json("[" * 30 + "1" + "]" * 30) is not None


# --- clean_text --------------------------------------------------------------------------------------------


def test_clean_text() -> None:
    assert clean_text("  a\x00b\x1bc\x7f\u200bd\ufeff  ") == "abcd"
    assert clean_text("line\r\nnext\tcol\n") == "line\nnext\tcol"
    assert clean_text("bad \udcff byte") == "bad \ufffd byte"
    assert clean_text("e\u0301") == "\u00e9"  # NFC
    assert clean_text("👩\u200d💻") == "👩\u200d💻"  # ZWJ sequences are kept


# --- parse_string_list -------------------------------------------------------------------------------------


def test_parse_string_list_normalises() -> None:
    answer = '```json\n["  MIT ", "", "mit", "Stanford", "MIT", "  ", "ÉCOLE", "école"]\n```'
    assert parse_string_list(answer) == ["MIT", "Stanford", "ÉCOLE"]


@pytest.mark.parametrize(
    "answer",
    [
        '{"affiliations": ["MIT", "CMU"]}',
        '{"affiliations": ["MIT", "CMU"], "note": "from the first page"}',
        'Affiliations [from page 1]:\n```python\n["MIT", "CMU"]\n```',
        'Refs [1], [2]. Answer: ["MIT", "CMU"]',  # a list of numbers is skipped for a list of strings
    ],
)
def test_parse_string_list_shapes(answer: str) -> None:
    assert parse_string_list(answer) == ["MIT", "CMU"]


def test_parse_string_list_empty() -> None:
    assert parse_string_list("No affiliations found: []") == []


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ('["MIT", 3]', r"item \[1\] is a number, not a string"),
        ("['MIT', None]", r"item \[1\] is null"),
        ('[["nested"]]', r"item \[0\] is a list"),
        ('{"a": ["x"], "b": ["y"]}', "expected a JSON list of strings, got an object"),
        ('"MIT"', "expected a JSON list of strings, got a string"),
        (json.dumps(["x" * 301]), r"item \[0\] is too long \(301 characters"),
    ],
)
def test_parse_string_list_errors(answer: str, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_string_list(answer)


# --- parse_model -------------------------------------------------------------------------------------------


class Card(BaseModel):
    title: str
    desc: str
    emoji: str

    @field_validator("emoji")
    @classmethod
    def _one_emoji(cls, v: str) -> str:
        if len(v) != 1:
            raise ValueError("must be exactly one emoji")
        return v


def test_parse_model_from_prose() -> None:
    answer = 'Here:\n```json\n{"title": " Нейросети ", "desc": "Описание {со скобками}", "emoji": "🧠"}\n```'
    assert parse_model(answer, Card) == Card(title="Нейросети", desc="Описание {со скобками}", emoji="🧠")


def test_parse_model_prefers_an_object_and_unwraps_a_single_item_list() -> None:
    assert parse_model('Step [1]: [{"title": "t", "desc": "d"}]', Localized) == Localized(title="t", desc="d")


def test_parse_model_nested() -> None:
    answer = (
        "{'arxiv_id': '2401.00001', 'text': '我们提出', 'pinyin': 'wǒmen tíchū', "
        "'vocab': [{'word': '提出', 'pinyin': 'tíchū', 'trans': 'propose'}], 'translation': 'We propose'}"
    )
    reading = parse_model(answer, ZhReading)
    assert reading.vocab[0].word == "提出"


def test_parse_model_validation_message_is_compact() -> None:
    with pytest.raises(ParseError) as info:
        parse_model('{"title": "t", "emoji": "🧠🧠"}', Card)
    assert str(info.value) == "field 'desc': Field required; field 'emoji': must be exactly one emoji"


def test_parse_model_validation_message_nested_and_capped() -> None:
    answer = json.dumps({"arxiv_id": 1, "vocab": [{"word": "a"}, {}]})
    with pytest.raises(ParseError) as info:
        parse_model(answer, ZhReading)
    message = str(info.value)
    assert "field 'arxiv_id': Input should be a valid string" in message
    assert "field 'vocab[0].pinyin': Field required" in message
    assert message.endswith("more errors")
    assert len(message) < 600


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ('[{"title": "a", "desc": "b"}, {"title": "c", "desc": "d"}]', "expected a JSON object, got a list"),
        ('"text"', "expected a JSON object, got a string"),
        ("nothing here", "no JSON value found"),
    ],
)
def test_parse_model_errors(answer: str, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_model(answer, Localized)


# --- properties --------------------------------------------------------------------------------------------

_item = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Cf")), min_size=1, max_size=40
)
_prose = st.text(alphabet="abcdefghij XYZ.,:;!?-'\"\n0123456789", max_size=40)
_wrap = st.sampled_from(["{}", "```json\n{}\n```", "```python\n{}\n```", "```\n{}\n```", "```json {}```"])
_PROPERTY = settings(max_examples=200, deadline=None)


def _expected(items: list[str]) -> list[str]:
    result: list[str] = []
    for item in items:
        item = unicodedata.normalize("NFC", item).strip()
        if item and item.casefold() not in {r.casefold() for r in result}:
            result.append(item)
    return result


@_PROPERTY
@given(items=st.lists(_item, max_size=8), before=_prose, after=_prose, wrap=_wrap, ascii_only=st.booleans())
def test_json_list_round_trips(
    items: list[str], before: str, after: str, wrap: str, ascii_only: bool
) -> None:
    payload = json.dumps(items, ensure_ascii=ascii_only)
    answer = f"{before}\n{wrap.replace('{}', payload)}\n{after}"
    assert parse_string_list(answer) == _expected(items)


@_PROPERTY
@given(items=st.lists(_item, max_size=8), before=_prose, after=_prose, wrap=_wrap)
def test_python_literal_list_round_trips(items: list[str], before: str, after: str, wrap: str) -> None:
    answer = f"{before}\n{wrap.replace('{}', repr(items))}\n{after}"
    assert parse_string_list(answer) == _expected(items)


_jsonish = st.text(alphabet="[]{}()'\",:.-+0123456789eEabcdfjlnrstuxTFN_\\ \n\t`#", max_size=80)


@_PROPERTY
@given(text=st.one_of(st.text(max_size=200), _jsonish))
def test_extract_json_only_raises_parse_error(text: str) -> None:
    with contextlib.suppress(ParseError):
        extract_json(text)
