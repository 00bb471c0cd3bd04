"""Drawing for the classroom app: data in, PNG out (matplotlib only, no pyplot).

* :class:`StableLayout`: a force-directed layout of one cluster's network that is
  kept from frame to frame and only relaxed a little each quarter;
* :func:`draw_network`: the network (arrays of
  :meth:`sim.model.model.ClusterModel.cluster_network`) at given positions;
* :func:`draw_plots`: the live plots of one cluster's history (indices, scores,
  firms against critical mass, the path through the typology plane).
"""

from __future__ import annotations

import io
import math

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from sim.core.calendar import years_of
from sim.indices.scores import CENTRIFUGAL, CENTRIPETAL, Labeller
from sim.model.population import ROLE_NAMES
from sim.model.technology import SECTOR_FAMILIES

__all__ = ["StableLayout", "ROLE_COLOURS", "INDEX_LABELS", "draw_network", "draw_plots", "png_bytes"]

INDEX_LABELS = {
    "specialization": "specialisation", "hierarchy": "hierarchy", "internal_cohesion": "internal cohesion",
    "related_variety": "related variety", "heterophily": "heterophily", "external_linkage": "external linkage",
}


# ----------------------------------------------------------------------------- stable layout
class StableLayout:
    """A force-directed (Fruchterman-Reingold) layout that persists between frames.

    Positions are kept per permanent node id (``pop.uid``).  :meth:`update`
    places new nodes at the mean position of their already placed partners (or
    at random near the rim if they have none), forgets nodes that left, and
    relaxes the layout by a few small steps; each node moves at most
    ``temperature`` per step, so consecutive frames look alike.  Linked nodes
    stay inside :attr:`CORE_RADIUS`; nodes without a partner in the cluster sit on
    a rim outside it (the share on the rim is what inclusiveness measures).
    """

    def __init__(self, seed: int = 0):
        self.pos: dict[int, np.ndarray] = {}
        self._rim: dict[int, float] = {}
        self.rng = np.random.default_rng(seed)

    def update(self, uids: np.ndarray, i: np.ndarray, j: np.ndarray, iterations: int = 3,
               temperature: float = 0.02, cooling: bool = False) -> np.ndarray:
        """Positions (n x 2) of nodes ``uids`` with edges ``(i[k], j[k])`` (indices into ``uids``)."""
        n = len(uids)
        P = np.zeros((n, 2))
        known = np.zeros(n, bool)
        for a, u in enumerate(uids.tolist()):
            p = self.pos.get(u)
            if p is not None:
                P[a] = p
                known[a] = True
        new = np.flatnonzero(~known)
        if len(new):
            acc = np.zeros((n, 2))
            cnt = np.zeros(n)
            for s, t in ((i, j), (j, i)):
                ok = known[t] & ~known[s]
                np.add.at(acc, s[ok], P[t[ok]])
                np.add.at(cnt, s[ok], 1.0)
            has = new[cnt[new] > 0]
            P[has] = acc[has] / cnt[has, None] + self.rng.normal(0, 0.04, (len(has), 2))
            lone = new[cnt[new] == 0]
            ang = self.rng.uniform(0, 2 * np.pi, len(lone))
            if known.any():
                rad = self.rng.uniform(0.75, 0.95, len(lone))
            else:
                rad = np.sqrt(self.rng.uniform(0, 0.8, len(lone)))
            P[lone] = np.column_stack([rad * np.cos(ang), rad * np.sin(ang)])
        P = self._relax(P, uids, i, j, iterations, temperature, cooling)
        self.pos = {int(u): P[a].copy() for a, u in enumerate(uids.tolist())}
        self._rim = {u: r for u, r in self._rim.items() if u in self.pos}
        return P

    #: Radius inside which the linked nodes are laid out; unlinked nodes sit on a rim outside it.
    CORE_RADIUS = 0.82
    SPRING = 0.7      # ideal edge length as a share of the mean spacing of the linked nodes
    # Pull towards the centre.  With 1/d repulsion a uniform disc of linked nodes is in balance
    # with this pull at radius sqrt(pi / GRAVITY) (2-D Gauss law): 0.75, inside CORE_RADIUS, so
    # the nodes do not pile up against the edge of the core.
    GRAVITY = 5.6

    def _rim_radius(self, uid: int) -> float:
        r = self._rim.get(uid)
        if r is None:
            r = self._rim[uid] = float(self.rng.uniform(0.9, 1.0))
        return r

    def _relax(self, P, uids, i, j, iterations, temperature, cooling):
        n = len(P)
        if n == 0:
            return P
        deg = np.bincount(i, minlength=n) + np.bincount(j, minlength=n)
        linked = deg > 0
        # nodes without a partner in the cluster: onto the rim (each at its own radius), keeping their angle
        lone = ~linked
        if lone.any():
            ang = np.arctan2(P[lone, 1], P[lone, 0])
            r = np.array([self._rim_radius(u) for u in uids[lone].tolist()])
            P[lone] = np.column_stack([r * np.cos(ang), r * np.sin(ang)])
        idx = np.flatnonzero(linked)
        m = len(idx)
        if m < 2 or iterations <= 0:
            return P
        loc = np.full(n, -1, dtype=np.int64)
        loc[idx] = np.arange(m)
        ii, jj = loc[i], loc[j]
        Q = P[idx].copy()
        R = self.CORE_RADIUS
        k = self.SPRING * math.sqrt(math.pi * R * R / m)
        for it in range(iterations):
            temp = temperature * (1.0 - it / iterations) if cooling else temperature
            if m > 800:  # repulsion from a random sample of nodes, rescaled: O(m * 800)
                cols = self.rng.choice(m, 800, replace=False)
                w = m / 800.0
            else:
                cols, w = None, 1.0
            qx, qy = Q[:, 0], Q[:, 1]
            ox, oy = (qx, qy) if cols is None else (qx[cols], qy[cols])
            dx = qx[:, None] - ox[None, :]
            dy = qy[:, None] - oy[None, :]
            inv = k * k / np.maximum(dx * dx + dy * dy, 1e-4)
            if cols is None:
                np.fill_diagonal(inv, 0.0)
            else:
                inv[cols, np.arange(len(cols))] = 0.0
            fx = w * (dx * inv).sum(1)
            fy = w * (dy * inv).sum(1)
            if len(ii):
                ex, ey = qx[ii] - qx[jj], qy[ii] - qy[jj]
                el = np.sqrt(ex * ex + ey * ey) / k
                ax_, ay_ = ex * el, ey * el
                fx += np.bincount(jj, ax_, m) - np.bincount(ii, ax_, m)
                fy += np.bincount(jj, ay_, m) - np.bincount(ii, ay_, m)
            g = self.GRAVITY * m * k * k / math.pi
            fx -= g * qx
            fy -= g * qy
            length = np.sqrt(fx * fx + fy * fy)
            step = np.minimum(length, temp) / np.maximum(length, 1e-12)
            Q = np.column_stack([qx + fx * step, qy + fy * step])
            r = np.sqrt((Q ** 2).sum(1))
            over = r > R
            Q[over] *= (R / r[over])[:, None]
        P[idx] = Q
        return P



