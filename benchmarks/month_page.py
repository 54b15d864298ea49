"""Benchmark: a month page of 600+ papers in Chromium (file://): first paint, and how long a filter or a sort takes.

    python benchmarks/month_page.py [--papers-per-day 32] [--runs 7]    (or: python -m benchmarks --only month)

A synthetic month (tests/site_data.py: 21 weekdays × 32 papers, about 640 after the re-listed ones) is rendered
to a temporary folder and opened in Debian's Chromium through Playwright, a fresh tab per load. Printed, as
medians over the runs:

- load: first paint and first contentful paint (the browser's paint timing), DOMContentLoaded, and when the
  page's script finished (the controls work from then on);
- each action (a topic chip, AND mode, an institution, a sort, a search word): the time from the input event to
  the next frame the browser can paint, i.e. the handler, the layout it causes and one animation frame.

Targets (the issue's): first paint ≤ 1000 ms, a filter or a sort ≤ 100 ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from tasks.render import render_site  # noqa: E402
from tasks.settings import Settings  # noqa: E402
from tests.site_data import synthetic_store, write_store  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
TARGETS = {"first_paint_ms": 1000.0, "action_ms": 100.0}

# Runs in the page: fire an action and wait for the frame after it. `performance.now()` brackets the handler (it
# runs synchronously inside dispatchEvent / click), the forced layout, and the next animation frame.
ACTION = """async ([kind, arg]) => {
  const frame = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
  await frame();
  const t0 = performance.now();
  if (kind === 'click') document.querySelector(arg).click();
  else if (kind === 'select' || kind === 'input') {
    const [sel, value] = arg;
    const el = document.querySelector(sel);
    el.value = value;
    el.dispatchEvent(new Event(kind === 'select' ? 'change' : 'input', { bubbles: true }));
  }
  const t1 = performance.now();
  document.body.getBoundingClientRect();
  const shown = document.querySelectorAll('.card:not([hidden])').length;
  const t2 = performance.now();
  await frame();
  return { handler: t1 - t0, layout: t2 - t1, frame: performance.now() - t0, shown };
}"""

LOAD = """() => {
  const paint = Object.fromEntries(performance.getEntriesByType('paint').map((e) => [e.name, e.startTime]));
  const nav = performance.getEntriesByType('navigation')[0];
  return { fp: paint['first-paint'], fcp: paint['first-contentful-paint'],
           dcl: nav.domContentLoadedEventEnd, load: nav.loadEventEnd, cards: document.querySelectorAll('.card').length,
           bytes: nav.transferSize || nav.encodedBodySize || 0 };
}"""


def build(papers_per_day: int, folder: Path) -> tuple[Path, str, int]:
    settings = Settings(data_dir=folder / "data", site_dir=folder / "site", site_url="", search_index=False)
    store = synthetic_store(n_days=21, per_day=papers_per_day, start="2025-03-03")  # the weekdays of March
    write_store(Path(settings.data_dir, "days"), store)
    render_site(settings)
    month = store[0].date[:7]
    page = Path(settings.site_dir) / "m" / f"{month}.html"
    return page, month, page.stat().st_size


def measure(papers_per_day: int = 32, runs: int = 7) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="hfdaily-month-") as tmp, sync_playwright() as pw:
        page_path, month, size = build(papers_per_day, Path(tmp))
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        loads: list[dict[str, float]] = []
        actions: dict[str, list[dict[str, float]]] = {}
        for _ in range(runs):
            context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
            page.goto(page_path.as_uri(), wait_until="load")
            deadline = time.monotonic() + 10
            while not page.evaluate("document.documentElement.classList.contains('js')"):
                assert time.monotonic() < deadline
                time.sleep(0.01)
            loads.append(page.evaluate(LOAD))
            tag = page.eval_on_selector(".chip[data-tag]", "b => b.dataset.tag")
            inst = page.eval_on_selector("#inst option:nth-child(2)", "o => o.value")
            steps = [
                ("topic chip (OR)", "click", f".chip[data-tag='{tag}']"),
                ("second chip", "click", ".chip[data-tag]:nth-of-type(2)"),
                ("AND mode", "click", "input[name='mode'][value='and']"),
                ("clear", "click", "#clear"),
                ("institution", "select", ["#inst", inst]),
                ("institution off", "select", ["#inst", ""]),
                ("sort by date", "select", ["#sort", "date"]),
                ("sort by rank", "select", ["#sort", "rank"]),
                ("sort by upvotes", "select", ["#sort", "upvotes"]),
                ("search word", "input", ["#q", "diffusion"]),
                ("search cleared", "input", ["#q", ""]),
            ]
            for name, kind, arg in steps:
                actions.setdefault(name, []).append(page.evaluate(ACTION, [kind, arg]))
            assert not errors, errors
            context.close()
        browser.close()
    med = {k: statistics.median(v[k] for v in loads) for k in ("fp", "fcp", "dcl", "load")}
    return {"month": month, "cards": int(loads[0]["cards"]), "html_mb": size / 1e6, "runs": runs, "load": med,
            "actions": {name: {k: statistics.median(r[k] for r in rs) for k in ("handler", "layout", "frame")}
                        | {"max_frame": max(r["frame"] for r in rs), "shown": rs[0]["shown"]}
                        for name, rs in actions.items()}}


def report(result: dict[str, Any]) -> str:
    load = result["load"]
    lines = [
        f"Month page {result['month']}: {result['cards']} cards, {result['html_mb']:.1f} MB of HTML, "
        f"medians of {result['runs']} fresh loads (file://, Chromium, 1280×900)",
        "",
        "| load | ms |",
        "|---|---:|",
        f"| first paint | {load['fp']:.0f} |",
        f"| first contentful paint | {load['fcp']:.0f} |",
        f"| DOMContentLoaded done (script ready) | {load['dcl']:.0f} |",
        f"| load event | {load['load']:.0f} |",
        "",
        "| action | cards shown | handler ms | layout ms | to next frame ms (median) | worst ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, a in result["actions"].items():
        lines.append(f"| {name} | {a['shown']} | {a['handler']:.1f} | {a['layout']:.1f} | {a['frame']:.1f} "
                     f"| {a['max_frame']:.1f} |")
    worst = max(a["frame"] for a in result["actions"].values())
    lines += ["", f"month: first_paint_ms={load['fp']:.0f} worst_action_ms={worst:.1f} "
                  f"targets: first_paint<={TARGETS['first_paint_ms']:.0f} action<={TARGETS['action_ms']:.0f}"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers-per-day", type=int, default=32)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    print(report(measure(args.papers_per_day, args.runs)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
