"""Prompt files: YAML front matter (provider chain, params, output schema) + a Jinja2 body."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, field_validator

from tasks.errors import HfDailyError
from tasks.llm.schemas import OUTPUT_MODELS
from tasks.settings import PROMPTS_DIR

Provider = Literal["openai", "anthropic", "mistral"]
# The line in a prompt body that ends its static part: everything above it (instructions, taxonomies) is the same
# for every paper, so the providers' prompt caches can serve it; the per-paper input comes below it.
STATIC_END = "{# per-paper input below #}"

# Data only ever enters through {{ variables }}; the sandbox keeps a template from reaching Python objects.
_JINJA = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


class PromptError(HfDailyError):
    """A prompt file is missing or malformed."""


class ChainEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    provider: Provider
    model: str
    temperature: float = Field(0.0, ge=0, le=2)
    max_tokens: int = Field(800, ge=1, le=16000)
    structured: bool = False  # OpenAI structured outputs with the step's JSON schema
    vars: dict[str, str] = Field(default_factory=dict)  # template variable -> input key

    @property
    def params(self) -> dict[str, Any]:
        return {"temperature": self.temperature, "max_tokens": self.max_tokens, "structured": self.structured}


class Prompt(BaseModel):
    model_config = ConfigDict(extra="allow")

    step: str
    description: str = ""
    output: str
    chain: list[ChainEntry] = Field(min_length=1)
    system: str = ""
    fallback_on_empty: bool = False
    body: str
    digest: str  # sha256 of the whole file: any edit changes every cache key of this step

    @field_validator("output")
    @classmethod
    def _known_output(cls, v: str) -> str:
        if v not in OUTPUT_MODELS:
            raise ValueError(f"unknown output {v!r}; one of {sorted(OUTPUT_MODELS)}")
        return v

    @property
    def output_model(self) -> type[BaseModel] | None:
        return OUTPUT_MODELS[self.output]

    def render(self, entry: ChainEntry, inputs: dict[str, Any]) -> str:
        """The user message for one chain entry: inputs, with the entry's variable mapping applied."""
        variables = dict(inputs)
        for name, source in entry.vars.items():
            if source not in inputs:
                raise PromptError(f"{self.step}: chain entry maps {name!r} to missing input {source!r}")
            variables[name] = inputs[source]
        return _template(self.body).render(**variables).strip() + "\n"

    def split(self, user: str, entry: ChainEntry, inputs: dict[str, Any]) -> str:
        """The static start of `user` (rendered by `render`): the part above STATIC_END, the same for every paper;
        '' when the body has no STATIC_END. Providers cache it (Anthropic where it is marked)."""
        head, mark, _ = self.body.partition(STATIC_END)
        if not mark:
            return ""
        variables = {**inputs, **{name: inputs.get(source) for name, source in entry.vars.items()}}
        static = _template(head).render(**variables).lstrip()
        return static if user.startswith(static) else ""


@lru_cache(maxsize=64)
def _template(body: str):  # noqa: ANN202 - jinja2.Template
    return _JINJA.from_string(body)


def parse_prompt(text: str, source: str = "<prompt>") -> Prompt:
    if not text.startswith("---"):
        raise PromptError(f"{source}: no front matter (the file must start with ---)")
    try:
        _, front, body = text.split("---", 2)
        meta = yaml.safe_load(front) or {}
    except (ValueError, yaml.YAMLError) as exc:
        raise PromptError(f"{source}: bad front matter: {exc}") from exc
    if not isinstance(meta, dict):
        raise PromptError(f"{source}: front matter must be a mapping")
    digest = hashlib.sha256(text.encode()).hexdigest()
    try:
        return Prompt(**meta, body=body.lstrip("\n"), digest=digest)
    except ValueError as exc:
        raise PromptError(f"{source}: {exc}") from exc


def load_prompt(step: str, prompts_dir: Path | None = None) -> Prompt:
    """The prompt of `step` from `prompts/` (PROMPTS_DIR), re-read when the file changes (keyed on mtime and size)."""
    path = (prompts_dir or PROMPTS_DIR) / f"{step}.md"
    try:
        stat = path.stat()
    except OSError as exc:
        raise PromptError(f"no prompt file for step {step!r} at {path}") from exc
    return _load(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=32)
def _load(path: Path, _mtime: int, _size: int) -> Prompt:
    return parse_prompt(path.read_text(encoding="utf-8"), str(path))
