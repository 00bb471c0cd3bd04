"""The behavioural baseline: a golden record of what the model does, not of how its code reads.

:func:`record` runs a small fixed, seeded simulation (:data:`RUN`: a few clusters, a few
years, default parameters, through :func:`sim.engine.runner.simulate`) and returns

* ``run``: sha256 of its indicator table without the labeller's rows (:data:`LABELS`): the
  model's dynamics, raw indices and flows (:func:`table_hash`); a calibration fits these;
* ``labels``: sha256 of the labeller's rows (scores, typology, stage), which change when the
  scores or the typology classifier change, not the model;
* ``data``: sha256 of each shipped data file (``sim/data/korea_clusters/*.csv``);
* ``versions``: the versions of the key packages (numpy, pandas, pyarrow, scipy, mesa, Python),
  recorded for the reader, never compared: the same model gives the same numbers under
  other versions, or it does not, and the run hash says which.

The golden record ships as ``sim/engine/baseline.json`` (:func:`golden`); the test
``tests/test_baseline.py`` fails when the current record differs from it, and
``python scripts/regenerate_baseline.py`` rewrites it on purpose after a deliberate change
of the model's behaviour or data. A calibration file records the run hash it was fitted on
(``"baseline"``), so :mod:`calibration.shipped` can warn when the model behaves differently.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path

import pandas as pd

from sim.core.io import atomic_write_json
from sim.core.provenance import package_versions
from sim.engine.runner import simulate

__all__ = ["RUN", "FORMAT", "GOLDEN_FILE", "LABELS", "VERSION_PACKAGES", "run_table", "table_hash", "run_hash",
           "labels_hash", "data_hashes", "record", "golden", "write_golden", "compare"]

FORMAT = "clustersim.baseline/1"

#: The fixed run of the baseline: default parameters, seeded, small (well under a second).
RUN: dict = {"seed": 1, "years": 10, "scale": 0.1,
             "clusters": ("wonju_medical_devices", "jeonju_machinery", "daegu_gumi_chemicals",
                          "gangnam_services")}

#: Packages whose versions the record reports (not compared).
VERSION_PACKAGES: tuple[str, ...] = ("numpy", "pandas", "pyarrow", "scipy", "mesa")

#: Indicators computed by the labeller (:class:`sim.indices.scores.Labeller`) and the stage rule,
#: not by the model's dynamics.
LABELS: tuple[str, ...] = ("centripetal", "centrifugal", "typology", "stage")

GOLDEN_FILE = Path(__file__).resolve().with_name("baseline.json")
DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "korea_clusters"


def run_table() -> pd.DataFrame:
    """The indicator table of the baseline run (:data:`RUN`)."""
    return simulate({"scale": RUN["scale"]}, RUN["seed"], years=RUN["years"], clusters=list(RUN["clusters"]))


def table_hash(df: pd.DataFrame) -> str:
    """sha256 of a table's CSV text (columns in order, floats at full precision, ``\\n`` line ends)."""
    text = df.to_csv(index=False, lineterminator="\n", float_format=repr, na_rep="")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def run_hash(df: pd.DataFrame | None = None) -> str:
    """sha256 of the baseline run's indicator table without the labeller's rows (the dynamics)."""
    df = run_table() if df is None else df
    return table_hash(df[~df["indicator"].isin(LABELS)])


def labels_hash(df: pd.DataFrame | None = None) -> str:
    """sha256 of the baseline run's scores, typology and stage rows."""
    df = run_table() if df is None else df
    return table_hash(df[df["indicator"].isin(LABELS)])


def data_hashes(data_dir: str | os.PathLike = DATA_DIR) -> dict[str, str]:
    """sha256 of each shipped data file (``*.csv``), by file name."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(Path(data_dir).glob("*.csv"))}


def record() -> dict:
    """The current baseline record: ``format``, ``run``, ``data``, ``versions`` and the run set-up."""
    versions = package_versions(VERSION_PACKAGES)
    df = run_table()
    return {"format": FORMAT, "run": run_hash(df), "labels": labels_hash(df), "data": data_hashes(),
            "versions": versions,
            "setup": {**RUN, "clusters": list(RUN["clusters"])}}


@lru_cache(maxsize=1)
def golden() -> dict:
    """The shipped golden record (``sim/engine/baseline.json``); an empty dict if it is missing."""
    try:
        d = json.loads(GOLDEN_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return d if isinstance(d, dict) else {}


def write_golden(rec: dict | None = None, path: str | os.PathLike = GOLDEN_FILE) -> dict:
    """Write ``rec`` (default: the current :func:`record`) as the golden record; returns it."""
    rec = record() if rec is None else rec
    atomic_write_json(path, rec)
    golden.cache_clear()
    return rec


def compare(current: dict, gold: dict) -> list[str]:
    """The differences between two records that matter (the run hash and the data hashes), as text lines.

    Package versions are not compared; an empty list means the same behaviour.
    """
    out = []
    for key, what in (("run", "run hash (dynamics)"), ("labels", "labels hash (scores, typology, stage)")):
        if current.get(key) != gold.get(key):
            out.append(f"{what} {current.get(key)} != golden {gold.get(key)}")
    cur, old = current.get("data", {}), gold.get("data", {})
    for name in sorted(set(cur) | set(old)):
        if cur.get(name) != old.get(name):
            out.append(f"data file {name}: {cur.get(name) or 'missing'} != golden {old.get(name) or 'missing'}")
    return out
