"""Figures of model output.

Every function takes a tidy indicator table (``cluster, replicate, step, year,
indicator, value``) and an optional matplotlib ``ax``, and returns the figure.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import Patch

from sim.plots.labels import place_labels
from sim.plots.plane import PLANE_AXES, draw_quadrant_labels, plane_xy

#: The legend entry of the replicate band of :func:`plot_score_paths`.
BAND_LABEL = "band: 10-90 % of replicates"


def _pick_clusters(df: pd.DataFrame, clusters: Sequence[str] | None, n: int) -> list[str]:
    if clusters:
        return list(clusters)
    ids = list(pd.unique(df["cluster"]))  # in order of first appearance
    if len(ids) <= n:
        return ids
    # a spread of clusters: largest, smallest and evenly spaced between, by firm count
    f = df[(df.indicator == "firms") & (df.step == df.step.min())].groupby("cluster")["value"].mean()
    order = list(f.sort_values(ascending=False).index)
    return [order[i] for i in np.linspace(0, len(order) - 1, n).round().astype(int)]


def _series(df: pd.DataFrame, clusters: Sequence[str], indicators: Sequence[str]) -> dict[tuple[str, str], pd.DataFrame]:
    """Each (indicator, cluster)'s values by year (rows) and replicate (columns; one column
    ``value`` without a replicate column), means of duplicates; absent pairs are left out."""
    d = df[df.cluster.isin(clusters) & df.indicator.isin(indicators)]
    index = ["indicator", "cluster", "year"]
    tab = (d.pivot_table(index=index, columns="replicate", values="value", observed=True) if "replicate" in d
           else d.pivot_table(index=index, values="value", observed=True))
    return {key: part.droplevel([0, 1]).dropna(axis=1, how="all")
            for key, part in tab.groupby(level=[0, 1], sort=False, observed=True)}


def plot_score_paths(df: pd.DataFrame, clusters: Sequence[str] | None = None, n: int = 6, ax=None):
    """Centripetal and centrifugal score paths of a few clusters.

    Without ``ax``: two panels (centripetal left, centrifugal right).  With ``ax``:
    both on that axis (centripetal solid, centrifugal dashed).  With several
    replicates the line is the ensemble mean and the band the 10-90 % range (a legend
    entry, :data:`BAND_LABEL`, says so).
    """

    chosen = _pick_clusters(df, clusters, n)
    if ax is None:
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), sharey=True)
        panels = {"centripetal": axes[0], "centrifugal": axes[1]}
    else:
        fig = ax.figure
        panels = {"centripetal": ax, "centrifugal": ax}
    colors = plt.get_cmap("tab10")
    band = False
    series = _series(df, chosen, ("centripetal", "centrifugal"))
    for i, c in enumerate(chosen):
        for ind, ls in (("centripetal", "-"), ("centrifugal", "--" if ax is not None else "-")):
            s = series.get((ind, c))
            if s is None or s.empty:
                continue
            years = s.index.to_numpy(float)
            vals = s.to_numpy(float)
            mean = np.nanmean(vals, axis=1)
            a = panels[ind]
            a.plot(years, mean, ls, color=colors(i % 10), lw=1.8,
                   label=c if (ind == "centripetal" or ax is None) else None)
            if vals.shape[1] > 1:
                lo, hi = np.nanpercentile(vals, [10, 90], axis=1)
                a.fill_between(years, lo, hi, color=colors(i % 10), alpha=0.15, lw=0)
                band = True
    for ind, a in panels.items():
        a.axhline(0, color="0.6", lw=0.8)
        a.set_xlabel("year")
        a.set_title(f"{ind} score" if ax is None else "centripetal (solid) and centrifugal (dashed) scores")
    first = panels["centripetal"]
    first.set_ylabel("factor score (SD of the published 2020 clusters)")
    handles, labels = first.get_legend_handles_labels()
    if band:
        handles.append(Patch(facecolor="0.5", alpha=0.3, lw=0))
        labels.append(BAND_LABEL)
    first.legend(handles, labels, fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def plot_plane(df: pd.DataFrame, clusters: Sequence[str] | None = None, n: int = 12, ax=None):
    """Trajectories in the centripetal-centrifugal plane (ensemble means), arrow at the end."""

    chosen = _pick_clusters(df, clusters, n)
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 6))
    else:
        fig = ax.figure
    colors = plt.get_cmap("tab20")
    ends, names, starts = [], [], []
    for i, c in enumerate(chosen):
        d = df[(df.cluster == c) & df.indicator.isin(["centripetal", "centrifugal"])]
        m = d.groupby(["year", "indicator"])["value"].mean().unstack()
        if m.empty:
            continue
        x, y = (v.to_numpy() for v in plane_xy(m))
        ax.plot(x, y, color=colors(i % 20), lw=1.2)
        ax.annotate("", xy=(x[-1], y[-1]), xytext=(x[-2], y[-2]) if len(x) > 1 else (x[-1], y[-1]),
                    arrowprops={"arrowstyle": "->", "color": colors(i % 20)})
        ax.plot(x[0], y[0], "o", color=colors(i % 20), ms=3)
        ends.append((x[-1], y[-1], colors(i % 20)))
        names.append(c)
        starts.append((x[0], y[0]))
    ax.axhline(0, color="0.6", lw=0.8)
    ax.axvline(0, color="0.6", lw=0.8)
    ax.set_xlabel(f"{PLANE_AXES[0]} score")
    ax.set_ylabel(f"{PLANE_AXES[1]} score")
    quadrants = draw_quadrant_labels(ax, fontsize=8, color="0.4")
    fig.tight_layout()
    e = np.array([(xe, ye) for xe, ye, _ in ends], float).reshape(-1, 2)
    place_labels(ax, e[:, 0], e[:, 1], names, avoid=quadrants, obstacles=starts, fontsize=6,
                 colors=[col for _, _, col in ends])
    return fig
