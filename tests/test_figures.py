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

from calibration.typology import load_fitted
from sim.data.observed import INDEX_COLUMNS, load_indices_wide
from sim.engine.sensitivity import plot_morris
from sim.plots import projection
from sim.plots.calibration import TARGETS_2020, plot_arrows, plot_fit
from sim.plots.labels import extent, overlapping_texts, place_labels, renderer_of
from sim.plots.plane import PLANE_AXES, QUADRANT_SHORT, QUADRANT_TEXT, quadrant_corner
from sim.plots.scores import BAND_LABEL, plot_plane, plot_score_paths


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _texts(ax) -> list[Text]:
    """The visible non-empty texts drawn in ``ax`` (labels, quadrant names; not the tick labels)."""
    return [t for t in ax.texts if t.get_visible() and t.get_text().strip()]


def _overlap(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


# ----------------------------------------------------------------------------- data
@pytest.fixture(scope="module")
def fit_table() -> pd.DataFrame:
    """A calibration's ``fit.csv``: the published indices, simulated = published + noise."""
    wide = load_indices_wide()
    rng = np.random.default_rng(0)
    rows = []
    for _, r in wide.iterrows():
        for year in (2010, 2020):
            for k in INDEX_COLUMNS:
                obs = r.get(f"{k}_{year}")
                sim = obs + rng.normal(0, 0.3) if pd.notna(obs) else rng.normal()
                rows.append({"cluster": r["id"], "year": year, "index": k, "observed": obs, "simulated_mean": sim,
                             "simulated_sd": 0.1, "raw_mean": 0.0, "in_fit": True})
    return pd.DataFrame(rows)


def _indicators(scenarios, clusters=("a_cluster", "b_cluster"), replicates=3, years=8, seed=0) -> pd.DataFrame:
    """A tidy projection table: small random walks of the two scores around the middle of the plane."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in scenarios:
        for c in clusters:
            for r in range(replicates):
                for ind in ("centripetal", "centrifugal"):
                    walk = np.cumsum(rng.normal(0, 0.05, years + 1))
                    for y in range(years + 1):
                        rows.append({"scenario": s, "cluster": c, "replicate": r, "step": 4 * y, "year": 2020 + y,
                                     "indicator": ind, "value": walk[y]})
    return pd.DataFrame(rows)


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


def test_arrow_labels_do_not_overlap(fit_table):
    fig = plot_arrows(fit_table, load_fitted())
    for ax in fig.axes:
        texts = _texts(ax)
        assert len(texts) >= 20                         # a label per cluster and the quadrant names
        assert overlapping_texts(fig, texts) == [], ax.get_title()
    fig.set_dpi(120)                                    # as saved: offsets in points scale with the fonts
    for ax in fig.axes:
        assert overlapping_texts(fig, _texts(ax)) == []


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


def test_morris_plot_labels_eighteen_factors_and_shows_whole_error_bars():
    """The documented screening has 18 factors: every one is labelled, and the axes hold the whole error bar of
    the factor furthest right (its mu* plus its confidence half-width)."""
    names = [f"factor_{i}" for i in range(18)]
    mu = np.linspace(0.05, 1.5, 18)
    idx = pd.DataFrame({"outcome": "y", "parameter": names, "mu_star": mu, "mu_star_conf": 0.2 + 0.0 * mu,
                        "sigma": 0.4 + 0.0 * mu})
    ax = plot_morris(idx, "y").axes[0]
    assert {t.get_text() for t in _texts(ax)} == set(names)
    assert ax.get_xlim()[1] >= 1.5 + 0.2


# ----------------------------------------------------------------------------- the plane
def test_plane_legend_is_clear_of_the_quadrant_names():
    scen = ["base", "hub", "inflow", "broker"]
    ind = _indicators(scen)
    fig = projection.plot_planes(ind, {"a_cluster": scen, "b_cluster": scen[:2]},
                                 colors=projection.scenario_colors(scen, "base"), thresholds=(0.0, 0.0))
    names = set(QUADRANT_SHORT.values())
    quadrants = [t for ax in fig.axes for t in _texts(ax) if t.get_text() in names]
    assert len(quadrants) == 8                          # four per panel
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    assert legends, "the scenarios need a legend"
    assert {t.get_text() for leg in legends for t in leg.get_texts()} == set(scen)
    for leg in legends:
        box = extent(leg)
        assert not any(_overlap(box, extent(q)) for q in quadrants)
        for ax in fig.axes:                             # below the panels, not over one
            assert not _overlap(box, ax.get_window_extent(renderer_of(fig)))


def _quadrant_positions(ax) -> dict[str, tuple[bool, bool]]:
    """Each quadrant name in ``ax``: (in the right half, in the upper half) of the axes."""
    frame = ax.get_window_extent(renderer_of(ax.figure))
    out = {}
    for t in _texts(ax):
        key = t.get_text().replace("\n", "")
        for typ in QUADRANT_TEXT:
            if key in (QUADRANT_TEXT[typ], QUADRANT_SHORT[typ]):
                bb = extent(t)
                out[typ] = ((bb.x0 + bb.x1) / 2 > (frame.x0 + frame.x1) / 2,
                            (bb.y0 + bb.y1) / 2 > (frame.y0 + frame.y1) / 2)
    return out


def test_every_plane_puts_centripetal_on_x(fit_table):
    assert PLANE_AXES == ("centripetal", "centrifugal")
    expected = {typ: tuple(bool(v) for v in quadrant_corner(typ)) for typ in QUADRANT_TEXT}
    assert expected["path_locked"] == (True, False)     # centripetal high (right), centrifugal low (bottom)
    scen = ["base", "hub"]
    planes = projection.plot_planes(_indicators(scen), {"a_cluster": scen}, colors=projection.scenario_colors(
        scen, "base")).axes[0]
    arrows = plot_arrows(fit_table, load_fitted()).axes[0]
    run_plane = plot_plane(_indicators(["base"]).drop(columns="scenario")).axes[0]
    for ax in (planes, arrows, run_plane):
        assert ax.get_xlabel().startswith("centripetal") and ax.get_ylabel().startswith("centrifugal")
        assert _quadrant_positions(ax) == expected


# ----------------------------------------------------------------------------- fan charts
def test_fan_chart_with_seven_scenarios_uses_small_multiples():
    others = [f"policy_{i}" for i in range(7)]
    scen = ["base", *others]
    colors = projection.scenario_colors(scen, "base")
    fig = projection.plot_fan(_indicators(scen, clusters=("a_cluster",)), "a_cluster", scen, baseline="base",
                              colors=colors)
    used = [ax for ax in fig.axes if ax.lines]
    assert len(used) == 2 * len(others)                 # a row per scenario, a column per score
    per_scenario = {s: 0 for s in others}
    for ax in used:
        drawn = {s for s in others for line in ax.lines
                 if matplotlib.colors.same_color(line.get_color(), colors[s])}
        assert len(drawn) == 1, drawn                   # one scenario per panel (beside the baseline fan)
        per_scenario[drawn.pop()] += 1
    assert set(per_scenario.values()) == {2}
    few = projection.plot_fan(_indicators(scen[:3], clusters=("a_cluster",)), "a_cluster", scen[:3],
                              baseline="base")
    assert len(few.axes) == 2                           # a few scenarios stay overlaid


# ----------------------------------------------------------------------------- scores.png
def test_scores_band_has_a_legend_entry():
    df = _indicators(["base"], replicates=3).drop(columns="scenario")
    fig = plot_score_paths(df)
    assert BAND_LABEL in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    one = plot_score_paths(df[df["replicate"] == 0])
    assert BAND_LABEL not in [t.get_text() for t in one.axes[0].get_legend().get_texts()]  # no band, no entry


# ----------------------------------------------------------------------------- fit.png
def test_fit_figure_never_prints_nan(fit_table):
    rho = {k: np.nan for k in TARGETS_2020}
    rho["hierarchy"] = 0.5
    fig = plot_fit(fit_table, TARGETS_2020, "firms", rho=rho)
    fig.canvas.draw()
    texts = [t.get_text() for t in fig.findobj(Text) if t.get_visible()]
    assert not [t for t in texts if "nan" in t.lower()]
    titles = [ax.get_title() for ax in fig.axes]
    assert "hierarchy (rho=0.50)" in titles and "specialization (rho n/a)" in titles


def test_fit_figure_has_a_panel_per_target_and_one_for_the_size_moment(fit_table):
    """Every 2020 target of the calibration gets its own panel and the firm counts theirs (the size moment
    was once drawn into the panel of the eighth target when the targets outgrew a fixed 2 x 4 grid)."""
    from calibration.loss import TARGETS_2020 as FITTED

    assert TARGETS_2020 == FITTED
    firms = pd.DataFrame({"cluster": ["a", "b", "c"], "year": 2020, "index": "firms", "observed": [30.0, 60.0, 90.0],
                          "simulated_mean": [35.0, 50.0, 95.0], "simulated_sd": 1.0, "raw_mean": 0.0, "in_fit": True})
    fig = plot_fit(pd.concat([fit_table, firms], ignore_index=True), TARGETS_2020, "firms")
    shown = [ax for ax in fig.axes if ax.axison]
    titles = [ax.get_title() for ax in shown]
    assert titles == [*TARGETS_2020, "firms 2020 (simulated units)"]
    with pytest.raises(ValueError, match="needs 9 axes"):
        plot_fit(fit_table, TARGETS_2020, "firms", axes=plt.subplots(2, 4)[1])
