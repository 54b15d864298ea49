"""`python -m benchmarks`: the whole suite (benchmarks/run.py)."""

from benchmarks.run import main

raise SystemExit(main())
