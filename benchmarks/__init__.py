"""The scale harness: runs the nightly steps at several demo scales, each step in its own
subprocess, and records wall time, CPU time and peak memory, the ratios the issues ask for, and
whether each promised bar is met. `python -m benchmarks.run --help` (or `make bench`)."""
