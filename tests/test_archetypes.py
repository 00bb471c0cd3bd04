"""Development types grow from mechanisms (scenarios.archetypes): on, the type arises; off, it goes.

For each archetype the stage reached at the end (the most frequent stage of the last year) is
read for seeds 1-5 with its mechanism on and with the parameters that switch it off.  On, the
type must be the most frequent stage in at least 3 of 5 seeds; off, it may appear in at most 1
(featureless: 2, see its test).  Every parameter of every archetype lies inside its sensitivity
range.  Marked ``slow`` (about a minute): CI runs it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from scenarios.archetypes import (
    _COMMON,
    ARCHETYPES,
    STANDARD_SHOCK,
    final_stage,
    recovery,
    run_archetype,
    setup_gap,
    shock_comparison,
)
from sim.model.params import SCHEMA

SEEDS = range(1, 6)
SETUP_ONLY = {"scale", "outside_ratio", "institutions_per_1000", "shock_year"}

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("name", list(ARCHETYPES))
def test_every_archetype_parameter_is_inside_its_sensitivity_range(name):
    """The values that produce each type lie inside the sensitivity ranges (off-switches may be 0 or 1)."""
    a = ARCHETYPES[name]
    for k, v in a.params.items():
        if k in SETUP_ONLY:
            continue
        lo, hi = SCHEMA[k].sa_bounds
        assert lo <= v <= hi, (name, k, v, (lo, hi))


@pytest.mark.parametrize("name", [n for n in ARCHETYPES if n != "featureless"])
def test_type_arises_with_its_mechanism_and_goes_without_it(name):
    on = [final_stage(run_archetype(name, s)) for s in SEEDS]
    off = [final_stage(run_archetype(name, s, off=True)) for s in SEEDS]
    assert Counter(on)[name] >= 3, (name, on)
    assert Counter(off)[name] <= 1, (name, off)


def test_featureless_arises_and_the_barrier_keeps_it():
    """Featureless starts from a dispersed mix; with the cross-family barrier lifted, lock-in concentrates
    firms and the location quotient rises (paired over seeds), removing the type in most seeds."""
    on_runs = [run_archetype("featureless", s) for s in SEEDS]
    off_runs = [run_archetype("featureless", s, off=True) for s in SEEDS]
    on = [final_stage(d) for d in on_runs]
    off = [final_stage(d) for d in off_runs]
    assert Counter(on)["featureless"] >= 3, on
    assert Counter(off)["featureless"] <= 2, off

    def lq(d):
        x = d[d.indicator == "specialization"].sort_values("step")["value"].to_numpy()
        return x[-4:].mean()
    diff = np.array([lq(b) - lq(a) for a, b in zip(on_runs, off_runs)])
    assert diff.mean() > 0, diff


def test_renewal_makes_the_difference_in_measured_recovery():
    """After the same standard shock the resilient set-up regains its firm count; without renewal it does not:
    firm count five years after the shock differs by a clear margin (at least 20 % of the pre-shock count)."""
    on = np.array([recovery(run_archetype("resilient", s))["firms"] for s in SEEDS])
    off = np.array([recovery(run_archetype("resilient", s, off=True))["firms"] for s in SEEDS])
    assert on.min() >= 0.9 and (on - off).min() >= 0.2, (on.round(2), off.round(2))
    assert STANDARD_SHOCK["shock_year"] + 5 <= ARCHETYPES["resilient"].years
    assert _COMMON["scale"] == 1.0


@pytest.mark.slow
def test_resilient_is_measured_as_recovered_more_often_than_path_locked_under_the_same_shock():
    """Under the same standard shock (read five years on), over seeds 1-100 (ten seeds are too few: seeds 1-10 are among
    the most favourable blocks of ten), the resilient set-up is measured as recovered in at least 90 % of the seeds and
    more often than the path-locked one (two-proportion z > 3): locked-in firms do not reorient.  It also keeps more
    of its firms against its unshocked twin (Welch z > 3; about 2 % lost against 5 %, through more entrants: extra
    exits do not differ and are not asserted).  docs/odd.md section 1 reports the numbers
    (``python -m scenarios.archetypes --shock --seeds 1-100 --no-variants``; about a minute on 2 cores)."""
    df = shock_comparison(seeds=range(1, 101), jobs=2, variants=False)
    res = df[df.setup == "resilient"].recovered.to_numpy(float)
    pl = df[df.setup == "path_locked"].recovered.to_numpy(float)
    se = np.sqrt(res.mean() * (1 - res.mean()) / len(res) + pl.mean() * (1 - pl.mean()) / len(pl))
    assert res.mean() >= 0.9 and (res.mean() - pl.mean()) / se > 3, (res.mean(), pl.mean(), se)
    d, se_d = setup_gap(df, "cost")
    assert d / se_d > 3, (d, se_d)


def test_odd_shock_table_is_what_the_command_prints():
    """docs/odd.md section 1 quotes ``python -m scenarios.archetypes --shock`` (the resilient and path-locked set-ups
    under the same standard shock, with unshocked twins and variants); the command runs in the portable arithmetic
    (sim.engine.baseline.run_portably), so the table is the same on any x86-64 CPU, and any change of the model's
    shock response shows here until the table and its reading in the ODD are redone."""
    root = Path(__file__).resolve().parents[1]
    r = subprocess.run([sys.executable, "-m", "scenarios.archetypes", "--shock"], cwd=root, capture_output=True,
                       text=True, timeout=900, env={**os.environ, "PYTHONPATH": str(root)})
    assert r.returncode == 0, r.stderr[-2000:]
    odd = (root / "docs" / "odd.md").read_text(encoding="utf-8")
    block = odd.split("<!-- shock-table -->")[1].split("<!-- /shock-table -->")[0].strip()
    assert block == r.stdout.strip(), "docs/odd.md section 1: paste the output of python -m scenarios.archetypes --shock"
