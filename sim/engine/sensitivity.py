"""Global sensitivity analysis (Morris, Sobol) of a stochastic model function.

SALib is used for sampling and analysis only; the runs go through
:func:`sim.engine.experiments.run_experiments`, so backends (loky, dask, ray),
``out_dir`` result stores and ``resume`` all apply.

Stochastic models are handled as recommended for agent-based models
(anchors-science section 3.1):

1. **mean-response SA** -- every sample point is run for ``replicates``
   seeds, the *same* seeds at every point (common random numbers), and the
   indices are computed on the replicate mean;
2. **noise share** -- for each outcome the share of the outcome's variance
   that is seed noise, ``E_theta[Var(Y | theta)] / Var(Y)`` (mean
   within-sample variance over the total variance of all runs). If it is
   large, indices of the mean understate the spread a user sees in single
   runs; raise ``replicates`` until the Morris ranking or the Sobol ``ST``
   intervals stabilise.

Model functions return tidy tables (``func(params, seed) -> DataFrame``).
Sensitivity analysis needs one scalar per outcome and run, so the table is
reduced by ``outcome_reducer(frame) -> Series/mapping`` inside the worker; the
default, :func:`last_row`, takes the last row of a wide table (e.g. the final
period of a time series with one column per outcome). For long tables
(``indicator``/``value`` rows) use :class:`LastPeriodMean`. Only the reduced
one-row tables are stored.

References
----------
.. [1] Morris, M. D. (1991). Factorial sampling plans for preliminary
       computational experiments. *Technometrics*, 33(2), 161-174.
       https://doi.org/10.1080/00401706.1991.10484804
.. [2] Campolongo, F., Cariboni, J., & Saltelli, A. (2007). An effective
       screening design for sensitivity analysis of large models.
       *Environmental Modelling & Software*, 22(10), 1509-1518.
       https://doi.org/10.1016/j.envsoft.2006.10.004
.. [3] Saltelli, A., Annoni, P., Azzini, I., Campolongo, F., Ratto, M., &
       Tarantola, S. (2010). Variance based sensitivity analysis of model
       output. Design and estimator for the total sensitivity index.
       *Computer Physics Communications*, 181(2), 259-270.
       https://doi.org/10.1016/j.cpc.2009.09.018
.. [4] Herman, J., & Usher, W. (2017). SALib: An open-source Python library
       for sensitivity analysis. *Journal of Open Source Software*, 2(9), 97.
       https://doi.org/10.21105/joss.00097
.. [5] ten Broeke, G., van Voorn, G., & Ligtenberg, A. (2016). Which
       sensitivity analysis method should I use for my agent-based model?
       *JASSS*, 19(1), 5. https://doi.org/10.18564/jasss.2857
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from SALib.analyze import morris as morris_analyze
from SALib.analyze import sobol as sobol_analyze
from SALib.sample import morris as morris_sample
from SALib.sample import sobol as sobol_sample

from sim.core.io import atomic_write_csv
from sim.engine.design import design_from_array
from sim.engine.experiments import ExperimentResult, func_name, run_experiments
from sim.plots.labels import place_labels

__all__ = [
    "LastPeriodMean",
    "ReducedModel",
    "SensitivityResult",
    "last_row",
    "morris",
    "noise_share",
    "plot_morris",
    "plot_sobol",
    "problem_from_bounds",
    "save_indices",
    "sobol",
]

MORRIS_COLUMNS = ["outcome", "parameter", "mu", "mu_star", "mu_star_conf", "sigma"]
SOBOL_COLUMNS = ["outcome", "parameter", "S1", "S1_conf", "ST", "ST_conf"]


# --------------------------------------------------------------------------
# Problem and outcome reduction
# --------------------------------------------------------------------------
def problem_from_bounds(bounds: Mapping[str, tuple[float, float]]) -> dict:
    """SALib problem dict from ``{name: (low, high)}`` (uniform factors).

    Parameters
    ----------
    bounds : mapping of str to (float, float)
        Parameter ranges, in the order the indices should be reported.

    Returns
    -------
    dict
        ``{"num_vars": d, "names": [...], "bounds": [[low, high], ...]}``.
    """
    if not bounds:
        raise ValueError("bounds must name at least one parameter")
    names, rows = [], []
    for name, pair in bounds.items():
        low, high = (float(v) for v in pair)
        if not (np.isfinite(low) and np.isfinite(high) and low < high):
            raise ValueError(f"bounds of {name!r} must be finite with low < high, got {pair}")
        names.append(str(name))
        rows.append([low, high])
    return {"num_vars": len(names), "names": names, "bounds": rows}


def last_row(frame: pd.DataFrame) -> pd.Series:
    """Default outcome reducer: the last row of the model's table."""
    if len(frame) == 0:
        raise ValueError("model returned an empty table; cannot reduce it to outcomes")
    return frame.iloc[-1]


