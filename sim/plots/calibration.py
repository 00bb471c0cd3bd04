"""Figures of a calibration: observed against simulated indices, and the 2010 -> 2020 arrows.

Every function takes the ``fit.csv`` table of a calibration (``cluster, year, index,
observed, simulated_mean, simulated_sd, raw_mean, in_fit``) and optional matplotlib axes,
and returns the figure; the caller saves it (e.g. with :func:`sim.core.io.atomic_savefig`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from sim.data.observed import INDEX_COLUMNS
from sim.plots.labels import place_labels
from sim.plots.plane import PLANE_AXES, draw_quadrant_labels, plane_thresholds

__all__ = ["plot_arrows", "plot_fit"]

#: The 2020 targets of a calibration: the six published indices, then the two published in raw
#: units (the plots sit below the calibration and cannot import ``calibration.loss.TARGETS_2020``;
#: ``tests/test_figures.py`` checks that the two are the same).
TARGETS_2020: tuple[str, ...] = tuple(INDEX_COLUMNS) + ("inclusiveness", "links_per_firm")


def plot_fit(fit: pd.DataFrame, indices: Sequence[str] = TARGETS_2020, size: str | None = "firms",
             rho: Mapping[str, float] | None = None, axes=None):
    """Observed vs simulated (published scale), 2020, one panel per index; open = not in the fit.

    Parameters
    ----------
    fit : DataFrame
        A calibration's ``fit.csv`` table.
    indices : sequence of str
        The indices drawn, one panel each; the next panel is the size moment.
    size : str, optional
        Name of the size moment (simulated against observed firm counts, log-log); its panel
        is left empty when ``fit`` has no such rows.
    rho : mapping, optional
        Spearman rank correlation per index, shown in the panel titles.
    axes : array of matplotlib axes, optional
        At least one more than ``indices``; panels beyond the size moment's are switched off.
        Default: a new figure of two rows with a title.
    """
    indices = list(indices)
    own = axes is None
    if own:
        cols = -(-(len(indices) + 1) // 2)
        fig, axes = plt.subplots(2, cols, figsize=(3.5 * cols, 6.5))
    axs = np.asarray(axes).ravel()
    if len(axs) < len(indices) + 1:
        raise ValueError(f"plot_fit needs {len(indices) + 1} axes (one per index and the size moment), got {len(axs)}")
    fig = axs[0].figure
    for ax, k in zip(axs, indices):
        _fit_panel(ax, fit[(fit["year"] == 2020) & (fit["index"] == k) & fit["observed"].notna()], k,
                   None if rho is None else rho.get(k))
    for ax in axs[len(indices) + 1:]:
        ax.axis("off")
    ax = axs[len(indices)]
    g = fit[(fit["year"] == 2020) & (fit["index"] == size) & fit["observed"].notna()]
    if len(g):
        ax.loglog(g["observed"], g["simulated_mean"], "o", ms=4)
        lim = [min(g["observed"].min(), g["simulated_mean"].min()), max(g["observed"].max(), g["simulated_mean"].max())]
        ax.plot(lim, lim, "k--", lw=0.6)
        ax.set_title("firms 2020 (simulated units)", fontsize=9)
        ax.set_xlabel("observed x scale", fontsize=8)
        ax.set_ylabel("simulated", fontsize=8)
    else:
        ax.axis("off")
    if own:
        fig.suptitle("Observed vs simulated 2020 indices in the published scale, raw units where the index is "
                     "published so (mean ± sd over replicates)")
        fig.tight_layout()
    return fig


def _fit_panel(ax, g: pd.DataFrame, k: str, rho: float | None) -> None:
    for infit, mk in ((True, "o"), (False, "s")):
        h = g[g["in_fit"] == infit]
        ax.errorbar(h["observed"], h["simulated_mean"], yerr=h["simulated_sd"], fmt=mk,
                    mfc="C0" if infit else "none", mec="C0", ecolor="0.7", ms=4, lw=0.8)
    both = pd.concat([g["observed"], g["simulated_mean"]]).dropna()
    if len(both):   # the diagonal (none for an index without values)
        ax.plot([both.min(), both.max()], [both.min(), both.max()], "k--", lw=0.6)
    ax.set_title(f"{k} ({_rho_text(rho)})" if rho is not None else k, fontsize=9)
    ax.set_xlabel("published 2020", fontsize=8)
    ax.set_ylabel("simulated (mapped)", fontsize=8)


def _rho_text(rho: float | None) -> str:
    """``rho=0.42``, or ``rho n/a`` when it is undefined (too few clusters, or constant values)."""
    try:
        value = float(rho)
    except (TypeError, ValueError):
        return "rho n/a"
    return f"rho={value:.2f}" if np.isfinite(value) else "rho n/a"


def _scores(fit: pd.DataFrame, year: int, col: str, classifier) -> pd.DataFrame:
    g = fit[fit["year"] == year].pivot(index="cluster", columns="index", values=col)
    g = g.reindex(columns=list(INDEX_COLUMNS))
    ok = g.notna().any(axis=1)
    return classifier.scores(g[ok])


def plot_arrows(fit: pd.DataFrame, classifier, axes=None):
    """2010 -> 2020 arrows per cluster in the centripetal-centrifugal plane: published and simulated.

    Centripetal on x, centrifugal on y (:data:`sim.plots.plane.PLANE_AXES`); each arrow head is
    labelled with the cluster, placed by :func:`sim.plots.labels.place_labels` so that no two
    labels (nor a label and a quadrant name) overlap.  With ``axes`` given, lay the figure out
    before calling: the labels are placed for the axes' size at the time of the call.

    Parameters
    ----------
    fit : DataFrame
        A calibration's ``fit.csv`` table.
    classifier : TypologyClassifier
        A fitted :class:`sim.indices.typology.TypologyClassifier`: its factor scores place the
        clusters, its quadrant thresholds are drawn dotted.
    axes : pair of matplotlib axes, optional
        Published (left) and simulated (right). Default: a new figure with a title.
    """
    own = axes is None
    if own:
        fig, axes = plt.subplots(1, 2, figsize=(13, 6), sharex=True, sharey=True)
    axs = np.asarray(axes).ravel()
    fig = axs[0].figure
    panels = []
    for ax, col, title in ((axs[0], "observed", "published"), (axs[1], "simulated_mean", "simulated (mapped)")):
        s10, s20 = _scores(fit, 2010, col, classifier), _scores(fit, 2020, col, classifier)
        heads, tails, names = [], [], []
        for c in s20.index:
            x1, y1 = (float(v) for v in s20.loc[c, list(PLANE_AXES)])
            if c in s10.index:
                x0, y0 = (float(v) for v in s10.loc[c, list(PLANE_AXES)])
                ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                            arrowprops={"arrowstyle": "->", "color": "C0", "lw": 0.8, "alpha": 0.8})
                ax.plot(x0, y0, ".", ms=3, color="C0", alpha=0.6)  # the tail (annotate sets no axis limits)
                tails.append((x0, y0))
            ax.plot(x1, y1, "o", ms=3, color="C1")
            heads.append((x1, y1))
            names.append("_".join(c.split("_")[:2]))
        tx, ty = plane_thresholds(classifier.thresholds_)
        ax.axvline(tx, color="0.5", lw=0.6, ls=":")
        ax.axhline(ty, color="0.5", lw=0.6, ls=":")
        ax.set_title(f"{title}: 2010 -> 2020", fontsize=10)
        ax.set_xlabel(f"{PLANE_AXES[0]} score")
        panels.append((ax, heads, tails, names))
    axs[0].set_ylabel(f"{PLANE_AXES[1]} score")
    if own:
        fig.suptitle(f"Clusters in the {PLANE_AXES[0]}-{PLANE_AXES[1]} plane (typology factor scores; dotted: "
                     "quadrant thresholds)")
        fig.tight_layout()
    for ax, heads, tails, names in panels:  # after the layout: labels are placed in display space
        quadrants = draw_quadrant_labels(ax, fontsize=7)
        h = np.array(heads, float).reshape(-1, 2)
        place_labels(ax, h[:, 0], h[:, 1], names, avoid=quadrants, obstacles=tails, fontsize=6.5, alpha=0.8)
    return fig
