"""The one convention of the centripetal-centrifugal plane, shared by every figure and the app.

:data:`PLANE_AXES` says which score goes on which axis (centripetal on x, centrifugal on y);
the calibration arrows, the projection planes, the ``run`` figures and the classroom app's
typology plane all read it, so they cannot disagree.  :func:`quadrant_corner` derives where
each typology's quadrant lies from it, and :func:`draw_quadrant_labels` writes the quadrant
names into the corners of an axes.  No pyplot here: the app draws without it.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "PLANE_AXES",
    "QUADRANT_SHORT",
    "QUADRANT_TEXT",
    "draw_quadrant_labels",
    "plane_thresholds",
    "plane_xy",
    "quadrant_corner",
]

#: The scores on the (x, y) axes of the plane.
PLANE_AXES: tuple[str, str] = ("centripetal", "centrifugal")

#: Which score is high in each typology's quadrant (the quadrant rule of
#: :class:`sim.indices.typology.TypologyClassifier`).
_HIGH: dict[str, frozenset[str]] = {
    "path_locked": frozenset({"centripetal"}),
    "resilient": frozenset({"centripetal", "centrifugal"}),
    "centrifugal_dominant": frozenset({"centrifugal"}),
    "other": frozenset(),
}

#: Quadrant names as written in the figures.
QUADRANT_TEXT: dict[str, str] = {"path_locked": "path-locked", "resilient": "resilient",
                                 "centrifugal_dominant": "centrifugal-dominant", "other": "other"}
#: Shorter names for small panels.
QUADRANT_SHORT: dict[str, str] = {**QUADRANT_TEXT, "centrifugal_dominant": "centrifugal-dom."}


def quadrant_corner(typology: str) -> tuple[int, int]:
    """The corner of ``typology``'s quadrant in axes fractions: ``(1, 0)`` = right, bottom."""
    high = _HIGH[typology]
    return int(PLANE_AXES[0] in high), int(PLANE_AXES[1] in high)


def plane_xy(scores: Mapping) -> tuple:
    """``(x, y)`` of the plane from a mapping (or frame) with ``centripetal`` and ``centrifugal``."""
    return scores[PLANE_AXES[0]], scores[PLANE_AXES[1]]


def plane_thresholds(thresholds) -> tuple[float, float]:
    """The quadrant thresholds ``(centripetal, centrifugal)`` (as the classifier keeps them) as ``(x, y)``."""
    by_score = dict(zip(("centripetal", "centrifugal"), (float(t) for t in thresholds)))
    return by_score[PLANE_AXES[0]], by_score[PLANE_AXES[1]]


def draw_quadrant_labels(ax, text: Mapping[str, str] = QUADRANT_TEXT, inset: float = 0.02, **kw) -> list:
    """Write each quadrant's name into its corner of ``ax`` (axes fractions); returns the Text artists.

    ``kw`` goes to :meth:`matplotlib.axes.Axes.text` (default: small grey italics).
    """
    style = {"fontsize": 7, "color": "0.45", "style": "italic", **kw}
    out = []
    for typ, name in text.items():
        cx, cy = quadrant_corner(typ)
        out.append(ax.text(1 - inset if cx else inset, 1 - inset if cy else inset, name, transform=ax.transAxes,
                           ha="right" if cx else "left", va="top" if cy else "bottom", **style))
    return out
