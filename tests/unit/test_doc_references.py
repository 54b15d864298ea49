"""Every relative reference to a Markdown document in the repository's text files points at a file that exists
(and, with a #anchor, at one of its headings): the project cites only itself."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TEXT_SUFFIXES = {".py", ".md", ".yaml", ".yml", ".html", ".toml"}
SKIP_DIRS = {"__pycache__", "node_modules", "data", "site", "demo", "test-output", "build", "dist"}

# `docs/faults.md`, `../README.md#operating-it`, `DESIGN.md`: a path ending in .md, with an optional anchor. The
# look-behind keeps out URLs (`https://host/x.md`) and templates (`f"{step}.md"`, `prompts/*.md`).
REFERENCE = re.compile(r"(?<![\w/.:{}$*<-])((?:\.\.?/)*(?:[\w-]+/)*[\w.-]*\w\.md)(?:#([\w-]+))?\b")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
# Stems that stand for any file, as in "one prompt file `prompts/NAME.md` per step".
PLACEHOLDERS = {"NAME", "STEP", "ID", "DATE", "X"}


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def text_files(root: Path) -> list[Path]:
    found = []
    for folder, dirs, files in os.walk(root):
        # Pruned in place: never descend into .venv, .git or generated output.
        dirs[:] = [d for d in dirs if not (d.startswith(".") or d in SKIP_DIRS or d.endswith(".egg-info"))]
        found += [Path(folder) / f for f in files if Path(f).suffix in TEXT_SUFFIXES]
    return sorted(found)


def broken_references(root: Path, skip: tuple[Path, ...] = ()) -> list[str]:
    """`file:line: reference (why)` for every reference whose file (or anchor) does not exist."""
    broken = []
    for path in text_files(root):
        if path.resolve() in skip:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for match in REFERENCE.finditer(text):
            ref, anchor = match.group(1), match.group(2)
            if Path(ref).stem in PLACEHOLDERS:
                continue
            # Markdown links are relative to the citing file; prose and comments name paths from the root.
            target = next((c for c in (path.parent / ref, root / ref) if c.is_file()), None)
            line = text.count("\n", 0, match.start()) + 1
            where = f"{path.relative_to(root)}:{line}: {match.group(0)}"
            if target is None:
                broken.append(f"{where} (no such file)")
            elif anchor and anchor.lower() not in {_slug(h) for h in HEADING.findall(target.read_text("utf-8"))}:
                broken.append(f"{where} (no such heading in {target.relative_to(root)})")
    return broken


def test_every_markdown_reference_in_the_repository_exists() -> None:
    assert broken_references(ROOT, skip=(Path(__file__).resolve(),)) == []


@pytest.fixture
def tiny_repo(tmp_path: Path) -> Path:
    (tmp_path / "docs").mkdir()
    (tmp_path / "pkg").mkdir()
    (tmp_path / "README.md").write_text("# tool\n\n## Operating it\n\nSee [faults](docs/faults.md).\n")
    (tmp_path / "docs" / "faults.md").write_text("# Faults\n\nBack to [the README](../README.md#operating-it).\n")
    (tmp_path / "pkg" / "mod.py").write_text(
        '"""Names follow DESIGN.md; see README.md#configuration and docs/faults.md."""\n'
        'URL = "https://example.org/docs/guide.md"\n'
        'def prompt(step): return f"{step}.md"  # one file prompts/NAME.md per step\n'
    )
    (tmp_path / "deploy.yaml").write_text("# From the root (docs/operating.md), or README.md#operating-it\n")
    return tmp_path


def test_the_scan_finds_missing_files_and_anchors_and_nothing_else(tiny_repo: Path) -> None:
    assert broken_references(tiny_repo) == [
        "deploy.yaml:1: docs/operating.md (no such file)",
        "pkg/mod.py:1: DESIGN.md (no such file)",
        "pkg/mod.py:1: README.md#configuration (no such heading in README.md)",
    ]


def test_github_heading_anchors() -> None:
    assert _slug("Operating it") == "operating-it"
    assert _slug("1. Start the server") == "1-start-the-server"
    assert _slug("6. Scaling out") == "6-scaling-out"
