"""Drawing for the classroom app: data in, PNG out (matplotlib only, no pyplot).

* :class:`StableLayout`: a force-directed layout of one cluster's network that is
  kept from frame to frame and only relaxed a little each quarter;
* :func:`draw_network`: the network (arrays of
  :meth:`sim.model.model.ClusterModel.cluster_network`) at given positions;
* :func:`draw_plots`: the live plots of one cluster's history (indices, scores,
  firms against critical mass, the path through the typology plane, with centripetal
  on x like every other figure: :data:`sim.plots.plane.PLANE_AXES`);
* :class:`Style`: the sizes of both pictures, :data:`CLASSROOM` (default) or
  :data:`PROJECTOR` (larger type for a classroom projector).
"""

from __future__ import annotations

import io
import math
import textwrap
from dataclasses import dataclass

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.text import Text

from sim.core.calendar import years_of
from sim.indices.scores import CENTRIFUGAL, CENTRIPETAL, Labeller
from sim.model.population import ROLE_NAMES
from sim.model.technology import SECTOR_FAMILIES
from sim.plots.plane import (
    PLANE_AXES,
    QUADRANT_TEXT,
    draw_quadrant_labels,
    plane_thresholds,
    plane_xy,
)

__all__ = [
    "CLASSROOM",
    "DPI",
    "INDEX_LABELS",
    "PROJECTOR",
    "ROLE_COLOURS",
    "STYLES",
    "StableLayout",
    "Style",
    "draw_network",
    "draw_plots",
    "network_figure",
    "plots_figure",
    "png_bytes",
    "text_sizes_px",
]

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


#: Dots per inch of the app's pictures (font sizes in points are ``size * DPI / 72`` pixels in the PNG).
DPI = 100


@dataclass(frozen=True)
class Style:
    """Sizes of the app's two pictures: figure inches and font sizes (points).

    :data:`CLASSROOM` is the default, two pictures side by side on a laptop screen;
    :data:`PROJECTOR` has larger type for a classroom projector (the page then shows the
    pictures one under the other, each about as wide as its PNG, so that at 1280 x 720 no
    text is drawn smaller than about 12 screen pixels).
    """

    name: str
    network_size: tuple[float, float]
    plots_size: tuple[float, float]
    headline: float      # the bold first line of a picture
    subline: float       # the lines under it
    title: float         # panel titles
    label: float         # axis labels and legends
    tick: float          # tick labels and the quadrant names
    network_legend_cols: int
    network_axes: tuple[float, float, float, float]   # [left, bottom, width, height] of the network
    hspace: float        # between the two rows of plots (room for the legends under the first row)

    @property
    def smallest(self) -> float:
        """The smallest font size of the style (points)."""
        return min(self.headline, self.subline, self.title, self.label, self.tick)


CLASSROOM = Style("classroom", network_size=(7.2, 7.2), plots_size=(7.6, 7.2), headline=11, subline=10,
                  title=9.5, label=8, tick=8, network_legend_cols=4, network_axes=(0.0, 0.1, 1.0, 0.8),
                  hspace=0.62)
PROJECTOR = Style("projector", network_size=(8.4, 8.8), plots_size=(8.4, 9.4), headline=15, subline=13,
                  title=13, label=11.5, tick=11.5, network_legend_cols=3, network_axes=(0.0, 0.16, 1.0, 0.7),
                  hspace=0.8)
STYLES = {s.name: s for s in (CLASSROOM, PROJECTOR)}


def png_bytes(fig, dpi=DPI) -> bytes:
    """The figure as PNG bytes (Agg canvas, no pyplot)."""
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def text_sizes_px(fig, dpi=DPI) -> list[float]:
    """Font sizes in PNG pixels (at ``dpi``) of every visible non-empty text of ``fig`` (after a draw)."""
    FigureCanvasAgg(fig).draw()
    return [t.get_fontsize() * dpi / 72.0 for t in fig.findobj(Text)
            if t.get_visible() and t.get_text().strip() and t.get_figure() is not None]


def _wrap(text: str, size: float, width_in: float, bold: bool = False) -> str:
    """``text`` broken into lines that fit ``width_in`` inches at ``size`` points (an average glyph width)."""
    chars = max(12, int(width_in * 72 / (size * (0.62 if bold else 0.55))))
    return "\n".join(textwrap.wrap(text, chars)) or text


def _headline(fig, lines: list[tuple[str, float, dict]], width_in: float) -> float:
    """Write ``(text, fontsize, kw)`` lines at the top of ``fig``, wrapped to the width; returns the bottom (fraction)."""
    y = 1.0 - 0.012
    h = fig.get_figheight()
    for text, size, kw in lines:
        for part in _wrap(text, size, 0.96 * width_in, kw.get("weight") == "bold").split("\n"):
            step = size * 1.3 / 72 / h
            fig.text(0.02, y - step / 2, part, fontsize=size, va="center", **kw)
            y -= step
    return y


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


