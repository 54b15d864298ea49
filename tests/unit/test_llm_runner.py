"""The chain runner with scripted provider clients: fallback, re-ask, cache, budget, missing keys."""

import pytest

from tasks.llm.cache import cache_key
from tasks.llm.prompts import load_prompt, parse_prompt
from tasks.llm.providers import Completion, LLMCallError, strict_json_schema
from tasks.llm.runner import LLMRuntime, StepFailed
from tasks.llm.schemas import Review, Summary, is_single_emoji
from tasks.llm.usage import UsageMeter
from tasks.settings import Settings


class Scripted:
    """A provider client that answers from a list (an Exception item is raised)."""

    def __init__(self, name, answers):
        self.name, self.answers, self.calls = name, list(answers), []

    def complete(self, **kw):
        self.calls.append(kw)
        item = self.answers.pop(0)
        if isinstance(item, Exception):
            raise item
        return Completion(text=item, model="m", input_tokens=100, output_tokens=10)


@pytest.fixture
def settings(tmp_path):
    return Settings(_env_file=None, HFDAILY_DATA_DIR=tmp_path, HFDAILY_RETRY_BASE_DELAY=0,
                    OPENAI_API_KEY="k1", MISTRAL_API_KEY="k2", ANTHROPIC_API_KEY="k3")


def runtime(settings, **clients):
    rt = LLMRuntime(settings, UsageMeter(settings.max_cost))
    rt._clients.update(clients)
    return rt


AFF = {"head": "Ana¹ ¹Northvale Institute", "deep": "Ana¹ abstract ... ¹Northvale Institute, ²King's College"}


def test_empty_answer_falls_back_with_deeper_text(settings):
    oa = Scripted("openai", ["[]"])
    mi = Scripted("mistral", ["```python\n['Northvale Institute', \"King's College\"]\n```"])
    answer = runtime(settings, openai=oa, mistral=mi).run(load_prompt("affiliations"), AFF)
    assert answer.value == ["Northvale Institute", "King's College"]
    assert answer.provider == "mistral" and "empty" in answer.notes[0]
    assert "abstract ..." in mi.calls[0]["user"] and "abstract ..." not in oa.calls[0]["user"]
    assert answer.usage.calls == 2


def test_cache_means_no_second_call_across_runtimes(settings):
    oa = Scripted("openai", ['["Northvale Institute"]'])
    rt = runtime(settings, openai=oa, mistral=Scripted("mistral", []))
    assert rt.run(load_prompt("affiliations"), AFF).value == ["Northvale Institute"]
    again = runtime(settings, openai=Scripted("openai", []), mistral=Scripted("mistral", []))
    answer = again.run(load_prompt("affiliations"), AFF)
    assert answer.value == ["Northvale Institute"] and answer.usage.calls == 0 and answer.usage.cached == 1


def test_invalid_answer_is_reasked_once_with_the_error(settings):
    good = '{"title": "Clear title", "desc": "A description that is long enough to pass."}'
    oa = Scripted("openai", ['{"title": "x"}', good])
    answer = runtime(settings, openai=oa).run(load_prompt("summary_en"), {"title": "T", "abstract": "A"})
    assert isinstance(answer.value, Summary) and len(oa.calls) == 2
    assert "rejected" in oa.calls[1]["user"] and "desc" in oa.calls[1]["user"]


def test_transient_errors_are_retried_and_permanent_ones_fall_back(settings):
    good = '{"title": "Clear title", "desc": "A description that is long enough to pass."}'
    oa = Scripted("openai", [LLMCallError("openai", "HTTP 429", status=429, retriable=True, retry_after=0), good])
    assert runtime(settings, openai=oa).run(load_prompt("summary_en"), {"title": "T", "abstract": "A"}).value
    assert len(oa.calls) == 2
    oa = Scripted("openai", [LLMCallError("openai", "HTTP 401", status=401)])
    an = Scripted("anthropic", [good])
    other = {"title": "T", "abstract": "B"}  # not in the cache yet
    answer = runtime(settings, openai=oa, anthropic=an).run(load_prompt("summary_en"), other)
    assert answer.provider == "anthropic" and len(oa.calls) == 1 and "401" in answer.notes[0]


def test_no_key_anywhere_is_skipped_not_error(tmp_path):
    s = Settings(_env_file=None, HFDAILY_DATA_DIR=tmp_path)
    with pytest.raises(StepFailed) as err:
        LLMRuntime(s).run(load_prompt("summary_en"), {"title": "T", "abstract": "A"})
    assert err.value.status == "skipped" and "no API key" in str(err.value)


def test_budget_defers(settings):
    rt = runtime(settings, openai=Scripted("openai", []))
    rt.meter.max_cost = 0.0
    with pytest.raises(StepFailed) as err:
        rt.run(load_prompt("summary_en"), {"title": "T", "abstract": "A"})
    assert err.value.status == "deferred" and "budget" in str(err.value)


def test_the_budget_caps_what_batch_mode_queues_at_the_batch_price(settings):
    from tasks.llm.batch import BatchBook

    rt = LLMRuntime(settings, UsageMeter(None), batch=True)
    rt._clients.update(openai=Scripted("openai", []))
    prompt = load_prompt("summary_en")
    entry = prompt.chain[0]
    one = rt.queued_cost(entry, prompt.system, prompt.render(entry, {"title": "T0", "abstract": "A"}))
    assert one > 0
    rt.meter.max_cost = 2.5 * one  # room for three calls: the third starts below the cap
    deferred = []
    for i in range(5):
        with pytest.raises(StepFailed) as err:
            rt.run(prompt, {"title": f"T{i}", "abstract": "A"})
        deferred.append(str(err.value))
    assert len(BatchBook(settings.data.child("batches")).queued()) == 3  # nothing queued past the cap
    assert all("batch" in d for d in deferred[:3]) and all("budget" in d for d in deferred[3:])
    assert "queued for batches" in deferred[-1] and rt.meter.reserved == pytest.approx(3 * one, rel=0.05)
    assert one < rt.queued_cost(prompt.chain[0], "", "x" * 40_000)  # the estimate grows with the prompt


