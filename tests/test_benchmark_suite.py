"""The benchmark suite runs (``python -m benchmarks --quick``): its full-system section and the README's main command.

The suite's test is marked ``slow`` (about 20 s): CI runs it.  It checks that the suite works and reports, not how
fast the code is (speed targets are measured by the suite itself, not by timed tests).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_quick_suite_measures_the_full_system_and_the_main_command(tmp_path):
    r = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--only", "full", "--out", str(tmp_path)],
                       cwd=ROOT, capture_output=True, text=True, timeout=600,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    res = json.loads((tmp_path / "results.json").read_text())
    assert [(f["base"], f["handles"]) for f in res["full"]] == [("defaults", True), ("defaults", False),
                                                                 ("calibrated", False)]
    assert all(f["steps"] > 0 and f["total_cpu"] > 0 for f in res["full"])
    cmd = res["command"]
    assert cmd["command"].startswith("clustersim run --years") and "--scale" in cmd["command"]
    assert cmd["wall"] > 0 and cmd["cpu"] > 0 and cmd["runs_wall"] == [cmd["wall"]]
    md = (tmp_path / "results.md").read_text()
    assert "## The README's main command, end to end" in md and "README main command" in md
    assert set(res["evaluation"]) >= {"main_command_wall_s", "main_command_cpu_s", "full_peak_rss_mb"}


def test_the_main_command_is_reported_by_its_median_run():
    from benchmarks.run import median_run

    runs = [{"wall": 9.0, "cpu": 8.9}, {"wall": 12.0, "cpu": 11.8}, {"wall": 8.0, "cpu": 7.9}]
    m = median_run(runs)
    assert (m["wall"], m["cpu"]) == (9.0, 8.9)
    assert m["runs_wall"] == [9.0, 12.0, 8.0] and m["runs_cpu"] == [8.9, 11.8, 7.9]
    assert median_run(runs[:2])["wall"] == 9.0  # an even count gives the faster of the middle two
