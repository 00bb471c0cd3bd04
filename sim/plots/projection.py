"""Figures of scenario projections: fan charts, the centripetal-centrifugal plane, effect forest plots.

Data in, a matplotlib figure out: every function takes the tidy indicator table (columns
``scenario, cluster, replicate, step, year, indicator, value``) or an effect table
(:func:`scenarios.effects.effects_table`) plus the names it needs, draws on the given
axes (or on a new figure) and returns the figure. :mod:`scenarios.figures` chooses what
to draw for a projection.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

__all__ = ["scenario_colors", "plot_fan", "plot_planes", "plot_effects"]

SCORES = ("centripetal", "centrifugal")


def scenario_colors(names: Sequence[str], baseline: str) -> dict:
    """A colour per scenario: dark grey for the baseline, the ``tab10`` cycle for the others."""
    cmap = plt.get_cmap("tab10")
    out, i = {}, 0
    for s in names:
        if s == baseline:
            out[s] = "0.35"
        else:
            out[s] = cmap(i % 10)
            i += 1
    return out


def plot_fan(indicators: pd.DataFrame, cluster: str, scenarios: Sequence[str], *, baseline: str,
             colors: Mapping | None = None, policy_years: Mapping[str, Sequence[float]] | None = None,
             replicates="?", axes=None):
    """Fan chart of one cluster's centripetal and centrifugal scores.

    The baseline is drawn as a grey fan (median, 25-75 % and 5-95 % of the
    replicates); each other scenario as its median with its 25-75 % band.  Dashed
    verticals mark the years in ``policy_years[scenario]`` (when policies start).
    ``axes``: two axes to draw on (default: a new figure).
    """
    colors = colors or scenario_colors(scenarios, baseline)
    policy_years = policy_years or {}
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharex=True)
    else:
        fig = axes[0].figure
    d = indicators[(indicators["cluster"] == cluster) & indicators["indicator"].isin(SCORES)]
    for ax, ind in zip(axes, SCORES):
        for s in scenarios:
            w = d[(d["scenario"] == s) & (d["indicator"] == ind)].pivot_table(index="year", columns="replicate",
                                                                                values="value")
            if w.empty:
                continue
            yrs = w.index.to_numpy(float)
            q = np.nanpercentile(w.to_numpy(float), [5, 25, 50, 75, 95], axis=1)
            if s == baseline:
                ax.fill_between(yrs, q[0], q[4], color="0.85", lw=0, label="baseline 5-95 %")
                ax.fill_between(yrs, q[1], q[3], color="0.7", lw=0, label="baseline 25-75 %")
                ax.plot(yrs, q[2], color="0.2", lw=1.8, label="baseline median")
            else:
                ax.fill_between(yrs, q[1], q[3], color=colors[s], alpha=0.18, lw=0)
                ax.plot(yrs, q[2], color=colors[s], lw=1.8, label=s)
                for y in policy_years.get(s, ()):
                    ax.axvline(y, color=colors[s], ls="--", lw=0.8)
        ax.axhline(0, color="0.5", lw=0.6)
        ax.set_title(f"{ind} score")
        ax.set_xlabel("year")
    axes[0].set_ylabel("score")
    axes[0].legend(fontsize=7, loc="best")
    fig.suptitle(f"{cluster}: {replicates} replicates per scenario", fontsize=10)
    fig.tight_layout()
    return fig


def _plane_panel(ax, d: pd.DataFrame, cluster: str, scenarios: Sequence[str], colors: Mapping,
                 smooth: int, thresholds: Sequence[float]) -> None:
    for s in scenarios:
        m = d[(d["cluster"] == cluster) & (d["scenario"] == s)].groupby(["year", "indicator"])["value"].mean()
        m = m.unstack()
        if m.empty:
            continue
        x0, y0 = m["centripetal"].iloc[0], m["centrifugal"].iloc[0]
        if smooth > 1:
            m = m.rolling(smooth, center=True, min_periods=1).mean()
        x, y = m["centripetal"].to_numpy(), m["centrifugal"].to_numpy()
        ax.plot(x, y, color=colors[s], lw=1.5, label=s)
        ax.plot(x0, y0, "o", color=colors[s], ms=3)
        if len(x) > 1:
            ax.annotate("", xy=(x[-1], y[-1]), xytext=(x[-2], y[-2]),
                        arrowprops=dict(arrowstyle="->", color=colors[s]))
    ax.axvline(thresholds[0], color="0.6", lw=0.7)   # the typology's quadrant boundaries
    ax.axhline(thresholds[1], color="0.6", lw=0.7)
    ax.set_title(cluster, fontsize=9)
    ax.set_xlabel("centripetal")
    ax.set_ylabel("centrifugal")
    for (xq, yq, lab) in ((0.98, 0.02, "path-locked"), (0.98, 0.98, "resilient"),
                          (0.02, 0.98, "centrifugal-dom."), (0.02, 0.02, "other")):
        ax.text(xq, yq, lab, transform=ax.transAxes, ha="right" if xq > 0.5 else "left",
                va="top" if yq > 0.5 else "bottom", fontsize=7, color="0.5", style="italic")
    ax.legend(fontsize=6, loc="best")


def plot_planes(indicators: pd.DataFrame, relevant: Mapping[str, Sequence[str]], *, colors: Mapping,
                smooth: int = 3, thresholds: Sequence[float] = (0.0, 0.0), axes=None):
    """The centripetal-centrifugal plane: ensemble-mean trajectories per cluster.

    ``relevant`` maps each cluster drawn (one panel each, in order) to the scenarios drawn
    in its panel. The trajectory is the mean over replicates at each recorded year,
    smoothed by a centred moving average over ``smooth`` recorded points (1 = raw); the
    dot is the (unsmoothed) start; the grey lines are the typology's quadrant ``thresholds``
    (centripetal, centrifugal). ``axes``: at least one axes per cluster (default: a new
    figure, three panels a row); spare axes are switched off.
    """
    cl = list(relevant)
    n = len(cl)
    if axes is None:
        ncol = min(3, n)
        nrow = int(math.ceil(n / ncol))
        fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.8 * nrow), squeeze=False)
    flat = list(np.ravel(axes))
    fig = flat[0].figure
    d = indicators[indicators["indicator"].isin(SCORES)]
    for ax, c in zip(flat, cl):
        _plane_panel(ax, d, c, relevant[c], colors, smooth, thresholds)
    for ax in flat[n:]:
        ax.axis("off")
    fig.tight_layout()
    return fig


def plot_effects(effects: pd.DataFrame, scenarios: Sequence[str],
                 indicators: Sequence[str] = SCORES, axes=None):
    """Forest plot: paired effect (rows of ``effects``, one per scenario and indicator) with 95 % intervals.

    ``scenarios`` are drawn top to bottom; ``axes``: one axes per indicator (default: a new figure).
    """
    scen = list(scenarios)
    if axes is None:
        fig, axes = plt.subplots(1, len(indicators), figsize=(5 * len(indicators), 0.45 * len(scen) + 1.4),
                                 sharey=True, squeeze=False)
        axes = axes[0]
    fig = axes[0].figure
    for ax, ind in zip(axes, indicators):
        e = effects[effects["indicator"] == ind].set_index("scenario").reindex(scen)
        y = np.arange(len(scen))[::-1]
        ax.errorbar(e["diff"], y, xerr=[e["diff"] - e["ci_low"], e["ci_high"] - e["diff"]], fmt="o",
                    color="C0", ecolor="C0", capsize=3)
        ax.axvline(0, color="0.5", lw=0.8)
        ax.set_yticks(y)
        ax.set_yticklabels(scen, fontsize=8)
        ax.set_title(f"{ind}: scenario - baseline", fontsize=9)
    fig.tight_layout()
    return fig
