"""hfdaily's benchmarks: scripts that print numbers (docs/benchmarks.md). `python -m benchmarks` runs the suite."""
