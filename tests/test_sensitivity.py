"""Tests for sim.engine.sensitivity: Morris and Sobol through the experiment engine."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from pandas.testing import assert_frame_equal  # noqa: E402
from SALib.analyze import morris as salib_morris_analyze  # noqa: E402
from SALib.analyze import sobol as salib_sobol_analyze  # noqa: E402
from SALib.sample import morris as salib_morris_sample  # noqa: E402
from SALib.sample import sobol as salib_sobol_sample  # noqa: E402
from SALib.test_functions import Ishigami  # noqa: E402

from sim.engine.sensitivity import (  # noqa: E402
    LastPeriodMean,
    ReducedModel,
    SensitivityResult,
    last_row,
    morris,
    noise_share,
    plot_morris,
    plot_sobol,
    problem_from_bounds,
    save_indices,
    sobol,
)

BOUNDS = {"x1": (-np.pi, np.pi), "x2": (-np.pi, np.pi), "x3": (-np.pi, np.pi)}
# Analytic Ishigami indices for a=7, b=0.1 (Saltelli et al. 2008, The Primer)
S1_TRUE = {"x1": 0.3139, "x2": 0.4424, "x3": 0.0}
ST_TRUE = {"x1": 0.5576, "x2": 0.4424, "x3": 0.2437}


def ishigami_model(params, seed):
    """Deterministic Ishigami (a=7, b=0.1) as a model function; ignores the seed."""
    x = np.array([[params["x1"], params["x2"], params["x3"]]])
    return pd.DataFrame({"y": Ishigami.evaluate(x, A=7.0, B=0.1)})


def noisy_ishigami(params, seed):
    """Ishigami plus N(0, 1) seed noise, as a 3-period table whose last row is the outcome."""
    rng = np.random.default_rng(seed)
    y = ishigami_model(params, seed)["y"].iloc[0]
    return pd.DataFrame({"period": [0, 1, 2], "y": [0.0, 0.0, y + rng.normal()],
                         "y_mean": [y, y, y]})


def mean_reducer(frame):
    return frame.mean()


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def sobol_result():
    return sobol(ishigami_model, BOUNDS, ["y"], n=1024, seed=1, backend="sequential", progress=False)


@pytest.fixture(scope="module")
def morris_result():
    return morris(ishigami_model, BOUNDS, ["y"], n_trajectories=50, num_levels=4, seed=2,
                  backend="sequential", progress=False)


def test_problem_from_bounds():
    p = problem_from_bounds({"a": (0, 1), "b": (2.5, 3)})
    assert p == {"num_vars": 2, "names": ["a", "b"], "bounds": [[0.0, 1.0], [2.5, 3.0]]}
    with pytest.raises(ValueError):
        problem_from_bounds({"a": (1, 1)})
    with pytest.raises(ValueError):
        problem_from_bounds({})


def test_sobol_ishigami_matches_analytic_indices(sobol_result):
    res = sobol_result
    assert isinstance(res, SensitivityResult) and res.method == "sobol"
    assert list(res.indices.columns) == ["outcome", "parameter", "S1", "S1_conf", "ST", "ST_conf"]
    idx = res.indices.set_index("parameter")
    for name in BOUNDS:
        assert idx.loc[name, "S1"] == pytest.approx(S1_TRUE[name], abs=0.05)
        assert idx.loc[name, "ST"] == pytest.approx(ST_TRUE[name], abs=0.05)
        assert 0 < idx.loc[name, "S1_conf"] < 0.15
    assert len(res.experiments.design) == 1024 * (3 + 2)
    assert res.second_order is None


def test_sobol_equals_salib_on_the_same_samples(sobol_result):
    """The engine path (design rows -> runs -> means) keeps SALib's row order exactly."""
    problem = problem_from_bounds(BOUNDS)
    x = salib_sobol_sample.sample(problem, 1024, calc_second_order=False, seed=1)
    np.testing.assert_array_equal(sobol_result.samples, x)
    direct = salib_sobol_analyze.analyze(problem, Ishigami.evaluate(x, A=7.0, B=0.1),
                                         calc_second_order=False, seed=1)
    np.testing.assert_allclose(sobol_result.indices["S1"], direct["S1"], rtol=1e-12)
    np.testing.assert_allclose(sobol_result.indices["ST_conf"], direct["ST_conf"], rtol=1e-12)


def test_morris_ranks_x1_x2_above_x3(morris_result):
    idx = morris_result.indices.set_index("parameter")
    assert list(morris_result.indices.columns) == ["outcome", "parameter", "mu", "mu_star", "mu_star_conf",
                                                   "sigma"]
    assert idx.loc["x3", "mu_star"] < min(idx.loc["x1", "mu_star"], idx.loc["x2", "mu_star"])
    # x3 acts only through its interaction with x1: signed mean ~ 0, sigma > mu*
    assert abs(idx.loc["x3", "mu"]) < 0.5 * idx.loc["x3", "mu_star"]
    assert idx.loc["x3", "sigma"] > idx.loc["x3", "mu_star"]
    problem = problem_from_bounds(BOUNDS)
    x = salib_morris_sample.sample(problem, 50, num_levels=4, seed=2)
    direct = salib_morris_analyze.analyze(problem, x, Ishigami.evaluate(x, A=7.0, B=0.1), num_levels=4, seed=2)
    np.testing.assert_allclose(idx["mu_star"], direct["mu_star"], rtol=1e-12)
    np.testing.assert_allclose(idx["sigma"], direct["sigma"], rtol=1e-12)


