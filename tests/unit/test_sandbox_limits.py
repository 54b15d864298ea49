"""The sandbox's provider-like limits, long-tailed latency, time scale and request log, over real HTTP and SDKs."""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Iterator

import anthropic
import openai
import pytest
import requests
from mistralai.client import Mistral
from mistralai.client.errors import MistralError

from sandbox.client import SandboxClient, SandboxProcess, spawn_sandbox
from sandbox.limits import Bucket, LogNormal
from tasks.llm.providers import AnthropicClient, LLMCallError, MistralClient, OpenAIClient
from tasks.llm.ratelimits import parse_rate_headers

ASK = "Summarize the paper in English as JSON with a title and a desc.\n\nTitle: Sparse Mixtures for Ranking"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxProcess]:
    with spawn_sandbox() as sb:
        yield sb


@pytest.fixture
def sb(sandbox: SandboxProcess) -> SandboxClient:
    sandbox.client.reset()
    return sandbox.client


def _openai(sb: SandboxClient) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{sb.url}/openai/v1", api_key="k", max_retries=0)


def _ask_openai(sb: SandboxClient, text: str = ASK) -> openai.types.chat.ChatCompletion:
    return _openai(sb).chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": text}])


def test_bucket_refills_continuously_and_lets_a_big_request_through_only_when_full():
    b = Bucket(per_minute=600, burst_s=1.0)  # 10 a second, holds 10
    assert b.wait_for(4, now=0.0) == 0
    b.take(4)
    assert b.wait_for(8, now=0.0) == pytest.approx(0.2)
    assert b.wait_for(25, now=0.0) == pytest.approx(0.4)  # more than it holds: it must be full
    assert b.wait_for(25, now=0.4) == 0
    b.take(25)  # and leaves it in debt: -15
    assert b.wait_for(1, now=0.4) == pytest.approx(1.6)


def test_log_normal_has_the_median_and_p99_it_was_given():
    dist, rng = LogNormal(1.5, 8.0), random.Random(7)
    draws = sorted(dist.draw(rng) for _ in range(40_000))
    assert statistics.median(draws) == pytest.approx(1.5, rel=0.03)
    assert draws[int(0.99 * len(draws))] == pytest.approx(8.0, rel=0.06)


def test_limits_are_off_by_default(sb: SandboxClient) -> None:
    assert sb.limits() == {"openai": {}, "anthropic": {}, "mistral": {}, "burst_s": 1.0, "time_scale": 1.0}
    raw = _openai(sb).chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": ASK}])
    assert raw.status_code == 200 and not [h for h in raw.headers if "ratelimit" in h]


def test_openai_request_limit_answers_429_like_openai(sb: SandboxClient) -> None:
    sb.limits(openai={"rpm": 60, "tpm": 100_000})  # 1 a second, 1 at a time
    first = _openai(sb).chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": ASK}])
    assert first.headers["x-ratelimit-limit-requests"] == "60"
    assert first.headers["x-ratelimit-limit-tokens"] == "100000"
    with pytest.raises(openai.RateLimitError) as err:
        _ask_openai(sb)
    resp = err.value.response
    assert resp.json()["error"]["code"] == "rate_limit_exceeded" and resp.json()["error"]["type"] == "requests"
    assert resp.headers["x-ratelimit-remaining-requests"] == "0"
    info = parse_rate_headers("openai", resp.headers)
    assert info is not None and 0.5 < info.retry_after <= 1.0
    time.sleep(info.retry_after)
    assert _ask_openai(sb).choices[0].message.content  # it was only a matter of waiting


def test_token_limit_counts_input_and_output(sb: SandboxClient) -> None:
    sb.limits(openai={"tpm": 600})  # 10 tokens a second
    _ask_openai(sb)  # ~30 in + ~60 out: more than the bucket holds, so it needs a full one and leaves a debt
    with pytest.raises(openai.RateLimitError) as err:
        _ask_openai(sb)
    assert err.value.response.json()["error"]["type"] == "tokens"
    [ok, refused] = _logged(sb, 2)
    assert ok["charged"]["tpm"] == ok["input_tokens"] + ok["output_tokens"] and refused["status"] == 429
    assert refused["refused_by"] == "tpm" and "charged" not in refused


def test_anthropic_and_mistral_answer_429_in_their_own_shapes(sb: SandboxClient) -> None:
    sb.limits(anthropic={"rpm": 60, "tpm": 30_000, "otpm": 8_000}, mistral={"rpm": 60, "tpm": 500_000})
    client = anthropic.Anthropic(base_url=f"{sb.url}/anthropic", api_key="k", max_retries=0)
    ok = client.messages.with_raw_response.create(model="claude-sonnet-5-5", max_tokens=500,
                                                   messages=[{"role": "user", "content": ASK}])
    assert ok.headers["anthropic-ratelimit-input-tokens-limit"] == "30000"
    assert ok.headers["anthropic-ratelimit-requests-reset"].endswith("Z")
    with pytest.raises(anthropic.RateLimitError) as err:
        client.messages.create(model="claude-sonnet-5-5", max_tokens=500, messages=[{"role": "user", "content": ASK}])
    body = err.value.response.json()
    assert body["type"] == "error" and body["error"]["type"] == "rate_limit_error"
    assert err.value.response.headers["retry-after"] == "1"  # whole seconds, rounded up, as Anthropic sends

    mistral = Mistral(api_key="k", server_url=f"{sb.url}/mistral")
    mistral.chat.complete(model="mistral-large-latest", messages=[{"role": "user", "content": ASK}])
    with pytest.raises(MistralError) as merr:
        mistral.chat.complete(model="mistral-large-latest", messages=[{"role": "user", "content": ASK}])
    assert merr.value.status_code == 429 and '"code":"1300"' in merr.value.body.replace(" ", "")
    assert merr.value.headers["x-ratelimit-remaining-req-minute"] == "0"


