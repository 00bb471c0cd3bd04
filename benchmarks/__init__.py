"""Benchmark suite of clustersim (not part of the test run).

Run ``python -m benchmarks`` (or ``python benchmarks/run.py``) from the
repository root; see :mod:`benchmarks.run` and ``docs/performance.md``.
"""