ROLE_COLOURS = {
    "anchor": "#b2182b", "sme": "#6b8fb3", "startup": "#2ca02c", "spinoff": "#ff7f0e",
    "university": "#542788", "research_institute": "#8e6bbf", "intermediary": "#111111", "gatekeeper": "#d6278a",
}


def png_bytes(fig, dpi=100) -> bytes:
    """The figure as PNG bytes (Agg canvas, no pyplot)."""
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


# ----------------------------------------------------------------------------- the network
def _node_colours(net: dict, roles: list[str], colour_by: str) -> np.ndarray:
    if colour_by == "sector":
        cmap = matplotlib.colormaps["tab10"]
        return np.array([cmap(c % 10) for c in net["coarse"]]) if len(roles) else np.zeros((0, 4))
    return np.array([ROLE_COLOURS.get(r, "#999999") for r in roles], dtype=object)


def _draw_nodes(ax, net: dict, P: np.ndarray, roles: list[str], colour_by: str) -> None:
    if len(net["i"]):
        segs = np.stack([P[net["i"]], P[net["j"]]], axis=1)
        aff = np.asarray(net.get("affiliation", np.zeros(len(segs), bool)), bool)
        if (~aff).any():  # transaction ties between firms
            ax.add_collection(LineCollection(segs[~aff], colors="#555555", linewidths=0.5, alpha=0.35, zorder=1))
        if aff.any():     # institutions' affiliations: dotted, lighter (not transaction ties)
            ax.add_collection(LineCollection(segs[aff], colors="#7b4fa0", linewidths=0.5, alpha=0.3,
                                             linestyles=":", zorder=1))
    firm = ~net["is_inst"]
    colours = _node_colours(net, roles, colour_by)
    deg = net["degree"]
    size = 10 + 14 * np.sqrt(deg)
    ring = net["external"] > 0
    if firm.any():
        fc = colours[firm] if colour_by == "sector" else list(colours[firm])
        ax.scatter(P[firm, 0], P[firm, 1], s=size[firm], c=fc,
                   edgecolors=np.where(ring[firm], "#000000", "#ffffff").tolist(),
                   linewidths=np.where(ring[firm], 1.3, 0.4), zorder=2)
    inst = net["is_inst"]
    if inst.any():
        ax.scatter(P[inst, 0], P[inst, 1], s=90 + 10 * np.sqrt(deg[inst]), marker="s",
                   c=[ROLE_COLOURS.get(r, "#000000") for r, k in zip(roles, inst) if k],
                   edgecolors="#ffd700", linewidths=1.5, zorder=3)


