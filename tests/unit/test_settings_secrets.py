"""Keys from Prefect Secret blocks: a missing block is no key, an unreadable one is an error naming it."""

from __future__ import annotations

import pytest
from prefect.blocks.system import Secret
from prefect.exceptions import ObjectNotFound

from tasks.settings import SecretBlockError, Settings, _secret_block


def _missing(name: str) -> None:
    try:
        raise ObjectNotFound(http_exc=Exception("404"))
    except ObjectNotFound as exc:  # how Block.load reports a block that does not exist
        raise ValueError(f"Unable to find block document named {name} for block type secret") from exc


def test_a_missing_block_is_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Secret, "load", _missing)
    assert _secret_block("hfdaily-openai-api-key") is None
    settings = Settings(_env_file=None, HFDAILY_USE_SECRET_BLOCKS=True)
    assert settings.api_key("openai") is None and settings.secrets() == []


@pytest.mark.parametrize("failure", [
    RuntimeError("cannot decrypt {'value': 'sk-proj-SECRETVALUE'}"),
    ConnectionError("All connection attempts failed"),
    ValueError("1 validation error for Secret: value sk-proj-SECRETVALUE"),
])
def test_a_block_that_cannot_be_read_is_an_error_naming_the_block(
    monkeypatch: pytest.MonkeyPatch, failure: Exception
) -> None:
    def load(name: str) -> None:
        raise failure

    monkeypatch.setattr(Secret, "load", load)
    with pytest.raises(SecretBlockError) as err:
        _secret_block("hfdaily-anthropic-api-key")
    message = str(err.value)
    assert "hfdaily-anthropic-api-key" in message and type(failure).__name__ in message
    assert "SECRETVALUE" not in message and err.value.__cause__ is None
    settings = Settings(_env_file=None, HFDAILY_USE_SECRET_BLOCKS=True, OPENAI_API_KEY="sk-env")
    assert settings.api_key("openai") == "sk-env"  # a key in the environment wins, no block is read
    with pytest.raises(SecretBlockError):
        settings.api_key("anthropic")
    assert settings.secrets() == ["sk-env"]
