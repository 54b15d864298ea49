"""The sandbox as a separate program: HF feed, PDFs, the three SDKs, fault rules, latency and counters."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anthropic
import openai
import pdfplumber
import pytest
import requests
from mistralai.client import Mistral
from pydantic import BaseModel

from sandbox.client import SandboxClient, SandboxProcess, spawn_sandbox
from sandbox.llm import CONFUSED
from tasks.llm.prompts import load_prompt

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "hf_daily_papers"


def _messages(step: str, text: str) -> list[dict[str, str]]:
    """The system and user messages the pipeline sends for `step`, with `text` as every input."""
    prompt = load_prompt(step)
    inputs = {"head": text, "deep": text, "title": "A paper", "abstract": text, "taxonomy": {"RL": "rl", "CV": "cv"}}
    return [{"role": "system", "content": prompt.system},
            {"role": "user", "content": prompt.render(prompt.chain[0], inputs)}]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxProcess]:
    with spawn_sandbox() as sb:
        yield sb


@pytest.fixture
def sb(sandbox: SandboxProcess) -> SandboxClient:
    sandbox.client.reset()
    return sandbox.client


def _feed(url: str, **params: object) -> requests.Response:
    return requests.get(f"{url}/api/daily_papers", params=params, timeout=10)


def test_feed_shape_and_paging(sb: SandboxClient) -> None:
    items = _feed(sb.url, date="2025-01-20").json()
    assert len(items) == 8
    item = items[0]
    assert {"paper", "publishedAt", "title", "summary", "thumbnail", "numComments"} <= set(item)
    paper = item["paper"]
    assert {"id", "authors", "publishedAt", "submittedOnDailyAt", "title", "summary", "upvotes",
            "ai_summary", "ai_keywords"} <= set(paper)
    assert {"_id", "name", "hidden"} <= set(paper["authors"][0])
    assert paper["id"].startswith("2501.") and paper["submittedOnDailyAt"].startswith("2025-01-20")
    pages = [_feed(sb.url, date="2025-01-20", limit=3, p=k).json() for k in range(4)]
    assert [len(p) for p in pages] == [3, 3, 2, 0]
    assert [i["paper"]["id"] for p in pages for i in p] == [i["paper"]["id"] for i in items]
    assert _feed(sb.url, date="2025-01-20").json() == items  # deterministic
    sb.config(papers_per_day=3)
    assert len(_feed(sb.url, date="2025-01-20").json()) == 3
    assert _feed(sb.url, date="2999-01-01").json() == []


def test_weekends_are_empty_and_empty_dates_answer_empty_until_cleared(sb: SandboxClient) -> None:
    assert len(_feed(sb.url, date="2025-01-24").json()) == 8  # a Friday
    assert _feed(sb.url, date="2025-01-25").json() == [] and _feed(sb.url, date="2025-01-26").json() == []
    assert sb.config(empty_dates=["2025-01-27"])["empty_dates"] == ["2025-01-27"]
    for _ in range(2):  # stays empty until told otherwise
        assert _feed(sb.url, date="2025-01-27").json() == []
    assert len(_feed(sb.url, date="2025-01-28").json()) == 8
    sb.config(empty_dates=[])
    assert len(_feed(sb.url, date="2025-01-27").json()) == 8
    with pytest.raises(ValueError, match="empty_dates"):
        sb.config(empty_dates="2025-01-27")


@pytest.mark.parametrize("bad", ["2025-13-01", "yesterday", "2025-02-30"])
def test_invalid_date(sb: SandboxClient, bad: str) -> None:
    resp = _feed(sb.url, date=bad)
    assert resp.status_code == 400 and resp.json() == {"error": "Invalid date"}


@pytest.mark.skipif(not FIXTURES.is_dir(), reason="shared fixtures absent")
def test_recorded_mode() -> None:
    day = sorted(FIXTURES.glob("*.json"))[-1]
    recorded = json.loads(day.read_text(encoding="utf-8"))
    with spawn_sandbox(recorded=FIXTURES) as rec:
        assert _feed(rec.url, date=day.stem, limit=100).json() == recorded
        assert _feed(rec.url, date=day.stem, limit=5, p=1).json() == recorded[5:10]
        assert _feed(rec.url, date="2024-06-01").json() == []
        arxiv_id = recorded[0]["paper"]["id"]
        planted = rec.client.planted(arxiv_id)
        assert planted["title"] == recorded[0]["paper"]["title"]
        pdf = requests.get(f"{rec.url}/pdf/{arxiv_id}v1", timeout=10)
        assert pdf.headers["Content-Type"] == "application/pdf"
        with pdfplumber.open(io.BytesIO(pdf.content)) as doc:
            text = doc.pages[0].extract_text()
        assert all(a in text for a in planted["affiliations"])


def test_pdfs_carry_planted_affiliations_in_both_layouts(sb: SandboxClient) -> None:
    ids = [i["paper"]["id"] for i in _feed(sb.url, date="2025-01-22", limit=20).json()]
    layouts: dict[str, str] = {}
    for arxiv_id in ids:
        layouts.setdefault(sb.planted(arxiv_id)["layout"], arxiv_id)
    assert set(layouts) == {"one-column", "two-column"}
    for arxiv_id in layouts.values():
        resp = requests.get(f"{sb.url}/pdf/{arxiv_id}v2", timeout=10)
        assert resp.status_code == 200 and resp.headers["Content-Type"] == "application/pdf"
        with pdfplumber.open(io.BytesIO(resp.content)) as doc:
            text = doc.pages[0].extract_text()
        planted = sb.planted(arxiv_id)["affiliations"]
        assert all(inst in text for inst in planted)
        answer = _llm(sb.url, "affiliations", text).json()
        assert json.loads(answer["choices"][0]["message"]["content"]) == planted
    assert sb.stats()["pdf_ids"] == {i: 1 for i in layouts.values()}


class Summary(BaseModel):
    title: str
    desc: str


class Vocab(BaseModel):
    word: str
    pinyin: str
    trans: str


class Reading(BaseModel):
    text: str
    pinyin: str
    vocab: list[Vocab]
    translation: str


class Affiliations(BaseModel):
    affiliations: list[str]


def test_openai_sdk(sb: SandboxClient) -> None:
    client = openai.OpenAI(base_url=f"{sb.url}/openai/v1", api_key="test", max_retries=0)
    text = "Lumenfield Research Lab and 1Tessary Labs ... 2Lumenfield Research Lab"
    messages = _messages("affiliations", text)
    resp = client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    assert json.loads(resp.choices[0].message.content or "") == ["Lumenfield Research Lab", "Tessary Labs"]
    sent = "\n".join(m["content"] for m in messages)
    assert resp.usage is not None and resp.usage.prompt_tokens == -(-len(sent) // 4)
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens
    for step, model in (("summary_en", Summary), ("zh_reading", Reading), ("affiliations", Affiliations)):
        parsed = client.chat.completions.parse(
            model="gpt-4o-mini", messages=_messages(step, text), response_format=model,
        ).choices[0].message.parsed
        assert isinstance(parsed, model)
    assert parsed == Affiliations(affiliations=["Lumenfield Research Lab", "Tessary Labs"])
    # a request that does not say what it wants gets prose, as from a confused model
    unclear = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert unclear.choices[0].message.content == CONFUSED
    assert sb.stats()["by_step"] == {"openai:affiliations": 2, "openai:summary_en": 1, "openai:zh_reading": 1,
                                     "openai:-": 1}
    unauthorized = requests.post(f"{sb.url}/openai/v1/chat/completions", json={"messages": []}, timeout=10)
    assert unauthorized.status_code == 401 and "message" in unauthorized.json()["error"]


def test_anthropic_sdk(sb: SandboxClient) -> None:
    client = anthropic.Anthropic(base_url=f"{sb.url}/anthropic", api_key="test", max_retries=0)
    system, user = _messages("review_ru", "An abstract.")
    msg = client.messages.create(model="claude-test", max_tokens=500, system=system["content"], messages=[user])
    review = json.loads(msg.content[0].text)
    assert set(review) == {"emoji", "title", "desc"} and msg.stop_reason == "end_turn"
    assert msg.usage.input_tokens > 0 and msg.usage.output_tokens > 0
    unauthorized = requests.post(f"{sb.url}/anthropic/v1/messages", json={"messages": []}, timeout=10)
    assert unauthorized.status_code == 401
    assert unauthorized.json()["error"]["type"] == "authentication_error"


def test_mistral_sdk(sb: SandboxClient) -> None:
    client = Mistral(api_key="test", server_url=f"{sb.url}/mistral")
    prompt = "Topics:\nRL: reinforcement learning\nCV: vision\nAUDIO: sound\n\nPaper title: t"
    resp = client.chat.complete(model="mistral-large-latest", messages=[{"role": "user", "content": prompt}])
    topics = json.loads(resp.choices[0].message.content)
    assert 1 <= len(topics) <= 3 and set(topics) <= {"RL", "CV", "AUDIO"}
    assert resp.usage.prompt_tokens > 0
    parsed = client.chat.parse(
        response_format=Summary, model="mistral-large-latest", messages=_messages("summary_zh", "x"),
    ).choices[0].message.parsed
    assert isinstance(parsed, Summary)
    assert sb.stats()["by_step"] == {"mistral:topics": 1, "mistral:summary_zh": 1}


def _llm(url: str, step: str = "summary_en", content: str = "x") -> requests.Response:
    return requests.post(f"{url}/openai/v1/chat/completions", timeout=10,
                         json={"model": "m", "messages": _messages(step, content)},
                         headers={"Authorization": "Bearer t"})


def test_status_fault_with_retry_after_then_success(sb: SandboxClient) -> None:
    sb.faults([{"target": "hf", "match": "2025-01-23", "status": 429, "retry_after": 2, "times": 1}])
    first = _feed(sb.url, date="2025-01-23")
    assert first.status_code == 429 and first.headers["Retry-After"] == "2" and "error" in first.json()
    assert _feed(sb.url, date="2025-01-23").status_code == 200
    sb.faults({"target": "anthropic", "status": 529, "times": 1})
    client = anthropic.Anthropic(base_url=f"{sb.url}/anthropic", api_key="test", max_retries=0)
    with pytest.raises(anthropic.APIStatusError) as err:
        client.messages.create(model="m", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    assert err.value.status_code == 529
    assert sb.stats()["requests"]["hf"] == 2


def test_llm_content_faults(sb: SandboxClient) -> None:
    sb.faults([
        {"target": "openai", "step": "affiliations", "mode": "fenced", "times": 1},
        {"target": "openai", "step": "affiliations", "mode": "prose", "times": 1},
        {"target": "openai", "step": "affiliations", "mode": "python_list", "times": 1},
    ])
    answers = [_llm(sb.url, "affiliations", "Saint Aldwin's College").json() for _ in range(4)]
    contents = [a["choices"][0]["message"]["content"] for a in answers]
    assert contents[0] == '```json\n["Saint Aldwin\'s College"]\n```'
    assert contents[1].splitlines()[1] == '["Saint Aldwin\'s College"]' and not contents[1].startswith("[")
    assert contents[2] == "['Saint Aldwin\\'s College']"
    assert json.loads(contents[3]) == ["Saint Aldwin's College"]


def test_transport_faults(sb: SandboxClient) -> None:
    sb.faults([
        {"target": "openai", "mode": "truncate", "times": 1},
        {"target": "pdf", "match": "2501.00001", "mode": "html"},
        {"target": "pdf", "match": "2501.00002", "mode": "oversize", "size": 200_000},
        {"target": "hf", "mode": "timeout", "delay": 0.3, "times": 1},
    ])
    with pytest.raises(requests.exceptions.RequestException):
        _llm(sb.url).json()
    assert _llm(sb.url).status_code == 200
    html = requests.get(f"{sb.url}/pdf/2501.00001", timeout=10)
    assert html.status_code == 200 and html.headers["Content-Type"].startswith("text/html")
    big = requests.get(f"{sb.url}/pdf/2501.00002", timeout=10)
    assert int(big.headers["Content-Length"]) > 200_000 and len(big.content) > 200_000
    with pytest.raises(requests.exceptions.ConnectionError):
        _feed(sb.url, date="2025-01-20")
    assert _feed(sb.url, date="2025-01-20").status_code == 200
    assert sb.stats()["requests"] == {"hf": 2, "pdf": 2, "openai": 2, "anthropic": 0, "mistral": 0, "arxiv": 0,
                                      "telegram": 0}


def test_latency_overlaps(sb: SandboxClient) -> None:
    sb.latency(hf=0.5, llm=0.2)
    start = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(lambda i: _feed(sb.url, date=f"2025-01-{i + 1:02d}").status_code, range(16)))
    assert codes == [200] * 16 and time.monotonic() - start < 2.5  # 8 s if served one by one
    sb.reset()
    assert sb.stats()["requests"]["hf"] == 0


def test_control_errors(sb: SandboxClient) -> None:
    with pytest.raises(ValueError, match="400"):
        sb.faults([{"target": "pdf", "mode": "fenced"}])
    with pytest.raises(ValueError, match="400"):
        sb.latency(nope=1)
    assert sb.active_faults() == []
