"""The scale benchmark's bound, from the sandbox's request log: the limits' share and the longest chain."""

from __future__ import annotations

import math

import pytest

from benchmarks.scale import chain_bound, last_line, llm_facts, rate_bound, rows, run_bound, summary, titles_by_date


def _llm(target, step, subject, latency, charged=None, status=200, start=0.0):
    return {"target": target, "step": step, "subject": subject, "latency_s": latency, "status": status,
            "charged": charged or {}, "start": start}


def test_a_limit_bounds_its_calls_by_their_cost_less_one_bucket_and_the_last_call():
    # 11 requests at 60 a minute (1 a second, a bucket of 1): the 11th can start no sooner than 9 s after the first.
    records = [_llm("anthropic", "review_ru", f"p{i}", 1.5 + i, {"rpm": 1.0, "tpm": 100.0}) for i in range(11)]
    limits = {"anthropic": {"rpm": 60, "tpm": 60_000}}
    assert rate_bound(records, 0.1, limits)["anthropic"] == pytest.approx({"rpm": 0.1 + 11, "tpm": 0.1 + 1.1})
    strict = rate_bound(records, feed_s=0.1, limits=limits, burst_s=1.0, strict=True)
    assert strict["anthropic"]["rpm"] == pytest.approx(0.1 + (11 - 1 - 1) + 1.5)  # + the shortest latency
    assert strict["anthropic"]["tpm"] == pytest.approx(0.1 + 0 + 1.5)  # 1,100 tokens fit in the first second
    refused = [_llm("anthropic", "review_ru", "p", 0.0, status=429)]
    assert rate_bound(refused, 0.1, {"anthropic": {"rpm": 60}}) == {}  # a 429 is charged nothing


def test_the_longest_chain_of_a_date_is_its_slowest_paper_step_with_its_calls_in_order():
    date_of = {"A": "2025-01-01", "B": "2025-01-01", "C": "2025-01-02"}
    records = [
        {"target": "hf", "subject": "2025-01-01", "latency_s": 0.1, "status": 200},
        {"target": "hf", "subject": "2025-01-02", "latency_s": 0.1, "status": 200},
        {"target": "pdf", "subject": "A", "latency_s": 0.2, "status": 200},
        _llm("openai", "affiliations", "A", 2.0), _llm("mistral", "affiliations", "A", 3.0),  # a fallback: 5 s
        _llm("openai", "topics", "B", 4.0), _llm("openai", "topics", "B", 2.5),  # two taxonomies: 6.5 s
        _llm("openai", "topics", "B", 0.0, status=429),
        _llm("openai", "summary_en", "C", 9.0),
        _llm("mistral", "zh_reading", "A", 7.0),
    ]
    chains = chain_bound(records, date_of)
    assert chains == {"2025-01-01": pytest.approx(0.1 + 7.0), "2025-01-02": pytest.approx(0.1 + 9.0)}
    del records[-1]
    assert chain_bound(records, date_of)["2025-01-01"] == pytest.approx(0.1 + 6.5)  # topics beats PDF + 5 s


def test_run_bound_takes_the_larger_and_names_it():
    titles = titles_by_date(["2025-01-29"], 2)
    [a, b] = sorted(titles)
    records = [{"target": "hf", "subject": "2025-01-29", "latency_s": 0.1, "status": 200, "start": 0.0},
               _llm("openai", "topics", a, 3.0, {"rpm": 1.0, "tpm": 10.0}, start=1.0),
               _llm("openai", "topics", a, 2.0, {"rpm": 1.0, "tpm": 10.0}, start=4.0),
               _llm("anthropic", "review_ru", b, 1.0, {"rpm": 1.0, "tpm": 10.0}, start=3.0)]
    bound = run_bound(records, ["2025-01-29"], 2)
    assert bound["binding"] == "chain" and bound["bound_s"] == pytest.approx(0.1 + 3.0 + 2.0)
    assert bound["rate_s"] == pytest.approx(0.1 + 1 / (50 / 60))  # one Anthropic request at 50 a minute
    facts = llm_facts(records)
    assert facts["first_anthropic_after_openai_s"] == 2.0 and facts["rate_429"] == 0.0


