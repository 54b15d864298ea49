"""Types of the flows' parameters, shaped for Prefect's run form and its server-side check.

Prefect builds each deployment's parameter schema from the flow's signature (descriptions from its
docstring); the UI draws the form from it, and with `enforce_parameter_schema` the server refuses a run
whose parameters do not fit it. Three details of Prefect 3.9.1 shape these types:

- An optional `X | None` becomes `anyOf [X, null]`, which the form shows as a type toggle. The schemas below
  name only X.
- The form (both UIs) fills every field with its schema default and sends it: a `"default": null` on a date
  or number field comes back as null and the server refuses the run (seen in Chromium against 3.9.1). Fields
  that may stay empty therefore default to pydantic's `MISSING`, which leaves the default out of the schema;
  the flow reads them through `given()`. An empty field is left out of the run, and the server also accepts an
  explicit null there. (A Python caller that omits such a parameter has it stored on its flow run as
  pydantic's MISSING marker; the hfdaily CLI passes every parameter.)
- The server validates without a format checker, so `format: date` alone lets `2025-13-45` through. The
  pattern makes the server refuse what cannot be a date; what the pattern cannot rule out (2025-02-30, a date
  before HF Daily Papers, one in the future) the run checks first thing and fails in one line.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal, TypeVar

from pydantic import MISSING, Field, PlainValidator, WithJsonSchema

from tasks.dates import coerce_date

ISO_DATE_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$"
_DATE_SCHEMA = {"type": "string", "format": "date", "pattern": ISO_DATE_PATTERN}

# A calendar date (the form shows a date picker). Strings that are not one reach the flow unchanged, so the
# run rejects them itself, named and in one line, instead of Prefect's pre-run validation error.
RunDate = Annotated[date, PlainValidator(coerce_date), WithJsonSchema(_DATE_SCHEMA)]
# The same, for a field that may stay empty (default MISSING, see above).
OptionalRunDate = Annotated[date | None | MISSING, PlainValidator(coerce_date), WithJsonSchema(_DATE_SCHEMA)]

# USD, 0 or more; may stay empty (default MISSING): no cap other than HFDAILY_MAX_COST.
Budget = Annotated[Annotated[float, Field(ge=0)] | None | MISSING, WithJsonSchema({"type": "number", "minimum": 0})]
Parallel = Annotated[int, Field(ge=1)]

T = TypeVar("T")


def given(value: T) -> T | None:
    """A parameter's value, or None for a field left empty (MISSING)."""
    return None if value is MISSING else value

# arXiv ids or arxiv.org / huggingface.co paper URLs, 1 to 50 (tasks/arxiv_api.py: MAX_PAPERS). The server checks
# the count; each entry's shape is checked by the run, which names every entry it cannot read and goes on.
PaperRefs = Annotated[list[str], WithJsonSchema({
    "type": "array", "minItems": 1, "maxItems": 50,
    "items": {"type": "string", "minLength": 1, "maxLength": 300},
})]

# How a run pays for its LLM calls: `online` (each call answered at once) or `batch` (queued for the providers'
# batch APIs at half price, collected by a later run: tasks/llm/batch.py). The form shows a choice list.
LlmMode = Literal["online", "batch"]
