"""The calibration's output files: CSV tables and JSON text, written atomically (:mod:`sim.core.io`).

Every table of ``calibrate``, ``predict``, ``validate`` and ``recover`` is a CSV file with
floats to six significant digits and ``\\n`` line ends; ``params.json`` and
``validation.json`` are indented JSON in which every non-finite number is ``null``. The
folder of a file is created if missing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.core.io import atomic_write_csv, atomic_write_text, json_default

__all__ = ["write_csv", "write_text", "json_text"]


def write_csv(df: pd.DataFrame, path: str | os.PathLike) -> None:
    """``df`` as CSV (no index, ``%.6g`` floats) to ``path``, atomically."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_csv(path, df, float_format="%.6g", lineterminator="\n")


def write_text(path: str | os.PathLike, text: str) -> None:
    """``text`` to ``path``, atomically."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, text)


def _clean(obj: Any) -> Any:
    if isinstance(obj, float):
        return None if not np.isfinite(obj) else obj
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def json_text(obj: Any) -> str:
    """``obj`` as indented JSON text with a final newline; NaN and infinities become ``null``."""
    return json.dumps(_clean(json.loads(json.dumps(obj, default=json_default))), indent=2, sort_keys=False) + "\n"
