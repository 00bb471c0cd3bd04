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

from sim.plots.labels import extent
from sim.plots.plane import (
    PLANE_AXES,
    QUADRANT_SHORT,
    draw_quadrant_labels,
    plane_thresholds,
    plane_xy,
)

__all__ = ["FAN_OVERLAY_MAX", "plot_effects", "plot_fan", "plot_planes", "scenario_colors"]

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


#: Most scenarios (besides the baseline) overlaid on one fan chart; more are drawn as small multiples.
FAN_OVERLAY_MAX = 3


def _quantiles(d: pd.DataFrame, scenario: str, indicator: str):
    w = d[(d["scenario"] == scenario) & (d["indicator"] == indicator)].pivot_table(
        index="year", columns="replicate", values="value")
    if w.empty:
        return None, None
    return w.index.to_numpy(float), np.nanpercentile(w.to_numpy(float), [5, 25, 50, 75, 95], axis=1)


def _legend(ax, keep) -> None:
    """A legend on ``ax`` of its entries whose label passes ``keep``."""
    pairs = [(h, lab) for h, lab in zip(*ax.get_legend_handles_labels()) if keep(lab)]
    if pairs:
        ax.legend([h for h, _ in pairs], [lab for _, lab in pairs], fontsize=7, loc="best")


def _fan_panel(ax, d: pd.DataFrame, ind: str, scenarios: Sequence[str], baseline: str, colors: Mapping,
               policy_years: Mapping[str, Sequence[float]]) -> None:
    for s in scenarios:
        yrs, q = _quantiles(d, s, ind)
        if yrs is None:
            continue
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


def plot_fan(indicators: pd.DataFrame, cluster: str, scenarios: Sequence[str], *, baseline: str,
             colors: Mapping | None = None, policy_years: Mapping[str, Sequence[float]] | None = None,
             replicates="?", axes=None):
    """Fan chart of one cluster's centripetal and centrifugal scores.

    The baseline is drawn as a grey fan (median, 25-75 % and 5-95 % of the
    replicates); each other scenario as its median with its 25-75 % band.  Dashed
    verticals mark the years in ``policy_years[scenario]`` (when policies start).

    Up to :data:`FAN_OVERLAY_MAX` scenarios besides the baseline are overlaid on two
    panels (centripetal, centrifugal).  More would be unreadable, so they are drawn as small
    multiples: one row per scenario (named on the left in its colour), each with the baseline
    fan behind it, the two scores in two columns sharing their y axis down the column.

    ``axes``: axes to draw on, two for the overlay, two per scenario besides the baseline
    (rows of two) for the small multiples (default: a new figure).
    """
    colors = colors or scenario_colors(scenarios, baseline)
    policy_years = policy_years or {}
    others = [s for s in scenarios if s != baseline]
    multiples = len(others) > FAN_OVERLAY_MAX
    rows = [[baseline, s] if baseline in scenarios else [s] for s in others] if multiples else [list(scenarios)]
    if axes is None:
        if multiples:
            fig, axes = plt.subplots(len(rows), 2, figsize=(11, 1.2 + 2.1 * len(rows)), sharex=True,
                                     sharey="col", squeeze=False)
        else:
            fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharex=True, squeeze=False)
    grid = np.asarray(axes, dtype=object).reshape(-1, 2)
    if len(grid) != len(rows):
        raise ValueError(f"plot_fan needs {2 * len(rows)} axes for {len(others)} scenarios besides the baseline, "
                         f"got {grid.size}")
    fig = grid[0, 0].figure
    d = indicators[(indicators["cluster"] == cluster) & indicators["indicator"].isin(SCORES)]
    for r, row_scen in enumerate(rows):
        for ax, ind in zip(grid[r], SCORES):
            _fan_panel(ax, d, ind, row_scen, baseline, colors, policy_years)
            if r == 0:
                ax.set_title(f"{ind} score")
            if r == len(rows) - 1:
                ax.set_xlabel("year")
        if multiples:
            grid[r, 0].set_ylabel(f"{row_scen[-1]}\nscore", fontsize=9, color=colors[row_scen[-1]])
    if multiples:
        _legend(grid[0, 0], lambda lab: lab.startswith("baseline"))
    else:
        grid[0, 0].set_ylabel("score")
        grid[0, 0].legend(fontsize=7, loc="best")
    fig.suptitle(f"{cluster}: {replicates} replicates per scenario; lines: medians, bands: 25-75 % "
                 "(baseline also 5-95 %)", fontsize=10)
    fig.tight_layout()
    return fig


