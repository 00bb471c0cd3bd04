"""Centripetal and centrifugal scores, the 2020 typology and the development stage.

Scores
------
Each raw index k is put on a common scale, ``z_k = (raw_k - loc_k) / scale_k``, with
a reference ``(loc, scale)`` per index (:class:`Scale`).  The default reference
(``reference_scale.json``) is the mean and standard deviation of each index over
the 38 clusters in a default-parameter ensemble (rebuild it with
``python scripts/build_reference_scale.py``); calibration (issue 3) replaces it by the fitted
measurement map onto the published scale.  Then

* centripetal = weighted mean of z(specialization), z(hierarchy), z(internal_cohesion)
* centrifugal = weighted mean of z(related_variety), z(heterophily), z(external_linkage)

(report 004, section 3.1.3 and table 3-11; the report used factor analysis, so
the weights can be the factor loadings: :attr:`Scale.weights`).

Typology (table 3-11)
---------------------
Quadrants of the two scores against thresholds (default 0): centripetal high and
centrifugal low = ``path_locked``; both high = ``resilient``; centrifugal high and
centripetal low = ``centrifugal_dominant``; both low = ``other``.

Development stage (BRIEF table 2-1)
-----------------------------------
From the current indices and the trend of the firm count over the last
``window`` quarters (annualised log growth g), in this order:

1. ``nascent``     fewer than 20 firms, or inclusiveness < 0.25 (no network yet)
2. ``declining``   g < -0.04 per year (the network shrinks fast)
3. ``featureless`` specialization (LQ) < 1.2 (no specialisation)
4. ``growing``     g > +0.03 per year
5. ``path_locked`` mature and centripetal - centrifugal > 0.5 (lock-in gap)
6. ``resilient``   mature otherwise (forces balanced)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources

import numpy as np

CENTRIPETAL = ("specialization", "hierarchy", "internal_cohesion")
CENTRIFUGAL = ("related_variety", "heterophily", "external_linkage")
TYPOLOGIES = ("path_locked", "resilient", "centrifugal_dominant", "other")
STAGES = ("nascent", "growing", "featureless", "resilient", "path_locked", "declining")

DECLINE_RATE = -0.04
GROWTH_RATE = 0.03
NASCENT_FIRMS = 20
NASCENT_INCLUSIVENESS = 0.25
FEATURELESS_LQ = 1.2
LOCK_IN_GAP = 0.5


@dataclass
class Scale:
    """Measurement reference: per-index location, scale and score weights."""

    loc: dict[str, float]
    scale: dict[str, float]
    weights: dict[str, float] = field(default_factory=lambda: {k: 1.0 for k in CENTRIPETAL + CENTRIFUGAL})
    thresholds: tuple[float, float] = (0.0, 0.0)
    source: str = ""

    @classmethod
    def default(cls) -> "Scale":
        text = resources.files("sim.indices").joinpath("reference_scale.json").read_text()
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, d: dict) -> "Scale":
        return cls(loc=dict(d["loc"]), scale=dict(d["scale"]),
                   weights=dict(d.get("weights", {k: 1.0 for k in CENTRIPETAL + CENTRIFUGAL})),
                   thresholds=tuple(d.get("thresholds", (0.0, 0.0))), source=d.get("source", ""))

    def to_dict(self) -> dict:
        return {"loc": self.loc, "scale": self.scale, "weights": self.weights,
                "thresholds": list(self.thresholds), "source": self.source}

    def z(self, name: str, raw: np.ndarray) -> np.ndarray:
        return (np.asarray(raw, float) - self.loc[name]) / self.scale[name]

    def scores(self, ind: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Centripetal and centrifugal scores from a dict of raw index arrays (NaN-aware)."""
        out = []
        for fam in (CENTRIPETAL, CENTRIFUGAL):
            num = 0.0
            den = 0.0
            for k in fam:
                z = self.z(k, ind[k])
                w = self.weights.get(k, 1.0)
                ok = np.isfinite(z)
                num = num + np.where(ok, w * z, 0.0)
                den = den + np.where(ok, abs(w), 0.0)
            with np.errstate(invalid="ignore", divide="ignore"):
                out.append(np.where(den > 0, num / np.where(den > 0, den, 1), np.nan))
        return out[0], out[1]


def typology(cp: np.ndarray, cf: np.ndarray, thresholds=(0.0, 0.0)) -> np.ndarray:
    """Typology code (index into :data:`TYPOLOGIES`) from the two scores; -1 where undefined."""
    hi_p = cp > thresholds[0]
    hi_f = cf > thresholds[1]
    code = np.where(hi_p & ~hi_f, 0, np.where(hi_p & hi_f, 1, np.where(hi_f, 2, 3)))
    return np.where(np.isfinite(cp) & np.isfinite(cf), code, -1)


def stage(firms_now, firms_past, years, inclusiveness, specialization, cp, cf) -> np.ndarray:
    """Development-stage code (index into :data:`STAGES`); rules in the module docstring."""
    firms_now = np.asarray(firms_now, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where((firms_past > 0) & (firms_now > 0) & (years > 0),
                     np.log(np.maximum(firms_now, 1e-9) / np.maximum(firms_past, 1e-9)) / max(years, 1e-9), 0.0)
    gap = np.nan_to_num(cp - cf, nan=0.0)
    code = np.full(len(firms_now), STAGES.index("resilient"))
    code = np.where(gap > LOCK_IN_GAP, STAGES.index("path_locked"), code)
    code = np.where(g > GROWTH_RATE, STAGES.index("growing"), code)
    code = np.where(np.nan_to_num(specialization, nan=0.0) < FEATURELESS_LQ, STAGES.index("featureless"), code)
    code = np.where(g < DECLINE_RATE, STAGES.index("declining"), code)
    code = np.where((firms_now < NASCENT_FIRMS) | (np.nan_to_num(inclusiveness, nan=0.0) < NASCENT_INCLUSIVENESS),
                    STAGES.index("nascent"), code)
    return code
