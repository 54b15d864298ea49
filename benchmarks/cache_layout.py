"""`python -m benchmarks.cache_layout DATA_DIR`: would another prompt layout let the providers' prompt caches lower
the input cost? The arithmetic over the first-choice LLM calls of a finished run's day files.

Every call is rendered as the runner renders it (prompts/*.md, the same inputs) and priced at DEFAULT_PRICES with a
cache that, as the providers' do, reads nothing of a prefix shorter than MIN_TOKENS (OpenAI and Mistral: at half /
a tenth of the input price, in steps of 128 tokens; Anthropic: a tenth to read, 1.25× to write). Calls in the order
the run makes them; every hit assumed (the best case for a layout). Layouts:
- today:        system + static instructions first, then the paper; each step's static part is its own prefix;
- one prefix:   a provider's every step shares one prefix: all its steps' static parts, then the call's own part;
- paper first:  a paper's calls to one provider share its facts (title, abstract, first-page text) as the prefix,
                each step's instructions after them.
Tokens are the sandbox's (4 characters each): the ratios, not the absolute counts, carry over to real tokenizers.
"""

from __future__ import annotations

import math
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from tasks.llm.prompts import load_prompt
from tasks.models import DayFile
from tasks.settings import DEFAULT_PRICES

MIN_TOKENS = 1024
STEP = 128
PAPER_STEPS = ("affiliations", "topics", "review_ru", "summary_en", "summary_zh")


def tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


@dataclass
class Call:
    provider: str
    model: str
    step: str
    paper: str
    static: str  # system + the static part of the user message
    own: str  # the rest: what this call alone carries


def calls_of(days: list[DayFile]) -> list[Call]:
    """The first-choice call of every paper step and day step, as the runner renders it."""
    from tasks.steps import STEPS, top_paper_text

    out: list[Call] = []
    for day in days:
        for paper in day.papers:
            for name in PAPER_STEPS:
                prompt = load_prompt(name)
                entry = prompt.chain[0]
                try:
                    inputs = STEPS[name].inputs(paper)
                except ValueError:
                    continue  # no first-page text: the step did not run
                variants = ([{**inputs, "taxonomy": t} for t in prompt.model_extra["taxonomies"].values()]
                            if name == "topics" else [inputs])
                for given in variants:
                    user = prompt.render(entry, given)
                    static = prompt.split(user, entry, given)
                    out.append(Call(entry.provider, entry.model, name, paper.arxiv_id,
                                    prompt.system + "\n" + static, user[len(static):]))
        if (top := top_paper_text(day)) is not None:
            prompt = load_prompt("zh_reading")
            entry = prompt.chain[0]
            user = prompt.render(entry, top)
            static = prompt.split(user, entry, top)
            out.append(Call(entry.provider, entry.model, "zh_reading", top["arxiv_id"],
                            prompt.system + "\n" + static, user[len(static):]))
    return out


def cached_part(provider: str, prefix_tokens: int) -> int:
    """Tokens of a prefix a hit reads: nothing under MIN_TOKENS; OpenAI / Mistral in steps of 128."""
    if prefix_tokens < MIN_TOKENS:
        return 0
    return prefix_tokens if provider == "anthropic" else MIN_TOKENS + (prefix_tokens - MIN_TOKENS) // STEP * STEP


def price(call_tokens: int, prefix: str, provider: str, model: str, seen: set[tuple[str, str, str]]) -> float:
    """Input cost (USD) of one call whose first `prefix` is shared; `seen`: prefixes already cached."""
    p = DEFAULT_PRICES[model]
    full, read, write = p[0], p[2], p[3]
    part = cached_part(provider, tokens(prefix))
    key = (provider, model, prefix)
    if part == 0:
        return call_tokens * full / 1e6
    if key in seen:
        return ((call_tokens - part) * full + part * read) / 1e6
    seen.add(key)
    first = write if provider == "anthropic" else full
    return ((call_tokens - part) * full + part * first) / 1e6


def layouts(calls: list[Call]) -> dict[str, dict[str, float]]:
    """Input cost per provider under each layout."""
    out: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    seen: dict[str, set[tuple[str, str, str]]] = {k: set() for k in ("today", "one prefix", "paper first")}
    shared: dict[tuple[str, str], str] = {}
    for c in calls:  # one prefix: each of a provider's step statics once, in a fixed order
        shared.setdefault((c.provider, c.model), "")
        if c.static not in shared[(c.provider, c.model)]:
            shared[(c.provider, c.model)] += c.static + "\n"
    facts: dict[str, str] = {}
    for c in calls:
        if c.step in ("summary_en", "topics", "affiliations"):
            facts.setdefault(c.paper, "")
            if c.own not in facts[c.paper]:
                facts[c.paper] += c.own
    out["_sizes"] = {f"one prefix {p}": tokens(v) for (p, _), v in shared.items()}
    sizes = sorted(tokens(v) for v in facts.values())
    if sizes:
        out["_sizes"]["paper facts median"] = sizes[len(sizes) // 2]
        out["_sizes"]["paper facts ≥ min, %"] = round(100 * sum(t >= MIN_TOKENS for t in sizes) / len(sizes))
    for c in calls:
        today = tokens(c.static + c.own)
        out["today"][c.provider] += price(today, c.static, c.provider, c.model, seen["today"])
        one = shared[(c.provider, c.model)]
        out["one prefix"][c.provider] += price(tokens(one + c.own), one, c.provider, c.model, seen["one prefix"])
        paper = facts.get(c.paper, c.own)
        out["paper first"][c.provider] += price(tokens(paper + c.static), paper, c.provider, c.model,
                                                seen["paper first"])
    return {k: dict(v) for k, v in out.items()}


def report(data: Path) -> str:
    days = [DayFile.model_validate_json(p.read_bytes()) for p in sorted((data / "days").glob("*.json"))]
    calls = calls_of(days)
    papers = sum(len(d.papers) for d in days)
    lines = [f"{len(days)} dates, {papers} papers, {len(calls)} first-choice calls"]
    by_step: dict[str, list[int]] = defaultdict(list)
    for c in calls:
        by_step[f"{c.step} ({c.provider})"].append(tokens(c.static))
    lines.append("static prefix tokens by step: " + ", ".join(
        f"{k} {min(v)}–{max(v)}" for k, v in sorted(by_step.items())))
    own = [tokens(c.own) for c in calls]
    lines.append(f"per-call own part: median {sorted(own)[len(own) // 2]} tokens")
    res = layouts(calls)
    lines.append("prefix tokens: " + ", ".join(f"{k} {v:g}" for k, v in res.pop("_sizes").items()))
    base = sum(res["today"].values())
    for name, per in res.items():
        total = sum(per.values())
        lines.append(f"{name:12s} input ${total / max(1, papers):.6f} a paper ({total / base:.0%} of today): "
                     + ", ".join(f"{p} ${v / max(1, papers):.6f}" for p, v in sorted(per.items())))
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(Path(sys.argv[1] if len(sys.argv) > 1 else "data")))
