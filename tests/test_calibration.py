"""Tests of the calibration (issue #3): measurement map, initial states, estimator, CLI, resume.

Fast by design: the end-to-end tests use a micro configuration (scale 0.01, 1 + 1 years, a
handful of runs). The quick-mode parameter recovery is marked ``slow``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from calibration import engine, shipped
from calibration import estimate as E
from calibration import initial as ini
from calibration.config import QUICK, SETTINGS
from calibration.estimate import calibrate
from calibration.loss import (
    TARGETS_2010,
    TARGETS_2020,
    _weighted_loss,
    loss_matrix,
    observed_targets,
    resolve_fit_clusters,
)
from calibration.measurement import (
    RAW_TARGETS,
    MeasurementMap,
    affine_loss,
    fit_affine,
    raw_fit,
    raw_loss,
    rmse,
    spearman,
)
from calibration.predict import modal_typology, predict
from calibration.recovery import parameter_recovery
from sim.data.observed import INDEX_COLUMNS, load_all
from sim.model.params import ParameterError

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "sim" / "data" / "korea_clusters"

#: A micro calibration: every stage runs, in a few seconds.
MICRO = {"scale": 0.01, "min_firms": 12, "spinup": 1.0, "years": 1.0, "setup_runs": 3, "setup_checks": 0,
         "setup_replicates": 1, "setup_local": 1, "estimate": ["network_persistence", "decay_rate"],
         "n_initial": 4, "rounds": 1, "batch": 2, "replicates": 2, "final_replicates": 2, "bootstrap": 5,
         "refit_setup": False}


@pytest.fixture(scope="module")
def data():
    return load_all()


@pytest.fixture(scope="module")
def micro_cfg():
    return QUICK.updated(MICRO)


@pytest.fixture(scope="module")
def micro_run(tmp_path_factory, micro_cfg, data):
    out = tmp_path_factory.mktemp("cal") / "micro"
    p = calibrate(micro_cfg, out, progress=False, data=data, figures=True)
    return out, p


# ----------------------------------------------------------------------------- measurement model
def test_fit_affine_recovers_a_known_map_exactly():
    rng = np.random.default_rng(0)
    raw = rng.normal(5, 2, 40)
    fit = fit_affine(raw, -1.3 + 0.7 * raw)
    assert fit.a == pytest.approx(-1.3) and fit.b == pytest.approx(0.7)
    assert fit.loss == pytest.approx(0.0, abs=1e-12)


def test_fit_affine_recovers_a_known_map_with_noise():
    rng = np.random.default_rng(1)
    raw = rng.uniform(0, 10, 2000)
    obs = 2.0 + 0.25 * raw + rng.normal(0, 0.1, raw.size)
    fit = fit_affine(raw, obs)
    assert fit.a == pytest.approx(2.0, abs=0.02) and fit.b == pytest.approx(0.25, abs=0.005)


@pytest.mark.parametrize("alpha,beta", [(0.0, 1.0), (3.0, 0.2), (-7.5, 40.0)])
def test_loss_is_invariant_to_an_affine_change_of_the_published_scale(alpha, beta):
    rng = np.random.default_rng(2)
    sim = rng.normal(size=30)
    obs = sim + rng.normal(0, 0.8, 30)
    assert affine_loss(sim, alpha + beta * obs) == pytest.approx(affine_loss(sim, obs), abs=1e-12)
    assert affine_loss(alpha + beta * sim, obs) == pytest.approx(affine_loss(sim, obs), abs=1e-12)
    # the fitted map follows the change of scale
    f0, f1 = fit_affine(sim, obs), fit_affine(sim, alpha + beta * obs)
    assert f1.b == pytest.approx(beta * f0.b) and f1.a == pytest.approx(alpha + beta * f0.a)


def test_estimator_loss_is_invariant_to_the_published_scale():
    """The whole moment vector (hence the estimate) does not change under an affine rescaling."""
    rng = np.random.default_rng(3)
    ids = [f"c{i}" for i in range(12)]
    outputs = engine.OUTPUTS
    means = rng.normal(size=(4, 2, len(ids), len(outputs)))
    obs = {y: pd.DataFrame(rng.normal(size=(len(ids), len(t))), index=ids, columns=list(t))
           for y, t in ((2010, TARGETS_2010), (2020, TARGETS_2020))}
    obs2 = {y: o.copy() for y, o in obs.items()}
    for y, o in obs2.items():  # the published scores rescaled; the raw-unit targets stay in their units
        pub = [k for k in o.columns if k not in RAW_TARGETS]
        o[pub] = 1.5 + 4.0 * o[pub]
    L1, _ = loss_matrix(means, ids, outputs, obs, ids)
    L2, _ = loss_matrix(means, ids, outputs, obs2, ids)
    np.testing.assert_allclose(L1, L2, atol=1e-12)


def test_raw_unit_targets_count_levels_not_only_order():
    """Inclusiveness and links per firm are published in raw units: a level error costs, and the
    vectorised discrepancy equals the per-index fit (weighted as duplicated data)."""
    rng = np.random.default_rng(5)
    o = rng.uniform(0.3, 0.8, 10)
    m = np.vstack([o, o + 0.3, o.mean() + 0 * o, o + rng.normal(0, 0.05, 10)])
    L = raw_loss(m, o, np.ones(10))
    assert L[0] == pytest.approx(0.0)
    assert L[2] == pytest.approx(0.5)          # as good as the observed mean
    assert L[1] > 0.5 > L[3] > 0.0             # right order, wrong level: worse than the mean
    assert fit_affine(m[1], o).loss == pytest.approx(0.0)  # an affine map would forgive it
    w = np.array([1, 2, 0, 1, 3, 1, 1, 2, 1, 1], float)
    rep = np.repeat(np.arange(10), w.astype(int))
    for i in range(4):
        assert raw_loss(m[i:i + 1], o, w)[0] == pytest.approx(raw_fit(m[i, rep], o[rep]).loss, abs=1e-12)


def test_negative_association_gets_flat_map_and_loss_one():
    x = np.arange(10.0)
    f = fit_affine(x, -x)
    assert f.b == 0.0 and f.loss == pytest.approx(1.0)


def test_weighted_loss_equals_duplicated_data():
    rng = np.random.default_rng(4)
    m = rng.normal(size=(3, 8))
    o = m[0] + rng.normal(0, 0.5, 8)
    w = np.array([1, 2, 0, 1, 3, 1, 1, 2], float)
    L = _weighted_loss(m, o, w)
    rep = np.repeat(np.arange(8), w.astype(int))
    for i in range(3):
        assert L[i] == pytest.approx(affine_loss(m[i, rep], o[rep]), abs=1e-10)
        assert L[i] == pytest.approx(fit_affine(m[i], o, w).loss, abs=1e-10)


def test_losses_ignore_missing_values():
    x = np.array([1, 2, np.nan, 4, 5.0])
    y = np.array([2, 4, 6, np.nan, 10.0])
    f = fit_affine(x, y)
    assert f.n == 3 and f.b == pytest.approx(2.0) and f.loss == pytest.approx(0.0, abs=1e-12)
    assert rmse([1, np.nan, 3], [1, 2, 5]) == pytest.approx(np.sqrt(2.0))
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)


def test_measurement_map_roundtrip_and_apply():
    ids = list("abcde")
    sim = {2020: pd.DataFrame({"hierarchy": [1, 2, 3, 4, 5.0]}, index=ids)}
    obs = {2020: pd.DataFrame({"hierarchy": [0.5, 1.0, 1.5, 2.0, 2.5]}, index=ids)}
    mm = MeasurementMap.fit(sim, obs, ids, ["hierarchy"])
    mm2 = MeasurementMap.from_dict(json.loads(json.dumps(mm.to_dict())))
    raw = pd.DataFrame({"hierarchy": [10.0]}, index=["z"])
    assert mm2.apply(raw, 2020).loc["z", "hierarchy"] == pytest.approx(5.0)
    assert mm2.nearest_year(2035) == 2020


# ----------------------------------------------------------------------------- set-up helpers
def test_resolve_fit_clusters(data):
    fit = resolve_fit_clusters(data)
    assert len(fit) == 30 and not set(fit) & set(data.withheld_ids())
    with pytest.raises(ParameterError, match="unknown cluster"):
        resolve_fit_clusters(data, ["nope"])
    with pytest.raises(ParameterError, match="withheld"):
        resolve_fit_clusters(data, [data.withheld_ids()[0], "jeonju_machinery"])
    with pytest.raises(ParameterError, match="at least 5"):
        resolve_fit_clusters(data, ["jeonju_machinery", "wonju_medical_devices"])
    assert "jeonju_machinery" not in resolve_fit_clusters(data, exclude=["jeonju_machinery"])


def test_base_table_sizes_and_nascent_clusters(data):
    tab = ini.base_table(data, scale=0.05, min_firms=30)
    assert len(tab) == 38
    nascent = set(tab.loc[~tab["has_2010"], "id"])
    assert nascent == {"wonju_medical_devices", "daegu_it_services", "daegu_medical_devices"}
    assert (tab.loc[tab["has_2010"], "firms0"] >= 30).all()
    assert (tab.loc[~tab["has_2010"], "firms0"] < tab.loc[~tab["has_2010"], "firms"] * 0.05 + 10 + 1e-9).all()


def test_knobs_are_parameters_the_model_honours_per_cluster():
    from sim.model.params import PER_CLUSTER

    assert ini.knobs() == ini.KNOBS
    assert set(ini.KNOBS) <= PER_CLUSTER
    assert set(ini.KNOB_BOUNDS) == set(ini.KNOBS)
    for group in ini.DYNAMIC_KNOBS.values():
        assert set(group) <= set(ini.KNOBS)


def test_emulator_recovers_a_quadratic():
    rng = np.random.default_rng(5)
    u = rng.random((400, 2))
    f0 = rng.integers(20, 200, 400).astype(float)
    sec = np.array(["machinery", "textiles"], dtype=object)[rng.integers(0, 2, 400)]
    y = 1 + 2 * u[:, 0] - u[:, 1] ** 2 + 0.3 * np.log(f0) + 0.5 * (sec == "textiles")
    em = ini.Emulator.fit(u, f0, sec, {"k": y}, ["init_home_share", "beta_local"], ridge=1e-9)
    assert em.r2["k"] > 0.9999
    p = em.predict(np.array([[0.5, 0.5]]), 100.0, "textiles")["k"][0]
    assert p == pytest.approx(1 + 1 - 0.25 + 0.3 * np.log(100) + 0.5, abs=1e-4)


def test_run_task_and_trait_relaxation(data):
    tab = ini.base_table(data, scale=0.01, min_firms=10).drop(columns="has_2010").head(3).copy()
    tab["search_rate"] = [0.1, 0.3, 0.5]
    run = engine.encode_run(tab, 0.5, spinup=0.5, relax={"network_persistence": ["search_rate"]})
    df = engine.run_task({"scale": 0.01, engine.RUN_KEY: run, "network_persistence": 0.0}, 3)
    assert set(df["step"]) == {2, 4} and set(df["indicator"]) == set(engine.OUTPUTS)
    assert len(df) == 2 * 3 * len(engine.OUTPUTS)

    class M:  # relaxation acts on cpar (last entry: the outside world, untouched)
        n_clusters = 3
        cpar = {"search_rate": np.array([0.1, 0.3, 0.5, 0.08])}

    engine.relax_traits(M, ["search_rate"], 0.5)
    np.testing.assert_allclose(M.cpar["search_rate"], [0.2, 0.3, 0.4, 0.08])


# ----------------------------------------------------------------------------- surrogate
def test_gp_surrogate_finds_the_minimum_of_a_noisy_bowl():
    from calibration.surrogate import GP, propose_batch

    rng = np.random.default_rng(6)
    X = rng.random((40, 2))
    y = ((X - [0.3, 0.7]) ** 2).sum(1) + rng.normal(0, 0.01, 40)
    gp = GP().fit(X, y)
    grid = rng.random((3000, 2))
    best = grid[np.argmin(gp.predict(grid, return_sd=False))]
    assert np.linalg.norm(best - [0.3, 0.7]) < 0.12
    batch = propose_batch(gp, X, y, grid, 4)
    assert batch.shape == (4, 2) and len({tuple(b) for b in batch}) == 4


# ----------------------------------------------------------------------------- settings
def test_estimate_module_keeps_the_public_names():
    """calibration.estimate still offers every public name of the calibration (docs/calibration.md imports them)."""
    for name in E.__all__:
        assert hasattr(E, name), name
    assert E.QUICK is QUICK and E.predict is predict and E.parameter_recovery is parameter_recovery


def test_config_settings_are_checked():
    assert QUICK.updated({"scale": 0.1}).scale == 0.1
    with pytest.raises(ParameterError, match="unknown calibration setting"):
        QUICK.updated({"scael": 0.1})
    with pytest.raises(ParameterError, match=r"'replicates' \(settings\) must be a number in \[1, 10000\]"):
        QUICK.updated({"replicates": "two"})
    with pytest.raises(ParameterError, match="invalid value"):
        QUICK.updated({"mode": 3})
    assert set(SETTINGS) | {"mode", "estimate", "fixed"} == set(QUICK.to_dict())   # every setting declared once
    with pytest.raises(ParameterError, match="cannot estimate unknown parameter"):
        QUICK.updated({"estimate": ["decay_rate", "nope"]})
    assert QUICK.updated({"information": "2010_only"}).information == "2010_only"
    with pytest.raises(ParameterError, match="'information' = 'all' is not one of: with_2020_size, 2010_only"):
        QUICK.updated({"information": "all"})
    with pytest.raises(ParameterError, match="'beta_status' is set cluster by cluster"):
        QUICK.updated({"estimate": ["decay_rate", "beta_status"]})
    with pytest.raises(ParameterError, match="out of range"):
        QUICK.updated({"fixed": {"decay_rate": 7.0}})


# ----------------------------------------------------------------------------- end to end (micro)
def test_micro_calibration_writes_every_output(micro_run):
    out, p = micro_run
    for f in ("params.json", "fit.csv", "typology.csv", "initial_fit.csv", "evaluations.csv", "fit.png",
              "arrows.png"):
        assert (out / f).exists(), f
    d = shipped.load_params(out / "params.json")
    assert set(d["estimates"]) == {"network_persistence", "decay_rate"}
    for v in d["estimates"].values():
        assert v["prior"][0] <= v["value"] <= v["prior"][1]
        assert v["q05"] <= v["q95"]
    fit = pd.read_csv(out / "fit.csv")
    assert {"cluster", "index", "observed", "simulated_mean", "simulated_sd"} <= set(fit.columns)
    assert set(fit["cluster"]) == set(load_all().cluster_ids())
    assert set(d["measurement_map"]["years"]) == {"2010", "2020"}
    for y, m in d["measurement_map"]["years"].items():
        assert all(f["b"] >= 0 for f in m.values())
    # the withheld clusters' 2020 values are never in the fit
    w = set(load_all().withheld_ids())
    f20 = fit[(fit["year"] == 2020) & fit["cluster"].isin(w)]
    assert f20.loc[f20["index"] != "firms", "observed"].isna().all() and not f20["in_fit"].any()
    assert "2020:firms" in d["loss"]["per_moment"]  # the size moment (2020 firm counts are observed)
    assert not w & set(d["fit_clusters"])
    # the file is usable as scenario parameters
    from scenarios.projection import load_params_file

    assert load_params_file(out / "params.json") == d["params"]


def test_load_calibrated_structure(micro_run):
    out, _ = micro_run
    c = shipped.load_calibrated(out / "params.json")
    assert {"params", "run_params", "cluster_table", "measurement_map", "spinup", "relax"} <= set(c)
    tab = c["cluster_table"]
    assert len(tab) == 38 and {"id", "firms0", "init_home_share"} <= set(tab.columns)
    from sim.model.model import ClusterModel

    m = ClusterModel(params=c["params"], cluster_table=tab, rng=1, handles=False)
    assert m.n_clusters == 38


def test_load_calibrated_warns_when_the_model_changed(micro_run, tmp_path):
    out, _ = micro_run
    d = json.loads((out / "params.json").read_text())
    assert d["baseline"] == shipped.current_baseline() == shipped.baseline.golden()["run"]
    assert "model_fingerprint" not in d
    d["baseline"] = "0" * 64
    p = tmp_path / "old.json"
    p.write_text(json.dumps(d))
    with pytest.warns(shipped.StaleCalibrationWarning, match="re-run"):
        shipped.load_calibrated(p)


def test_shipped_calibration_loads():

    c = shipped.load_calibrated()
    assert c["file"]["mode"] == "full"
    assert len(c["cluster_table"]) == 38


def test_predict_columns_and_withheld_clusters(micro_run, tmp_path, data):
    out, _ = micro_run
    w = data.withheld_ids()[:2]
    pred, rep = predict(out / "params.json", w + ["jeonju_machinery"], replicates=2, out=tmp_path / "pred",
                          data=data)
    df = pd.read_csv(tmp_path / "pred" / "predicted.csv")
    assert list(df.columns[:8]) == ["id", *INDEX_COLUMNS, "typology"]
    assert list(df["id"]) == w + ["jeonju_machinery"]
    assert df["typology"].isin(["path_locked", "resilient", "centrifugal_dominant", "other"]).all()
    r = pd.read_csv(tmp_path / "pred" / "predicted_replicates.csv")
    assert len(r) == 3 * 2 and {"id", "replicate", "typology"} <= set(r.columns)
    np.testing.assert_allclose(r.groupby("id", sort=False)[list(INDEX_COLUMNS)].mean().loc[df["id"]].to_numpy(),
                               df[list(INDEX_COLUMNS)].to_numpy(), rtol=1e-5, atol=1e-5)
    with pytest.raises(ParameterError, match="unknown cluster"):
        predict(out / "params.json", ["nope"], data=data)
    with pytest.raises(ParameterError, match="2010 only"):
        predict(out / "params.json", w, year_from=2015, data=data)


def test_typology_of_published_values_reproduces_the_classifier(data):
    """Labelling published-scale values through modal_typology = the shipped classifier (18/30)."""
    from calibration.typology import load_fitted, published_2020

    X, y = published_2020(data)
    mode, share, _ = modal_typology([X, X])
    assert (mode == load_fitted().predict(X)).all() and (share == 1).all()
    assert int((mode == y).sum()) == 18


def test_micro_cross_validation(tmp_path, micro_cfg, data):
    from calibration.validate import cross_validate

    s = cross_validate(micro_cfg, tmp_path / "cv", folds=2, progress=False, data=data)
    met = pd.read_csv(tmp_path / "cv" / "cv_metrics.csv")
    assert list(met["index"]) == list(TARGETS_2020)  # the six indices, then the raw-unit targets
    assert {"rmse_model", "rmse_persistence", "rmse_family_mean", "rmse_linear_persistence", "rmse_training_mean",
            "rmse_size_regression", "best_baseline", "skill", "diff_lo", "diff_hi", "rho_change"} <= set(met.columns)
    assert (met["diff_lo"] <= met["diff_hi"]).all()
    beats = json.loads((tmp_path / "cv" / "validation.json").read_text())["beats"]
    assert set(beats) == set(TARGETS_2020) and {"best_baseline", "skill", "interval_90"} <= set(beats["hierarchy"])
    from calibration.validate import markdown_report
    assert "best baseline" in markdown_report(tmp_path / "cv")
    pred = pd.read_csv(tmp_path / "cv" / "cv_predictions.csv")
    held = set(pred["id"])
    assert len(held) == 30 and not held & set(data.withheld_ids())
    # persistence is 2020 = 2010 exactly
    pp = pred[pred["forecast"] == "persistence"].dropna(subset=["observed_2010"])
    np.testing.assert_allclose(pp["value"], pp["observed_2010"])
    assert len(s["facts"]) >= 5


def test_baselines_use_only_training_clusters(data):
    from calibration.validate import baselines

    obs = observed_targets(data)
    fam = data.clusters.set_index("id")["sector_family"]
    train = ["jeonju_machinery", "daejeon_machinery", "gangnam_services", "hongdae_services", "seongsu_services"]
    b = baselines(obs, fam, train, ["yeongdeungpo_machinery"])
    exp = obs[2020].loc[["jeonju_machinery", "daejeon_machinery"], "hierarchy"].mean()
    assert b["family_mean"].loc["yeongdeungpo_machinery", "hierarchy"] == pytest.approx(exp)


# ----------------------------------------------------------------------------- command line
def _cli(args, **kw):
    from sim.face.cli import main

    return main(list(args))


def test_cli_errors_are_one_line(tmp_path, capsys):
    cases = [
        (["calibrate", "--out", str(tmp_path / "a"), "--quick", "--clusters", "nope"], "unknown cluster"),
        (["calibrate", "--out", str(tmp_path / "a"), "--quick", "--exclude", ","], "empty cluster list"),
        (["predict", "--params", str(tmp_path / "missing.json"), "--out", str(tmp_path / "b")], "cannot read"),
        (["calibrate", "--out", str(tmp_path / "a"), "--quick", "--settings", str(tmp_path / "s.json")], "cannot read"),
    ]
    for args, msg in cases:
        assert _cli(args) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("clustersim: error:") and msg in err[0], err


def test_cli_predict_rejects_unknown_cluster_and_bad_file(micro_run, tmp_path, capsys):
    out, _ = micro_run
    assert _cli(["predict", "--params", str(out / "params.json"), "--clusters", "nope", "--out", str(tmp_path)]) == 2
    assert "unknown cluster" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "something else"}')
    assert _cli(["predict", "--params", str(bad), "--out", str(tmp_path / "p")]) == 2
    assert "not a calibration file" in capsys.readouterr().err


def _bad_data(tmp_path, edit) -> Path:
    d = tmp_path / "data"
    shutil.copytree(DATA, d)
    p = d / "indices.csv"
    p.write_text(edit(p.read_text(encoding="utf-8")), encoding="utf-8")
    return d


@pytest.mark.parametrize("edit,msg", [
    (lambda t: t.replace("hierarchy,", "hierarchy_x,", 1), "hierarchy"),             # missing column
    (lambda t: t.replace("0.750", "abc", 1), "not a number"),                       # non-numeric value
    (lambda t: t.replace("jeonju_machinery", "atlantis_machinery", 1), "atlantis"),  # unknown cluster id
])
def test_cli_bad_data_gives_a_clear_error(tmp_path, capsys, edit, msg):
    d = _bad_data(tmp_path, edit)
    assert _cli(["calibrate", "--out", str(tmp_path / "o"), "--quick", "--data", str(d)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("clustersim: error: ") and msg in err[0], err
    assert not (tmp_path / "o" / "store").exists()


def test_cli_refuses_to_overwrite_without_resume(micro_run, capsys):
    out, _ = micro_run
    assert _cli(["calibrate", "--out", str(out), "--quick"]) == 2
    assert "--resume" in capsys.readouterr().err


# ----------------------------------------------------------------------------- kill and resume
def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _strip(d: dict) -> dict:
    return {k: v for k, v in d.items() if k not in ("created", "command", "wall_time_s")}


def test_killed_calibration_resumes_without_redoing_runs(tmp_path, micro_run):
    """SIGKILL a calibration in the middle of its estimator runs, resume it: same outputs as uninterrupted.

    The uninterrupted reference is the in-process micro calibration (same settings, same code).
    """
    ref, _ = micro_run
    settings = tmp_path / "micro.json"
    settings.write_text(json.dumps(MICRO))
    args = [sys.executable, "-m", "sim.face.cli", "calibrate", "--quick", "--quiet", "--settings", str(settings), "--out"]
    out = tmp_path / "killed"
    p = subprocess.Popen(args + [str(out)], env=_env(), cwd=ROOT, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    runs = out / "store" / "round-00" / "runs"
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 120 and p.poll() is None:
        if runs.exists() and len(list(runs.glob("*.parquet"))) >= 2:
            break
        time.sleep(0.02)
    if p.poll() is None:
        os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    done_before = {f.name for f in runs.glob("*.parquet")} if runs.exists() else set()
    assert done_before, "the calibration was killed before any estimator run finished"

    r = subprocess.run(args + [str(out), "--resume"], capture_output=True, text=True, env=_env(), cwd=ROOT,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    man = json.loads((out / "store" / "round-00" / "manifest.json").read_text())
    assert man["status"] == "complete"
    last = man["sessions"][-1]["counts"]
    if p.returncode != 0:  # really interrupted: the finished runs were reused, the others computed
        assert last["reused"] >= len(done_before)
        assert last["reused"] + last["computed"] == man["counts"]["total"]
    for f in ("fit.csv", "typology.csv", "initial_fit.csv", "evaluations.csv"):
        assert (out / f).read_bytes() == (ref / f).read_bytes(), f
    a = _strip(json.loads((out / "params.json").read_text()))
    b = _strip(json.loads((ref / "params.json").read_text()))
    assert a == b


# ----------------------------------------------------------------------------- parameter recovery
def test_micro_parameter_recovery_runs(tmp_path, micro_cfg, data):
    res = parameter_recovery(micro_cfg, tmp_path / "rec", progress=False, data=data)
    assert list(res["parameter"]) == ["network_persistence", "decay_rate"]
    assert (tmp_path / "rec" / "recovery.csv").exists()
    assert res["abs_error_share_of_prior"].between(0, 1).all()


@pytest.mark.slow
def test_quick_parameter_recovery(tmp_path, data):
    """Quick-mode recovery: the numbers are reported in docs/calibration.md."""
    res = parameter_recovery(QUICK, tmp_path / "rec", progress=False, data=data, n_jobs=2)
    print(res.to_string())
    assert res["abs_error_share_of_prior"].mean() < 0.35


def test_calibration_without_baseline_is_not_checked():
    assert shipped.check_baseline({"params": {}})
    assert shipped.check_baseline({"baseline": shipped.baseline.golden()["run"]})


def test_set_up_fit_pairs_each_table_row_with_its_own_cluster():
    """The engine returns clusters in the order of their ids; the 2010 set-up fit pairs the raw
    outputs with the rows of its (unsorted) table through calibration.states._rows_of."""
    from calibration.states import _rows_of

    tab = pd.DataFrame([{"id": i, "name_en": i, "sector_family": "machinery", "firms": 40,
                         "employees_per_firm": 5.0, "firms0": 40, "init_home_share": h}
                        for i, h in (("zz", 0.9), ("aa", 0.1), ("mm", 0.5))])
    d = pd.DataFrame({engine.RUN_KEY: [engine.encode_run(tab, 0.0, spinup=0.0)]})
    b = engine.run_batch(d, replicates=1, seed=1, store=None, constants={"scale": 1.0})
    assert b.clusters == ["aa", "mm", "zz"]
    spec = b.values[0, 0, 0][_rows_of(b, tab["id"]), list(b.outputs).index("specialization")]
    assert spec[0] > spec[2] > spec[1]  # home shares 0.9, 0.1, 0.5 in the table's order


# ----------------------------------------------------------------------------- the frozen final exam
def test_final_exam_scores_the_clusters_the_calibration_never_saw(tmp_path, micro_cfg, data, capsys):
    """'clustersim calibrate --exam' leaves the frozen exam clusters out; 'clustersim exam' predicts
    exactly those and writes the scorecard; a calibration fitted on every cluster cannot be examined."""
    from calibration.exam import EXAM_CLUSTERS
    from sim.face.cli import main

    settings = tmp_path / "micro.json"
    settings.write_text(json.dumps(MICRO))
    cal = tmp_path / "cal"
    assert main(["calibrate", "--settings", str(settings), "--exam", "--no-figures", "--quiet", "--yes",
                 "--out", str(cal)]) == 0
    d = json.loads((cal / "params.json").read_text())
    assert not set(EXAM_CLUSTERS) & set(d["fit_clusters"]) and set(EXAM_CLUSTERS) <= set(d["excluded"])
    ex = tmp_path / "exam"
    assert main(["exam", "--params", str(cal / "params.json"), "--replicates", "2", "--quiet",
                 "--out", str(ex)]) == 0
    card = pd.read_csv(ex / "scorecard.csv")
    assert list(card["index"]) == list(TARGETS_2020)
    assert {"skill", "diff_lo", "diff_hi", "best_baseline", "rho_change"} <= set(card.columns)
    assert (card["diff_lo"] <= card["diff_hi"]).all()
    pred = pd.read_csv(ex / "scorecard_predictions.csv")
    assert sorted(pred["id"].unique()) == sorted(EXAM_CLUSTERS)
    assert {"model", "persistence", "training_mean", "linear_persistence", "size_regression"} <= set(pred["forecast"])
    md = (ex / "scorecard.md").read_text()
    assert "fitted on 24 clusters" in md and "size-augmented regression" in md
    # a calibration fitted on every published cluster leaves nothing to examine: one line, exit 2
    full = tmp_path / "full"
    assert main(["calibrate", "--settings", str(settings), "--no-figures", "--quiet", "--yes", "--out", str(full)]) == 0
    capsys.readouterr()
    assert main(["exam", "--params", str(full / "params.json"), "--quiet", "--out", str(tmp_path / "e2")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "calibrate --exam" in err[0]