class LastPeriodMean:
    """Reducer for long tables: mean ``value`` per ``key`` in the last ``time`` period.

    For a model returning ``(cluster, step, indicator, value, ...)`` rows,
    ``LastPeriodMean()`` gives one number per indicator: its mean over
    clusters in the final step. Picklable, so it works with every backend.

    Parameters
    ----------
    key : str, default "indicator"
        Column naming the outcome of each row.
    value : str, default "value"
        Column holding the numbers.
    time : str, default "step"
        Column whose maximum selects the rows used.
    """

    def __init__(self, key: str = "indicator", value: str = "value", time: str = "step") -> None:
        self.key, self.value, self.time = key, value, time

    @property
    def __clustersim_name__(self) -> str:
        return f"LastPeriodMean(key={self.key!r}, value={self.value!r}, time={self.time!r})"

    def __call__(self, frame: pd.DataFrame) -> pd.Series:
        last = frame[frame[self.time] == frame[self.time].max()]
        return last.groupby(self.key)[self.value].mean()


class ReducedModel:
    """Wrap a model function so that each run yields one row of scalar outcomes.

    Parameters
    ----------
    func : callable
        ``func(params, seed) -> pandas.DataFrame``.
    outcomes : sequence of str
        Names to keep; each must be a key of the reducer's result.
    reducer : callable, optional
        ``reducer(frame) -> pandas.Series | Mapping[str, float]``; defaults to
        :func:`last_row`. Must be picklable for process backends (a
        module-level function; lambdas work with loky and dask, which use
        cloudpickle).

    Notes
    -----
    Instances are picklable when ``func`` and ``reducer`` are; their
    identity in the result manifest is ``reduced(<func>, <reducer>)``.
    """

    def __init__(self, func: Callable, outcomes: Sequence[str], reducer: Callable | None = None) -> None:
        if isinstance(outcomes, str):
            outcomes = [outcomes]
        if not outcomes:
            raise ValueError("give at least one outcome")
        self.func = func
        self.outcomes = list(outcomes)
        self.reducer = reducer if reducer is not None else last_row

    @property
    def __clustersim_name__(self) -> str:
        return f"reduced({func_name(self.func)}, {func_name(self.reducer)})"

    def __call__(self, params: dict, seed: int) -> pd.DataFrame:
        out = self.func(params, seed)
        if isinstance(out, pd.DataFrame):
            reduced = self.reducer(out)
        elif isinstance(out, (pd.Series, Mapping)):
            reduced = out
        else:
            raise TypeError(f"model function must return a pandas DataFrame, got {type(out).__name__}")
        missing = [o for o in self.outcomes if o not in reduced]
        if missing:
            have = list(reduced.keys()) if hasattr(reduced, "keys") else []
            raise KeyError(f"outcomes {missing} not in the reduced model output (available: {have})")
        return pd.DataFrame({o: [float(reduced[o])] for o in self.outcomes})


