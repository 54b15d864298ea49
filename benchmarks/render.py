"""Benchmark: render a year of synthetic days (250 × 25 papers, each with a first-page picture) and print a table.

    python benchmarks/render.py [--days 250] [--papers 25] [--repeats 3] [--profile]

The store is invented data built from the pydantic models (tests/site_data.py) in a temporary directory.
Rows: drawing first-page pictures in the PDF parser pool (sandbox PDFs: what the picture step costs a paper), the
pages cold (with pictures: their first copy from the data dir to img/ included; a site gets each picture once), the
pages again with the pictures already on the site (the pages' own time with their <img> tags: the target, ≤ 5 s),
the same pages from a store without pictures (what the <img> tags cost), the search index alone (Pagefind, every
month bundle: its seconds, files and MB), the full render with the index (they overlap: the index builds in
Pagefind's process while Python renders pages), a warm re-render (nothing changed: no bundle rebuilt), and the
daily run's render after its day changed (its month's bundle rebuilt).

The two page rows are the median of `--repeats` renders of a site already written (CPU seconds: their mean), so
the page cache writing back the cold render's 280 MB, or a neighbour's burst, does not decide the target.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from tasks.render import load_days, render_for_day, render_site  # noqa: E402
from tasks.settings import TEMPLATES_DIR, Settings  # noqa: E402
from tasks.site import search  # noqa: E402
from tasks.site.pages import Site, search_records  # noqa: E402
from tests.site_data import attach_pictures, paper, synthetic_store, write_store  # noqa: E402

DRAWN = 8  # distinct pictures drawn for the store (reused under every paper's own name)
# the target's row (benchmarks/run.py reads it)
PAGES_ROW = "render_site (the pages, their pictures already on the site"


def _draw(count: int) -> tuple[float, int]:
    """Seconds and bytes to draw `count` first pages from sandbox PDFs in a warm one-worker parser pool."""
    from sandbox.pdfgen import build_pdf
    from sandbox.synth import papers_for_date
    from tasks.pdf.extract import new_parser_pool
    from tasks.pdf.picture import draw_first_page

    pdfs = [build_pdf(p) for p in papers_for_date("2025-01-23", count)]
    with new_parser_pool(size=1) as pool:
        draw_first_page(pdfs[0], pool)  # start the worker: not billed to the pictures
        t0 = time.perf_counter()
        size = sum(len(draw_first_page(pdf, pool).webp) for pdf in pdfs)
        return time.perf_counter() - t0, size


def _cpu() -> float:
    """CPU seconds of this process and its finished children (Pagefind): on a busy machine wall time mostly
    measures the neighbours, CPU time what the work costs."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _files(site_dir: str, keys: list[str]) -> tuple[int, float]:
    return len(keys), sum((Path(site_dir) / k).stat().st_size for k in keys) / 1e6