def network_figure(net: dict, xy: np.ndarray, *, colour_by: str, title: str, quarter: int, firms: int,
                   institutions: int | None = None, ties: int | None = None, note: str = "",
                   style: Style = CLASSROOM) -> Figure:
    """The figure of :func:`draw_network` (for tests: its texts and sizes)."""
    fig = Figure(figsize=style.network_size)
    ax = fig.add_axes(list(style.network_axes))
    ax.set_xlim(-1.05, 1.05)
    ax.set_ylim(-1.05, 1.05)
    ax.set_aspect("equal")
    ax.axis("off")
    roles = [ROLE_NAMES[r] for r in net["role"]]
    _draw_nodes(ax, net, xy, roles, colour_by)
    n_inst = int(net["is_inst"].sum()) if institutions is None else int(institutions)
    n_ties = len(net["i"]) if ties is None else int(ties)
    lines = [(title, style.headline, {"weight": "bold"}),
             ((f"Quarter {quarter} (year {years_of(quarter):.2f}): {firms} firms, {n_inst} institutions, "
              f"{n_ties} ties"), style.subline, {})]
    if note:
        lines.append((note, style.label, {"color": "#b2182b"}))
    _headline(fig, lines, style.network_size[0])
    fig.legend(handles=_legend_handles(net, roles, colour_by), loc="lower center", ncol=style.network_legend_cols,
               fontsize=style.label, frameon=False, bbox_to_anchor=(0.5, 0.0), title="size = number of partners",
               title_fontsize=style.label)
    return fig


