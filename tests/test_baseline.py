"""The behavioural baseline (:mod:`sim.engine.baseline`): the model still does what the golden record says.

A failure here means the model's behaviour (the indicator table of the fixed seeded run) or a
shipped data file changed. If the change is deliberate, regenerate the golden record with
``python scripts/regenerate_baseline.py`` and re-run ``clustersim calibrate`` (the shipped
calibration records the run hash it was fitted on).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from calibration import shipped
from sim.engine import baseline

ROOT = Path(__file__).resolve().parents[1]
REGENERATE = "python scripts/regenerate_baseline.py"


def _versions_note(gold: dict) -> str:
    now = baseline.package_versions(baseline.VERSION_PACKAGES)
    then = gold.get("versions", {})
    return ", ".join(f"{k} {now.get(k)}" + ("" if then.get(k) == now.get(k) else f" (golden: {then.get(k)})")
                     for k in sorted(set(now) | set(then)))


def test_golden_record_is_shipped():
    gold = baseline.golden()
    assert gold.get("format") == baseline.FORMAT, f"{baseline.GOLDEN_FILE} is missing or not a baseline record"
    assert len(gold["run"]) == 64 and gold["data"] and gold["versions"]


def test_behaviour_matches_the_golden_record():
    gold = baseline.golden()
    diff = baseline.compare(baseline.record(), gold)
    assert not diff, ("the model's behaviour or its shipped data changed:\n  " + "\n  ".join(diff)
                      + f"\npackage versions: {_versions_note(gold)}"
                      + f"\nIf the change is deliberate, regenerate the golden record with '{REGENERATE}' "
                        "and re-run 'clustersim calibrate' (see docs/calibration.md).")


def test_run_hash_is_deterministic():
    assert baseline.run_hash() == baseline.run_hash()


def test_portable_hash_is_the_hash_of_the_run():
    """The portable process hashes the same run table as this process would (on this machine: its paths may
    differ from the portable ones only on CPUs with AVX-512), and on x86-64 it switches numpy's AVX-512 paths off."""
    h = baseline.portable_hashes()
    assert set(h) == {"run", "labels"} and all(len(v) == 64 for v in h.values())
    env = baseline.portable_env()
    assert str(ROOT) in env["PYTHONPATH"].split(os.pathsep)
    if baseline._x86():
        assert "X86_V4" in env["NPY_DISABLE_CPU_FEATURES"] and env["OPENBLAS_CORETYPE"] == "Haswell"


def test_equivalent_hashes_keep_a_calibration_current(tmp_path):
    """A calibration stamped with a run hash the golden record declares equivalent loads without a warning;
    one stamped with any other hash warns."""
    gold = baseline.golden()
    d = json.loads((ROOT / "calibration" / shipped.CALIBRATED_FILE).read_text())
    for h, stale in ([(e, False) for e in baseline.equivalent_runs(gold)] + [("f" * 64, True)]):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            ok = shipped.check_baseline(dict(d, baseline=h))
        assert ok is not stale and bool([x for x in w if issubclass(x.category, shipped.StaleCalibrationWarning)]) is stale


def test_versions_are_reported_not_compared():
    rec = baseline.record()
    other = dict(rec, versions={k: "0.0" for k in rec["versions"]})
    assert baseline.compare(rec, other) == []
    assert baseline.compare(rec, dict(rec, run="0" * 64))
    assert baseline.compare(rec, dict(rec, data={**rec["data"], "clusters.csv": "0" * 64}))


def test_shipped_calibration_is_current_or_declared_stale():
    """The shipped calibration records the behaviour it was fitted on. If that is the current golden record,
    it loads without a warning and is the default base; if not (model v2 before its recalibration), it loads
    with a StaleCalibrationWarning, the default base is the schema defaults and the README says it is stale."""
    from scenarios.base import CALIBRATED, DEFAULT_BASE

    d = json.loads((ROOT / "calibration" / shipped.CALIBRATED_FILE).read_text())
    current = d["baseline"] in baseline.current_runs()
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        shipped.load_calibrated()
    stale = [x for x in w if issubclass(x.category, shipped.StaleCalibrationWarning)]
    if current:
        assert not stale and DEFAULT_BASE == CALIBRATED
    else:
        assert len(stale) == 1 and DEFAULT_BASE != CALIBRATED
        readme = (ROOT / "README.md").read_text()
        assert "calibration pending" in readme and "**stale**" in readme


def test_stale_calibration_warns_once(tmp_path):
    d = json.loads((ROOT / "calibration" / shipped.CALIBRATED_FILE).read_text())
    d["baseline"] = "0" * 64
    p = tmp_path / "old.json"
    p.write_text(json.dumps(d))
    for load in (shipped.load_calibrated, shipped.scenario_base):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            load(p)
        stale = [x for x in w if issubclass(x.category, shipped.StaleCalibrationWarning)]
        assert len(stale) == 1 and "re-run" in str(stale[0].message), [str(x.message) for x in w]


def test_regenerate_script_check(tmp_path):
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "regenerate_baseline.py"), "--check"],
                       cwd=ROOT, capture_output=True, text=True, timeout=120,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "same as" in r.stdout


def test_write_golden_roundtrip(tmp_path):
    rec = {"format": baseline.FORMAT, "run": "a" * 64, "data": {}, "versions": {}}
    p = tmp_path / "b.json"
    baseline.write_golden(rec, p)
    assert json.loads(p.read_text()) == rec


@pytest.mark.parametrize("key, expected", [("run", "run hash"), ("labels", "labels hash"), ("data", "indices.csv")])
def test_compare_names_what_changed(key, expected):
    gold = baseline.golden()
    cur = json.loads(json.dumps(gold))
    if key == "data":
        cur["data"]["indices.csv"] = "f" * 64
    else:
        cur[key] = "f" * 64
    (line,) = baseline.compare(cur, gold)
    assert expected in line


def test_run_portably_restarts_a_process_in_the_portable_arithmetic():
    """run_portably runs a command again with PORTABLE_ENV in a child (x86-64), and not again once it is set."""

    code = ("from sim.engine.baseline import run_portably, is_portable; "
            "run_portably(['-c', 'import os; from sim.engine.baseline import is_portable; "
            "print(is_portable(), os.environ.get(\"OPENBLAS_CORETYPE\"))']); print('not restarted')")
    env = {k: v for k, v in os.environ.items() if k not in baseline.PORTABLE_ENV}
    env["PYTHONPATH"] = str(ROOT)
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    if baseline._x86():
        assert r.stdout.split() == ["True", "Haswell"], r.stdout
    else:
        assert r.stdout.split() == ["not", "restarted"], r.stdout
