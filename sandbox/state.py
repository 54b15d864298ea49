"""The sandbox's mutable state: counters, active fault rules, latency, limits, the request log and config
(thread-safe)."""

from __future__ import annotations

import random
import threading
from collections import Counter
from pathlib import Path
from typing import Any

from sandbox.batches import Batches
from sandbox.faults import LLM_TARGETS, TARGETS, Rule, parse_rule
from sandbox.limits import Limits, LogNormal, Verdict, parse_latency
from sandbox.prompt_cache import PromptCache
from sandbox.records import RequestLog
from sandbox.telegram import BotApi

DEFAULT_SEED = 20230501  # latency draws repeat from run to run (reset and /_latency {"seed": n} set it)


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
            self.latency: dict[str, float | LogNormal] = dict.fromkeys(TARGETS, 0.0)
            self.rng = random.Random(DEFAULT_SEED)
            self.limits = Limits()
            self.log = RequestLog()
            self.papers_per_day = self._default_papers
            self.empty_dates: set[str] = set()
            self.prompt_cache = PromptCache()
            self.batches = Batches()
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

    def set_latency(self, raw: Any) -> dict[str, Any]:
        """Seconds per request, or {"median": s, "p99": s} for a log-normal latency; "seed" reseeds the draws."""
        if not isinstance(raw, dict):
            raise ValueError("latency is a JSON object of seconds")
        bad = [k for k in raw if k not in ("llm", "seed") and k not in TARGETS]
        if bad:
            raise ValueError(f"unknown latency keys {bad}; use llm, seed or a target: {', '.join(TARGETS)}")
        values = {k: parse_latency(v) for k, v in raw.items() if k != "seed"}
        with self._lock:
            if "seed" in raw:
                self.rng = random.Random(int(raw["seed"]))
            for key, value in values.items():
                for k in sorted(LLM_TARGETS) if key == "llm" else [key]:
                    self.latency[k] = value
            return {k: v.as_dict() if isinstance(v, LogNormal) else v for k, v in self.latency.items()}

    def latency_for(self, target: str) -> float:
        """This request's latency in simulated seconds (drawn, for a distribution)."""
        with self._lock:
            value = self.latency.get(target, 0.0)
            return value.draw(self.rng) if isinstance(value, LogNormal) else value

    def real_seconds(self, simulated: float) -> float:
        with self._lock:
            return self.limits.real(simulated)

    # -- rate limits -------------------------------------------------------------------------------------

    def set_limits(self, raw: Any) -> dict[str, Any]:
        with self._lock:
            return self.limits.configure(raw)

    def admit(self, provider: str, input_tokens: int, output_tokens: int) -> tuple[Verdict, dict[str, Any]]:
        """Charge a request to its provider's limits; the verdict and a snapshot of the limits after it."""
        with self._lock:
            verdict = self.limits.admit(provider, input_tokens, output_tokens)
            return verdict, self.limits.snapshot(provider)

    def limit_snapshot(self, provider: str) -> dict[str, Any]:
        with self._lock:
            return self.limits.snapshot(provider)

    @property
    def exact_times(self) -> bool:
        """Whether time headers need decimals: a time-scaled second is too coarse to round up to."""
        with self._lock:
            return self.limits.time_scale != 1.0

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
