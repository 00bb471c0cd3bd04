"""Statistical benchmarks of the cross-validation (calibration/benchmarks.py): synthetic data, no model runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from calibration.benchmarks import (
    BASELINES,
    baseline_forecasts,
    benchmark_table,
    change_correlation,
    ols,
    paired_bootstrap,
    skill_score,
    within_year_z,
)
from calibration.validate import case_facts, forecast_rows, markdown_report


def _pred(obs10, obs20, forecasts: dict, model_2010=None, index="specialization") -> pd.DataFrame:
    """Long prediction table of one index from arrays (clusters c0..c{n-1}, one fold)."""
    n = len(obs20)
    ids = [f"c{i}" for i in range(n)]
    m10 = np.zeros(n) if model_2010 is None else model_2010
    rows = [pd.DataFrame({"id": ids, "fold": 0, "index": index, "forecast": f, "value": np.asarray(v, float),
                          "observed_2010": obs10, "observed_2020": obs20, "model_2010": m10})
            for f, v in forecasts.items()]
    return pd.concat(rows, ignore_index=True)


@pytest.fixture
def levels():
    rng = np.random.default_rng(3)
    o10 = rng.normal(size=40)
    o20 = 0.5 + 0.8 * o10 + rng.normal(scale=0.5, size=40)
    return o10, o20, rng


def test_ols_and_size_regression_recover_known_coefficients():
    rng = np.random.default_rng(0)
    ids = [f"c{i}" for i in range(30)]
    o10 = pd.DataFrame({"k": rng.normal(size=30)}, index=ids)
    log_size = pd.Series(rng.normal(7, 1, size=30), index=ids)
    o20 = pd.DataFrame({"k": 0.3 + 1.7 * o10["k"] - 0.4 * log_size}, index=ids)
    X = np.column_stack([np.ones(30), o10["k"], log_size])
    np.testing.assert_allclose(ols(X, o20["k"]), [0.3, 1.7, -0.4], atol=1e-10)
    fam = pd.Series("f", index=ids)
    # the 2020 values of the test clusters are never used: poison them
    o20_seen = o20.copy()
    o20_seen.loc[ids[25:]] = 1e6
    b = baseline_forecasts(o10, o20_seen, fam, ids[:25], ids[25:], log_size)
    np.testing.assert_allclose(b["size_regression"]["k"], o20.loc[ids[25:], "k"], atol=1e-10)
    np.testing.assert_allclose(b["persistence"]["k"], o10.loc[ids[25:], "k"])
    assert b["training_mean"]["k"].to_numpy() == pytest.approx([o20.loc[ids[:25], "k"].mean()] * 5)
    assert set(b) == set(BASELINES)
    # without the size covariate the regression is undefined, the others are unchanged
    b0 = baseline_forecasts(o10, o20_seen, fam, ids[:25], ids[25:])
    assert b0["size_regression"].isna().all().all()
    pd.testing.assert_frame_equal(b0["linear_persistence"], b["linear_persistence"])
    # too few training clusters for three coefficients plus one residual degree of freedom
    assert np.isnan(ols(X[:3], o20["k"][:3])).all()


def test_family_mean_falls_back_to_the_training_mean():
    ids = ["a", "b", "c", "d", "e"]
    o20 = pd.DataFrame({"k": [1.0, 3.0, 10.0, 0.0, 0.0]}, index=ids)
    fam = pd.Series(["x", "x", "y", "x", "z"], index=ids)
    b = baseline_forecasts(o20 * 0, o20, fam, ["a", "b", "c"], ["d", "e"])
    assert b["family_mean"]["k"].tolist() == pytest.approx([2.0, 14 / 3])


def test_bootstrap_interval_contains_zero_for_a_model_equal_to_the_baseline(levels):
    o10, o20, rng = levels
    base = 0.5 + 0.8 * o10
    model = base + rng.normal(scale=1e-3, size=len(o20))
    lo, hi = paired_bootstrap(model, base, o20, B=2000, seed=1)
    assert lo < 0 < hi and hi - lo < 0.01
    assert paired_bootstrap(base, base, o20) == (0.0, 0.0)


def test_bootstrap_interval_excludes_zero_for_a_clearly_better_model(levels):
    o10, o20, rng = levels
    model = o20 + rng.normal(scale=0.1, size=len(o20))
    lo, hi = paired_bootstrap(model, o10, o20, B=2000, seed=1)
    assert lo < hi < 0
    # seeded: the same interval again
    assert paired_bootstrap(model, o10, o20, B=2000, seed=1) == (lo, hi)


def test_skill_score():
    o = np.array([0.0, 1.0, 2.0, 3.0])
    b = np.array([1.0, 1.0, 1.0, 1.0])
    assert skill_score(b, b, o) == 0
    assert skill_score(o, b, o) == 1
    assert skill_score(b + 3, b, o) < 0
    assert np.isnan(skill_score(b, o, o))


def test_benchmark_table_chooses_the_best_baseline(levels):
    o10, o20, _ = levels
    good = 0.5 + 0.8 * o10
    pred = _pred(o10, o20, {"model": good, "persistence": o10, "training_mean": np.full(len(o20), o20.mean()),
                            "linear_persistence": good + 0.3})
    t = benchmark_table(pred, B=500)
    r = t.iloc[0]
    assert r["n"] == len(o20) and r["best_baseline"] == "linear_persistence"
    assert r["rmse_best"] == pytest.approx(r["rmse_linear_persistence"])
    assert r["rmse_best"] == pytest.approx(min(r[f"rmse_{f}"] for f in ("persistence", "training_mean",
                                                                          "linear_persistence")))
    assert r["skill"] > 0 and r["diff_lo"] < r["diff_hi"] < 0
    # the model equal to the best baseline: skill 0, a zero-width interval at 0
    pred.loc[pred["forecast"] == "model", "value"] = good + 0.3
    r = benchmark_table(pred, B=500).iloc[0]
    assert r["skill"] == 0 and r["diff_rmse"] == 0 and r["diff_lo"] == r["diff_hi"] == 0
    # baselines can be restricted; obs20 can be given explicitly
    obs20 = pd.DataFrame({"specialization": o20}, index=[f"c{i}" for i in range(len(o20))])
    r = benchmark_table(pred, obs20, baselines=("persistence",), B=500).iloc[0]
    assert r["best_baseline"] == "persistence"


def test_benchmark_table_uses_clusters_where_every_forecast_is_defined(levels):
    o10, o20, _ = levels
    o10 = o10.copy()
    o10[:5] = np.nan
    pred = _pred(o10, o20, {"model": o20, "persistence": o10, "size_regression": np.full(len(o20), np.nan)})
    r = benchmark_table(pred, B=200).iloc[0]
    assert r["n"] == len(o20) - 5 and r["rmse_model"] == 0
    assert np.isnan(r["rmse_size_regression"]) and r["best_baseline"] == "persistence"


def test_change_correlation_is_one_for_reproduced_changes_and_scale_free(levels):
    o10, o20, rng = levels
    m10 = 3.0 + 2.0 * o10
    m20 = -1.0 + 0.5 * o20
    assert change_correlation(m10, m20, o10, o20) == pytest.approx(1.0)
    # an increasing affine change of one year's published scale changes nothing
    assert change_correlation(m10, m20, o10, 10 + 4 * o20) == pytest.approx(1.0)
    noisy = m20 + rng.normal(size=len(o20))
    assert change_correlation(m10, noisy, o10, o20) == pytest.approx(change_correlation(m10, noisy, 7 * o10 - 2, o20))
    # a model reversing every change (its years swapped)
    assert change_correlation(m20, m10, o10, o20) == pytest.approx(-1.0)
    z = within_year_z(pd.Series(o20))
    assert z.mean() == pytest.approx(0, abs=1e-12) and z.std(ddof=0) == pytest.approx(1)
    pred = _pred(o10, o20, {"model": m20, "persistence": o10}, model_2010=m10)
    assert benchmark_table(pred, B=200).iloc[0]["rho_change"] == pytest.approx(1.0)


def test_forecast_rows_and_change_facts_within_year(tmp_path):
    ids = ["jeonju_machinery", "a", "b", "c", "d"]
    cols = ["specialization", "related_variety", "hierarchy", "heterophily", "internal_cohesion", "external_linkage"]
    rng = np.random.default_rng(5)
    o10 = pd.DataFrame(rng.normal(size=(5, 6)), index=ids, columns=cols)
    o20 = o10 * 2 + 1     # same within-year z-scores: no change anywhere...
    o20.loc["jeonju_machinery", "related_variety"] += 10   # ...except Jeonju's related variety, which rises,
    o20.loc["jeonju_machinery", "hierarchy"] -= 10         # and its hierarchy, which falls
    obs = {2010: o10, 2020: o20}
    model20 = o20.copy()
    pred = forecast_rows(0, {"model": model20, "persistence": o10}, obs, o10, ids)
    assert list(pred.columns) == ["id", "fold", "index", "forecast", "value", "observed_2010", "observed_2020",
                                  "model_2010"]
    assert list(pred["id"][:12]) == ["jeonju_machinery"] * 12 and list(pred["forecast"][:2]) == ["model", "persistence"]
    facts = case_facts(pred, pd.DataFrame({"id": ids, "model": "other"}), {}, obs).set_index("statement")
    rv = facts.loc[next(s for s in facts.index if "Jeonju" in s and "related variety" in s)]
    assert "within-year z-score" in rv.name
    assert rv["observed_within_year"] and rv["reproduced"]
    hier = facts.loc[next(s for s in facts.index if "Jeonju" in s and "hierarchy" in s)]
    # the stated rise of hierarchy does not hold within year, nor in the model (which reproduces the data)
    assert not hier["observed_within_year"] and not hier["reproduced"]
    assert "observed z" in hier["detail"] and "model z" in hier["detail"]
    typology = facts.loc[next(s for s in facts.index if "Jeonju is resilient" in s)]
    assert typology["observed_within_year"] is None and not typology["reproduced"]
    # the markdown report reads the files back
    benchmark_table(pred, B=100).to_csv(tmp_path / "cv_metrics.csv", index=False)
    benchmark_table(pred[pred["forecast"] == "model"], B=100).to_csv(tmp_path / "cv_metrics_all.csv", index=False)
    pd.DataFrame({"id": ids, "published": "other", "model": "other", "persistence": "other",
                  "family_mode": "other"}).to_csv(tmp_path / "cv_typology.csv", index=False)
    facts.reset_index().to_csv(tmp_path / "case_facts.csv", index=False)
    md = markdown_report(tmp_path)
    assert "best baseline" in md and "observed within year" in md and "ρ of changes" in md