def _legend_handles(net: dict, roles: list[str], colour_by: str) -> list:
    handles = []
    if colour_by == "sector":
        present = sorted(set(net["coarse"][~net["is_inst"]].tolist()))
        cmap = matplotlib.colormaps["tab10"]
        for c in present:
            handles.append(Line2D([], [], ls="", marker="o", color=cmap(c % 10),
                                  label=SECTOR_FAMILIES[c].replace("_", " ")))
    else:
        for r in ("anchor", "sme", "startup", "spinoff"):
            handles.append(Line2D([], [], ls="", marker="o", color=ROLE_COLOURS[r], label=r.replace("sme", "SME")))
    for r in ("university", "research_institute", "intermediary", "gatekeeper"):
        if r in roles:
            handles.append(Line2D([], [], ls="", marker="s", color=ROLE_COLOURS[r], markeredgecolor="#ffd700",
                                  label=r.replace("_", " ")))
    handles.append(Line2D([], [], ls="", marker="o", color="#ffffff", markeredgecolor="#000000",
                          markeredgewidth=1.3, label="ties outside the cluster"))
    return handles


def draw_network(net: dict, xy: np.ndarray, *, colour_by: str, title: str, quarter: int, firms: int,
                 institutions: int | None = None, ties: int | None = None, note: str = "") -> bytes:
    """PNG of one cluster's network (fixed axes).

    Parameters
    ----------
    net : dict
        The arrays of :meth:`sim.model.model.ClusterModel.cluster_network`.
    xy : numpy.ndarray
        Node positions (n x 2), e.g. from :class:`StableLayout`.
    colour_by : {"sector", "role"}
        What the colour of a firm shows.
    title : str
        Headline of the picture.
    quarter : int
        The model's step, shown under the title with the counts of firms, institutions and ties.
    firms : int
        The number of firms shown under the title (the recorded indicator ``firms``).
    institutions, ties : int, optional
        The counts shown under the title (default: those of ``net``; give the whole
        cluster's when ``net`` is a part of it).
    note : str
        A line under the counts (e.g. that only part of the network is drawn).
    """
    fig = Figure(figsize=(7.2, 7.2))
    ax = fig.add_axes([0.0, 0.1, 1.0, 0.84])
    ax.set_xlim(-1.05, 1.05)
    ax.set_ylim(-1.05, 1.05)
    ax.set_aspect("equal")
    ax.axis("off")
    roles = [ROLE_NAMES[r] for r in net["role"]]
    _draw_nodes(ax, net, xy, roles, colour_by)
    n_inst = int(net["is_inst"].sum()) if institutions is None else int(institutions)
    n_ties = len(net["i"]) if ties is None else int(ties)
    fig.text(0.02, 0.965, f"{title}", fontsize=12, weight="bold", va="center")
    fig.text(0.02, 0.935, f"Quarter {quarter} (year {years_of(quarter):.2f}): {firms} firms, "
             f"{n_inst} institutions, {n_ties} ties", fontsize=10.5, va="center")
    if note:
        fig.text(0.02, 0.907, note, fontsize=9.5, va="center", color="#b2182b")
    fig.legend(handles=_legend_handles(net, roles, colour_by), loc="lower center", ncol=4, fontsize=8.5,
               frameon=False, bbox_to_anchor=(0.5, 0.0), title="size = number of partners", title_fontsize=8.5)
    return png_bytes(fig, dpi=100)


