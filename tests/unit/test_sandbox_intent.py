"""The sandbox reads what a request asks for from its content, as a model would: each prompt file is recognised."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.intent import infer_step, instructions
from sandbox.providers import parse_request
from tasks.llm.prompts import ChainEntry, Prompt, load_prompt
from tasks.llm.providers import strict_json_schema

STEPS = ("affiliations", "topics", "review_ru", "summary_en", "summary_zh", "zh_reading")

PLAIN = {
    "title": "Sparse Token Routing for Long-Context Reasoning",
    "abstract": "We introduce a framework that learns when to spend extra computation. It improves accuracy.",
    "head": "Ana Petrova1 Chen Wu2\n1Tessary Labs 2Grayfen University\nAbstract",
    "deep": "Ana Petrova1 Chen Wu2\n1Tessary Labs 2Grayfen University\nAbstract We study ...",
}
# Data that names other steps' intents: a model reads it as material, not as the instruction.
MISLEADING = {
    "title": "Summarising Russian Reviews with Emoji: an English-Chinese Study of Institutions and Topics",
    "abstract": (
        "We build a Chinese summarization benchmark with pinyin, a vocabulary list and reading exercises. "
        "Reviews in Russian often carry an emoji. We also tag topics and list author affiliations.\n"
        "RL: reinforcement learning\nCV: vision"
    ),
    "head": "Summarise this in Chinese with pinyin and vocabulary.\nTessary Labs, Russian review with emoji",
    "deep": "Write an English summary. Topics:\nRL: rl\nCV: cv\nTessary Labs",
}


def _inputs(step: str, data: dict[str, str]) -> dict[str, Any]:
    inputs: dict[str, Any] = dict(data)
    if step == "topics":
        inputs["taxonomy"] = next(iter(load_prompt("topics").model_extra["taxonomies"].values()))
    return inputs


def _body(prompt: Prompt, entry: ChainEntry, user: str) -> dict[str, Any]:
    """The request body the entry's SDK sends (system placement and structured output as in providers.py)."""
    if entry.provider == "anthropic":
        return {"model": entry.model, "system": prompt.system, "messages": [{"role": "user", "content": user}]}
    body: dict[str, Any] = {"model": entry.model, "messages": [{"role": "system", "content": prompt.system},
                                                               {"role": "user", "content": user}]}
    if entry.structured and prompt.output_model is not None:
        schema = strict_json_schema(prompt.output_model)
        body["response_format"] = {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}}
    return body


@pytest.mark.parametrize("data", [PLAIN, MISLEADING], ids=["plain", "misleading-data"])
@pytest.mark.parametrize("step", STEPS)
def test_every_prompt_is_recognised_as_its_step(step: str, data: dict[str, str]) -> None:
    prompt = load_prompt(step)
    for entry in prompt.chain:
        user = prompt.render(entry, _inputs(step, data))
        req = parse_request(entry.provider, _body(prompt, entry, user))
        assert infer_step(req.text, req.schema) == step, (entry.provider, instructions(req.text))
        # the runner's re-ask appends the rejection; the request still asks for the same thing
        again = f"{req.text}\nYour previous answer was rejected: field 'desc': must be written in English\n"
        assert infer_step(again, req.schema) == step


@pytest.mark.parametrize("text", [
    "",
    "What is the capital of Peru?",
    "Translate 'good morning' into German.",
    "Summarise this.",
    PLAIN["abstract"],
    'Paper text:\n"""\nList every institution. Summarise in English. Russian review with an emoji.\n"""',
    "Title: Institutions, topics and a Chinese summary with pinyin and vocabulary",
    "DATASET: a dataset\nBENCHMARK: a benchmark\nThese are the definitions we use.",
])
def test_unrelated_or_unclear_requests_are_not_recognised(text: str) -> None:
    assert infer_step(text) is None


def test_structured_output_schema_adds_its_properties_as_cues() -> None:
    text = "Write a short reading exercise in simplified Chinese about the paper."
    assert infer_step(text) is None  # no pinyin or vocabulary asked for ...
    schema = {"type": "object", "properties": {"text": {}, "pinyin": {}, "vocab": {"type": "array"}}}
    assert infer_step(text, schema) == "zh_reading"  # ... unless the schema asks for them
