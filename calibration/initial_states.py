"""A fitted 2010 set-up as data: :class:`InitialStates`, read from and written to JSON.

The fitting (:mod:`calibration.initial`, :mod:`calibration.states`) needs scipy's samplers; reading
a shipped calibration (:mod:`calibration.shipped`, on every ``clustersim run``) does not, so the
record lives here on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import pandas as pd

from calibration.measurement import MeasurementMap

__all__ = ["InitialStates", "json_records"]


@dataclass
class InitialStates:
    """Fitted 2010 set-up: per-cluster table with knobs, the 2010 map and the fit diagnostics."""

    table: pd.DataFrame                  # SETUP_COLUMNS + firms0 + has_2010 + knob columns
    knobs: tuple[str, ...]
    map2010: MeasurementMap              # emulator-based 2010 map
    emulator_fit: pd.DataFrame           # per index: emulator R^2, noise sd, predicted 2010 loss
    settings: dict = field(default_factory=dict)

    def model_table(self) -> pd.DataFrame:
        """The ``cluster_table`` for :class:`sim.model.model.ClusterModel` (drops bookkeeping columns)."""
        return self.table.drop(columns=["has_2010"], errors="ignore")

    def to_dict(self) -> dict:
        t = self.table.copy()
        return {"knobs": list(self.knobs), "settings": self.settings,
                "table": json_records(t),
                "map2010_emulator": self.map2010.to_dict(),
                "emulator_fit": json_records(self.emulator_fit.reset_index())}

    @classmethod
    def from_dict(cls, d: Mapping) -> "InitialStates":
        t = pd.DataFrame(d["table"])
        if "has_2010" in t.columns:
            t["has_2010"] = t["has_2010"].astype(bool)
        ef = pd.DataFrame(d.get("emulator_fit", []))
        if "index" in ef.columns:
            ef = ef.set_index("index")
        return cls(table=t, knobs=tuple(d["knobs"]), map2010=MeasurementMap.from_dict(d["map2010_emulator"]),
                   emulator_fit=ef, settings=dict(d.get("settings", {})))


def json_records(df: pd.DataFrame) -> list[dict]:
    out = []
    for rec in df.to_dict(orient="records"):
        r = {}
        for k, v in rec.items():
            if isinstance(v, (np.floating, float)):
                r[k] = None if not np.isfinite(v) else float(round(float(v), 10))
            elif isinstance(v, (np.integer,)):
                r[k] = int(v)
            elif isinstance(v, (np.bool_, bool)):
                r[k] = bool(v)
            else:
                r[k] = v
        out.append(r)
    return out
