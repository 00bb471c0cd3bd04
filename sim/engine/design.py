"""Experimental designs in the EMA Workbench (XLRM) vocabulary, replicate seeds, design hashes.

* **uncertainties** (X) -- exogenous factors sampled over a range
  (:class:`Uncertainty`; sampled by :func:`sim.engine.sampling.latin_hypercube`);
* **levers** (L) -- policy options enumerated by value (:class:`Lever`,
  :func:`full_factorial`);
* designs combine (:func:`combine`) or wrap a sample matrix (:func:`design_from_array`);
* **replications** -- the same list of seeds applied to every experiment
  (:func:`replicate_seeds`, common random numbers).

A design is a DataFrame with one row per parameter set: an integer ``experiment``
column and one column per parameter. :func:`design_hash` identifies its content
(recorded in the result store and checked on resume).

References
----------
.. [1] Kwakkel, J. H. (2017). The Exploratory Modeling Workbench: An open
       source toolkit for exploratory modeling, scenario discovery, and
       (multi-objective) robust decision making. *Environmental Modelling &
       Software*, 96, 239-250. https://doi.org/10.1016/j.envsoft.2017.06.054
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "Lever",
    "Uncertainty",
    "canonical_json",
    "combine",
    "design_from_array",
    "design_from_columns",
    "design_hash",
    "full_factorial",
    "normalize_design",
    "python_scalar",
    "replicate_seeds",
]


# --------------------------------------------------------------------------
# XLRM declarations and design builders
# --------------------------------------------------------------------------
@dataclass(frozen=True)
class Uncertainty:
    """An exogenous factor sampled uniformly over ``[low, high]``.

    Parameters
    ----------
    name : str
        Parameter name, passed to the model function as a key of ``params``.
    low, high : float
        Bounds of the range. For ``kind="int"`` both bounds are inclusive.
    kind : {"float", "int"}, default "float"
        Continuous (``float``) or integer (``int``) parameter.
    """

    name: str
    low: float
    high: float
    kind: str = "float"

    def __post_init__(self) -> None:
        if self.kind not in ("float", "int"):
            raise ValueError(f"Uncertainty {self.name!r}: kind must be 'float' or 'int', got {self.kind!r}")
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            raise ValueError(f"Uncertainty {self.name!r}: bounds must be finite")
        if self.kind == "int":
            if int(self.low) != self.low or int(self.high) != self.high:
                raise ValueError(f"Uncertainty {self.name!r}: integer bounds required for kind='int'")
            if self.low > self.high:
                raise ValueError(f"Uncertainty {self.name!r}: low > high")
        elif not self.low < self.high:
            raise ValueError(f"Uncertainty {self.name!r}: low must be < high")


@dataclass(frozen=True)
class Lever:
    """A policy lever taking each of a finite set of values.

    Parameters
    ----------
    name : str
        Parameter name.
    values : sequence
        The options (numbers, booleans or strings); stored as a tuple.
    """

    name: str
    values: tuple

    def __post_init__(self) -> None:
        values = tuple(self.values)
        if not values:
            raise ValueError(f"Lever {self.name!r} needs at least one value")
        object.__setattr__(self, "values", values)


def _numbered(df: pd.DataFrame) -> pd.DataFrame:
    df = df.reset_index(drop=True)
    df.insert(0, "experiment", np.arange(len(df), dtype=np.int64))
    return df


def full_factorial(levers: Sequence[Lever]) -> pd.DataFrame:
    """Every combination of the levers' values (the first lever varies slowest).

    Parameters
    ----------
    levers : sequence of Lever

    Returns
    -------
    pandas.DataFrame
        Columns ``experiment`` and one per lever; ``prod(len(values))`` rows.
    """
    levers = list(levers)
    _check_unique([lv.name for lv in levers])
    rows = list(itertools.product(*(lv.values for lv in levers)))
    return _numbered(pd.DataFrame(rows, columns=[lv.name for lv in levers]))


def combine(design_a: pd.DataFrame, design_b: pd.DataFrame) -> pd.DataFrame:
    """Cartesian product of two designs (e.g. scenarios x policies).

    Parameters
    ----------
    design_a, design_b : pandas.DataFrame
        Designs with disjoint parameter columns; their ``experiment`` columns
        are dropped.

    Returns
    -------
    pandas.DataFrame
        ``len(design_a) * len(design_b)`` rows, ``design_a`` varying slowest,
        renumbered ``experiment``.
    """
    a = design_a.drop(columns="experiment", errors="ignore")
    b = design_b.drop(columns="experiment", errors="ignore")
    overlap = set(a.columns) & set(b.columns)
    if overlap:
        raise ValueError(f"designs share parameter columns {sorted(overlap)}")
    return _numbered(a.merge(b, how="cross"))


def design_from_array(samples: np.ndarray, names: Sequence[str]) -> pd.DataFrame:
    """Wrap a sample matrix (e.g. from SALib) as a design.

    Parameters
    ----------
    samples : numpy.ndarray, shape (n, d)
    names : sequence of str, length d

    Returns
    -------
    pandas.DataFrame
        Columns ``experiment`` (= row number) and ``names``.
    """
    samples = np.asarray(samples)
    if samples.ndim != 2 or samples.shape[1] != len(names):
        raise ValueError(f"samples must have shape (n, {len(names)}), got {samples.shape}")
    return design_from_columns(names, list(samples.T))


def design_from_columns(names: Sequence[str], columns: Sequence[np.ndarray]) -> pd.DataFrame:
    """Wrap one array per parameter as a design (each column keeps its dtype).

    Parameters
    ----------
    names : sequence of str
    columns : sequence of numpy.ndarray, one per name, all of length n

    Returns
    -------
    pandas.DataFrame
        Columns ``experiment`` (= row number) and ``names``.
    """
    names = list(names)
    if len(columns) != len(names):
        raise ValueError(f"{len(names)} names but {len(columns)} columns")
    _check_unique(names)
    return _numbered(pd.DataFrame(dict(zip(names, columns))))


def _check_unique(names: list[str]) -> None:
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"duplicate parameter names {dupes}")


# --------------------------------------------------------------------------
# Seeds and hashing
# --------------------------------------------------------------------------
def replicate_seeds(seed: int | None, replicates: int) -> tuple[int, list[int]]:
    """Integer seeds for replicates ``0..replicates-1`` (common random numbers).

    ``numpy.random.SeedSequence(seed).spawn(replicates)`` gives one child per
    replicate; each child's first 64-bit state word, shifted right by one bit
    (so it fits an int64 column), is that replicate's seed. The same list is
    used for every experiment. Because spawning is sequential, the first ``k``
    seeds do not depend on ``replicates``: adding replicates later keeps the
    old ones valid.

    Parameters
    ----------
    seed : int or None
        Root entropy; ``None`` draws fresh entropy from the OS (recorded).
    replicates : int

    Returns
    -------
    entropy : int
        The root entropy (equal to ``seed`` when given).
    seeds : list of int
    """
    if replicates < 1:
        raise ValueError("replicates must be >= 1")
    root = np.random.SeedSequence(seed)
    seeds = [int(child.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1)) for child in root.spawn(replicates)]
    return int(root.entropy), seeds


def python_scalar(value: Any) -> Any:
    """Numpy scalar -> Python scalar (for JSON and for the model's params)."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def canonical_json(obj: Any) -> str:
    """Compact JSON with sorted keys: equal content gives equal text (hashes, comparisons)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def design_hash(design: pd.DataFrame) -> str:
    """sha256 of a design's content, independent of column and row order.

    Parameters
    ----------
    design : pandas.DataFrame
        A design with an ``experiment`` column.

    Returns
    -------
    str
        Hex digest.
    """
    design = normalize_design(design)
    names = sorted(c for c in design.columns if c != "experiment")
    ordered = design.sort_values("experiment")
    rows = [[python_scalar(v) for v in row]
            for row in ordered[["experiment", *names]].itertuples(index=False, name=None)]
    return hashlib.sha256(canonical_json({"parameters": names, "rows": rows}).encode()).hexdigest()



def normalize_design(design: pd.DataFrame) -> pd.DataFrame:
    """A validated copy of ``design``: integer, unique, non-negative ``experiment`` first.

    Adds ``experiment`` = 0..n-1 when absent; refuses the engine's reserved names
    ``replicate`` and ``seed`` and non-string column names.
    """
    if not isinstance(design, pd.DataFrame):
        raise TypeError(f"design must be a pandas DataFrame, got {type(design).__name__}")
    design = design.copy()
    if "experiment" not in design.columns:
        design.insert(0, "experiment", np.arange(len(design), dtype=np.int64))
    exp = design["experiment"]
    if not pd.api.types.is_integer_dtype(exp):
        raise ValueError("design column 'experiment' must hold integers")
    if exp.duplicated().any():
        raise ValueError("design column 'experiment' must be unique")
    if len(exp) and exp.min() < 0:
        raise ValueError("design column 'experiment' must be >= 0")
    reserved = {"replicate", "seed"} & set(design.columns)
    if reserved:
        raise ValueError(f"parameter names {sorted(reserved)} are reserved for the engine")
    if not all(isinstance(c, str) for c in design.columns):
        raise ValueError("design columns must be strings")
    design["experiment"] = exp.astype(np.int64)
    cols = ["experiment", *[c for c in design.columns if c != "experiment"]]
    return design[cols].reset_index(drop=True)
