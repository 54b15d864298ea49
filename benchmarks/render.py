"""Benchmark: render a year of synthetic days (250 × 25 papers) and print a Markdown table.

    python benchmarks/render.py [--days 250] [--papers 25] [--profile]

The store is invented data built from the pydantic models (tests/site_data.py) in a temporary directory.
Target: a full `render_site` in ≤ 5 s.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from tasks.render import load_days, render_for_day, render_site  # noqa: E402
from tasks.settings import Settings  # noqa: E402
from tests.site_data import synthetic_store, write_store  # noqa: E402


def measure(days: int = 250, papers: int = 25, profile: bool = False) -> dict[str, Any]:
    """Build a synthetic store in a temporary directory and time loading and rendering it.

    Returns the store's size and one row per step: {"step", "seconds", "files", "mb"} (files written, MB)."""
    with tempfile.TemporaryDirectory(prefix="hfdaily-bench-") as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", site_dir=Path(tmp) / "site",
                            site_url="https://example.org/hfdaily")
        store = synthetic_store(days, papers)
        write_store(Path(settings.data_dir, "days"), store)
        total_papers = sum(len(d.papers) for d in store)
        store_mb = sum(p.stat().st_size for p in Path(settings.data_dir, "days").iterdir()) / 1e6

        rows: list[tuple[str, float, list[str] | None]] = []
        t0 = time.perf_counter()
        load_days(settings)
        rows.append(("load_days", time.perf_counter() - t0, None))

        profiler = cProfile.Profile() if profile else None
        t0 = time.perf_counter()
        if profiler:
            profiler.enable()
        written = render_site(settings)
        if profiler:
            profiler.disable()
        rows.append(("render_site (cold)", time.perf_counter() - t0, written))

        t0 = time.perf_counter()
        written_again = render_site(settings)
        rows.append(("render_site (warm)", time.perf_counter() - t0, written_again))

        t0 = time.perf_counter()
        daily = render_for_day(settings, store[-1].date)
        rows.append(("render_for_day (latest)", time.perf_counter() - t0, daily))
        table = [
            {"step": name, "seconds": seconds, "files": len(files) if files is not None else 0,
             "mb": sum((Path(settings.site_dir) / key).stat().st_size for key in files) / 1e6 if files else 0.0}
            for name, seconds, files in rows
        ]
    return {"days": len(store), "papers": total_papers, "store_mb": store_mb, "rows": table, "profiler": profiler}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=250)
    parser.add_argument("--papers", type=int, default=25)
    parser.add_argument("--profile", action="store_true", help="print the top functions of render_site")
    args = parser.parse_args()

    result = measure(args.days, args.papers, args.profile)
    print(f"Synthetic store: {result['days']} days, {result['papers']} papers, {result['store_mb']:.1f} MB of JSON\n")
    print("| step | days | papers | files | seconds | MB written |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in result["rows"]:
        print(f"| {row['step']} | {result['days']} | {result['papers']} | {row['files']} | {row['seconds']:.2f} "
              f"| {row['mb']:.1f} |")
    if result["profiler"]:
        print()
        pstats.Stats(result["profiler"]).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