def test_cache_key_changes_with_each_part():
    base = dict(prompt_digest="p", provider="openai", model="m", params={"t": 0}, messages=[{"c": "x"}])
    keys = {cache_key(**base)}
    for k, v in [("prompt_digest", "q"), ("provider", "mistral"), ("model", "n"), ("params", {"t": 1}),
                 ("messages", [{"c": "y"}])]:
        keys.add(cache_key(**{**base, k: v}))
    assert len(keys) == 6


def test_every_prompt_file_loads_and_renders():
    for step in ("affiliations", "topics", "review_ru", "summary_en", "summary_zh", "zh_reading"):
        prompt = load_prompt(step)
        inputs = {"head": "H", "deep": "D", "title": "T</script>", "abstract": "{{ 7*7 }}", "taxonomy": {"A": "a"}}
        text = prompt.render(prompt.chain[0], inputs)
        assert "{{ 7*7 }}" in text or step == "affiliations"  # data is never evaluated as a template
    topics = load_prompt("topics").model_extra["taxonomies"]
    assert [len(t) for t in topics.values()] == [21, 21]


def test_prompt_digest_changes_with_the_file():
    text = "---\nstep: s\noutput: summary\nchain: [{provider: openai, model: m}]\n---\nBody {{ title }}\n"
    assert parse_prompt(text).digest != parse_prompt(text + " ").digest


def test_emoji_and_schemas():
    assert is_single_emoji("🚀") and is_single_emoji("👩‍🔬") and is_single_emoji("🇫🇷") and is_single_emoji("⚡")
    assert not is_single_emoji("🚀🚀") and not is_single_emoji("a") and not is_single_emoji("")
    with pytest.raises(ValueError):
        Review(emoji="🚀", title="English only", desc="English only words here that are long enough to pass")
    schema = strict_json_schema(Review)
    assert schema["additionalProperties"] is False and set(schema["required"]) == {"emoji", "title", "desc"}
    assert set(strict_json_schema(Summary)["properties"]) == {"title", "desc"}


def test_provider_concurrency_caps_calls_in_flight(tmp_path):
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    # Budgets far above what 8 calls need: only the cap on calls in flight holds them back.
    s = Settings(_env_file=None, HFDAILY_DATA_DIR=tmp_path, OPENAI_API_KEY="k", HFDAILY_PROVIDER_CONCURRENCY=2,
                 HFDAILY_OPENAI_RPM=1e6, HFDAILY_OPENAI_TPM=1e9)
    lock, state = threading.Lock(), {"now": 0, "peak": 0}

    class Slow:
        name = "openai"

        def complete(self, **kw):
            with lock:
                state["now"] += 1
                state["peak"] = max(state["peak"], state["now"])
            time.sleep(0.05)
            with lock:
                state["now"] -= 1
            return Completion(text='{"title": "Clear title", "desc": "A description long enough to pass."}',
                              model="m", input_tokens=1, output_tokens=1)

    rt = runtime(s, openai=Slow())
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda i: rt.run(load_prompt("summary_en"), {"title": f"T{i}", "abstract": "A"}),
                                range(8)))
    assert len(answers) == 8 and state["peak"] == 2


GOOD_SUMMARY = '{"title": "Clear title", "desc": "A description that is long enough to pass."}'


@pytest.mark.parametrize("breakage", ["missing", "too-old"])
def test_an_unusable_sdk_moves_the_chain_on_and_is_logged_once(settings, monkeypatch, caplog, breakage):
    import sys
    import types

    if breakage == "missing":  # `import openai` raises ImportError
        monkeypatch.setitem(sys.modules, "openai", None)
    else:  # a release that lacks what the client uses
        monkeypatch.setitem(sys.modules, "openai", types.ModuleType("openai"))
    an = Scripted("anthropic", [GOOD_SUMMARY, GOOD_SUMMARY])
    rt = runtime(settings, anthropic=an)
    prompt = load_prompt("summary_en")
    with caplog.at_level("WARNING"):
        first = rt.run(prompt, {"title": "T", "abstract": "A"})
        second = rt.run(prompt, {"title": "T2", "abstract": "A2"})
    for answer in (first, second):
        assert answer.provider == "anthropic" and answer.notes[0].startswith("openai: SDK not usable"), answer.notes
    assert ("import of openai" if breakage == "missing" else "has no") in first.notes[0]
    assert sum("SDK not usable" in r.getMessage() for r in caplog.records) == 1


def test_mistral_releases_before_2_lack_the_client_module(settings, monkeypatch):
    import sys
    import types

    old = types.ModuleType("mistralai.client")  # mistralai 1.x: a deprecated stub without `Mistral`
    monkeypatch.setitem(sys.modules, "mistralai.client", old)
    oa = Scripted("openai", ['{"text": "今天我们读论文。很好。", "pinyin": "Jīntiān wǒmen dú lùnwén.", '
                             '"vocab": [{"word": "论文", "pinyin": "lùnwén", "trans": "paper"}], '
                             '"translation": "Today we read a paper."}'])
    answer = runtime(settings, openai=oa).run(load_prompt("zh_reading"), {"title": "T", "abstract": "A"})
    assert answer.provider == "openai" and answer.notes[0].startswith("mistral: SDK not usable")
