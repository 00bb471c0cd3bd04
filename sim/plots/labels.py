"""A layout rule for point labels that do not overlap (no extra dependency).

:func:`place_labels` puts one label next to each point so that no two labels overlap, no
label covers an artist to avoid (quadrant names, a legend) and, where possible, no label
covers a marker.  The rule is greedy: labels of crowded points first; for each, the
first free spot among 8 directions at growing distances from its point (text extents
measured with the figure's renderer, the Agg canvas if it has none), else the free spot of
a grid over the axes nearest to its point, with a thin leader line; a label with no free
spot anywhere is left out (and returned as ``None``).  Offsets are in points, so labels
stay next to their points if the figure is saved at another dpi; place labels after the
figure's final layout (``tight_layout``), since that moves points relative to each other.

:func:`overlapping_texts` lists the pairs of texts whose extents overlap (what the tests check).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.lines import Line2D
from matplotlib.transforms import Bbox, offset_copy

__all__ = ["extent", "overlapping_texts", "place_labels", "renderer_of"]

#: Directions tried around a point: (unit x, unit y, ha, va), right first.
_DIRS = ((1, 0, "left", "center"), (0.71, 0.71, "left", "bottom"), (0.71, -0.71, "left", "top"),
         (-1, 0, "right", "center"), (-0.71, 0.71, "right", "bottom"), (-0.71, -0.71, "right", "top"),
         (0, 1, "center", "bottom"), (0, -1, "center", "top"))
_HA = {"left": 0.0, "center": 0.5, "right": 1.0}
_VA = {"bottom": 0.0, "center": 0.5, "top": 1.0}


def renderer_of(fig):
    """The figure's renderer (an Agg canvas is attached to a bare :class:`~matplotlib.figure.Figure`)."""
    if not hasattr(fig.canvas, "get_renderer"):
        FigureCanvasAgg(fig)
    return fig.canvas.get_renderer()


def extent(artist, renderer=None) -> Bbox:
    """The display extent of ``artist`` (of a Text only its text, without an annotation's arrow)."""
    renderer = renderer or renderer_of(artist.figure)
    return artist.get_window_extent(renderer)


def _boxes(bbs) -> np.ndarray:
    return np.array([[b.x0, b.y0, b.x1, b.y1] for b in bbs], float).reshape(-1, 4)


def _hits(cand: np.ndarray, boxes: np.ndarray, pad: float) -> np.ndarray:
    """For each candidate box (n x 4), whether it overlaps any of ``boxes`` (m x 4) enlarged by ``pad``."""
    if not len(boxes) or not len(cand):
        return np.zeros(len(cand), bool)
    c, b = cand[:, None, :], boxes[None, :, :]
    return ((c[..., 0] < b[..., 2] + pad) & (c[..., 2] > b[..., 0] - pad)
            & (c[..., 1] < b[..., 3] + pad) & (c[..., 3] > b[..., 1] - pad)).any(axis=1)