# ----------------------------------------------------------------------------- the live plots
def _stable_ylim(ax, half: float) -> None:
    """At least [-half, half], so that small wiggles do not fill the panel; wider if the data need it."""
    lo, hi = ax.get_ylim()
    ax.set_ylim(min(lo, -half), max(hi, half))


def _plot_indices(ax, years, h, sc: Labeller, horizon: float) -> None:
    warm = ("#b2182b", "#e6550d", "#8c510a")
    cool = ("#2166ac", "#1b9e77", "#6a51a3")
    for names, cols, ls in ((CENTRIPETAL, warm, "-"), (CENTRIFUGAL, cool, "--")):
        for name, col in zip(names, cols):
            ax.plot(years, sc.z(name, h[name]), color=col, ls=ls, lw=1.6, label=INDEX_LABELS[name])
    ax.axhline(0, color="#999999", lw=0.8)
    ax.set_title("Six indices (z-score against the published 2020 clusters)", fontsize=9.5)
    ax.set_xlim(-0.02 * horizon, horizon)
    _stable_ylim(ax, 3.0)
    ax.legend(fontsize=7.5, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.08), frameon=False,
              handlelength=2.2, columnspacing=1.0)
    ax.tick_params(labelsize=8)


def _plot_scores(ax, years, h, horizon: float) -> None:
    ax.plot(years, h["centripetal"], color="#b2182b", lw=2.2, label="centripetal")
    ax.plot(years, h["centrifugal"], color="#2166ac", lw=2.2, label="centrifugal")
    ax.fill_between(years, h["centripetal"], h["centrifugal"], color="#999999", alpha=0.15)
    ax.scatter(years[-1:].repeat(2), [h["centripetal"][-1], h["centrifugal"][-1]], s=18,
               color=["#b2182b", "#2166ac"], zorder=3)
    ax.axhline(0, color="#999999", lw=0.8)
    ax.set_title("Centripetal and centrifugal scores", fontsize=9.5)
    ax.set_xlim(-0.02 * horizon, horizon)
    _stable_ylim(ax, 1.5)
    ax.legend(fontsize=8, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.08), frameon=False)
    ax.tick_params(labelsize=8)


