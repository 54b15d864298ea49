"""The README, followed literally: its command table, its deploy commands, its shells, its numbers and its artifact
types are checked against the code and against Prefect, so a change on either side shows here."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from flows.cli import _parser
from tests.conftest import FIXTURES

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start:end if end > 0 else None]


def _code_lines() -> list[str]:
    """Every line of every fenced code block, in order."""
    return [line for block in re.findall(r"```[a-z]*\n(.*?)```", README, re.S) for line in block.splitlines()]


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_the_command_table_lists_every_option_of_every_command() -> None:
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `hfdaily (\w+)[^|]*\|.*$", _section("Commands"), re.M)}
    assert set(rows) == set(_subcommands())
    missing = []
    for name, parser in _subcommands().items():
        for action in parser._actions:
            longest = max(action.option_strings, key=len) if action.option_strings else None
            if longest in (None, "--help", "--verbose"):  # --verbose: said once for every command
                continue
            if longest not in rows[name]:
                missing.append(f"hfdaily {name} {longest}")
    assert missing == []
    assert "`-v`/`--verbose`" in _section("Commands")


def test_every_deploy_command_writes_the_checkout_path_in() -> None:
    """`prefect --no-prompt deploy --all` without HFDAILY_PROJECT_DIR keeps the placeholder: runs of a worker
    without that variable then crash with FileNotFoundError."""
    commands = [c for c in re.findall(r"`([^`\n]*deploy --all[^`\n]*)`", README) + _code_lines() if "deploy --all" in c]
    assert len(commands) >= 2
    assert [c for c in commands if "HFDAILY_PROJECT_DIR=$PWD prefect --no-prompt deploy --all" not in c] == []


def test_bare_commands_come_after_the_venv_is_activated() -> None:
    """In a fresh shell `prefect` and `hfdaily` are not on the PATH: the README activates the venv first."""
    lines = _code_lines()
    bare = re.compile(r"^(?:\w+=\S* )*(?:prefect|hfdaily) ")
    first_bare = next(i for i, line in enumerate(lines) if bare.match(line))
    activate = next(i for i, line in enumerate(lines) if line.startswith(". .venv/bin/activate"))
    assert activate < first_bare
    assert "venv active" in _section("Operating it")


def test_the_api_retry_waits_are_prefects() -> None:
    from prefect.settings import get_current_settings

    retries = get_current_settings().client.max_retries
    match = re.search(r"retries up\s+to (\d+) times \(`PREFECT_CLIENT_MAX_RETRIES`\), after about ([\d, and]+) s",
                      README)
    assert match, "the README says how Prefect's client retries a 503"
    said = [int(n) for n in re.findall(r"\d+", match.group(2))]
    assert int(match.group(1)) == retries and said == [2 ** n for n in range(1, retries + 1)]


def test_the_artifact_types_are_the_ones_prefect_stores() -> None:
    from prefect.artifacts import LinkArtifact, MarkdownArtifact, ProgressArtifact, TableArtifact

    table = dict(re.findall(r"^\s*\| `(hfdaily-[\w-]+)` \| (\w+) \|", README, re.M))
    stored = {"markdown": MarkdownArtifact, "table": TableArtifact, "progress": ProgressArtifact}
    expected = {
        "hfdaily-day-DATE": stored["markdown"], "hfdaily-day-DATE-papers": stored["table"],
        "hfdaily-day-DATE-page": LinkArtifact, "hfdaily-day-DATE-progress": stored["progress"],
        "hfdaily-backfill-START-END": stored["markdown"], "hfdaily-backfill-START-END-progress": stored["progress"],
    }
    assert {key: table.get(key) for key in expected} == {key: cls.model_fields["type"].default
                                                         for key, cls in expected.items()}


def test_the_shared_fixtures_are_where_the_readme_says() -> None:
    assert ROOT.parent / "shared" / "fixtures" == FIXTURES
    assert "`../shared/fixtures/`" in README and "skip" in README[README.index("`../shared/fixtures/`"):][:400]


@pytest.mark.parametrize("line", [
    "hfdaily: error: bad setting: HFDAILY_MAX_COST='-1': input should be greater than or equal to 0 (nothing was run)",
])
def test_the_lines_quoted_in_the_readme_are_quoted_verbatim(line: str) -> None:
    assert line in README
