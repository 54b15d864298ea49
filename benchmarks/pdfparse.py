"""Benchmark: PDF text extraction (`tasks.pdf.extract_text`) over the real fixture PDFs.

    python benchmarks/pdfparse.py [--dir ../shared/fixtures/pdfs] [--repeat 3]

Per paper the best of `repeat` runs (the pool's workers are started before timing), then the median over
papers. This is the product's call: page 1, plus page 2 when page 1 is shorter than the deep slice.
Target: median ≤ 0.3 s.
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


def measure(folder: Path = DEFAULT_DIR, repeat: int = 3) -> dict[str, Any]:
    """{"papers": {name: seconds}, "median_s": …} or {"skipped": reason} when the fixtures are absent."""
    from tasks.pdf import extract_text, shutdown_workers

    files = sorted(p for p in folder.glob("*.pdf") if not p.name.startswith("bad-")) if folder.is_dir() else []
    if not files:
        return {"skipped": f"no fixture PDFs in {folder}"}
    blobs = {p.name: p.read_bytes() for p in files}
    try:
        extract_text(next(iter(blobs.values())))  # start a worker: its start-up is not a parse
        times: dict[str, float] = {}
        pages: dict[str, int] = {}
        for name, pdf in blobs.items():
            best = float("inf")
            for _ in range(repeat):
                t0 = time.perf_counter()
                text = extract_text(pdf)
                best = min(best, time.perf_counter() - t0)
            times[name], pages[name] = best, text.pages
    finally:
        shutdown_workers()
    return {"papers": times, "pages": pages, "median_s": statistics.median(times.values()),
            "max_s": max(times.values()), "folder": str(folder)}


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


if __name__ == "__main__":
    main()