def test_noise_share_and_replicate_means():
    res = morris(noisy_ishigami, BOUNDS, ["y", "y_mean"], n_trajectories=6, replicates=4, seed=3,
                 backend="sequential", progress=False)
    noise = res.noise.set_index("outcome")
    assert (noise["replicates"] == 4).all()
    # noise variance 1 against a total variance of ~14.8 (Ishigami ~13.8 + 1)
    assert 0.02 < noise.loc["y", "noise_share"] < 0.25
    assert noise.loc["y", "within_variance"] == pytest.approx(1.0, abs=0.4)
    assert noise.loc["y_mean", "noise_share"] == 0.0
    # replicate means: the deterministic column equals the plain Ishigami value
    runs = res.experiments.outcomes
    assert runs.groupby("experiment")["y_mean"].nunique().max() == 1
    assert runs.groupby("experiment")["y"].nunique().min() == 4
    # common random numbers: the same replicate has the same noise draw at every sample point
    noise_draw = (runs["y"] - runs["y_mean"]).round(9)
    assert noise_draw.groupby(runs["replicate"]).nunique().max() == 1


def test_noise_share_is_nan_without_replicates(morris_result):
    assert morris_result.noise["noise_share"].isna().all()
    table = pd.DataFrame({"experiment": [0, 0, 1, 1], "replicate": [0, 1, 0, 1], "y": [1.0, 3.0, 5.0, 7.0]})
    row = noise_share(table, ["y"]).iloc[0]
    assert row["within_variance"] == pytest.approx(2.0)
    assert row["total_variance"] == pytest.approx(np.var([1, 3, 5, 7], ddof=1))


def test_outcome_reducers():
    frame = pd.DataFrame({"y": [1.0, 2.0, 6.0]})
    assert last_row(frame)["y"] == 6.0
    default = ReducedModel(lambda p, s: frame, ["y"])
    assert default({}, 0).equals(pd.DataFrame({"y": [6.0]}))
    mean = ReducedModel(lambda p, s: frame, ["y"], reducer=mean_reducer)
    assert mean({}, 0)["y"].iloc[0] == 3.0
    with pytest.raises(KeyError, match="not in"):
        ReducedModel(lambda p, s: frame, ["z"])({}, 0)
    # a custom reducer through the whole engine: the mean of the 3-row table
    res = sobol(noisy_ishigami, BOUNDS, ["y_mean"], n=8, seed=0, outcome_reducer=mean_reducer,
                backend="sequential", progress=False)
    assert res.experiments.outcomes.shape[0] == 8 * 5


def test_sobol_second_order_and_backends_and_resume(tmp_path):
    kw = dict(n=16, seed=4, calc_second_order=True, progress=False)
    seq = sobol(ishigami_model, BOUNDS, ["y"], backend="sequential", **kw)
    assert list(seq.second_order.columns) == ["outcome", "parameter_1", "parameter_2", "S2", "S2_conf"]
    assert len(seq.second_order) == 3
    par = sobol(ishigami_model, BOUNDS, ["y"], backend="loky", n_jobs=2, out_dir=tmp_path, **kw)
    assert_frame_equal(seq.indices, par.indices)
    again = sobol(ishigami_model, BOUNDS, ["y"], backend="sequential", out_dir=tmp_path, resume=True, **kw)
    assert again.experiments.manifest["counts"]["computed"] == 0
    assert_frame_equal(seq.indices, again.indices)
    assert again.experiments.manifest["function"].startswith("reduced(")


def test_save_indices(tmp_path, sobol_result):
    paths = save_indices(sobol_result, tmp_path / "sa")
    assert sorted(p.name for p in paths) == ["sobol_indices.csv", "sobol_noise.csv"]
    back = pd.read_csv(tmp_path / "sa" / "sobol_indices.csv")
    assert_frame_equal(back, sobol_result.indices, check_dtype=False)
    (single,) = save_indices(sobol_result.indices, tmp_path, name="custom")
    assert single.name == "custom.csv" and single.exists()


def test_plots_return_figures(sobol_result, morris_result):
    fig = plot_sobol(sobol_result, "y")
    assert isinstance(fig, matplotlib.figure.Figure)
    assert len(fig.axes[0].patches) == 6  # S1 and ST bars for three parameters
    fig2 = plot_morris(morris_result.indices, "y")
    labels = {t.get_text() for t in fig2.axes[0].texts}
    assert labels == {"x1", "x2", "x3"}
    fig3, axes = plt.subplots(1, 2)
    assert plot_morris(morris_result, "y", ax=axes[0]) is fig3
    assert plot_sobol(sobol_result.indices, "y", ax=axes[1]) is fig3
    with pytest.raises(ValueError, match="no indices"):
        plot_sobol(sobol_result, "missing")


def long_model(params, seed):
    """Long-format output like the cluster model: (cluster, step, indicator, value)."""
    rows = []
    for step in (0, 1):
        for cluster, weight in (("A", 1.0), ("B", 3.0)):
            rows.append((cluster, step, "density", weight * params["x1"] * step))
            rows.append((cluster, step, "size", weight + params["x2"] * step))
    return pd.DataFrame(rows, columns=["cluster", "step", "indicator", "value"])


def test_last_period_mean_reducer_for_long_tables():
    red = LastPeriodMean()
    out = red(long_model({"x1": 2.0, "x2": 1.0}, 0))
    assert out["density"] == pytest.approx(4.0) and out["size"] == pytest.approx(3.0)
    res = morris(long_model, {"x1": (0, 1), "x2": (0, 1)}, ["density", "size"], n_trajectories=4,
                 outcome_reducer=red, backend="sequential", progress=False)
    idx = res.indices.set_index(["outcome", "parameter"])["mu_star"]
    assert idx[("density", "x1")] == pytest.approx(2.0) and idx[("density", "x2")] == pytest.approx(0.0)
    assert idx[("size", "x2")] == pytest.approx(1.0)
    assert "LastPeriodMean(key='indicator'" in res.experiments.manifest["function"]
