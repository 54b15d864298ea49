"""How the Telegram post is switched on and off: settings, the Secret block, `--no-post`, and backfills."""

from __future__ import annotations

from types import SimpleNamespace
from uuid import uuid4

import pytest
from prefect.blocks.system import Secret
from prefect.states import Completed

import flows.backfill as backfill
from flows import cli
from tasks.errors import InvalidSettingError
from tasks.settings import Settings, load_settings

TOKEN = "7301122334:AAF-settings-secret_51d0"


def test_defaults_and_a_token_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(_env_file=None)
    assert (settings.telegram_api_url, settings.telegram_lang, settings.telegram_top) == \
        ("https://api.telegram.org", "ru", 10)
    assert settings.telegram_token() is None and settings.telegram_chat_id == ""
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("HFDAILY_TELEGRAM_CHAT_ID", "-1001234567890")
    settings = Settings(_env_file=None)
    assert settings.telegram_token() == TOKEN and TOKEN in settings.secrets()
    assert TOKEN not in repr(settings)


def test_the_token_from_its_secret_block_when_blocks_are_on(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def load(name: str) -> SimpleNamespace:
        asked.append(name)
        return SimpleNamespace(get=lambda: TOKEN)

    monkeypatch.setattr(Secret, "load", load)
    assert Settings(_env_file=None).telegram_token() is None and asked == []  # blocks off: not asked
    assert Settings(_env_file=None, HFDAILY_USE_SECRET_BLOCKS=True).telegram_token() == TOKEN
    assert asked == ["hfdaily-telegram-bot-token"]
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "1:from-the-environment")
    assert Settings(_env_file=None, HFDAILY_USE_SECRET_BLOCKS=True).telegram_token() == "1:from-the-environment"


@pytest.mark.parametrize(("variable", "value", "line"), [
    ("HFDAILY_TELEGRAM_LANG", "de", "HFDAILY_TELEGRAM_LANG='de': input should be 'ru', 'en' or 'zh'"),
    ("HFDAILY_TELEGRAM_TOP", "0", "HFDAILY_TELEGRAM_TOP='0': input should be greater than or equal to 1"),
])
def test_a_bad_setting_is_one_line(monkeypatch: pytest.MonkeyPatch, variable: str, value: str, line: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(InvalidSettingError) as err:
        load_settings(_env_file=None)
    assert str(err.value) == line


def test_run_no_post_turns_the_post_off(monkeypatch: pytest.MonkeyPatch) -> None:
    import flows.launch

    seen: list[dict] = []

    def run_here(flow, name, **kw):
        seen.append(kw)
        return {"date": "2025-01-23", "line": "ok", "page": None}

    monkeypatch.setattr(flows.launch, "run_here", run_here)
    cli._run(cli._parse(["run", "--date", "2025-01-23", "--no-post"]))
    cli._run(cli._parse(["run", "--date", "2025-01-23"]))
    assert [kw["post"] for kw in seen] == [False, True]


def test_a_backfill_never_posts_old_days(monkeypatch: pytest.MonkeyPatch) -> None:
    state = Completed()
    state.state_details.flow_run_id = uuid4()
    calls: list[dict] = []
    monkeypatch.setattr(backfill, "daily_digest", lambda **kw: (calls.append(kw), state)[1])
    backfill._in_process("2025-01-22", None)
    assert calls[0]["post"] is False

    class Started(Exception):
        pass

    def run_deployment(name, parameters, **kw):
        calls.append(parameters)
        raise Started

    monkeypatch.setattr(backfill, "run_deployment", run_deployment)
    with pytest.raises(Started):
        backfill._via_deployment("2025-01-22", 1.5)
    assert calls[1] == {"date": "2025-01-22", "post": False, "max_cost": 1.5}