def place_labels(ax, x: Sequence[float], y: Sequence[float], labels: Sequence[str], *, avoid=(),
                 obstacles=None, fontsize: float = 7, pad: float = 1.0, marker_px: float = 3.0,
                 radii: Sequence[float] = (2.5, 6, 10, 15, 21, 28), leader_from: float = 9.0,
                 leader_color="0.55", colors: Sequence | None = None, **text_kw) -> list:
    """Label the points ``(x[i], y[i])`` of ``ax`` with ``labels[i]`` without overlaps.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Its limits are frozen (autoscaling off) so that the labels stay where placed.
    x, y : sequences of float
        The points in data coordinates (non-finite ones get no label).
    labels : sequence of str
    avoid : iterable of artists or Bbox
        What no label may cover (e.g. quadrant names, a legend); display extents.
    obstacles : (n, 2) array, optional
        Further points (data coordinates) that labels should not cover, like the markers.
    fontsize : float
        Font size of the labels (points); ``text_kw`` goes to :meth:`~matplotlib.axes.Axes.text`.
    colors : sequence, optional
        A colour per label (else ``text_kw``'s, or the default).
    pad : float
        Least gap between two boxes (pixels).
    marker_px : float
        Half-size of the box kept free around each point (pixels at the figure's dpi).
    radii : sequence of float
        Distances (points) from a point at which its label is tried.
    leader_from : float
        A label placed at least this far (points) from its point, or by the grid fallback,
        gets a thin leader line to it.

    Returns
    -------
    list
        One :class:`~matplotlib.text.Text` per label, ``None`` where no free spot was found.
    """
    fig = ax.figure
    renderer = renderer_of(fig)
    ax.set_xlim(ax.get_xlim())
    ax.set_ylim(ax.get_ylim())
    x, y = np.asarray(x, float), np.asarray(y, float)
    n = len(labels)
    pts = ax.transData.transform(np.column_stack([x, y])) if n else np.zeros((0, 2))
    ok = np.isfinite(pts).all(axis=1)
    frame = ax.get_window_extent(renderer)
    px = fig.dpi / 72.0
    taken = _boxes([a if isinstance(a, Bbox) else extent(a, renderer) for a in avoid])
    others = pts[ok]
    if obstacles is not None and len(obstacles):
        o = ax.transData.transform(np.asarray(obstacles, float).reshape(-1, 2))
        others = np.vstack([others, o[np.isfinite(o).all(axis=1)]])
    mk = marker_px * fig.dpi / 100.0
    marks = np.column_stack([others - mk, others + mk]) if len(others) else np.zeros((0, 4))

    # crowded points first: most neighbours within 40 pt
    if n:
        d = np.hypot(*(pts[:, None, :] - pts[None, :, :]).transpose(2, 0, 1))
        crowd = np.where(ok, (np.nan_to_num(d, nan=np.inf) < 40 * px).sum(axis=1), -1)
        order = np.argsort(-crowd, kind="stable")
    else:
        order = []
    out: list = [None] * n
    for i in order:
        if not ok[i]:
            continue
        probe = ax.text(0, 0, str(labels[i]), fontsize=fontsize, transform=None, **text_kw)
        bb = extent(probe, renderer)
        probe.remove()
        w, h = bb.width, bb.height
        cand, specs = [], []
        for r in radii:
            for ux, uy, ha, va in _DIRS:
                dx, dy = ux * r * px, uy * r * px
                x0 = pts[i, 0] + dx - _HA[ha] * w
                y0 = pts[i, 1] + dy - _VA[va] * h
                cand.append((x0, y0, x0 + w, y0 + h))
                specs.append((dx, dy, ha, va, r >= leader_from))
        # the grid fallback: every spot of the axes, nearest first
        gx = np.arange(frame.x0 + pad, frame.x1 - pad - w, max(h / 2, 1.0))
        gy = np.arange(frame.y0 + pad, frame.y1 - pad - h, max(h / 2, 1.0))
        GX, GY = np.meshgrid(gx, gy)
        g = np.column_stack([GX.ravel(), GY.ravel()])
        g = g[np.argsort(np.hypot(*(g + [w / 2, h / 2] - pts[i]).T), kind="stable")]
        nr = len(cand)
        C = np.vstack([np.array(cand, float).reshape(-1, 4), np.column_stack([g, g + [w, h]])])
        inside = ((C[:, 0] >= frame.x0 + pad) & (C[:, 2] <= frame.x1 - pad)
                  & (C[:, 1] >= frame.y0 + pad) & (C[:, 3] <= frame.y1 - pad))
        free = inside & ~_hits(C, taken, pad)
        own = np.all(np.isclose(marks[:, :2] + mk, pts[i]), axis=1) if len(marks) else np.zeros(0, bool)
        clear = free & ~_hits(C, marks[~own], 0.0)
        pick = np.flatnonzero(clear)
        if not len(pick):
            pick = np.flatnonzero(free)
        if not len(pick):
            continue
        k = int(pick[0])
        if k < nr:
            dx, dy, ha, va, lead = specs[k]
        else:
            dx, dy, ha, va, lead = C[k, 0] - pts[i, 0], C[k, 1] - pts[i, 1], "left", "bottom", True
        tr = offset_copy(ax.transData, fig=fig, x=dx / px, y=dy / px, units="points")
        kw = text_kw if colors is None else {**text_kw, "color": colors[i]}
        out[i] = ax.text(x[i], y[i], str(labels[i]), transform=tr, ha=ha, va=va, fontsize=fontsize, **kw)
        taken = np.vstack([taken, C[k]])
        if lead:
            box = C[k]
            end = np.clip(pts[i], box[:2], box[2:])
            seg = ax.transData.inverted().transform(np.array([pts[i], end]))
            ax.add_line(Line2D(seg[:, 0], seg[:, 1], color=leader_color, lw=0.5, zorder=1.5))
    return out


def overlapping_texts(fig, texts, pad: float = 0.0) -> list[tuple[str, str]]:
    """Pairs ``(text a, text b)`` of non-empty visible ``texts`` whose display extents overlap."""
    renderer = renderer_of(fig)
    ts = [t for t in texts if t is not None and t.get_visible() and t.get_text().strip()]
    bbs = [extent(t, renderer) for t in ts]
    out = []
    for a in range(len(ts)):
        for b in range(a + 1, len(ts)):
            A, B = bbs[a], bbs[b]
            if A.x0 < B.x1 + pad and B.x0 < A.x1 + pad and A.y0 < B.y1 + pad and B.y0 < A.y1 + pad:
                out.append((ts[a].get_text(), ts[b].get_text()))
    return out
