r"""Centripetal and centrifugal scores, the 2020 typology and the development stage.

One labeller for every output (``run``, ``project``, ``predict``, the report and the app):
:class:`Labeller` turns a cluster's raw simulated indices into the two scores and the
typology of report 004 (table 3-11), in three steps.

1. **Measurement.** Each raw index k goes onto the published scale by an affine map,
   :math:`p_k = a_k + b_k\,x_k`. With a calibrated base these are the calibration's fitted
   2020 measurement maps (:mod:`calibration.measurement`). Without one (the schema defaults)
   they are the moment-matching maps that give the default-parameter ensemble the published
   2020 mean and standard deviation of each index,
   :math:`b_k = \sigma^{pub}_k / \sigma^{ref}_k`, :math:`a_k = \mu^{pub}_k - b_k \mu^{ref}_k`,
   with the reference moments of ``reference_scale.json`` (the mean and standard deviation of
   each index over the 38 clusters and all steps of default runs; rebuilt by
   ``python scripts/build_reference_scale.py``); the standardised index of the classifier is
   then exactly :math:`(x_k - \mu^{ref}_k)/\sigma^{ref}_k`.
2. **Scores.** The centripetal score (specialization, hierarchy, internal cohesion) and the
   centrifugal score (related variety, heterophily, external linkage) are the factor scores
   of the typology classifier fitted on the 30 published 2020 clusters
   (:class:`sim.indices.typology.TypologyClassifier`; first principal component of each
   family, regression-method scores in reference-SD units; the report used "principal
   component / factor analysis", section 3.1.3). A score of 0 is the published average.
3. **Typology.** The classifier's rule on the two scores (the shipped rule is quadrants with
   fitted thresholds: centripetal high and centrifugal low = ``path_locked``, both high =
   ``resilient``, centrifugal high only = ``centrifugal_dominant``, both low = ``other``).

The classifier is plain data: ``sim/indices/typology_fit.json`` (written by
``python scripts/fit_typology.py``), and the calibrated base carries its own copy
(``calibration/calibrated.json``, member ``typology``).

Development stage ([KRIHS-2020] table 2-1), from trajectories
--------------------------------------------------------------
Stages are read off a cluster's trajectory, not off its size: the annualised log growth g of
its firm count over the last ``window`` quarters, the gap centripetal - centrifugal now and
``window`` quarters ago, and its measured response to a technology shock (``resilience``:
1 = five years after the shock it had regained its firm count and moved away from the shocked
technology, 0 = it had not, -1 = not shocked, or still recovering).  The first rule that
holds, in this order, gives the stage:

1. ``nascent``     inclusiveness < 0.25: no local network yet, whatever the size
2. ``declining``   g < -0.04 per year
3. ``featureless`` specialization (LQ) < 1.2
4. ``growing``     g > +0.03 per year
5. ``resilient``   measured: recovered its firms and diversified away from the shocked technology
   (resilience = 1)
6. ``path_locked`` failed to recover after a shock (resilience = 0), or a lock-in gap above 0.5
   that is not closing (it fell by less than 0.5 over the window)
7. ``mature``      none of these: stable and not locked in; its resilience is untested
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd

from sim.indices.typology import TypologyClassifier, shipped_classifier

CENTRIPETAL = ("specialization", "hierarchy", "internal_cohesion")
CENTRIFUGAL = ("related_variety", "heterophily", "external_linkage")
SCORE_INDICES = CENTRIPETAL + CENTRIFUGAL
TYPOLOGIES = ("path_locked", "resilient", "centrifugal_dominant", "other")
STAGES = ("nascent", "growing", "featureless", "resilient", "path_locked", "declining", "mature")

DECLINE_RATE = -0.04
GROWTH_RATE = 0.03
NASCENT_INCLUSIVENESS = 0.25
FEATURELESS_LQ = 1.2
LOCK_IN_GAP = 0.5
LOCK_IN_EASING = 0.5

REFERENCE_FILE = "reference_scale.json"


def reference_moments() -> dict:
    """The default-run reference: ``{"loc": {index: mean}, "scale": {index: sd}, "source": ...}``."""
    return json.loads(resources.files("sim.indices").joinpath(REFERENCE_FILE).read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Labeller:
    """Raw indices to centripetal / centrifugal scores and the typology (see the module docstring).

    Attributes
    ----------
    maps : dict
        ``{index: (a, b)}``: the published value is ``a + b * raw``.
    classifier : TypologyClassifier
        The fitted typology classifier (factor scores and rule).
    source : str
        Where the maps come from (for manifests).
    """

    maps: Mapping[str, tuple[float, float]]
    classifier: TypologyClassifier
    source: str = ""

    @classmethod
    def default(cls, classifier: TypologyClassifier | None = None) -> "Labeller":
        """Moment-matching maps from the default-run reference onto the classifier's reference.

        Without ``classifier`` (the shipped one), the labeller is built once per process and shared:
        every model without a base of its own labels with it, and it is never modified.
        """
        return _default_labeller() if classifier is None else cls._moment_matched(classifier)

    @classmethod
    def _moment_matched(cls, clf: TypologyClassifier) -> "Labeller":
        ref = reference_moments()
        fm = clf.factor_model_
        maps = {}
        for fam in (fm.centripetal, fm.centrifugal):
            for k, mu, sd in zip(fam.columns, fam.mean, fam.sd):
                b = float(sd) / float(ref["scale"][k])
                maps[k] = (float(mu) - b * float(ref["loc"][k]), b)
        return cls(maps, clf, "default-parameter reference (reference_scale.json) matched to the published "
                              "2020 moments")

    @classmethod
    def from_measurement(cls, year_maps: Mapping[str, Mapping[str, float]], classifier: TypologyClassifier,
                         source: str = "") -> "Labeller":
        """From one year of a calibration's measurement map: ``{index: {"a": ..., "b": ...}}``."""
        return cls({k: (float(v["a"]), float(v["b"])) for k, v in year_maps.items() if k in SCORE_INDICES},
                   classifier, source)

    def published(self, ind: Mapping[str, np.ndarray]) -> pd.DataFrame:
        """The six score indices on the published scale, one row per cluster."""
        return pd.DataFrame(self.published_columns(ind))

    def published_columns(self, ind: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """:meth:`published` as plain arrays by index name (the per-step path, without pandas)."""
        return {k: self.maps[k][0] + self.maps[k][1] * np.asarray(ind[k], float) for k in SCORE_INDICES}

    def z(self, name: str, raw) -> np.ndarray:
        """One index standardised against the classifier's reference (the published 2020 clusters)."""
        fm = self.classifier.factor_model_
        for fam in (fm.centripetal, fm.centrifugal):
            if name in fam.columns:
                j = fam.columns.index(name)
                a, b = self.maps[name]
                return (a + b * np.asarray(raw, float) - fam.mean[j]) / fam.sd[j]
        raise KeyError(f"{name!r} is not a score index ({', '.join(SCORE_INDICES)})")

    def label(self, ind: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(centripetal, centrifugal, typology code)``; the code indexes :data:`TYPOLOGIES`, -1 if undefined.

        The scores are NaN where a family's indices are all missing.
        """
        S = self.classifier.score_arrays(self.published_columns(ind))
        code = np.array([TYPOLOGIES.index(x) if isinstance(x, str) else -1 for x in self.classifier.classify(S)],
                        dtype=int)
        return S[:, 0], S[:, 1], code

    @property
    def thresholds(self) -> tuple[float, float] | None:
        """The quadrant thresholds of the scores (None for a rule without quadrants)."""
        if self.classifier.rule in ("sign_quadrant", "fitted_quadrant"):
            return tuple(float(t) for t in self.classifier.thresholds_)
        return None

    def to_dict(self) -> dict:
        return {"maps": {k: [a, b] for k, (a, b) in self.maps.items()}, "classifier": self.classifier.to_dict(),
                "source": self.source}

    @classmethod
    def from_dict(cls, d: Mapping) -> "Labeller":
        return cls({k: (float(v[0]), float(v[1])) for k, v in d["maps"].items()},
                   TypologyClassifier.from_dict(d["classifier"]), d.get("source", ""))


def stage(firms_now, firms_past, years, inclusiveness, specialization, cp, cf, gap_past=None,
          resilience=None) -> np.ndarray:
    """Development-stage code (index into :data:`STAGES`); rules in the module docstring.

    ``gap_past`` is centripetal - centrifugal ``years`` ago (None: unknown, the gap alone
    decides) and ``resilience`` the measured shock response per cluster (None: untested).
    """
    firms_now = np.asarray(firms_now, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where((firms_past > 0) & (firms_now > 0) & (years > 0),
                     np.log(np.maximum(firms_now, 1e-9) / np.maximum(firms_past, 1e-9)) / max(years, 1e-9), 0.0)
    gap = np.nan_to_num(cp - cf, nan=0.0)
    easing = np.zeros(len(gap), bool) if gap_past is None else gap < np.nan_to_num(gap_past, nan=0.0) - LOCK_IN_EASING
    res = np.full(len(gap), -1) if resilience is None else np.asarray(resilience)
    code = np.full(len(firms_now), STAGES.index("mature"))
    code = np.where(((gap > LOCK_IN_GAP) & ~easing) | (res == 0), STAGES.index("path_locked"), code)
    code = np.where(res == 1, STAGES.index("resilient"), code)
    code = np.where(g > GROWTH_RATE, STAGES.index("growing"), code)
    code = np.where(np.nan_to_num(specialization, nan=0.0) < FEATURELESS_LQ, STAGES.index("featureless"), code)
    code = np.where(g < DECLINE_RATE, STAGES.index("declining"), code)
    code = np.where(np.nan_to_num(inclusiveness, nan=0.0) < NASCENT_INCLUSIVENESS, STAGES.index("nascent"), code)
    return code


@lru_cache(maxsize=1)
def _default_labeller() -> Labeller:
    return Labeller._moment_matched(shipped_classifier())
