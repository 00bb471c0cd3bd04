"""Technology space and the two-level sector taxonomy.

Firms hold a position ``x`` in a two-dimensional technology space.  Ten coarse
sectors (the sector families of the observed clusters) sit on a circle of radius
:data:`COARSE_RADIUS`; each has :data:`FINE_PER_COARSE` fine sectors placed on a
small circle of radius :data:`FINE_RADIUS` around it.  A firm's fine sector is the
nearest fine-sector centre and its coarse sector is the parent of that fine
sector, so a firm that learns from its partners (moves in the space) can change
sector, and fine sectors of one coarse sector are related (close) while coarse
sectors are unrelated (far).  This is the continuous analogue of the
KSIC 2-digit / 5-digit structure used by the report's related-variety index
(Frenken, Van Oort & Verburg 2010, doi:10.1080/00343400601120296).
"""

from __future__ import annotations

import numpy as np

from sim.data.observed import SECTOR_FAMILIES

N_COARSE = len(SECTOR_FAMILIES)
FINE_PER_COARSE = 5
N_FINE = N_COARSE * FINE_PER_COARSE
COARSE_RADIUS = 1.0
FINE_RADIUS = 0.15


def _centres() -> tuple[np.ndarray, np.ndarray]:
    a = 2 * np.pi * np.arange(N_COARSE) / N_COARSE
    coarse = COARSE_RADIUS * np.column_stack([np.cos(a), np.sin(a)])
    b = 2 * np.pi * np.arange(FINE_PER_COARSE) / FINE_PER_COARSE
    ring = FINE_RADIUS * np.column_stack([np.cos(b), np.sin(b)])
    fine = (coarse[:, None, :] + ring[None, :, :]).reshape(N_FINE, 2)
    return coarse, fine


COARSE_CENTRES, FINE_CENTRES = _centres()
FINE_TO_COARSE = np.repeat(np.arange(N_COARSE), FINE_PER_COARSE)


def sector_index(name: str) -> int:
    """Coarse sector number of a sector family name."""
    try:
        return SECTOR_FAMILIES.index(name)
    except ValueError:
        raise ValueError(
            f"unknown sector family {name!r}; known: {', '.join(SECTOR_FAMILIES)}"
        ) from None


def _assign_fine_full(x: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """Nearest fine-sector centre by brute force over all centres, in chunks."""
    out = np.empty(len(x), dtype=np.int16)
    c2 = (FINE_CENTRES**2).sum(1)
    for s in range(0, len(x), chunk):
        xs = x[s:s + chunk]
        d = c2[None, :] - 2.0 * xs @ FINE_CENTRES.T
        out[s:s + chunk] = np.argmin(d, axis=1)
    return out


# Lookup grid of the nearest fine sector: square cells of side 1/128 over [-1.25, 1.25)^2.
# A cell holds a sector when that sector's centre is, by a margin, the nearest one for
# every point of the (slightly widened) cell, else -1 (cells on a Voronoi boundary,
# about 10 %).  Points in such cells or outside the grid are assigned by brute force,
# so the result is the same as the brute force's for every point.
_GRID_LO, _GRID_H, _GRID_N = -1.25, 1.0 / 128, 320
_GRID: np.ndarray | None = None


def _fine_grid() -> np.ndarray:
    global _GRID
    if _GRID is None:
        edges = _GRID_LO + _GRID_H * np.arange(_GRID_N + 1)
        a, b = edges[:-1] - 1e-9, edges[1:] + 1e-9
        cx, cy = FINE_CENTRES[:, 0], FINE_CENTRES[:, 1]
        dy_min = np.maximum(np.maximum(a[:, None] - cy, cy - b[:, None]), 0.0) ** 2  # (cells, sectors)
        dy_max = np.maximum(np.abs(cy - a[:, None]), np.abs(cy - b[:, None])) ** 2
        grid = np.full((_GRID_N, _GRID_N), -1, dtype=np.int16)
        for i in range(_GRID_N):
            dx_min = np.maximum(np.maximum(a[i] - cx, cx - b[i]), 0.0) ** 2
            dx_max = np.maximum(np.abs(cx - a[i]), np.abs(cx - b[i])) ** 2
            upper = (dx_max + dy_max).min(axis=1)           # no point of the cell is farther from its nearest centre
            cand = dx_min + dy_min <= upper[:, None] + 1e-9  # centres that can be nearest somewhere in the cell
            one = cand.sum(axis=1) == 1
            grid[i, one] = np.argmax(cand[one], axis=1)
        _GRID = grid
    return _GRID


def assign_fine(x: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """Fine sector of each position (nearest fine-sector centre): grid lookup, brute force near boundaries."""
    x = np.asarray(x, dtype=float)
    grid = _fine_grid()
    i = np.floor((x[:, 0] - _GRID_LO) * (1.0 / _GRID_H))
    j = np.floor((x[:, 1] - _GRID_LO) * (1.0 / _GRID_H))
    ok = (i >= 0) & (i < _GRID_N) & (j >= 0) & (j < _GRID_N)
    out = np.full(len(x), -1, dtype=np.int16)
    out[ok] = grid[i[ok].astype(np.intp), j[ok].astype(np.intp)]
    rest = np.flatnonzero(out < 0)
    if len(rest):
        out[rest] = _assign_fine_full(x[rest], chunk)
    return out


def position_in(fine: np.ndarray, rng: np.random.Generator, spread: float = 0.04) -> np.ndarray:
    """Random positions around the centres of the given fine sectors."""
    fine = np.asarray(fine, dtype=np.int64)
    return FINE_CENTRES[fine] + rng.normal(0.0, spread, size=(len(fine), 2))


def related_fine(fine: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A different fine sector in the same coarse sector (a related one), uniformly."""
    fine = np.asarray(fine, dtype=np.int64)
    coarse = fine // FINE_PER_COARSE
    off = fine % FINE_PER_COARSE
    shift = rng.integers(1, FINE_PER_COARSE, size=len(fine))
    return coarse * FINE_PER_COARSE + (off + shift) % FINE_PER_COARSE