def test_the_last_line_has_its_exact_shape():
    res = {"time_scale": 4.0,
           "cold": {"beyond_startup_s": 33.0, "bound": {"bound_s": 30.0}, "llm": {"llm_requests": 160,
                                                                                   "refused_429": 2}},
           "backfill_10": {"beyond_startup_s": 100.0, "bound": {"bound_s": 380.0}, "peak_tree_rss_mb": 400.0,
                           "llm": {"llm_requests": 1600, "refused_429": 10}},
           "backfill_60": {"beyond_startup_s": 700.0, "bound": {"bound_s": 2660.0}, "peak_tree_rss_mb": 420.0,
                           "llm": {"llm_requests": 9600, "refused_429": 30}}}
    s = summary(res, 10, 60)
    assert s["cold_ratio"] == pytest.approx(1.1) and s["backfill_share"] == pytest.approx(0.95)
    assert s["rss_growth"] == pytest.approx(0.05) and s["rate_429"] == pytest.approx(42 / 11360)
    assert last_line(s) == ("scale: cold_ratio=1.100 backfill_share=0.950 batch_cost_share=nan rss_growth=0.050 "
                            "rate_429=0.004 batch_resume_dupes=nan")
    assert last_line({k: math.nan for k in s}).count("=nan") == 6


def test_the_batch_rows_fill_the_last_line():
    usage = {"cost_usd": 0.02, "papers": 8, "calls": 50, "batch_calls": 0, "complete": True}
    res = {"time_scale": 1.0, "batch_dates": ["2025-01-22", "2025-01-23"],
           "batch_online": {"usage": usage, "cache_share": 0.1},
           "batch": {"usage": {**usage, "cost_usd": 0.01, "batch_calls": 50}, "rounds": 3, "cache_share": 0.1},
           "batch_resume": {"usage": usage, "rounds": 3, "killed_with_queued": 5,
                            "sandbox_batches": {"requests": 50, "batches": 6, "duplicates": 0}}}
    s = summary(res, 10, 60)
    assert s["batch_cost_share"] == pytest.approx(0.5) and s["batch_resume_dupes"] == 0
    line = last_line(s)
    assert "batch_cost_share=0.500" in line and line.endswith("batch_resume_dupes=0")
    incomplete = {**res, "batch": {**res["batch"], "usage": {**usage, "complete": False}}}
    assert math.isnan(summary(incomplete, 10, 60)["batch_cost_share"])  # an incomplete batch run proves nothing
    assert [r[3] for r in rows(res, 10, 60)][:2] == [True, True]


def test_the_batch_rows_take_the_online_backfill_row_as_their_baseline_when_it_ran_over_their_dates(monkeypatch,
                                                                                                 tmp_path):
    import benchmarks.scale as scale

    def run(cost: float, batch_calls: int = 0) -> dict:
        return {"usage": {"cost_usd": cost, "papers": 10, "calls": 60, "batch_calls": batch_calls, "complete": True},
                "wall_s": 5.0, "load": (1.0,)}

    class Client:
        def __getattr__(self, name):
            return lambda *a, **k: {"duplicates": 0, "requests": 60, "batches": 3} if name == "batches" else []

    class Bench:
        def __init__(self) -> None:
            self.sandbox, self.tmp, self.ran = type("S", (), {"client": Client()})(), tmp_path, []

        def child(self, name, *a, **k):
            self.ran.append(name)
            return run(1.0) if name == "scale-batch-online" else run(0.5, 60)

    monkeypatch.setattr(scale, "_killed_and_resumed", lambda *a, **k: {})
    reused, own = Bench(), Bench()
    got = scale.measure_batch(reused, ["2025-01-28", "2025-01-29"], 5, 4, online=run(2.0))
    assert reused.ran == ["scale-batch-0"] and got["batch_online"]["baseline"] == "online backfill row"
    assert summary({**got, "time_scale": 1.0}, 10, 60)["batch_cost_share"] == pytest.approx(0.25)
    got = scale.measure_batch(own, ["2025-01-28", "2025-01-29"], 5, 4)
    assert own.ran == ["scale-batch-online", "scale-batch-0"] and got["batch_online"]["baseline"] == "own online run"
    assert summary({**got, "time_scale": 1.0}, 10, 60)["batch_cost_share"] == pytest.approx(0.5)
    [row] = [r for r in scale.batch_rows(got, summary({**got, "time_scale": 1.0}, 10, 60)) if "S4" in r[0]]
    assert "own online run" in row[0] and "**50% of online per paper**" in row[1] and row[3]
