"""The sandbox's mutable state: counters, active fault rules, latency and config (thread-safe)."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from typing import Any

from sandbox.faults import LLM_TARGETS, TARGETS, Rule, parse_rule
from sandbox.telegram import BotApi


class SandboxState:
    def __init__(self, *, recorded_dir: Path | None = None, papers_per_day: int = 8) -> None:
        self.recorded_dir = recorded_dir
        self._default_papers = papers_per_day
        self._lock = threading.Lock()
        self.telegram = BotApi()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.requests: Counter[str] = Counter({t: 0 for t in TARGETS})
            self.by_step: Counter[str] = Counter()
            self.pdf_ids: Counter[str] = Counter()
            self.rules: list[Rule] = []
            self.latency: dict[str, float] = dict.fromkeys(TARGETS, 0.0)
            self.papers_per_day = self._default_papers
            self.empty_dates: set[str] = set()
        self.telegram.reset()

    def count(self, target: str, *, step: str | None = None, pdf_id: str | None = None) -> None:
        with self._lock:
            self.requests[target] += 1
            if target in LLM_TARGETS:
                self.by_step[f"{target}:{step or '-'}"] += 1
            if pdf_id is not None:
                self.pdf_ids[pdf_id] += 1

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": dict(self.requests),
                "by_step": dict(self.by_step),
                "pdf_ids": dict(self.pdf_ids),
            }

    def add_rules(self, raw: Any) -> int:
        rules = [parse_rule(r) for r in (raw if isinstance(raw, list) else [raw])]
        with self._lock:
            self.rules.extend(rules)
            return len(self.rules)

    def list_rules(self) -> list[dict[str, Any]]:
        with self._lock:
            return [r.as_dict() for r in self.rules]

    def take_rule(self, target: str, where: str, step: str | None = None) -> Rule | None:
        """The first matching rule with requests left (its count is used up by this request)."""
        with self._lock:
            for rule in self.rules:
                if rule.matches(target, where, step):
                    if rule.times is not None:
                        rule.times -= 1
                    rule.hits += 1
                    return rule
        return None

    def set_latency(self, raw: Any) -> dict[str, float]:
        if not isinstance(raw, dict):
            raise ValueError("latency is a JSON object of seconds")
        bad = [k for k in raw if k != "llm" and k not in TARGETS]
        if bad:
            raise ValueError(f"unknown latency keys {bad}; use hf, pdf, llm, openai, anthropic, mistral, telegram")
        seconds = {k: max(0.0, float(v)) for k, v in raw.items()}
        with self._lock:
            for key, value in seconds.items():
                for k in sorted(LLM_TARGETS) if key == "llm" else [key]:
                    self.latency[k] = value
            return dict(self.latency)

    def latency_for(self, target: str) -> float:
        with self._lock:
            return self.latency.get(target, 0.0)

    def set_config(self, raw: Any) -> dict[str, Any]:
        """`papers_per_day`: papers of a synthetic working day; `empty_dates`: dates whose feed answers `[]` until
        the list is set again (a working day's first hours, before HF lists anything)."""
        if not isinstance(raw, dict) or set(raw) - {"papers_per_day", "empty_dates"}:
            raise ValueError("config accepts {'papers_per_day': n, 'empty_dates': ['YYYY-MM-DD', ...]}")
        empty = raw.get("empty_dates")
        if empty is not None and (not isinstance(empty, list) or not all(isinstance(d, str) for d in empty)):
            raise ValueError("empty_dates is a list of YYYY-MM-DD strings")
        with self._lock:
            if "papers_per_day" in raw:
                self.papers_per_day = max(0, int(raw["papers_per_day"]))
            if empty is not None:
                self.empty_dates = set(empty)
            return {"papers_per_day": self.papers_per_day, "empty_dates": sorted(self.empty_dates)}

    def answers_empty(self, date: str) -> bool:
        with self._lock:
            return date in self.empty_dates
