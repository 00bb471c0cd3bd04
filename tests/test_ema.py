"""The EMA Workbench adapter (scenarios/ema.py) and its worked example (docs/ema.md).

``ema_workbench`` is in the ``test`` extra, so these tests run (they do not skip) wherever the
suite is installed as the README says.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from scenarios.ema import (
    DEFAULT_UNCERTAINTIES,
    OUTCOMES,
    SEED,
    ClusterRun,
    ema_model,
    final_outcomes,
)
from sim.engine.baseline import current_runs
from sim.engine.design import replicate_seeds
from sim.engine.runner import simulate
from sim.indices.scores import STAGES, TYPOLOGIES
from sim.model.params import SCHEMA, ParameterError

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*ipyparallel.*")
    import ema_workbench as ema
    from ema_workbench import EMAError, perform_experiments

ROOT = Path(__file__).resolve().parents[1]
#: A small, fast set-up: the smallest cluster, one year.
SMALL = {"cluster": "wonju_medical_devices", "years": 1, "scale": 0.1}


def _run(model, scenarios=4, policies=0, seed=3):
    np.random.seed(seed)           # EMA's samplers draw from numpy's global generator
    return perform_experiments(model, scenarios=scenarios, policies=policies)


def test_the_adapter_builds_with_the_default_uncertainties():
    model = ema_model()
    assert isinstance(model, ema.Model)
    assert [u.name for u in model.uncertainties] == [*DEFAULT_UNCERTAINTIES, SEED]
    assert [o.name for o in model.outcomes] == list(OUTCOMES)
    assert not list(model.levers)
    assert isinstance(model.function, ClusterRun)
    assert {f"stage_{s}" for s in STAGES} | {f"typology_{t}" for t in TYPOLOGIES} <= set(OUTCOMES)


def test_uncertainties_take_the_schema_bounds_and_types():
    names = ["startup_rate", "lock_in", "n_local", "external_cost"]
    model = ema_model(names, seed=1)
    by_name = {u.name: u for u in model.uncertainties}
    assert list(by_name) == names                       # a constant seed is not an uncertainty
    assert [c.name for c in model.constants] == [SEED]
    for n in names:
        p = by_name[n]
        assert (p.lower_bound, p.upper_bound) == SCHEMA[n].sa_bounds
        assert type(p) is (ema.IntegerParameter if SCHEMA[n].kind == "int" else ema.RealParameter)
    narrow = ema_model({"lock_in": (1.0, 2.0), "startup_rate": None})
    u = {p.name: p for p in narrow.uncertainties}
    assert (u["lock_in"].lower_bound, u["lock_in"].upper_bound) == (1.0, 2.0)
    assert (u["startup_rate"].lower_bound, u["startup_rate"].upper_bound) == SCHEMA["startup_rate"].sa_bounds


def test_perform_experiments_runs_and_returns_every_outcome():
    model = ema_model(["lock_in", "tie_budget"], **SMALL)
    experiments, outcomes = _run(model, scenarios=4)
    assert len(experiments) == 4
    assert set(outcomes) == set(OUTCOMES)
    assert all(np.shape(outcomes[o]) == (4,) for o in OUTCOMES)
    stages = np.vstack([outcomes[f"stage_{s}"] for s in STAGES])
    types = np.vstack([outcomes[f"typology_{t}"] for t in TYPOLOGIES])
    assert np.array_equal(stages.sum(axis=0), np.ones(4)) and np.array_equal(types.sum(axis=0), np.ones(4))
    assert np.allclose(outcomes["lock_in_gap"], outcomes["centripetal"] - outcomes["centrifugal"])


def test_levers_from_policies():
    model = ema_model(["lock_in"], levers={"startup_inflow": (1.0, 3.0),
                                          "hub_institution": {"intensity": (0.0, 1.0),
                                                              "kind": ["university", "intermediary"]}}, **SMALL)
    lev = {p.name: p for p in model.levers}
    assert type(lev["startup_inflow_intensity"]) is ema.RealParameter
    assert (lev["startup_inflow_intensity"].lower_bound, lev["startup_inflow_intensity"].upper_bound) == (1.0, 3.0)
    assert type(lev["hub_institution_kind"]) is ema.CategoricalParameter
    experiments, outcomes = _run(model, scenarios=2, policies=2)
    assert len(experiments) == 4 and np.shape(outcomes["firms"]) == (4,)
    assert set(experiments["hub_institution_kind"]) <= {"university", "intermediary"}
    # without policies every experiment runs without them
    _, plain = _run(model, scenarios=2, policies=0)
    assert np.shape(plain["firms"]) == (2,)
    # a lever value reaches the policy, on the chosen cluster
    (pol,) = model.function.policies({"startup_inflow_intensity": 2.5})
    assert (pol.name, pol.intensity, pol.target) == ("startup_inflow", 2.5, "wonju_medical_devices")
    shock = ema_model(["lock_in"], levers={"technology_shock": (0.0, 10.0)}, **SMALL).function
    assert shock(seed=5, lock_in=2.0, technology_shock_intensity=10.0)["firms"] < shock(seed=5, lock_in=2.0)["firms"]


def test_same_seed_same_outcomes():
    model = ema_model(["lock_in", "cross_accept"], base="defaults", **SMALL)
    ex1, out1 = _run(model, scenarios=3, seed=11)
    ex2, out2 = _run(model, scenarios=3, seed=11)
    cols = [u.name for u in model.uncertainties]
    assert ex1[cols].equals(ex2[cols])
    assert all(np.array_equal(out1[k], out2[k]) for k in OUTCOMES)
    # the function is the model's own run: the same outcomes as simulate() with that seed
    row = ex1.iloc[0]
    got = model.function(**{k: row[k] for k in cols})
    df = simulate({"scale": 0.1, "lock_in": row["lock_in"], "cross_accept": row["cross_accept"]}, int(row[SEED]),
                  years=1, clusters=["wonju_medical_devices"])
    assert got == final_outcomes(df, "wonju_medical_devices")
    assert got == {k: out1[k][0] for k in OUTCOMES}


def test_replications_average_over_common_seeds():
    model = ema_model(["lock_in"], replications=3, seed=4, **SMALL)
    assert isinstance(model, ema.ReplicatorModel) and SEED not in [u.name for u in model.uncertainties]
    _, seeds = replicate_seeds(4, 3)
    assert [r[SEED] for r in model.replications] == seeds
    experiments, outcomes = _run(model, scenarios=2)
    assert np.shape(outcomes["stage_path_locked"]) == (2,)
    single = [model.function(seed=s, lock_in=experiments["lock_in"].iloc[0]) for s in seeds]
    for k in ("firms", "lock_in_gap", "stage_path_locked", "stage_mature"):
        assert outcomes[k][0] == pytest.approx(np.mean([r[k] for r in single]))
    with pytest.raises(ParameterError, match="replications must be"):
        ema_model(replications=0)


def test_mean_over_clusters():
    model = ema_model(["lock_in"], cluster=None, clusters=["wonju_medical_devices", "jeonju_machinery"], years=1,
                      seed=2)
    out = model.function(seed=2, lock_in=1.0)
    assert sum(out[f"stage_{s}"] for s in STAGES) == pytest.approx(1.0)
    assert set(np.round([out[f"stage_{s}"] for s in STAGES], 6)) <= {0.0, 0.5, 1.0}


def test_a_bad_parameter_name_gives_the_schema_error():
    with pytest.raises(ParameterError, match=r"unknown parameter 'startup_rat' in EMA uncertainties; did you mean "
                                             r"'startup_rate'") as exc:
        ema_model(["startup_rat"])
    assert "\n" not in str(exc.value)
    with pytest.raises(ParameterError, match="unknown parameter 'lock_inn'"):
        ema_model(params={"lock_inn": 1.0})
    with pytest.raises(ParameterError, match="out of range"):
        ema_model({"lock_in": (0.0, 11.0)})
    with pytest.raises(ParameterError, match="unknown policy 'startup_inflw'"):
        ema_model(levers={"startup_inflw": (0.0, 1.0)})
    with pytest.raises(ParameterError, match="given both"):
        ema_model(["lock_in"], params={"lock_in": 1.0})
    # a parameter added to the EMA model after it was built is checked by the schema when it runs
    model = ema_model(["lock_in"], **SMALL)
    model.uncertainties = [*model.uncertainties, ema.RealParameter("startup_rat", 0.0, 0.1)]
    with pytest.raises(EMAError, match="ParameterError: unknown parameter 'startup_rat' in EMA experiment"):
        _run(model, scenarios=2)


def test_without_ema_workbench_one_line_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ema_workbench", None)
    with pytest.raises(ImportError, match=r'pip install "clustersim\[ema\]"') as exc:
        ema_model()
    assert "\n" not in str(exc.value)


# ----------------------------------------------------------------------------- the worked example
def _doc() -> str:
    return (ROOT / "docs" / "ema.md").read_text(encoding="utf-8")


def test_the_worked_example_is_of_the_current_model():
    """docs/ema.md's results were made by the model that behaves as the golden record says."""
    text = _doc()
    block = text.split("<!-- ema:start -->")[1].split("<!-- ema:end -->")[0]
    assert "python scripts/ema_example.py" in block and "PRIM box" in block and "Feature scores" in block
    same = current_runs()  # the golden run hash and the same code hashed another way
    assert any(f"`{run}`" in block for run in same), ("docs/ema.md was written with another model (its run hash is not the golden one): "
                                 "python scripts/ema_example.py --write")
    assert "docs/ema.md" in (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.slow
def test_the_worked_example_block_is_what_the_script_prints():
    res = subprocess.run([sys.executable, str(ROOT / "scripts" / "ema_example.py"), "--check"], check=False,
                         cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
