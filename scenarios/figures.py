"""The figures of a projection: which clusters and scenarios to draw, drawn by :mod:`sim.plots.projection`.

:func:`figure_clusters` picks the clusters (those named by policies, else a spread of six);
:func:`plot_fan`, :func:`plot_planes` and :func:`plot_effects` draw a
:class:`scenarios.projection.Projection`; :func:`write_figures` saves them all (atomically)
into a projection folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt

from sim.core.io import atomic_savefig
from sim.data.clusters import cluster_table
from sim.engine.experiments import StepProgress
from sim.plots import projection as draw
from sim.plots.scores import _pick_clusters

__all__ = ["figure_clusters", "relevant_scenarios", "plot_fan", "plot_planes", "plot_effects", "write_figures"]


def figure_clusters(proj, limit: int = 12) -> list[str]:
    """Clusters drawn in the figures: those named by policies (not 'all'), else a spread of six."""
    sim_ids = proj.simulated_clusters
    tab = cluster_table()
    fam = dict(zip(tab["id"], tab["sector_family"]))
    named: list[str] = []
    for s in proj.scenarios:
        for spec in s.policies:
            t = spec.get("target", "all")
            if t == "all":
                continue
            if isinstance(t, str) and t.startswith("family:"):
                ids = [c for c in sim_ids if fam.get(c) == t.split(":", 1)[1]]
            else:
                ids = [t] if isinstance(t, str) else list(t)
            named += [c for c in ids if c in sim_ids and c not in named]
    if not named:
        named = _pick_clusters(proj.indicators[proj.indicators["scenario"] == proj.baseline], None, 6)
    return named[:limit]


def relevant_scenarios(proj, cluster: str) -> list[str]:
    """The baseline and the scenarios targeting ``cluster``."""
    tg = proj.targeted()
    return [proj.baseline] + [s for s in proj.names if s != proj.baseline and cluster in tg.get(s, [])]


def _policy_years(proj, scen: str) -> list[float]:
    s = next(x for x in proj.scenarios if x.name == scen)
    return sorted({proj.settings["start_year"] + p.get("start", 0.0) for p in s.policies})


def plot_fan(proj, cluster: str, scenarios: Sequence[str] | None = None):
    """Fan chart of one cluster's scores in the baseline and the scenarios targeting it
    (:func:`sim.plots.projection.plot_fan`); dashed verticals mark the years policies start."""
    scen = list(scenarios) if scenarios else relevant_scenarios(proj, cluster)
    years = {s: _policy_years(proj, s) for s in scen if s != proj.baseline}
    return draw.plot_fan(proj.indicators, cluster, scen, baseline=proj.baseline,
                         colors=draw.scenario_colors(proj.names, proj.baseline), policy_years=years,
                         replicates=proj.settings.get("replicates", "?"))


def plot_planes(proj, clusters: Sequence[str] | None = None, smooth: int = 3):
    """The centripetal-centrifugal plane of the figure clusters (:func:`sim.plots.projection.plot_planes`)."""
    cl = list(clusters) if clusters else figure_clusters(proj)
    return draw.plot_planes(proj.indicators, {c: relevant_scenarios(proj, c) for c in cl},
                            colors=draw.scenario_colors(proj.names, proj.baseline), smooth=smooth,
                            thresholds=proj.manifest.get("typology_thresholds") or (0.0, 0.0))


def plot_effects(proj, indicators: Sequence[str] = ("centripetal", "centrifugal")):
    """Forest plot of the paired effect on the targeted clusters (or all) per scenario."""
    eff = proj.effects()
    eff = eff[eff["cluster"].isin(["(targeted)", "(all)"])]
    return draw.plot_effects(eff, [s for s in proj.names if s != proj.baseline], indicators)


def write_figures(proj, fdir: Path, progress: bool = False) -> list[str]:
    """Save the fan charts, the plane and the forest plot into ``fdir``; returns ``figures/<name>`` paths.

    With ``progress``, one line per figure on stderr (:class:`sim.engine.experiments.StepProgress`).
    """
    matplotlib.use("Agg")
    fdir.mkdir(exist_ok=True)
    files = []
    clusters = figure_clusters(proj)
    note = StepProgress("figures", len(clusters) + 2, progress)

    def save(fig, name):
        atomic_savefig(fdir / name, fig, dpi=110, bbox_inches="tight")
        plt.close(fig)
        files.append(f"figures/{name}")

    for c in clusters:
        note(f"fan chart {c}")
        save(plot_fan(proj, c), f"fan_{c}.png")
    note("centripetal-centrifugal plane")
    save(plot_planes(proj), "plane.png")
    note("effects")
    save(plot_effects(proj), "effects.png")
    return files
