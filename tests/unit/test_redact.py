"""Key-shaped text is redacted from every LLM error text before it is stored or logged."""

from __future__ import annotations

import pytest

from tasks.llm.providers import LLMCallError
from tasks.llm.redact import REDACTED, redact
from tasks.llm.runner import StepFailed

KEY = "sk-proj-T3stK3y-9xQwErTyUiOpZq9W"


@pytest.mark.parametrize("text, gone", [
    ("Incorrect API key provided: sk-proj-****************Zq9W. Check it.", ["sk-proj", "Zq9W", "****"]),
    ("invalid key sk-ant-api03-AbCdEf123456", ["sk-ant", "AbCdEf123456"]),
    ("Authorization: Bearer abc.def.ghi failed", ["abc.def.ghi"]),
    ("token ab12cd34ef56gh78ij90kl12mn34op56qr rejected", ["ab12cd34ef56gh78ij90kl12mn34op56qr"]),
    ("key ab••••yz was revoked", ["ab••••yz"]),
    ("key sk-pr…Zq9W was revoked", ["sk-pr", "Zq9W"]),
])
def test_key_shapes_are_redacted(text: str, gone: list[str]) -> None:
    out = redact(text)
    assert REDACTED in out and not [g for g in gone if g in out], out


def test_configured_keys_and_their_pieces_are_redacted() -> None:
    text = f"bad key {KEY}; the key ending in Zq9W, starting with T3stK3y-9xQ, was refused"
    out = redact(text, [KEY])
    assert KEY not in out and "Zq9W" not in out and "T3stK3y" not in out, out
    assert out.startswith("bad key [redacted]; the key ending in [redacted]")
    # words that merely occur in a key stay: a provider's name is not a piece of its key
    keys = ["sandbox-openai-key", "sandbox-anthropic-key", "LEAKCHECK-mistral-c4e1f9b7"]
    text = "anthropic: HTTP 500: sandbox fault; mistral: LEAKCHECK run; openai: key ok"
    assert redact(text, keys) == text
    assert redact("the key c4e1f9b7 expired", keys) == "the key [redacted] expired"


@pytest.mark.parametrize("text", [
    "HTTP 500: sandbox fault: HTTP 500",
    "request timed out",
    "unexpected answer (text, not a completion: '<!doctype html><html>')",
    "SDK not usable (ModuleNotFoundError: import of mistralai.client halted; None in sys.modules)",
    "Prefect Secret block 'hfdaily-anthropic-api-key' could not be read (RuntimeError)",
    "field 'desc': must be written in English (the Latin script)",
])
def test_ordinary_error_texts_are_left_alone(text: str) -> None:
    assert redact(text) == text


def test_errors_redact_their_messages_where_they_are_built() -> None:
    err = LLMCallError("openai", "HTTP 401: Incorrect API key provided: sk-proj-*****Zq9W.")
    assert str(err) == "openai: HTTP 401: Incorrect API key provided: [redacted]." and "Zq9W" not in err.detail
    failed = StepFailed("openai: token ab12cd34ef56gh78ij90kl12mn34op56qr", status="error")
    assert "ab12cd34" not in str(failed)
