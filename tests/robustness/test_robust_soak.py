"""Long runs stay sound -- the fast variant of ``python benchmarks/soak.py`` (issue #8, part 4).

The documented slower soak (scale 1, 50 years, about 122,000 firms) is
``python benchmarks/soak.py``; its numbers are in ``docs/robustness.md``.  Here:

* the soak script itself at scale 0.05 for 10 years, both modes (``clustersim run`` path and
  Mesa-handle path): finishes, firm counts within the band, no memory drift;
* the drift detector has teeth: an injected leak (objects and bytes kept on every step) is
  flagged, and a flat series is not;
* the firm-count band catches runaway growth (regression test for the spin-off heredity
  runaway found by the soak, since fixed).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest
from robustness_helpers import ROOT, SMALL, cli_env

SOAK = ROOT / "benchmarks" / "soak.py"


def _soak_module():
    spec = importlib.util.spec_from_file_location("clustersim_soak", SOAK)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
def test_fast_soak(tmp_path):
    out = tmp_path / "soak.json"
    r = subprocess.run([sys.executable, str(SOAK), "--scale", "0.05", "--years", "10", "--every", "2",
                        "--mode", "both", "--min-drift-mb", "4", "--out", str(out), "--quiet"],
                       capture_output=True, text=True, cwd=ROOT, env=cli_env(), timeout=600)
    assert "Traceback" not in r.stderr, r.stderr
    doc = json.loads(out.read_text())
    assert [x["run"]["mode"] for x in doc["results"]] == ["batch", "mesa"]
    for x in doc["results"]:
        run, a = x["run"], x["assessment"]
        assert run["finished"] and run["breach"] is None, run["breach"]
        assert len(run["samples"]) == 6  # years 0, 2, ..., 10
        assert all(0.5 <= s["firms_ratio"] <= 2.0 for s in run["samples"])
        assert a["ok"], (run["mode"], a["checks"], a["trends"])
        if run["mode"] == "mesa":  # one Mesa agent per living firm and institution, plus the outside world
            assert all(s["mesa_agents"] > 0.9 * s["firms"] for s in run["samples"])
    assert r.returncode == 0, r.stdout[-3000:]


def test_drift_detector_flags_a_leak(monkeypatch):
    soak = _soak_module()
    from sim.model.model import ClusterModel

    leak = []
    real_step = ClusterModel.step

    def leaky_step(self):
        real_step(self)
        leak.append([[] for _ in range(4000)])       # 4000 (gc-tracked) objects ...
        leak.append(bytearray(100_000))              # ... and 100 kB per quarter

    monkeypatch.setattr(ClusterModel, "step", leaky_step)
    run = soak.soak_run(scale=0.02, years=10, every=2, clusters=SMALL, mode="batch")
    a = soak.assess(run, min_drift_mb=2.0)
    assert run["finished"]
    assert not a["checks"]["no_drift_other_mb"], a["trends"]["other_mb"]
    assert not a["checks"]["no_drift_gc_objects"], a["trends"]["gc_objects"]
    assert not a["ok"]


def test_drift_detector_accepts_flat_and_noisy_series():
    soak = _soak_module()
    base = {"rss_mb": 250.0, "peak_rss_mb": 300.0, "traced_mb": 40.0, "other_mb": 20.0, "gc_objects": 97000,
            "step_s": 0.3}
    samples = []
    for i, year in enumerate(range(0, 55, 5)):
        wiggle = (-1) ** i
        samples.append({"year": float(year), **{k: v * (1 + 0.03 * wiggle) for k, v in base.items()}})
    run = {"years": 50, "finished": True, "breach": None, "samples": samples}
    assert soak.assess(run)["ok"]
    run["samples"] = [{**s, "other_mb": s["other_mb"] + 0.5 * s["year"]} for s in samples]  # +25 MB over 50 years
    assert not soak.assess(run)["checks"]["no_drift_other_mb"]


def test_band_stops_a_collapse_early():
    soak = _soak_module()
    run = soak.soak_run(scale=0.05, years=10, every=5, clusters=SMALL, mode="batch", trace=False,
                        params={"exit_rate": 0.5, "exit_sensitivity": 0.0, "startup_rate": 0.0,
                                "spinoff_rate": 0.0, "inst_spinoff_rate": 0.0})
    assert not run["finished"] and run["breach"].startswith("collapse"), run["breach"]
    assert run["samples"][-1]["year"] < 10


def test_no_runaway_growth_within_the_sensitivity_range():
    """spinoff_quality at the top of its sensitivity range (2.0): a cluster explodes within 10 years."""
    soak = _soak_module()
    run = soak.soak_run(scale=0.2, years=12, every=2, clusters=["daegu_textiles"], mode="batch", trace=False,
                        params={"spinoff_quality": 2.0}, seed=1)
    assert run["breach"] is None, run["breach"]
