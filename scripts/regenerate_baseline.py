"""Rewrite ``sim/engine/baseline.json``: the golden record of the model's behaviour.

Run it from the repository root, on purpose, after a deliberate change of the model's
behaviour or of the shipped data (``tests/test_baseline.py`` fails until you do)::

    python scripts/regenerate_baseline.py [--check]

``--check`` computes the record and exits 1 if it differs from the shipped one (run hash or
data hashes; package versions are reported, not compared). After a change of the run hash,
re-run ``clustersim calibrate`` too: ``calibration/calibrated.json`` records the run hash it
was fitted on and warns (``StaleCalibrationWarning``) when it differs from the golden one.
"""

from __future__ import annotations

import argparse
import sys

from sim.engine import baseline


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare with the shipped record, write nothing")
    a = ap.parse_args(argv)
    rec = baseline.record()
    diff = baseline.compare(rec, baseline.golden())
    if a.check:
        for line in diff:
            print(line)
        print("baseline: " + ("differs from " if diff else "same as ") + str(baseline.GOLDEN_FILE))
        return 1 if diff else 0
    old = baseline.golden().get("run")
    baseline.write_golden(rec)
    print(f"wrote {baseline.GOLDEN_FILE}: run {rec['run']}" + ("" if old == rec["run"] else f" (was {old})"))
    for line in diff:
        print("  changed: " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