# --------------------------------------------------------------------------
# Result container
# --------------------------------------------------------------------------
@dataclass
class SensitivityResult:
    """Indices, noise shares and the runs behind them.

    Attributes
    ----------
    method : {"morris", "sobol"}
    problem : dict
        SALib problem.
    indices : pandas.DataFrame
        Tidy, one row per (outcome, parameter). Morris: ``mu``, ``mu_star``,
        ``mu_star_conf``, ``sigma``. Sobol: ``S1``, ``S1_conf``, ``ST``,
        ``ST_conf``.
    noise : pandas.DataFrame
        One row per outcome; see :func:`noise_share`.
    samples : numpy.ndarray
        The SALib sample matrix (row i = experiment i).
    experiments : ExperimentResult
        Design and per-run outcomes.
    second_order : pandas.DataFrame or None
        Sobol with ``calc_second_order=True``: ``outcome``, ``parameter_1``,
        ``parameter_2``, ``S2``, ``S2_conf``.
    """

    method: str
    problem: dict
    indices: pd.DataFrame
    noise: pd.DataFrame
    samples: np.ndarray
    experiments: ExperimentResult
    second_order: pd.DataFrame | None = None


# --------------------------------------------------------------------------
# Running and reducing
# --------------------------------------------------------------------------
def noise_share(outcomes: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """Share of each outcome's variance due to the seed.

    Parameters
    ----------
    outcomes : pandas.DataFrame
        One row per run with columns ``experiment``, ``replicate`` and
        ``names``.
    names : sequence of str

    Returns
    -------
    pandas.DataFrame
        Columns ``outcome``, ``replicates``, ``within_variance`` (mean over
        sample points of the variance across replicates, ddof=1),
        ``total_variance`` (variance of all runs, ddof=1) and ``noise_share``
        (their ratio; NaN with one replicate or a constant outcome).
    """
    reps = int(outcomes.groupby("experiment")["replicate"].nunique().min()) if len(outcomes) else 0
    rows = []
    for name in names:
        within = outcomes.groupby("experiment")[name].var(ddof=1).mean() if reps > 1 else np.nan
        total = outcomes[name].var(ddof=1)
        share = within / total if reps > 1 and total > 0 else np.nan
        rows.append({"outcome": name, "replicates": reps, "within_variance": within,
                     "total_variance": total, "noise_share": share})
    return pd.DataFrame(rows)


def _evaluate(func, problem, samples, outcomes, replicates, seed, reducer, run_kwargs):
    if run_kwargs.get("collect") is False:
        raise ValueError("sensitivity analysis needs the outcomes: collect=False is not supported")
    model = ReducedModel(func, outcomes, reducer)
    design = design_from_array(samples, problem["names"])
    result = run_experiments(model, design, replicates, seed, **run_kwargs)
    runs = result.outcomes
    if runs.groupby(["experiment", "replicate"]).size().max() != 1:  # pragma: no cover - ReducedModel guarantees
        raise ValueError("sensitivity analysis needs exactly one row per run")
    means = runs.groupby("experiment")[model.outcomes].mean().reindex(design["experiment"])
    bad = means.columns[means.isna().any()].tolist()
    if bad:
        raise ValueError(f"outcomes {bad} are NaN for some sample points; SALib needs finite values")
    return result, means, noise_share(runs, model.outcomes)


def morris(
    func: Callable[[dict, int], pd.DataFrame],
    bounds: Mapping[str, tuple[float, float]],
    outcomes: Sequence[str],
    *,
    n_trajectories: int = 10,
    num_levels: int = 4,
    replicates: int = 1,
    seed: int = 0,
    outcome_reducer: Callable | None = None,
    optimal_trajectories: int | None = None,
    num_resamples: int = 100,
    conf_level: float = 0.95,
    **run_kwargs: Any,
) -> SensitivityResult:
    """Morris elementary-effects screening of a (stochastic) model function.

    SALib draws ``n_trajectories`` one-at-a-time trajectories, i.e.
    ``n_trajectories * (D + 1)`` sample points, each run for ``replicates``
    seeds (``n_trajectories * (D + 1) * replicates`` runs). The elementary
    effect of factor i is ``EE_i = [y(x + Delta e_i) - y(x)] / Delta`` on the
    replicate-mean response; ``mu_star = mean |EE_i|`` ranks importance and
    ``sigma`` (std of EE_i) flags interactions or non-linearity
    (Morris 1991; Campolongo et al. 2007).

    Parameters
    ----------
    func : callable
        ``func(params, seed) -> pandas.DataFrame``.
    bounds : mapping of str to (float, float)
        Uniform ranges of the factors.
    outcomes : sequence of str
        Outcome columns of the reduced one-row-per-run table.
    n_trajectories : int, default 10
        ``r`` in Morris (1991); 20-50 for a model screening.
    num_levels : int, default 4
        Grid levels ``p`` (even).
    replicates : int, default 1
        Seeds per sample point (common random numbers).
    seed : int, default 0
        Seeds SALib's sampler and analyser and the replicate seeds.
    outcome_reducer : callable, optional
        Table -> scalars; default :func:`last_row`.
    optimal_trajectories : int, optional
        Campolongo et al. (2007) selection passed to SALib.
    num_resamples, conf_level
        Bootstrap settings of ``mu_star_conf``.
    **run_kwargs
        Passed to :func:`sim.engine.experiments.run_experiments`: ``out_dir``,
        ``backend``, ``n_jobs``, ``resume``, ``progress``, ``constants``,
        ``scheduler``, ``batch_size``.

    Returns
    -------
    SensitivityResult
        ``indices`` with columns ``outcome, parameter, mu, mu_star,
        mu_star_conf, sigma``; ``noise`` from :func:`noise_share`.

    References
    ----------
    .. [1] Morris, M. D. (1991). *Technometrics*, 33(2), 161-174.
           https://doi.org/10.1080/00401706.1991.10484804
    """

    problem = problem_from_bounds(bounds)
    samples = morris_sample.sample(problem, n_trajectories, num_levels=num_levels,
                                   optimal_trajectories=optimal_trajectories, seed=seed)
    result, means, noise = _evaluate(func, problem, samples, outcomes, replicates, seed, outcome_reducer, run_kwargs)
    frames = []
    for name in means.columns:
        res = morris_analyze.analyze(problem, samples, means[name].to_numpy(dtype=float),
                                     num_resamples=num_resamples, conf_level=conf_level,
                                     num_levels=num_levels, seed=seed)
        frames.append(pd.DataFrame({
            "outcome": name,
            "parameter": list(res["names"]),
            "mu": np.asarray(res["mu"], dtype=float),
            "mu_star": np.asarray(res["mu_star"], dtype=float),
            "mu_star_conf": np.asarray(res["mu_star_conf"], dtype=float),
            "sigma": np.asarray(res["sigma"], dtype=float),
        }))
    indices = pd.concat(frames, ignore_index=True)[MORRIS_COLUMNS]
    return SensitivityResult("morris", problem, indices, noise, samples, result)


def sobol(
    func: Callable[[dict, int], pd.DataFrame],
    bounds: Mapping[str, tuple[float, float]],
    outcomes: Sequence[str],
    *,
    n: int = 64,
    replicates: int = 1,
    seed: int = 0,
    calc_second_order: bool = False,
    outcome_reducer: Callable | None = None,
    num_resamples: int = 100,
    conf_level: float = 0.95,
    **run_kwargs: Any,
) -> SensitivityResult:
    """Sobol variance-based indices of a (stochastic) model function.

    SALib's Saltelli/Sobol' sampler gives ``n * (D + 2)`` sample points
    (``n * (2D + 2)`` with second order), each run for ``replicates`` seeds.
    First-order ``S1`` and total ``ST`` indices of the replicate-mean
    response are estimated as in Saltelli et al. (2010), with bootstrap
    confidence intervals. Negative ``S1`` whose interval covers 0 is
    numerically zero; increase ``n`` (a power of 2) if intervals are wide.

    Parameters
    ----------
    func : callable
        ``func(params, seed) -> pandas.DataFrame``.
    bounds : mapping of str to (float, float)
    outcomes : sequence of str
    n : int, default 64
        Base sample size ``N`` (a power of 2).
    replicates : int, default 1
    seed : int, default 0
        Seeds the scrambled Sobol' sequence, the bootstrap and the replicate
        seeds.
    calc_second_order : bool, default False
        Also estimate ``S2`` (reported in ``second_order``).
    outcome_reducer : callable, optional
        Table -> scalars; default :func:`last_row`.
    num_resamples, conf_level
        Bootstrap settings of the ``*_conf`` columns.
    **run_kwargs
        Passed to :func:`sim.engine.experiments.run_experiments`.

    Returns
    -------
    SensitivityResult
        ``indices`` with columns ``outcome, parameter, S1, S1_conf, ST,
        ST_conf``; ``noise``; ``second_order`` if requested.

    References
    ----------
    .. [1] Saltelli, A., et al. (2010). *Computer Physics Communications*,
           181(2), 259-270. https://doi.org/10.1016/j.cpc.2009.09.018
    """

    problem = problem_from_bounds(bounds)
    samples = sobol_sample.sample(problem, n, calc_second_order=calc_second_order, seed=seed)
    result, means, noise = _evaluate(func, problem, samples, outcomes, replicates, seed, outcome_reducer, run_kwargs)
    frames, second = [], []
    names = problem["names"]
    for name in means.columns:
        res = sobol_analyze.analyze(problem, means[name].to_numpy(dtype=float),
                                    calc_second_order=calc_second_order, num_resamples=num_resamples,
                                    conf_level=conf_level, seed=seed)
        frames.append(pd.DataFrame({
            "outcome": name,
            "parameter": names,
            "S1": np.asarray(res["S1"], dtype=float),
            "S1_conf": np.asarray(res["S1_conf"], dtype=float),
            "ST": np.asarray(res["ST"], dtype=float),
            "ST_conf": np.asarray(res["ST_conf"], dtype=float),
        }))
        if calc_second_order:
            for i in range(len(names)):
                for j in range(i + 1, len(names)):
                    second.append({"outcome": name, "parameter_1": names[i], "parameter_2": names[j],
                                   "S2": float(res["S2"][i, j]), "S2_conf": float(res["S2_conf"][i, j])})
    indices = pd.concat(frames, ignore_index=True)[SOBOL_COLUMNS]
    second_order = pd.DataFrame(second) if calc_second_order else None
    return SensitivityResult("sobol", problem, indices, noise, samples, result, second_order)


# --------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------
def save_indices(result: SensitivityResult | pd.DataFrame, out_dir: str | os.PathLike,
                 name: str | None = None) -> list[Path]:
    """Write indices (and noise / second-order tables) as CSV.

    Parameters
    ----------
    result : SensitivityResult or pandas.DataFrame
        A result writes ``{method}_indices.csv``, ``{method}_noise.csv`` and,
        for Sobol with second order, ``sobol_second_order.csv``. A bare
        DataFrame writes ``{name or "indices"}.csv``.
    out_dir : path
        Created if needed.
    name : str, optional
        File stem for a bare DataFrame, or prefix replacing ``method``.

    Returns
    -------
    list of pathlib.Path
        The files written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if isinstance(result, pd.DataFrame):
        path = out / f"{name or 'indices'}.csv"
        atomic_write_csv(path, result)
        return [path]
    stem = name or result.method
    tables = {f"{stem}_indices.csv": result.indices, f"{stem}_noise.csv": result.noise}
    if result.second_order is not None:
        tables[f"{stem}_second_order.csv"] = result.second_order
    paths = []
    for fname, table in tables.items():
        atomic_write_csv(out / fname, table)
        paths.append(out / fname)
    return paths


def _select(indices: SensitivityResult | pd.DataFrame, outcome: str, needed: Sequence[str]) -> pd.DataFrame:
    df = indices.indices if isinstance(indices, SensitivityResult) else indices
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise ValueError(f"index table lacks columns {missing}")
    sub = df[df["outcome"] == outcome]
    if sub.empty:
        raise ValueError(f"no indices for outcome {outcome!r}; have {sorted(df['outcome'].unique())}")
    return sub


def _axes(ax):

    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 4.5))
        return fig, ax
    return ax.figure, ax


#: Resolution at which the command line saves the sensitivity figures (dots per inch).
FIGURE_DPI = 110

#: Largest number of labelled points in a Morris plot (a screening of every parameter has about 60;
#: the documented one has 18 factors, all labelled).
MORRIS_LABELS = 20


def plot_morris(indices: SensitivityResult | pd.DataFrame, outcome: str, ax=None):
    """Morris ``mu*`` against ``sigma`` for one outcome, the most influential points labelled.

    Every factor is drawn; the :data:`MORRIS_LABELS` with the largest ``mu*`` are labelled (all
    of them in ``morris_indices.csv``), placed by :func:`sim.plots.labels.place_labels`: no two
    overlap, none covers the legend (with ``ax`` given, lay the figure out before calling).

    Factors far right are influential; factors high up act non-linearly or
    through interactions. The dashed line marks ``sigma = mu*``. Horizontal
    bars are the bootstrap ``mu_star_conf``.

    Parameters
    ----------
    indices : SensitivityResult or pandas.DataFrame
        Morris indices (columns ``outcome, parameter, mu_star, mu_star_conf,
        sigma``).
    outcome : str
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    sub = _select(indices, outcome, ["parameter", "mu_star", "mu_star_conf", "sigma"])
    fig, ax = _axes(ax)
    x, y = sub["mu_star"].to_numpy(float), sub["sigma"].to_numpy(float)
    conf = np.nan_to_num(sub["mu_star_conf"].to_numpy(float))
    ax.errorbar(x, y, xerr=conf, fmt="o", color="C0", ecolor="0.6",
                capsize=3, zorder=3)
    # the axes hold every point and the whole of every error bar
    top = float(np.nanmax(np.concatenate([x + conf, y]))) * 1.1 if len(x) else 1.0
    top = top if top > 0 else 1.0
    ax.plot([0, top], [0, top], ls="--", lw=0.8, color="0.5", label=r"$\sigma = \mu^*$")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel(r"$\mu^*$ (mean |elementary effect|)")
    ax.set_ylabel(r"$\sigma$ (std of elementary effects)")
    shown = np.argsort(-np.nan_to_num(x, nan=-np.inf), kind="stable")[:MORRIS_LABELS]
    more = f" ({len(shown)} largest $\\mu^*$ labelled)" if len(shown) < len(x) else ""
    ax.set_title(f"Morris screening: {outcome}{more}")
    legend = ax.legend(loc="upper left", frameon=False)
    # labels last, clear of each other and of the legend (sim.plots.labels: a layout rule, no extra dependency)
    place_labels(ax, x[shown], y[shown], [str(p) for p in sub["parameter"].to_numpy()[shown]], avoid=[legend],
                 fontsize=9)
    return fig


def plot_sobol(indices: SensitivityResult | pd.DataFrame, outcome: str, ax=None):
    """First-order ``S1`` and total ``ST`` Sobol indices as bars with CIs.

    Parameters
    ----------
    indices : SensitivityResult or pandas.DataFrame
        Sobol indices (columns ``outcome, parameter, S1, S1_conf, ST,
        ST_conf``).
    outcome : str
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    sub = _select(indices, outcome, ["parameter", "S1", "S1_conf", "ST", "ST_conf"])
    fig, ax = _axes(ax)
    pos = np.arange(len(sub))
    width = 0.38
    ax.bar(pos - width / 2, sub["S1"], width, yerr=sub["S1_conf"], capsize=3, label="S1 (first order)",
           color="C0")
    ax.bar(pos + width / 2, sub["ST"], width, yerr=sub["ST_conf"], capsize=3, label="ST (total)", color="C1")
    ax.axhline(0, color="0.3", lw=0.8)
    ax.set_xticks(pos)
    ax.set_xticklabels(sub["parameter"].astype(str), rotation=30 if len(sub) > 6 else 0, ha="right"
                       if len(sub) > 6 else "center")
    ax.set_ylabel("Sobol index")
    ax.set_title(f"Sobol indices: {outcome}")
    ax.legend(frameon=False)
    return fig