def _plot_firms(ax, years, h, critical_mass: float, horizon: float) -> None:
    ax.plot(years, h["firms"], color="#222222", lw=2.0, label="firms")
    ax.plot(years, h["home_firms"], color="#6b8fb3", lw=1.6, label="home-sector firms")
    ax.scatter(years[-1:].repeat(2), [h["firms"][-1], h["home_firms"][-1]], s=14,
               color=["#222222", "#6b8fb3"], zorder=3)
    ax.axhline(critical_mass, color="#d62728", lw=1.2, ls="--", label="critical mass")
    ax.set_title("Firms", fontsize=9.5)
    ax.set_xlim(-0.02 * horizon, horizon)
    top = np.nanmax(np.concatenate([h["firms"], [critical_mass]]))
    ax.set_ylim(0, 1.3 * top if np.isfinite(top) and top > 0 else 1)
    ax.set_xlabel("years", fontsize=8.5)
    ax.legend(fontsize=7.5, loc="upper left", frameon=False, ncol=3, handlelength=1.6, columnspacing=0.8)
    ax.tick_params(labelsize=8)


def _plot_typology_plane(ax, h, sc: Labeller) -> None:
    ty, tx = sc.thresholds or (0.0, 0.0)
    cf, cp = h["centrifugal"], h["centripetal"]
    lim = max(1.5, float(np.nanmax(np.abs(np.concatenate([cf - tx, cp - ty, [0.0]])))) * 1.1)
    ax.set_xlim(tx - lim, tx + lim)
    ax.set_ylim(ty - lim, ty + lim)
    ax.axvline(tx, color="#999999", lw=0.8)
    ax.axhline(ty, color="#999999", lw=0.8)
    for x, y, name, ha, va in ((-1, 1, "path-locked", "left", "top"), (1, 1, "resilient", "right", "top"),
                               (1, -1, "centrifugal-\ndominant", "right", "bottom"),
                               (-1, -1, "other", "left", "bottom")):
        ax.text(tx + x * 0.95 * lim, ty + y * 0.95 * lim, name, ha=ha, va=va, fontsize=8, color="#777777")
    ax.plot(cf, cp, color="#888888", lw=1.0)
    if len(cf):
        ax.scatter(cf[-1:], cp[-1:], s=60, color="#000000", zorder=3)
    ax.set_title("Typology plane (the path of the cluster)", fontsize=9.5)
    ax.set_xlabel("centrifugal", fontsize=8.5)
    ax.set_ylabel("centripetal", fontsize=8.5)
    ax.tick_params(labelsize=8)


def draw_plots(h: dict[str, np.ndarray], *, labeller: Labeller, critical_mass: float, stage_text: str,
               typology_text: str, horizon: float = 10.0) -> bytes:
    """PNG of the live plots: six indices, the two scores, firms against critical mass, the typology plane.

    Parameters
    ----------
    h : dict of str to numpy.ndarray
        One cluster's history: :meth:`sim.model.model.ClusterModel.history` plus ``home_firms``.
    labeller : sim.indices.scores.Labeller
        The measurement reference (z-scores of the indices, typology thresholds).
    critical_mass : float
        Drawn as a line on the firms panel.
    stage_text, typology_text : str
        The stage and the typology in words (the headline).
    horizon : float
        Years shown on the time axes at least (more if the run is longer).
    """
    years = years_of(h["t"])
    horizon = max(horizon, float(years[-1]) if len(years) else 0.0)
    fig = Figure(figsize=(7.6, 7.2))
    gs = fig.add_gridspec(2, 2, left=0.08, right=0.98, top=0.86, bottom=0.07, hspace=0.55, wspace=0.28)
    fig.text(0.02, 0.965, f"Stage: {stage_text}", fontsize=11, weight="bold", va="center")
    fig.text(0.02, 0.93, f"Typology: {typology_text}", fontsize=10.5, va="center")
    _plot_indices(fig.add_subplot(gs[0, 0]), years, h, labeller, horizon)
    _plot_scores(fig.add_subplot(gs[0, 1]), years, h, horizon)
    _plot_firms(fig.add_subplot(gs[1, 0]), years, h, critical_mass, horizon)
    _plot_typology_plane(fig.add_subplot(gs[1, 1]), h, labeller)
    return png_bytes(fig, dpi=100)
