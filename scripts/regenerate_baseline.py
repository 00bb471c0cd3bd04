"""Rewrite ``sim/engine/baseline.json``: the golden record of the model's behaviour.

Run it from the repository root, on purpose, after a deliberate change of the model's
behaviour or of the shipped data (``tests/test_baseline.py`` fails until you do)::

    python scripts/regenerate_baseline.py [--check] [--same-dynamics WHY]

``--check`` computes the record and exits 1 if it differs from the shipped one (run hash or
data hashes; package versions are reported, not compared). After a change of the run hash,
re-run ``clustersim calibrate`` too: ``calibration/calibrated.json`` records the run hash it
was fitted on and warns (``StaleCalibrationWarning``) when it differs from the golden one.

``--same-dynamics WHY`` is for a change of the way the hash is computed, not of the model (the
hash made portable across CPUs, say): the previous run hash is kept as an ``"equivalent"`` of
the new one, with ``WHY``, so that a calibration stamped with it stays current.  Without the
flag, equivalents are dropped.
"""

from __future__ import annotations

import argparse
import sys

from sim.engine import baseline


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare with the shipped record, write nothing")
    ap.add_argument("--same-dynamics", metavar="WHY", default=None,
                    help="only the hashing changed, not the model: keep the previous run hash as an equivalent")
    a = ap.parse_args(argv)
    rec = baseline.record()
    diff = baseline.compare(rec, baseline.golden())
    if a.check:
        for line in diff:
            print(line)
        print("baseline: " + ("differs from " if diff else "same as ") + str(baseline.GOLDEN_FILE))
        return 1 if diff else 0
    gold = baseline.golden()
    old = gold.get("run")
    if a.same_dynamics:
        if not a.same_dynamics.strip():
            print("regenerate_baseline: --same-dynamics needs a reason; say why only the hashing changed",
                  file=sys.stderr)
            return 2
        keep = [e for e in gold.get("equivalent", []) if isinstance(e, dict) and e.get("run") != rec["run"]]
        if old and old != rec["run"]:
            keep.append({"run": old, "why": a.same_dynamics.strip()})
        rec["equivalent"] = keep
    baseline.write_golden(rec)
    print(f"wrote {baseline.GOLDEN_FILE}: run {rec['run']}" + ("" if old == rec["run"] else f" (was {old})"))
    for line in diff:
        print("  changed: " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
