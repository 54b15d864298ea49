"""Benchmark: PDF text extraction (`tasks.pdf.extract_text`) over the real fixture PDFs, and its worker pool.

    python benchmarks/pdfparse.py [--dir ../shared/fixtures/pdfs] [--repeat 3]

Per paper the best of `repeat` runs (the pool's worker is started before timing), then the median over
papers. This is the product's call: page 1, plus page 2 when page 1 is shorter than the deep slice.
Target: median ≤ 0.3 s. Also printed: a worker's start-up (a fresh interpreter, imports, pdfplumber; median of
`repeat` starts) and a round trip to a warm worker (an empty job, answered at once; median of 200).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

DEFAULT_DIR = ROOT.parent / "shared" / "fixtures" / "pdfs"


def _timed(fn: Any, *args: Any) -> float:
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def measure(folder: Path = DEFAULT_DIR, repeat: int = 3) -> dict[str, Any]:
    """{"papers": {name: seconds}, "median_s": …, "start_s", "round_trip_s"} or {"skipped": reason}."""
    from tasks.pdf.extract import extract_text, new_parser_pool

    files = sorted(p.name for p in folder.glob("*.pdf") if not p.name.startswith("bad-")) if folder.is_dir() else []
    if not files:
        return {"skipped": f"no fixture PDFs in {folder}"}
    blobs = {name: (folder / name).read_bytes() for name in files}

    def empty_job(pool: Any) -> None:
        pool.run(b"", 0, timeout=30)  # not a PDF: the worker answers with an error message at once

    starts = []
    for _ in range(repeat):
        with new_parser_pool(size=1) as pool:
            starts.append(_timed(empty_job, pool))
    with new_parser_pool(size=1) as pool:
        empty_job(pool)  # start the worker: its start-up is not a parse
        round_trip = statistics.median(_timed(empty_job, pool) for _ in range(200))
        times: dict[str, float] = {}
        pages: dict[str, int] = {}
        for name, pdf in blobs.items():
            best = float("inf")
            for _ in range(repeat):
                t0 = time.perf_counter()
                text = extract_text(pdf, pool)
                best = min(best, time.perf_counter() - t0)
            times[name], pages[name] = best, text.pages
    return {"papers": times, "pages": pages, "median_s": statistics.median(times.values()),
            "max_s": max(times.values()), "folder": str(folder),
            "start_s": statistics.median(starts) - round_trip, "round_trip_s": round_trip}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    result = measure(args.dir, args.repeat)
    if "skipped" in result:
        print(f"skipped: {result['skipped']}")
        return
    print("| PDF | pages in file | seconds |\n|---|---:|---:|")
    for name, seconds in result["papers"].items():
        print(f"| {name} | {result['pages'][name]} | {seconds:.3f} |")
    print(f"| **median** | | **{result['median_s']:.3f}** |")
    start, trip = result["start_s"] * 1e3, result["round_trip_s"] * 1e3
    print(f"\nworker start-up: {start:.0f} ms · warm round trip: {trip:.3f} ms")


if __name__ == "__main__":
    main()
