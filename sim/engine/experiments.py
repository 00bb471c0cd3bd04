"""Experiments over a model function, in the EMA Workbench (XLRM) vocabulary.

The module turns a *design* (one row per parameter set) into model runs, runs
each parameter set for several *replicates* with common random numbers,
executes the runs through :mod:`joblib` (sequential, loky, threading, dask or
ray) and streams every finished run to a resumable Parquet store.

Vocabulary (Kwakkel 2017):

* **uncertainties** (X) -- exogenous factors sampled over a range
  (:class:`Uncertainty`, :func:`latin_hypercube`);
* **levers** (L) -- policy options enumerated by value (:class:`Lever`,
  :func:`full_factorial`);
* **outcomes** (M) -- the tidy table the model function returns;
* **constants** -- parameters held fixed in every run;
* **replications** -- the same list of seeds applied to every experiment.

The model contract is a top-level, picklable callable::

    func(params: dict[str, float], seed: int) -> pandas.DataFrame

that is deterministic given ``(params, seed)``. The engine adds the
identifying columns ``experiment``, ``replicate`` and ``seed``.

On-disk layout of ``out_dir`` (see :func:`run_experiments`)::

    out_dir/
        manifest.json      seeds, design hash, function, versions, git commit,
                           status and counts of every session
        design.parquet     the design table (``experiment`` + parameters)
        runs/exp-000000_rep-0000.parquet
                           one file per finished run, written atomically; the
                           Parquet footer's key-value metadata (key
                           ``clustersim.run``, see :func:`read_run_record`)
                           holds experiment, replicate, seed, parameters,
                           constants, function, wall time and the sha256 of
                           the file's own bytes (computed with the digest
                           field set to 64 zeros)

``pandas.read_parquet(out_dir / "runs")`` reads all runs at once (without the
identifying columns); :func:`load_results` reads and verifies them.

References
----------
.. [1] Kwakkel, J. H. (2017). The Exploratory Modeling Workbench: An open
       source toolkit for exploratory modeling, scenario discovery, and
       (multi-objective) robust decision making. *Environmental Modelling &
       Software*, 96, 239-250. https://doi.org/10.1016/j.envsoft.2017.06.054
.. [2] Lempert, R. J., Popper, S. W., & Bankes, S. C. (2003). *Shaping the
       Next One Hundred Years: New Methods for Quantitative, Long-Term Policy
       Analysis*. RAND (the XLRM framework).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import hashlib
import io
import itertools
import json
import logging
import math
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from scipy.stats import qmc

__all__ = [
    "BACKENDS",
    "ExperimentResult",
    "Lever",
    "ResumeMismatchError",
    "RunError",
    "Uncertainty",
    "combine",
    "design_from_array",
    "design_hash",
    "full_factorial",
    "latin_hypercube",
    "load_results",
    "read_run_record",
    "replicate_seeds",
    "run_experiments",
]

#: Execution backends accepted by :func:`run_experiments`.
BACKENDS = ("sequential", "loky", "threading", "dask", "ray")

#: Columns the engine adds to every outcome table.
ID_COLUMNS = ("experiment", "replicate", "seed")

MANIFEST_FORMAT = "clustersim.experiments/1"
RUN_FORMAT = "clustersim.run/1"
RUN_METADATA_KEY = b"clustersim.run"
_RUN_NAME = re.compile(r"^exp-(\d+)_rep-(\d+)\.parquet$")
_PARQUET_WRITE_OPTIONS = {"compression": "zstd", "write_page_checksum": True}
_DIGEST_PLACEHOLDER = "0" * 64


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


def latin_hypercube(uncertainties: Sequence[Uncertainty], n: int, seed: int | None = 0) -> pd.DataFrame:
    """Latin hypercube sample of ``n`` points over the uncertainties.

    Uses :class:`scipy.stats.qmc.LatinHypercube` seeded with ``seed``, so the
    same call returns the same design. Integer uncertainties take each value in
    ``low..high`` with equal probability.

    Parameters
    ----------
    uncertainties : sequence of Uncertainty
    n : int
        Number of experiments.
    seed : int or None, default 0

    Returns
    -------
    pandas.DataFrame
        Columns ``experiment`` and one per uncertainty.
    """

    uncertainties = list(uncertainties)
    _check_unique([u.name for u in uncertainties])
    if n < 1:
        raise ValueError("n must be >= 1")
    unit = qmc.LatinHypercube(d=len(uncertainties), rng=np.random.default_rng(seed)).random(n)
    cols: dict[str, np.ndarray] = {}
    for j, u in enumerate(uncertainties):
        if u.kind == "int":
            lo, hi = int(u.low), int(u.high)
            cols[u.name] = np.minimum(lo + np.floor(unit[:, j] * (hi - lo + 1)), hi).astype(np.int64)
        else:
            cols[u.name] = u.low + unit[:, j] * (u.high - u.low)
    return _numbered(pd.DataFrame(cols))


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
    _check_unique(list(names))
    return _numbered(pd.DataFrame(samples, columns=list(names)))


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


def _py(value: Any) -> Any:
    """Numpy scalar -> Python scalar (for JSON and for the model's params)."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def _canonical(obj: Any) -> str:
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
    design = _normalize_design(design)
    names = sorted(c for c in design.columns if c != "experiment")
    ordered = design.sort_values("experiment")
    rows = [[_py(v) for v in row] for row in ordered[["experiment", *names]].itertuples(index=False, name=None)]
    return hashlib.sha256(_canonical({"parameters": names, "rows": rows}).encode()).hexdigest()


# --------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------
class RunError(RuntimeError):
    """A model run raised; the message names the experiment, replicate and params."""


class ResumeMismatchError(ValueError):
    """``resume=True`` against an ``out_dir`` made by a different experiment."""


@dataclass
class ExperimentResult:
    """Design and outcomes of :func:`run_experiments`.

    Attributes
    ----------
    design : pandas.DataFrame
        One row per experiment: ``experiment`` and the parameter columns.
    outcomes : pandas.DataFrame or None
        Concatenated tidy outcomes with leading columns ``experiment``,
        ``replicate``, ``seed``; sorted by (experiment, replicate), rows of
        one run kept in the order the model returned them. ``None`` when run
        with ``collect=False``.
    manifest : dict
        Provenance (seeds, design hash, versions, counts); see
        :func:`run_experiments`.
    out_dir : pathlib.Path or None
    """

    design: pd.DataFrame
    outcomes: pd.DataFrame | None
    manifest: dict = field(default_factory=dict)
    out_dir: Path | None = None

    @property
    def experiments(self) -> pd.DataFrame:
        """Alias of :attr:`design` (the EMA Workbench name)."""
        return self.design

    @property
    def seeds(self) -> list[int]:
        """Integer seed of each replicate (index = replicate)."""
        return list(self.manifest["seed"]["seeds"])

    @property
    def entropy(self) -> int:
        """Root entropy of the replicate seeds (``SeedSequence(entropy)``)."""
        return int(self.manifest["seed"]["entropy"])

    def merged(self) -> pd.DataFrame:
        """Outcomes joined with their parameter values (one wide tidy table)."""
        if self.outcomes is None:
            raise ValueError("outcomes were not collected; use load_results(out_dir)")
        return self.outcomes.merge(self.design, on="experiment", how="left", validate="many_to_one")


# --------------------------------------------------------------------------
# Helpers: design, function identity, provenance
# --------------------------------------------------------------------------
def _normalize_design(design: pd.DataFrame) -> pd.DataFrame:
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


def _func_name(func: Callable) -> str:
    """A stable identity for the model function (recorded and checked on resume)."""
    custom = getattr(func, "__clustersim_name__", None)
    if isinstance(custom, str):
        return custom
    if isinstance(func, functools.partial):
        return f"functools.partial({_func_name(func.func)})"
    module = getattr(func, "__module__", None)
    qualname = getattr(func, "__qualname__", None)
    if module and qualname:
        return f"{module}.{qualname}"
    return f"{type(func).__module__}.{type(func).__qualname__}"


def _package_versions() -> dict[str, str | None]:

    out: dict[str, str | None] = {"python": platform.python_version()}
    for dist in ("clustersim", "numpy", "pandas", "pyarrow", "scipy", "joblib", "SALib", "mesa", "dask",
                 "distributed", "ray"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def _git_commit() -> str | None:
    """``git rev-parse HEAD`` in this package's directory, or None."""
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = proc.stdout.strip()
    return commit if proc.returncode == 0 and commit else None


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _n_workers(n_jobs: int | None) -> int:
    cpus = joblib.cpu_count()
    if n_jobs is None or n_jobs == 0:
        return cpus
    if n_jobs < 0:
        return max(1, cpus + 1 + n_jobs)
    return n_jobs


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _parquet_bytes(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf, **_PARQUET_WRITE_OPTIONS)
    return buf.getvalue()


# --------------------------------------------------------------------------
# The result store
# --------------------------------------------------------------------------
class _Store:
    """Directory of per-run Parquet files plus manifest and design."""

    def __init__(self, out_dir: str | os.PathLike) -> None:
        self.root = Path(out_dir)
        self.runs = self.root / "runs"
        self.manifest_path = self.root / "manifest.json"
        self.design_path = self.root / "design.parquet"
        self.manifest: dict = {}

    # ---- files -----------------------------------------------------------
    def run_path(self, experiment: int, replicate: int) -> Path:
        return self.runs / f"exp-{experiment:06d}_rep-{replicate:04d}.parquet"

    def run_files(self) -> dict[tuple[int, int], Path]:
        out = {}
        if self.runs.is_dir():
            for p in self.runs.iterdir():
                m = _RUN_NAME.match(p.name)
                if m:
                    out[(int(m.group(1)), int(m.group(2)))] = p
        return out

    def read_manifest(self) -> dict | None:
        if not self.manifest_path.exists():
            return None
        try:
            return json.loads(self.manifest_path.read_text())
        except (OSError, ValueError) as exc:
            warnings.warn(f"cannot read {self.manifest_path} ({exc}); checking run files individually",
                          stacklevel=3)
            return None

    def write_manifest(self) -> None:
        _atomic_write_bytes(self.manifest_path, (json.dumps(self.manifest, indent=2, default=str) + "\n").encode())

    def write_design(self, design: pd.DataFrame) -> None:
        _atomic_write_bytes(self.design_path, _parquet_bytes(pa.Table.from_pandas(design, preserve_index=False)))

    def clean_temp_files(self) -> None:
        for d in (self.root, self.runs):
            if d.is_dir():
                for p in d.glob(".*.tmp"):
                    with contextlib.suppress(OSError):
                        p.unlink()

    # ---- one run ---------------------------------------------------------
    def write_run(self, experiment: int, replicate: int, frame: pd.DataFrame, meta: dict) -> pd.DataFrame:
        """Write one run atomically; return the frame as it reads back from disk."""
        table = pa.Table.from_pandas(frame, preserve_index=False)
        record = {**meta, "rows": table.num_rows, "sha256": _DIGEST_PLACEHOLDER}
        data = _run_file_bytes(table, _canonical(record).encode())
        pos = data.rindex(b'"sha256":"' + _DIGEST_PLACEHOLDER.encode()) + len(b'"sha256":"')
        digest = hashlib.sha256(data).hexdigest().encode()
        data = data[:pos] + digest + data[pos + len(digest):]
        _atomic_write_bytes(self.run_path(experiment, replicate), data)
        return pq.read_table(pa.BufferReader(data)).to_pandas()

    def read_run(self, path: Path, expected: dict) -> tuple[pd.DataFrame | None, str | None]:
        """Read and verify one run file; return (frame, None) or (None, reason)."""
        try:
            data = path.read_bytes()
            raw = (pq.read_metadata(pa.BufferReader(data)).metadata or {}).get(RUN_METADATA_KEY)
        except Exception as exc:  # noqa: BLE001 - any read failure means a bad file
            return None, f"unreadable ({type(exc).__name__}: {exc})"
        if raw is None:
            return None, "missing its clustersim.run record"
        try:
            meta = json.loads(raw)
            stored = meta["sha256"]
            pos = data.rindex(raw) + raw.index(b'"sha256":"') + len(b'"sha256":"')
        except (ValueError, KeyError, TypeError):
            return None, "carrying an unreadable clustersim.run record"
        blank = data[:pos] + _DIGEST_PLACEHOLDER.encode() + data[pos + len(_DIGEST_PLACEHOLDER):]
        if hashlib.sha256(blank).hexdigest() != stored:
            return None, "failing its sha256 checksum (bytes changed or partially written)"
        for key in ("experiment", "replicate", "seed", "function"):
            if meta.get(key) != expected[key]:
                return None, f"from a different run ({key} {meta.get(key)!r}, expected {expected[key]!r})"
        for key in ("params", "constants"):
            if _canonical(meta.get(key)) != _canonical(expected[key]):
                return None, f"made with different {key} ({meta.get(key)!r}, expected {expected[key]!r})"
        try:
            return pq.read_table(pa.BufferReader(data), page_checksum_verification=True).to_pandas(), None
        except Exception as exc:  # noqa: BLE001
            return None, f"undecodable ({type(exc).__name__}: {exc})"


def _run_file_bytes(table: pa.Table, record: bytes) -> bytes:
    """Parquet bytes with the run record in the footer's key-value metadata only."""
    buf = io.BytesIO()
    with pq.ParquetWriter(buf, table.schema, **_PARQUET_WRITE_OPTIONS) as writer:
        writer.write_table(table)
        writer.add_key_value_metadata({RUN_METADATA_KEY: record})
    return buf.getvalue()


def read_run_record(path: str | os.PathLike) -> dict:
    """The provenance record of one run file (experiment, replicate, seed, params, sha256, ...).

    The ``sha256`` field is the digest of the file's bytes with the 64 hex
    digits of that field replaced by ``"0" * 64``.
    """
    raw = (pq.read_metadata(path).metadata or {}).get(RUN_METADATA_KEY)
    if raw is None:
        raise ValueError(f"{path} has no clustersim.run record")
    return json.loads(raw)


def _run_meta(experiment: int, replicate: int, seed: int, params: dict, constants: dict, fname: str) -> dict:
    return {
        "format": RUN_FORMAT,
        "experiment": experiment,
        "replicate": replicate,
        "seed": seed,
        "params": params,
        "constants": constants,
        "function": fname,
    }


# --------------------------------------------------------------------------
# Progress line
# --------------------------------------------------------------------------
def _fmt_time(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}"


class _Progress:
    """``runs done/total | elapsed | ETA`` on stderr; no dependencies."""

    def __init__(self, total: int, reused: int, enabled: bool, stream=None) -> None:
        self.total, self.reused, self.enabled = total, reused, enabled
        self.done = reused
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.min_interval = 0.2 if self.tty else 10.0
        self.start = time.perf_counter()
        self.last = -math.inf
        self.width = 0

    def line(self) -> str:
        elapsed = time.perf_counter() - self.start
        computed = self.done - self.reused
        remaining = self.total - self.done
        eta = elapsed / computed * remaining if computed else (0.0 if not remaining else math.nan)
        pct = 100.0 * self.done / self.total if self.total else 100.0
        extra = f" ({self.reused} reused)" if self.reused else ""
        return (f"[clustersim] runs {self.done}/{self.total}{extra} {pct:3.0f}% | "
                f"elapsed {_fmt_time(elapsed)} | ETA {_fmt_time(eta)}")

    def emit(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if not force and now - self.last < self.min_interval:
            return
        self.last = now
        text = self.line()
        if self.tty:
            self.stream.write("\r" + text.ljust(self.width))
            self.width = len(text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def update(self) -> None:
        self.done += 1
        self.emit(force=self.done == self.total)

    def close(self) -> None:
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()


# --------------------------------------------------------------------------
# Execution through joblib
# --------------------------------------------------------------------------
def _as_frame(out: Any) -> pd.DataFrame:
    if isinstance(out, pd.DataFrame):
        frame = out
    elif isinstance(out, pd.Series):
        frame = out.to_frame().T.infer_objects()
    elif isinstance(out, Mapping):
        frame = pd.DataFrame([dict(out)])
    else:
        raise TypeError(f"model function must return a pandas DataFrame, got {type(out).__name__}")
    clash = set(ID_COLUMNS) & set(frame.columns)
    if clash:
        raise ValueError(f"model output may not contain the engine's columns {sorted(clash)}")
    return frame.reset_index(drop=True)


def _run_one(func: Callable, params: dict, seed: int, experiment: int, replicate: int):
    """Worker-side call of one run; returns (experiment, replicate, frame, wall seconds)."""
    t0 = time.perf_counter()
    try:
        frame = _as_frame(func(params, seed))
    except Exception as exc:
        raise RunError(
            f"run failed: experiment {experiment}, replicate {replicate}, seed {seed}, params {params}: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    return experiment, replicate, frame, time.perf_counter() - t0


def _check_backend(backend: str) -> None:
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend == "dask":
        try:
            import distributed  # noqa: F401
        except ImportError as exc:
            raise ImportError(
                "backend='dask' needs dask.distributed, which is not installed. "
                "Install it with: pip install clustersim[dask]"
            ) from exc
    if backend == "ray":
        try:
            import ray  # noqa: F401
            from ray.util.joblib import register_ray  # noqa: F401
        except ImportError as exc:
            raise ImportError(
                "backend='ray' needs the optional dependency Ray, which is not installed. "
                "Install it with: pip install clustersim[ray]  (quote it in zsh: 'clustersim[ray]')"
            ) from exc


def _enter_backend(stack: contextlib.ExitStack, backend: str, n_jobs: int | None,
                   scheduler: str | None) -> dict:
    """Set up the backend inside ``stack``; return keyword arguments for Parallel."""
    if backend == "sequential":
        return {"n_jobs": 1, "backend": "sequential"}
    if backend in ("loky", "threading"):
        return {"n_jobs": n_jobs if n_jobs is not None else -1, "backend": backend}
    if backend == "dask":

        import distributed

        if scheduler is not None:
            stack.enter_context(distributed.Client(scheduler))
        else:
            try:
                distributed.default_client()
            except ValueError:
                cluster = stack.enter_context(distributed.LocalCluster(
                    n_workers=_n_workers(n_jobs), threads_per_worker=1, processes=True,
                    dashboard_address=None, silence_logs=logging.WARNING,
                ))
                stack.enter_context(distributed.Client(cluster))
        stack.enter_context(joblib.parallel_config(backend="dask"))
        return {"n_jobs": -1}
    if backend == "ray":
        import ray
        from ray.util.joblib import register_ray

        if scheduler is not None and not ray.is_initialized():
            ray.init(address=scheduler)
        register_ray()
        stack.enter_context(joblib.parallel_config(backend="ray"))
        return {"n_jobs": n_jobs if n_jobs is not None else -1}
    raise ValueError(f"unknown backend {backend!r}")  # pragma: no cover - checked earlier


def _execute(calls: list, backend: str, n_jobs: int | None, scheduler: str | None,
             batch_size: int | str) -> Iterator[tuple]:
    """Yield run results as they finish, through joblib only."""
    with contextlib.ExitStack() as stack:
        kwargs = _enter_backend(stack, backend, n_jobs, scheduler)
        try:
            parallel = joblib.Parallel(return_as="generator_unordered", batch_size=batch_size, **kwargs)
        except ValueError as exc:
            if "does not support return_as" not in str(exc):
                raise
            parallel = None
        if parallel is not None:
            yield from parallel(calls)
            return
        # Backends without generator output (Ray's joblib backend derives from
        # joblib's multiprocessing backend): run in chunks, store each chunk.
        chunk = max(8, 4 * joblib.effective_n_jobs(kwargs.get("n_jobs", -1)))
        runner = joblib.Parallel(return_as="list", batch_size=batch_size, **kwargs)
        for start in range(0, len(calls), chunk):
            yield from runner(calls[start:start + chunk])


# --------------------------------------------------------------------------
# run_experiments
# --------------------------------------------------------------------------
def run_experiments(
    func: Callable[[dict, int], pd.DataFrame],
    design: pd.DataFrame,
    replicates: int = 1,
    seed: int | None = 0,
    *,
    out_dir: str | os.PathLike | None = None,
    backend: str = "loky",
    n_jobs: int | None = None,
    resume: bool = False,
    progress: bool = True,
    constants: Mapping[str, Any] | None = None,
    scheduler: str | None = None,
    batch_size: int | str = "auto",
    collect: bool = True,
) -> ExperimentResult:
    """Run every experiment of a design for ``replicates`` seeds.

    Each of the ``len(design) * replicates`` runs calls
    ``func({**constants, **design_row}, seed_r)``. Replicate ``r`` uses the
    same seed in every experiment (common random numbers, as EMA Workbench's
    ``ReplicatorModel``), so contrasts between experiments are not blurred by
    seed noise. The outcome table is the same whatever ``backend`` and
    ``n_jobs``.

    Parameters
    ----------
    func : callable
        ``func(params: dict, seed: int) -> pandas.DataFrame``; top-level and
        picklable for process backends, deterministic given (params, seed).
        A ``pandas.Series`` or a mapping of scalars is accepted as one row.
        Its identity on resume is ``module.qualname`` (a ``functools.partial``
        is identified by its function only): put every setting that changes
        results in the design or in ``constants``, which are checked, not in
        partial keywords.
    design : pandas.DataFrame
        One row per experiment, columns = parameter names, plus an optional
        integer ``experiment`` column (added as 0..n-1 if absent).
    replicates : int, default 1
        Seeds per experiment.
    seed : int or None, default 0
        Root entropy of ``numpy.random.SeedSequence``; see
        :func:`replicate_seeds`. ``None`` draws fresh entropy (recorded in the
        manifest; on resume the stored entropy is reused).
    out_dir : path, optional
        Result store. Each finished run is written atomically (temporary
        file + ``os.replace``) to ``out_dir/runs/exp-{e:06d}_rep-{r:04d}.parquet``
        as soon as it returns; ``design.parquet`` and ``manifest.json`` sit
        next to ``runs/``.
    backend : {"loky", "sequential", "threading", "dask", "ray"}, default "loky"
        joblib backend. ``"dask"`` uses the current ``dask.distributed``
        client, or one connected to ``scheduler``, or else starts a
        ``LocalCluster`` of ``n_jobs`` single-threaded worker processes and
        closes it afterwards. ``"ray"`` needs ``pip install clustersim[ray]``.
    n_jobs : int, optional
        Parallel workers; ``None`` means all cores (loky, threading, ray) or
        the number of LocalCluster workers (dask). Ignored for "sequential".
    resume : bool, default False
        Continue an interrupted experiment in ``out_dir``: valid finished runs
        are reloaded, corrupt / partial / mismatched run files are recomputed
        (with a warning naming the file) and missing runs are computed.
        Raises :class:`ResumeMismatchError` if ``out_dir`` holds a different
        design, seed, function, constants or more replicates.
    progress : bool, default True
        Print ``runs done/total | elapsed | ETA`` to stderr.
    constants : mapping, optional
        Parameters fixed in every run (EMA's ``constants``); recorded in the
        manifest and the run files. Names may not repeat design columns.
    scheduler : str, optional
        Address of a running dask scheduler (``"tcp://host:8786"``) or Ray
        cluster (``"ray://host:10001"`` / ``"auto"``).
    batch_size : int or "auto", default "auto"
        joblib batch size.
    collect : bool, default True
        Keep all outcomes in memory and return them. With ``collect=False``
        (requires ``out_dir``) memory stays flat and ``outcomes`` is ``None``;
        use :func:`load_results` later.

    Returns
    -------
    ExperimentResult
        ``design``, ``outcomes`` (columns ``experiment``, ``replicate``,
        ``seed`` then the model's columns, sorted by experiment and
        replicate), ``manifest``, ``out_dir``.

    Raises
    ------
    FileExistsError
        ``out_dir`` already holds runs and ``resume`` is False.
    ResumeMismatchError
        ``resume=True`` against a store of a different experiment.
    RunError
        A run raised; earlier finished runs are already on disk.
    KeyboardInterrupt
        Re-raised after printing how to resume; finished runs are on disk.

    Notes
    -----
    ``manifest.json`` holds: ``format``, ``function``, ``seed`` (``entropy``,
    per-replicate ``seeds``), ``replicates``, ``n_experiments``,
    ``parameters``, ``constants``, ``design_hash``, ``versions`` (python,
    numpy, pandas, pyarrow, scipy, joblib, SALib, mesa, dask, ray; ``None`` if
    absent), ``git_commit``, ``created``, ``status`` (running / complete /
    interrupted / failed), ``counts`` (total, done, reused, computed,
    recomputed, missing) and ``sessions`` (one entry per call with backend,
    n_jobs, start / end time, status and counts).

    With ``out_dir`` the returned outcomes are the tables as read back from
    Parquet, so a resumed and an uninterrupted experiment give identical
    frames.

    References
    ----------
    .. [1] Kwakkel, J. H. (2017). The Exploratory Modeling Workbench.
           *Environmental Modelling & Software*, 96, 239-250.
           https://doi.org/10.1016/j.envsoft.2017.06.054
    """
    _check_backend(backend)
    design = _normalize_design(design)
    constants = {k: _py(v) for k, v in dict(constants or {}).items()}
    clash = set(constants) & set(design.columns)
    if clash:
        raise ValueError(f"constants {sorted(clash)} are also design columns")
    if not collect and out_dir is None:
        raise ValueError("collect=False needs out_dir (the outcomes would be lost)")
    if int(replicates) != replicates or replicates < 1:
        raise ValueError("replicates must be a positive integer")
    replicates = int(replicates)

    fname = _func_name(func)
    dhash = design_hash(design)
    param_names = [c for c in design.columns if c != "experiment"]
    experiments = design["experiment"].tolist()
    params_of = {
        int(e): {k: _py(v) for k, v in row.items()}
        for e, row in zip(experiments, design[param_names].to_dict("records"))
    }
    total = len(experiments) * replicates

    store = _Store(out_dir) if out_dir is not None else None
    stored_manifest = None
    if store is not None:
        store.root.mkdir(parents=True, exist_ok=True)
        store.runs.mkdir(exist_ok=True)
        store.clean_temp_files()
        existing = store.run_files()
        if existing and not resume:
            raise FileExistsError(
                f"{store.root} already holds {len(existing)} finished run(s). Pass resume=True "
                f"(CLI: --resume) to continue that experiment, or choose a new out_dir."
            )
        stored_manifest = store.read_manifest() if resume else None
        if stored_manifest is not None and seed is None:
            seed = stored_manifest.get("seed", {}).get("entropy")
        if resume:
            _check_resume(store, stored_manifest, design, dhash, seed, replicates, fname, constants)

    entropy, seeds = replicate_seeds(seed, replicates)

    # ---- reload valid finished runs ---------------------------------------
    results: dict[tuple[int, int], pd.DataFrame | None] = {}
    invalid: set[tuple[int, int]] = set()
    if store is not None:
        expected_keys = {(e, r) for e in params_of for r in range(replicates)}
        for key, path in sorted(store.run_files().items()):
            if key not in expected_keys:
                warnings.warn(f"ignoring run file {path}: not part of this design", stacklevel=2)
                continue
            e, r = key
            frame, reason = store.read_run(path, _run_meta(e, r, seeds[r], params_of[e], constants, fname))
            if frame is None:
                warnings.warn(f"run file {path} is {reason}; recomputing it", stacklevel=2)
                invalid.add(key)
            else:
                results[key] = frame if collect else None

        created = (stored_manifest or {}).get("created", _now())
        store.manifest = {
            "format": MANIFEST_FORMAT,
            "function": fname,
            "seed": {"entropy": entropy, "seeds": seeds,
                     "spawn_keys": [[r] for r in range(replicates)],
                     "method": "SeedSequence(entropy).spawn(replicates); seed = generate_state(1, uint64)[0] >> 1"},
            "replicates": replicates,
            "n_experiments": len(experiments),
            "parameters": param_names,
            "constants": constants,
            "design_hash": dhash,
            "versions": _package_versions(),
            "git_commit": _git_commit(),
            "created": created,
            "status": "running",
            "counts": {},
            "sessions": list((stored_manifest or {}).get("sessions", [])),
        }
        store.manifest["sessions"].append({"started": _now(), "backend": backend, "n_jobs": n_jobs,
                                           "resume": resume, "status": "running"})
        store.write_design(design)
        store.write_manifest()

    reused = len(results)
    todo = [(e, r) for e in experiments for r in range(replicates) if (e, r) not in results]
    calls = [joblib.delayed(_run_one)(func, {**constants, **params_of[e]}, seeds[r], e, r) for e, r in todo]
    bar = _Progress(total, reused, progress)
    bar.emit(force=True)
    computed = 0
    wall: dict[tuple[int, int], float] = {}

    def _finish(status: str, error: str | None = None) -> None:
        if store is None:
            return
        counts = {"total": total, "done": reused + computed, "reused": reused, "computed": computed,
                  "recomputed": len(invalid & set(wall)), "missing": total - reused - computed}
        store.manifest.update(status=status, counts=counts)
        if wall:
            counts["wall_time_s_mean"] = float(np.mean(list(wall.values())))
        session = store.manifest["sessions"][-1]
        session.update(finished=_now(), status=status, counts=counts)
        if error:
            session["error"] = error
        store.write_manifest()

    gen = _execute(calls, backend, n_jobs, scheduler, batch_size) if calls else iter(())
    try:
        for e, r, frame, seconds in gen:
            if store is not None:
                meta = _run_meta(e, r, seeds[r], params_of[e], constants, fname)
                meta["wall_time_s"] = seconds
                frame = store.write_run(e, r, frame, meta)
            results[(e, r)] = frame if collect else None
            wall[(e, r)] = seconds
            computed += 1
            bar.update()
    except KeyboardInterrupt:
        with contextlib.suppress(Exception):
            gen.close()
        bar.close()
        _finish("interrupted")
        if store is not None:
            msg = (f"\nInterrupted: {reused + computed} of {total} runs are saved in {store.root}.\n"
                   f"Resume with run_experiments(..., out_dir={str(store.root)!r}, resume=True) "
                   f"or the CLI flag --resume.")
        else:
            msg = (f"\nInterrupted after {reused + computed} of {total} runs; no out_dir was given, so "
                   f"nothing was saved. Pass out_dir=... to make experiments resumable.")
        print(msg, file=sys.stderr, flush=True)
        raise
    except BaseException as exc:
        with contextlib.suppress(Exception):
            gen.close()
        bar.close()
        _finish("failed", error=f"{type(exc).__name__}: {exc}")
        raise
    bar.close()
    _finish("complete")

    manifest = store.manifest if store is not None else {
        "function": fname,
        "seed": {"entropy": entropy, "seeds": seeds},
        "replicates": replicates,
        "n_experiments": len(experiments),
        "parameters": param_names,
        "constants": constants,
        "design_hash": dhash,
        "counts": {"total": total, "done": computed, "reused": 0, "computed": computed},
        "status": "complete",
    }
    outcomes = _assemble(results, seeds) if collect else None
    return ExperimentResult(design=design, outcomes=outcomes, manifest=manifest,
                            out_dir=store.root if store is not None else None)


def _check_resume(store: _Store, manifest: dict | None, design: pd.DataFrame, dhash: str,
                  seed: int | None, replicates: int, fname: str, constants: dict) -> None:
    """Refuse to resume a store made by a different experiment."""
    where = f"{store.root}"
    hint = " Use a new out_dir, or the original settings to resume."
    if manifest is None:
        if store.design_path.exists():
            try:
                stored = pd.read_parquet(store.design_path)
            except Exception as exc:  # noqa: BLE001
                warnings.warn(f"cannot read {store.design_path} ({exc}); checking run files individually",
                              stacklevel=3)
                return
            if design_hash(stored) != dhash:
                raise ResumeMismatchError(f"{where} holds a different design (design.parquet differs)." + hint)
        return
    if manifest.get("design_hash") != dhash:
        raise ResumeMismatchError(
            f"{where} holds a different design (hash {str(manifest.get('design_hash'))[:12]}..., "
            f"this design {dhash[:12]}...)." + hint)
    stored_entropy = manifest.get("seed", {}).get("entropy")
    if seed is None or stored_entropy != int(np.random.SeedSequence(seed).entropy):
        raise ResumeMismatchError(f"{where} was run with seed {stored_entropy}, not {seed}." + hint)
    if manifest.get("function") != fname:
        raise ResumeMismatchError(
            f"{where} was run with function {manifest.get('function')!r}, not {fname!r}." + hint)
    if _canonical(manifest.get("constants", {})) != _canonical(constants):
        raise ResumeMismatchError(
            f"{where} was run with constants {manifest.get('constants')}, not {constants}." + hint)
    if replicates < int(manifest.get("replicates", 0)):
        raise ResumeMismatchError(
            f"{where} holds {manifest.get('replicates')} replicates; resume may keep or increase that "
            f"number, not reduce it to {replicates}." + hint)


def _assemble(results: Mapping[tuple[int, int], pd.DataFrame | None], seeds: Sequence[int]) -> pd.DataFrame:
    keys = sorted(results)
    frames = [results[k] for k in keys]
    lengths = np.array([len(f) for f in frames], dtype=np.int64)
    ids = pd.DataFrame({
        "experiment": np.repeat(np.array([k[0] for k in keys], dtype=np.int64), lengths),
        "replicate": np.repeat(np.array([k[1] for k in keys], dtype=np.int64), lengths),
        "seed": np.repeat(np.array([seeds[k[1]] for k in keys], dtype=np.int64), lengths),
    })
    if not frames:
        return ids
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # pandas' note on concat with empty frames
        body = pd.concat(frames, ignore_index=True)
    if len(body) != len(ids):  # pragma: no cover - defensive
        raise RuntimeError("outcome rows do not line up with run identifiers")
    return pd.concat([ids, body], axis=1)


def load_results(out_dir: str | os.PathLike, *, verify: bool = True) -> ExperimentResult:
    """Read a result store written by :func:`run_experiments`.

    Parameters
    ----------
    out_dir : path
    verify : bool, default True
        Check each run file's checksum and provenance against the manifest;
        invalid files are skipped with a warning (rerun with ``resume=True``).

    Returns
    -------
    ExperimentResult
        With the runs found on disk (possibly incomplete; see
        ``manifest["status"]``).
    """
    store = _Store(out_dir)
    manifest = store.read_manifest()
    if manifest is None or not store.design_path.exists():
        raise FileNotFoundError(f"{out_dir} has no manifest.json / design.parquet")
    design = _normalize_design(pd.read_parquet(store.design_path))
    seeds = manifest["seed"]["seeds"]
    names = [c for c in design.columns if c != "experiment"]
    params_of = {int(e): {k: _py(v) for k, v in row.items()}
                 for e, row in zip(design["experiment"], design[names].to_dict("records"))}
    results = {}
    for (e, r), path in sorted(store.run_files().items()):
        if e not in params_of or r >= len(seeds):
            continue
        if verify:
            frame, reason = store.read_run(path, _run_meta(e, r, seeds[r], params_of[e],
                                                           manifest.get("constants", {}), manifest["function"]))
            if frame is None:
                warnings.warn(f"skipping run file {path}: {reason}", stacklevel=2)
                continue
        else:
            frame = pd.read_parquet(path)
        results[(e, r)] = frame
    return ExperimentResult(design=design, outcomes=_assemble(results, seeds), manifest=manifest,
                            out_dir=store.root)