def measure(days: int = 250, papers: int = 25, profile: bool = False, repeats: int = 3) -> dict[str, Any]:
    """Build synthetic stores in a temporary directory and time loading and rendering them.

    Returns the store's size and one row per step: {"step", "seconds", "files", "mb"} (files written, MB)."""
    rows: list[dict[str, Any]] = []
    clock = [_cpu()]

    def row(step: str, seconds: float, written: list[str] | None = None, files: int = 0, mb: float = 0.0,
            site_dir: str = "", runs: int = 1) -> None:
        if written is not None:
            files, mb = _files(site_dir, written)
        now = _cpu()
        rows.append({"step": step, "seconds": seconds, "cpu": (now - clock[0]) / runs, "files": files, "mb": mb})
        clock[0] = now

    def again(settings: Settings) -> tuple[float, list[str]]:
        """The median seconds of `repeats` renders of an already written site, and the keys the last wrote."""
        clock[0] = _cpu()
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            written = render_site(settings)
            times.append(time.perf_counter() - t0)
        return statistics.median(times), written

    profiler = cProfile.Profile() if profile else None
    with tempfile.TemporaryDirectory(prefix="hfdaily-bench-") as tmp:
        base = Path(tmp)
        clock[0] = _cpu()
        seconds, size = _draw(2 * DRAWN)
        row(f"first-page pictures drawn ({2 * DRAWN}, parser pool)", seconds, files=2 * DRAWN, mb=size / 1e6)
        store = synthetic_store(days, papers)
        pages = Settings(data_dir=base / "data", site_dir=base / "pages", site_url="https://example.org/hfdaily",
                         search_index=False)
        attach_pictures(store, Path(pages.data_dir), DRAWN)
        write_store(Path(pages.data_dir, "days"), store)
        total_papers = sum(len(d.papers) for d in store)
        store_mb = sum(p.stat().st_size for p in Path(pages.data_dir, "days").iterdir()) / 1e6

        clock[0] = _cpu()
        t0 = time.perf_counter()
        loaded = load_days(pages)
        row("load_days", time.perf_counter() - t0)

        if profiler:
            profiler.enable()
        t0 = time.perf_counter()
        written = render_site(pages)
        row("render_site (cold)", time.perf_counter() - t0, written, site_dir=pages.site_dir)
        if profiler:
            profiler.disable()

        seconds, written = again(pages)
        row(f"{PAGES_ROW}: median of {repeats})", seconds, written, site_dir=pages.site_dir, runs=repeats)

        plain = Settings(data_dir=base / "plain", site_dir=base / "plain-site", site_url=pages.site_url,
                         search_index=False)
        write_store(Path(plain.data_dir, "days"), synthetic_store(days, papers))
        render_site(plain)
        seconds, written = again(plain)
        row(f"render_site (the same pages from a store without pictures: median of {repeats})", seconds, written,
            site_dir=plain.site_dir, runs=repeats)

        site = Site(loaded, TEMPLATES_DIR)
        clock[0] = _cpu()
        t0 = time.perf_counter()
        bundles = search.build_bundles({m: search_records(site, m) for m in site.months})
        seconds = time.perf_counter() - t0
        files = sum(len(b) for b in bundles.values())
        size = sum(len(v) for b in bundles.values() for v in b.values()) / 1e6
        row(f"search index alone ({len(bundles)} month bundles)", seconds, files=files, mb=size)

        full = Settings(data_dir=pages.data_dir, site_dir=base / "full", site_url=pages.site_url)
        clock[0] = _cpu()
        t0 = time.perf_counter()
        written = render_site(full)
        row("render_site (cold, pages + search index)", time.perf_counter() - t0, written, site_dir=full.site_dir)

        t0 = time.perf_counter()
        written = render_site(full)
        row("render_site (warm, index up to date)", time.perf_counter() - t0, written, site_dir=full.site_dir)

        latest = store[-1]
        latest.papers.append(paper("9999.00001", "A paper added by the day's next run"))
        write_store(Path(full.data_dir, "days"), [latest])
        clock[0] = _cpu()
        t0 = time.perf_counter()
        written = render_for_day(full, latest.date)
        row("render_for_day (latest, changed: its month re-indexed)", time.perf_counter() - t0, written,
            site_dir=full.site_dir)
    return {"days": len(store), "papers": total_papers, "store_mb": store_mb, "rows": rows, "profiler": profiler}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=250)
    parser.add_argument("--papers", type=int, default=25)
    parser.add_argument("--repeats", type=int, default=3, help="renders of each page row (their median)")
    parser.add_argument("--profile", action="store_true", help="print the top functions of render_site")
    args = parser.parse_args()

    result = measure(args.days, args.papers, args.profile, args.repeats)
    print(f"Synthetic store: {result['days']} days, {result['papers']} papers, {result['store_mb']:.1f} MB of JSON; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")
    print("| step | days | papers | files | seconds | CPU seconds | MB written |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for row in result["rows"]:
        print(f"| {row['step']} | {result['days']} | {result['papers']} | {row['files']} | {row['seconds']:.2f} "
              f"| {row['cpu']:.2f} | {row['mb']:.1f} |")
    if result["profiler"]:
        print()
        pstats.Stats(result["profiler"]).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
