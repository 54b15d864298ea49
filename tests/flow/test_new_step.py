"""Adding an LLM step takes one declaration in the registry and one prompt file; the flow, store, planner and
report pick it up with no other change."""

from __future__ import annotations

import shutil

import tasks.llm.prompts
from flows.daily import daily_digest
from tasks import enrich, steps
from tasks.models import Localized
from tasks.report import papers_table
from tasks.settings import PROMPTS_DIR, Settings
from tasks.steps import Step, feed_text, is_complete
from tasks.store import load_day

DATE = "2025-01-23"

TLDR_PROMPT = """---
step: tldr_en
description: A one-line English headline for the paper, for the feed readers' previews.
output: summary
chain:
  - provider: anthropic
    model: claude-sonnet-5-5
    max_tokens: 300
system: >-
  You write short, plain English for engineers.
---
Summarise the paper below in English as a JSON object with the keys "title" (a headline of at most ten words)
and "desc" (one English sentence saying what is new).

Title: {{ title }}

Abstract:
\"\"\"
{{ abstract }}
\"\"\"
"""


def test_a_new_llm_step_takes_one_declaration_and_one_prompt_file(env, sandbox, monkeypatch, tmp_path):
    prompts = tmp_path / "prompts"
    shutil.copytree(PROMPTS_DIR, prompts)
    tldr = Step("tldr_en", "paper", "llm", fields=("tldr",), inputs=feed_text,
                run=enrich.single("tldr_en", lambda a, _: {"tldr": Localized(title=a.title, desc=a.desc)}))
    (prompts / f"{tldr.name}.md").write_text(TLDR_PROMPT)
    monkeypatch.setattr(tasks.llm.prompts, "PROMPTS_DIR", prompts)
    monkeypatch.setitem(steps.STEPS, "tldr_en", tldr)

    summary = daily_digest(date=DATE, render=False)
    day = load_day(Settings(), DATE)
    assert summary["failed"] == 0 and len(day.papers) == 5
    for paper in day.papers:
        assert paper.steps["tldr_en"].status == "ok" and paper.steps["tldr_en"].provider == "anthropic"
        stored = paper.model_dump()["tldr"]
        assert stored["title"] and stored["desc"], paper.arxiv_id
    assert is_complete(day)
    assert set(papers_table(day)["status"]) == {"ok"}

    # the stored field survives a reload and a re-run asks nothing again
    sandbox.reset()
    sandbox.config(papers_per_day=5)
    daily_digest(date=DATE, render=False)
    assert sum(sandbox.stats()["requests"][p] for p in ("openai", "anthropic", "mistral")) == 0