@pytest.mark.parametrize("cls", [OpenAIClient, AnthropicClient, MistralClient])
def test_hfdaily_clients_read_the_headers_of_answers_and_429s(sb: SandboxClient, cls: type) -> None:
    name = cls.name
    prefix = {"openai": "/openai/v1", "anthropic": "/anthropic", "mistral": "/mistral"}[name]
    sb.limits(**{name: {"rpm": 60}})
    client = cls("k", sb.url + prefix, 10.0)
    kw = dict(model="m", system="", user=ASK, temperature=0, max_tokens=300, schema=None, step="summary_en")
    done = client.complete(**kw)
    assert done.rate is not None and done.rate.quotas["rpm"].limit == 60
    with pytest.raises(LLMCallError) as err:
        client.complete(**kw)
    assert err.value.rate_limited and err.value.retriable and 0 < err.value.retry_after <= 1.0
    assert err.value.rate is not None and err.value.rate.quotas["rpm"].remaining == 0


def test_time_scale_makes_limits_and_latency_faster(sb: SandboxClient) -> None:
    sb.limits(openai={"rpm": 6}, time_scale=10)  # one per 10 simulated seconds: one per wall-clock second
    sb.latency(openai=1.0)  # a simulated second: 0.1 s of wall clock
    raw = _openai(sb).chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": ASK}])
    assert raw.headers["x-ratelimit-limit-requests"] == "60"  # per wall-clock minute
    with pytest.raises(openai.RateLimitError) as err:
        _ask_openai(sb)
    retry_after = err.value.response.headers["retry-after"]
    assert "." in retry_after and 0.5 < float(retry_after) <= 1.0  # decimals: whole seconds are too coarse here
    [first, _] = _logged(sb, 2)
    assert first["latency_s"] == 1.0 and 0.09 <= first["end"] - first["start"] < 0.9  # slept a tenth of it


def test_request_log_records_drawn_latency_tokens_step_and_paper(sb: SandboxClient) -> None:
    sb.latency(openai={"median": 0.02, "p99": 0.1}, seed=3)
    for _ in range(6):
        _ask_openai(sb)
    records = _logged(sb, 6)
    assert [r["n"] for r in records] == list(range(6))
    assert len({r["latency_s"] for r in records}) == 6 and all(0 < r["latency_s"] < 0.5 for r in records)
    assert all(r["end"] - r["start"] >= r["latency_s"] * 0.9 for r in records)
    r = records[0]
    assert (r["target"], r["status"], r["step"], r["subject"]) == ("openai", 200, "summary_en",
                                                                   "Sparse Mixtures for Ranking")
    assert r["input_tokens"] > 10 and r["output_tokens"] > 10
    assert sb.requests(since=4) == records[4:]
    sb.latency(openai={"median": 0.02, "p99": 0.1}, seed=3)
    sb.reset()
    assert sb.requests() == []


def _logged(sb: SandboxClient, count: int) -> list[dict]:
    """The request log once it has `count` records: a request is logged just after its answer is sent."""
    deadline = time.monotonic() + 10
    while len(records := sb.requests()) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return records


def test_affiliations_requests_are_tied_to_the_pdf_they_quote(sb: SandboxClient) -> None:
    import io

    import pdfplumber

    item = requests.get(f"{sb.url}/api/daily_papers", params={"date": "2025-01-22"}, timeout=10).json()[0]
    arxiv_id, title = item["paper"]["id"], item["paper"]["title"]
    pdf = requests.get(f"{sb.url}/pdf/{arxiv_id}", timeout=10)
    with pdfplumber.open(io.BytesIO(pdf.content)) as doc:
        text = doc.pages[0].extract_text()
    _ask_openai(sb, f'List the institutions the authors are affiliated with.\n"""\n{text[:1500]}\n"""')
    hf, pdf_record, llm = _logged(sb, 3)
    assert (hf["target"], hf["subject"]) == ("hf", "2025-01-22")
    assert (pdf_record["subject"], pdf_record["arxiv_id"]) == (title, arxiv_id)
    assert (llm["step"], llm["subject"]) == ("affiliations", title)


def test_bad_limits_are_refused(sb: SandboxClient) -> None:
    for bad in ({"openai": {"rpd": 5}}, {"cohere": {"rpm": 1}}, {"time_scale": 0}, {"openai": {"rpm": -1}},
                [1, 2]):
        resp = requests.post(f"{sb.url}/_limits", json=bad, timeout=10)
        assert resp.status_code == 400, bad
    resp = requests.post(f"{sb.url}/_latency", json={"llm": {"median": 2, "p99": 1}}, timeout=10)
    assert resp.status_code == 400