def _plane_panel(ax, d: pd.DataFrame, cluster: str, scenarios: Sequence[str], colors: Mapping,
                 smooth: int, thresholds: Sequence[float]) -> None:
    for s in scenarios:
        m = d[(d["cluster"] == cluster) & (d["scenario"] == s)].groupby(["year", "indicator"])["value"].mean()
        m = m.unstack()
        if m.empty:
            continue
        x0, y0 = (v.iloc[0] for v in plane_xy(m))
        if smooth > 1:
            m = m.rolling(smooth, center=True, min_periods=1).mean()
        x, y = (v.to_numpy() for v in plane_xy(m))
        ax.plot(x, y, color=colors[s], lw=1.5, label=s)
        ax.plot(x0, y0, "o", color=colors[s], ms=3)
        if len(x) > 1:
            ax.annotate("", xy=(x[-1], y[-1]), xytext=(x[-2], y[-2]),
                        arrowprops={"arrowstyle": "->", "color": colors[s]})
    tx, ty = plane_thresholds(thresholds)
    ax.axvline(tx, color="0.6", lw=0.7)   # the typology's quadrant boundaries
    ax.axhline(ty, color="0.6", lw=0.7)
    ax.set_title(cluster, fontsize=9)
    ax.set_xlabel(PLANE_AXES[0])
    ax.set_ylabel(PLANE_AXES[1])
    draw_quadrant_labels(ax, QUADRANT_SHORT, fontsize=7, color="0.5")


def plot_planes(indicators: pd.DataFrame, relevant: Mapping[str, Sequence[str]], *, colors: Mapping,
                smooth: int = 3, thresholds: Sequence[float] = (0.0, 0.0), axes=None):
    """The centripetal-centrifugal plane: ensemble-mean trajectories per cluster.

    ``relevant`` maps each cluster drawn (one panel each, in order) to the scenarios drawn
    in its panel. The trajectory is the mean over replicates at each recorded year,
    smoothed by a centred moving average over ``smooth`` recorded points (1 = raw); the
    dot is the (unsmoothed) start; the grey lines are the typology's quadrant ``thresholds``
    (centripetal, centrifugal), named in the corners. Centripetal is on x
    (:data:`sim.plots.plane.PLANE_AXES`). One legend for the figure, below the panels, so
    that it never covers a quadrant name (a scenario has the same colour in every panel).
    ``axes``: at least one axes per cluster (default: a new figure, three panels a row);
    spare axes are switched off.
    """
    cl = list(relevant)
    n = len(cl)
    if axes is None:
        ncol = min(3, n)
        nrow = math.ceil(n / ncol)
        fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.8 * nrow), squeeze=False)
    flat = list(np.ravel(axes))
    fig = flat[0].figure
    d = indicators[indicators["indicator"].isin(SCORES)]
    for ax, c in zip(flat, cl):
        _plane_panel(ax, d, c, relevant[c], colors, smooth, thresholds)
    for ax in flat[n:]:
        ax.axis("off")
    handles: dict = {}
    for ax in flat[:n]:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    if handles:
        legend = fig.legend(list(handles.values()), list(handles), loc="lower center", bbox_to_anchor=(0.5, 0.0),
                            ncol=min(4, len(handles)), fontsize=8, frameon=False)
        height = extent(legend).height / (fig.dpi * fig.get_figheight())
        fig.tight_layout(rect=(0, min(0.5, height + 0.01), 1, 1))
    else:
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
