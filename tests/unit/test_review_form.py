"""The review deployment's run form as Prefect builds it from the flow, the server's check of it, and the run's own
first check (no engine)."""

from __future__ import annotations

import pytest
from prefect.utilities.callables import parameter_schema
from prefect.utilities.schema_tools.validation import ValidationError, validate

from flows.review import TooManyPapers, review


def _schema() -> dict:
    return parameter_schema(review).model_dump_for_openapi()


def _server_accepts(parameters: dict) -> bool:
    try:
        validate(parameters, _schema(), raise_on_error=True)
    except ValidationError:
        return False
    return True


def test_papers_is_a_list_of_1_to_50_strings_with_a_description():
    schema = _schema()
    papers = schema["properties"]["papers"]
    assert papers["type"] == "array" and papers["items"]["type"] == "string"
    assert (papers["minItems"], papers["maxItems"]) == (1, 50)
    assert "arXiv ids" in papers["description"] and schema["required"] == ["papers"]
    assert schema["properties"]["max_cost"]["minimum"] == 0 and "anyOf" not in schema["properties"]["max_cost"]


@pytest.mark.parametrize(("papers", "accepted"), [
    (["2501.06600"], True),
    (["https://huggingface.co/papers/2501.06600", "nonsense"], True),  # the run names what is not a paper
    ([f"2501.{i:05d}" for i in range(50)], True),
    ([f"2501.{i:05d}" for i in range(51)], False),
    ([], False),
    ("2501.06600", False),
    ([""], False),
])
def test_the_server_refuses_what_the_schema_rules_out(papers, accepted):
    assert _server_accepts({"papers": papers}) is accepted


def test_more_than_50_fails_the_run_first_without_asking_anything():
    with pytest.raises(TooManyPapers, match=r"papers: 51 given; a request holds 1 to 50 \(nothing was run\)"):
        review.fn(papers=[f"2501.{i:05d}" for i in range(51)])
