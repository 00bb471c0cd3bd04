"""Technology: a discrete relatedness space over a two-level sector taxonomy.

Ten coarse sectors (the sector families of the observed clusters) each hold
:data:`FINE_PER_COARSE` fine sectors, the analogue of the KSIC 2-digit / 5-digit
structure behind the report's related-variety index (Frenken, Van Oort & Verburg
2007, doi:10.1080/00343400601120296).  There are no continuous positions: the only
notion of technological distance is the **relatedness matrix** :math:`\\varphi`
between fine sectors,

.. math::

    \\varphi_{ab} = \\begin{cases}
        1 & a = b \\\\
        \\varphi_{fam} & a \\ne b,\\ \\text{same family} \\\\
        \\varphi_{nb}^{\\,r(a,b)} & \\text{families } r(a,b) \\text{ steps apart on the value-chain ring}
    \\end{cases}

where the families sit on a ring in the value-chain order of :data:`VALUE_CHAIN_RING` (neighbours
share inputs, parts or skills: machinery - shipbuilding/auto - electronics - medical devices -
IT services - culture - food - textiles - chemicals - urban manufacturing - back to machinery),
a structural choice documented in ``docs/odd.md``: a graded product space in the sense of Hidalgo et al.
2007, doi:10.1126/science.1144581, and Neffke, Henning & Boschma 2011,
doi:10.1111/j.1944-8287.2011.01121.x).  ``phi_family`` and ``phi_neighbour`` are set-up
parameters of the schema.  Cognitive distance between two firms is
:math:`1 - \\max \\varphi` over their capabilities (:func:`distance`).
"""

from __future__ import annotations

import numpy as np

from sim.data.observed import SECTOR_FAMILIES

N_COARSE = len(SECTOR_FAMILIES)
FINE_PER_COARSE = 5
N_FINE = N_COARSE * FINE_PER_COARSE
FINE_TO_COARSE = np.repeat(np.arange(N_COARSE), FINE_PER_COARSE)
#: Sector families in value-chain order around the ring of :func:`relatedness` (adjacent families
#: share inputs, parts or skills; the last is adjacent to the first).
VALUE_CHAIN_RING = ("machinery", "shipbuilding_auto", "electronics", "medical_devices", "services_it", "culture",
                    "food", "textiles", "chemicals", "urban_manufacturing")
_RING_POS = np.array([VALUE_CHAIN_RING.index(f) for f in SECTOR_FAMILIES])

__all__ = [
    "FINE_PER_COARSE",
    "FINE_TO_COARSE",
    "N_COARSE",
    "N_FINE",
    "distance",
    "draw_from",
    "relatedness",
    "sector_index",
]


def sector_index(name: str) -> int:
    """Coarse sector number of a sector family name."""
    try:
        return SECTOR_FAMILIES.index(name)
    except ValueError:
        raise ValueError(
            f"unknown sector family {name!r}; known: {', '.join(SECTOR_FAMILIES)}"
        ) from None


def relatedness(phi_family: float, phi_neighbour: float) -> np.ndarray:
    r"""The relatedness matrix :math:`\varphi` (``N_FINE`` x ``N_FINE``, symmetric, unit diagonal).

    Parameters
    ----------
    phi_family : float
        Relatedness of two different fine sectors of one family, in [0, 1].
    phi_neighbour : float
        Relatedness of fine sectors of adjacent families on the value-chain ring; families
        ``r`` steps apart get ``phi_neighbour ** r``.

    Returns
    -------
    numpy.ndarray
    """
    fam = _RING_POS[FINE_TO_COARSE]
    step = np.abs(fam[:, None] - fam[None, :])
    ring = np.minimum(step, N_COARSE - step)
    phi = np.where(ring == 0, float(phi_family), float(phi_neighbour) ** ring.astype(float))
    np.fill_diagonal(phi, 1.0)
    return phi


def secondary(f: np.ndarray, g: np.ndarray) -> np.ndarray:
    """A firm's secondary capability ``g``, or its primary sector ``f`` where it has none (``g < 0``)."""
    return np.where(g < 0, f, g)


def distance(phi: np.ndarray, f1: np.ndarray, g1: np.ndarray, f2: np.ndarray, g2: np.ndarray) -> np.ndarray:
    """Cognitive distance ``1 - max phi`` between firms with capabilities ``(f1, g1)`` and ``(f2, g2)``.

    ``f`` is a firm's primary fine sector and ``g`` its secondary capability (``-1``: none,
    treated as the primary).  Arrays broadcast.
    """
    n = phi.shape[1]
    flat = phi.ravel()  # one gather from the small flat matrix per pair is faster than phi[rows, cols]
    r1 = np.asarray(f1, dtype=np.intp) * n
    s1 = secondary(f1, g1).astype(np.intp) * n
    f2 = np.asarray(f2, dtype=np.intp)
    g2 = secondary(f2, g2).astype(np.intp)
    best = np.maximum(np.maximum(flat[r1 + f2], flat[r1 + g2]), np.maximum(flat[s1 + f2], flat[s1 + g2]))
    return 1.0 - best


def draw_from(weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One column index per row of a non-negative weight matrix, with probability proportional to the row.

    Rows that sum to zero give ``-1``.
    """
    w = np.asarray(weights, dtype=float)
    cw = np.cumsum(w, axis=1)
    tot = cw[:, -1]
    u = rng.random(len(w)) * tot
    out = (cw <= u[:, None]).sum(axis=1)
    out = np.minimum(out, w.shape[1] - 1)
    return np.where(tot > 0, out, -1)