def draw_network(net: dict, xy: np.ndarray, *, colour_by: str, title: str, quarter: int, firms: int,
                 institutions: int | None = None, ties: int | None = None, note: str = "",
                 style: Style = CLASSROOM) -> bytes:
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
    style : Style
        :data:`CLASSROOM` (default) or :data:`PROJECTOR` (larger type).
    """
    return png_bytes(network_figure(net, xy, colour_by=colour_by, title=title, quarter=quarter, firms=firms,
                                    institutions=institutions, ties=ties, note=note, style=style))


# ----------------------------------------------------------------------------- the live plots
#: The panel titles of the plots (wrapped to the panel's width by :func:`_panel_title`).
PANEL_TITLES = ("Six indices (z-score against the published 2020 clusters)", "Centripetal and centrifugal scores",
                "Firms", "Typology plane (the path of the cluster)")


def _panel_title(text: str, st: Style) -> str:
    return _wrap(text, st.title, 0.42 * st.plots_size[0])


def _stable_ylim(ax, half: float) -> None:
    """At least [-half, half], so that small wiggles do not fill the panel; wider if the data need it."""
    lo, hi = ax.get_ylim()
    ax.set_ylim(min(lo, -half), max(hi, half))


def _plot_indices(ax, years, h, sc: Labeller, horizon: float, st: Style) -> None:
    warm = ("#b2182b", "#e6550d", "#8c510a")
    cool = ("#2166ac", "#1b9e77", "#6a51a3")
    for names, cols, ls in ((CENTRIPETAL, warm, "-"), (CENTRIFUGAL, cool, "--")):
        for name, col in zip(names, cols):
            ax.plot(years, sc.z(name, h[name]), color=col, ls=ls, lw=1.6, label=INDEX_LABELS[name])
    ax.axhline(0, color="#999999", lw=0.8)
    ax.set_title(_panel_title("Six indices (z-score against the published 2020 clusters)", st), fontsize=st.title)
    ax.set_xlim(-0.02 * horizon, horizon)
    _stable_ylim(ax, 3.0)
    ax.legend(fontsize=st.label, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.1), frameon=False,
              handlelength=1.8, columnspacing=0.8, handletextpad=0.4)
    ax.tick_params(labelsize=st.tick)


def _plot_scores(ax, years, h, horizon: float, st: Style) -> None:
    ax.plot(years, h["centripetal"], color="#b2182b", lw=2.2, label="centripetal")
    ax.plot(years, h["centrifugal"], color="#2166ac", lw=2.2, label="centrifugal")
    ax.fill_between(years, h["centripetal"], h["centrifugal"], color="#999999", alpha=0.15, label="gap")
    ax.scatter(years[-1:].repeat(2), [h["centripetal"][-1], h["centrifugal"][-1]], s=18,
               color=["#b2182b", "#2166ac"], zorder=3)
    ax.axhline(0, color="#999999", lw=0.8)
    ax.set_title(_panel_title("Centripetal and centrifugal scores", st), fontsize=st.title)
    ax.set_xlim(-0.02 * horizon, horizon)
    _stable_ylim(ax, 1.5)
    ax.legend(fontsize=st.label, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.1), frameon=False,
              handlelength=1.8, columnspacing=0.8, handletextpad=0.4)
    ax.tick_params(labelsize=st.tick)


def _plot_firms(ax, years, h, critical_mass: float, horizon: float, st: Style) -> None:
    ax.plot(years, h["firms"], color="#222222", lw=2.0, label="firms")
    ax.plot(years, h["home_firms"], color="#6b8fb3", lw=1.6, label="home-sector firms")
    ax.scatter(years[-1:].repeat(2), [h["firms"][-1], h["home_firms"][-1]], s=14,
               color=["#222222", "#6b8fb3"], zorder=3)
    ax.axhline(critical_mass, color="#d62728", lw=1.2, ls="--", label="critical mass")
    ax.set_title("Firms", fontsize=st.title)
    ax.set_xlim(-0.02 * horizon, horizon)
    top = np.nanmax(np.concatenate([h["firms"], [critical_mass]]))
    ax.set_ylim(0, 1.45 * top if np.isfinite(top) and top > 0 else 1)
    ax.set_xlabel("years", fontsize=st.label)
    ax.legend(fontsize=st.label, loc="upper left", frameon=False, ncol=2, handlelength=1.4, columnspacing=0.8,
              handletextpad=0.4)
    ax.tick_params(labelsize=st.tick)


def _plot_typology_plane(ax, h, sc: Labeller, st: Style) -> None:
    """The path through the typology plane, axes as in every other figure (:data:`PLANE_AXES`)."""
    tx, ty = plane_thresholds(sc.thresholds or (0.0, 0.0))
    x, y = plane_xy(h)
    lim = max(1.5, float(np.nanmax(np.abs(np.concatenate([x - tx, y - ty, [0.0]])))) * 1.1)
    ax.set_xlim(tx - lim, tx + lim)
    ax.set_ylim(ty - lim, ty + lim)
    ax.axvline(tx, color="#999999", lw=0.8)
    ax.axhline(ty, color="#999999", lw=0.8)
    draw_quadrant_labels(ax, {**QUADRANT_TEXT, "centrifugal_dominant": "centrifugal-\ndominant"},
                         inset=0.025, fontsize=st.tick, color="#777777", style="normal")
    ax.plot(x, y, color="#888888", lw=1.0)
    if len(x):
        ax.scatter(x[-1:], y[-1:], s=60, color="#000000", zorder=3)
    ax.set_title(_panel_title("Typology plane (the path of the cluster)", st), fontsize=st.title)
    ax.set_xlabel(PLANE_AXES[0], fontsize=st.label)
    ax.set_ylabel(PLANE_AXES[1], fontsize=st.label)
    ax.tick_params(labelsize=st.tick)


def plots_figure(h: dict[str, np.ndarray], *, labeller: Labeller, critical_mass: float, stage_text: str,
                 typology_text: str, horizon: float = 10.0, style: Style = CLASSROOM) -> Figure:
    """The figure of :func:`draw_plots` (for tests: its texts and sizes)."""
    years = years_of(h["t"])
    horizon = max(horizon, float(years[-1]) if len(years) else 0.0)
    fig = Figure(figsize=style.plots_size)
    top = _headline(fig, [(f"Stage: {stage_text}", style.headline, {"weight": "bold"}),
                          (f"Typology: {typology_text}", style.subline, {})], style.plots_size[0])
    lines = max(_panel_title(t, style).count("\n") + 1 for t in PANEL_TITLES)
    room = (lines * 1.2 * style.title / 72 + 0.12) / style.plots_size[1]   # the first row's titles
    gs = fig.add_gridspec(2, 2, left=0.1, right=0.98, top=top - room, bottom=0.07, hspace=style.hspace, wspace=0.3)
    _plot_indices(fig.add_subplot(gs[0, 0]), years, h, labeller, horizon, style)
    _plot_scores(fig.add_subplot(gs[0, 1]), years, h, horizon, style)
    _plot_firms(fig.add_subplot(gs[1, 0]), years, h, critical_mass, horizon, style)
    _plot_typology_plane(fig.add_subplot(gs[1, 1]), h, labeller, style)
    return fig


def draw_plots(h: dict[str, np.ndarray], *, labeller: Labeller, critical_mass: float, stage_text: str,
               typology_text: str, horizon: float = 10.0, style: Style = CLASSROOM) -> bytes:
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
        The stage and the typology in words (the headline, wrapped to the picture's width).
    horizon : float
        Years shown on the time axes at least (more if the run is longer).
    style : Style
        :data:`CLASSROOM` (default) or :data:`PROJECTOR` (larger type).
    """
    return png_bytes(plots_figure(h, labeller=labeller, critical_mass=critical_mass, stage_text=stage_text,
                                  typology_text=typology_text, horizon=horizon, style=style))
