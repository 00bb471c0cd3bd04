"""The figures are readable (issue 16, item 9): labels that do not collide, legends clear of the
quadrant names, one convention for the centripetal-centrifugal plane, small multiples for many
scenarios, every band explained, no ``nan`` printed.

Text extents are measured with the Agg renderer at the figure's dpi.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.text import Text

from sim.engine.sensitivity import plot_morris
from sim.plots.labels import extent, overlapping_texts, place_labels, renderer_of


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _texts(ax) -> list[Text]:
    """The visible non-empty texts drawn in ``ax`` (labels, quadrant names; not the tick labels)."""
    return [t for t in ax.texts if t.get_visible() and t.get_text().strip()]


def _overlap(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


# ----------------------------------------------------------------------------- labels that do not collide
def test_place_labels_keeps_crowded_labels_apart_and_clear_of_what_to_avoid():
    fig, ax = plt.subplots(figsize=(4, 3))
    x = np.r_[np.full(12, 0.5) + np.linspace(0, 0.02, 12), [0.1, 0.9]]
    y = np.r_[np.full(12, 0.5), [0.1, 0.9]]
    ax.plot(x, y, "o")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    corner = ax.text(0.02, 0.98, "keep clear", transform=ax.transAxes, va="top")
    labels = [f"factor_{i}" for i in range(len(x))]
    placed = place_labels(ax, x, y, labels, avoid=[corner], fontsize=8)
    assert all(t is not None for t in placed)
    assert overlapping_texts(fig, _texts(ax)) == []
    inside = ax.get_window_extent(renderer_of(fig))
    for t in placed:
        bb = extent(t)
        assert inside.x0 <= bb.x0 and bb.x1 <= inside.x1 and inside.y0 <= bb.y0 and bb.y1 <= inside.y1


def test_morris_labels_do_not_overlap_each_other_or_the_legend():
    names = [f"parameter_{i}" for i in range(9)]
    idx = pd.DataFrame({"outcome": "y", "parameter": names,
                        "mu_star": [0.01, 0.012, 0.011, 0.013, 0.5, 0.51, 0.9, 0.02, 0.015],
                        "mu_star_conf": 0.01,
                        "sigma": [0.01, 0.011, 0.013, 0.012, 0.4, 0.41, 0.95, 0.9, 0.88]})
    fig = plot_morris(idx, "y")
    ax = fig.axes[0]
    assert {t.get_text() for t in _texts(ax)} == set(names)
    assert overlapping_texts(fig, _texts(ax)) == []
    legend = extent(ax.get_legend())
    assert not any(_overlap(extent(t), legend) for t in _texts(ax))
