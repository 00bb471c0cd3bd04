"""Experiments over a model function: run a design for several replicates, stream runs to a store.

The module turns a *design* (one row per parameter set, see :mod:`sim.engine.design`)
into model runs, runs each parameter set for several *replicates* with common random
numbers, executes the runs through :mod:`joblib` (:mod:`sim.engine.backends`:
sequential, loky, threading, dask or ray) and streams every finished run to a
resumable Parquet store (:mod:`sim.engine.store`). Vocabulary (Kwakkel 2017):
uncertainties and levers make the design, the outcomes are the tidy table the model
function returns, constants are parameters held fixed in every run, and replications
are the same list of seeds applied to every experiment.

The model contract is a top-level, picklable callable::

    func(params: dict[str, float], seed: int) -> pandas.DataFrame

that is deterministic given ``(params, seed)``. The engine adds the
identifying columns ``experiment``, ``replicate`` and ``seed``.

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
import functools
import math
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

from sim.core.allocator import keep_freed_memory, release_freed_memory
from sim.engine.backends import get_backend, n_workers
from sim.engine.design import (
    design_hash,
    normalize_design,
    python_scalar,
    replicate_seeds,
)
from sim.engine.store import Store, check_resume, new_manifest, run_meta

__all__ = [
    "ID_COLUMNS",
    "ExperimentResult",
    "RunError",
    "StepProgress",
    "func_name",
    "load_results",
    "run_experiments",
]

#: Columns the engine adds to every outcome table.
ID_COLUMNS = ("experiment", "replicate", "seed")


# --------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------
class RunError(RuntimeError):
    """A model run raised; the message names the experiment, replicate and params."""


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


def func_name(func: Callable) -> str:
    """A stable identity for the model function (recorded and checked on resume)."""
    custom = getattr(func, "__clustersim_name__", None)
    if isinstance(custom, str):
        return custom
    if isinstance(func, functools.partial):
        return f"functools.partial({func_name(func.func)})"
    module = getattr(func, "__module__", None)
    qualname = getattr(func, "__qualname__", None)
    if module and qualname:
        return f"{module}.{qualname}"
    return f"{type(func).__module__}.{type(func).__qualname__}"


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


class StepProgress:
    """Progress of a few long steps after the runs (figures, report sections) on stderr.

    Calling it with the name of the step about to start prints one line in the style of the
    run counter, ``[clustersim] figures 2/5: fan chart jeonju_machinery | elapsed 0:00:03``;
    a disabled one (``--quiet``) prints nothing.  ``total`` may be None when the number of
    steps is not known in advance (the line then shows ``i`` alone).
    """

    def __init__(self, what: str, total: int | None, enabled: bool = True, stream=None) -> None:
        self.what, self.total, self.enabled = what, total, enabled
        self.stream = stream if stream is not None else sys.stderr
        self.done = 0
        self.start = time.perf_counter()

    def __call__(self, step: str) -> None:
        self.done += 1
        if not self.enabled:
            return
        count = f"{self.done}/{self.total}" if self.total else str(self.done)
        self.stream.write(f"[clustersim] {self.what} {count}: {step} | "
                          f"elapsed {_fmt_time(time.perf_counter() - self.start)}\n")
        self.stream.flush()


# --------------------------------------------------------------------------
# One run (worker side)
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
    """Worker-side call of one run; returns (experiment, replicate, frame, wall seconds).

    The worker's C allocator keeps freed memory for reuse during the run and gives it back after
    it (:mod:`sim.core.allocator`; no number changes).
    """
    keep_freed_memory()
    t0 = time.perf_counter()
    try:
        frame = _as_frame(func(params, seed))
    except Exception as exc:
        raise RunError(
            f"run failed: experiment {experiment}, replicate {replicate}, seed {seed}, params {params}: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    finally:
        release_freed_memory()
    return experiment, replicate, frame, time.perf_counter() - t0


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
        :func:`sim.engine.design.replicate_seeds`. ``None`` draws fresh entropy (recorded in the
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
        Capped at the number of runs to compute.
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
    ``parameters``, ``constants``, ``design_hash``, ``versions`` (python and
    the packages of :data:`sim.core.provenance.PACKAGES`; ``None`` if absent),
    ``git_commit`` (see :func:`sim.core.provenance.git_commit`), ``created``, ``status`` (running / complete /
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
    executor = get_backend(backend)
    executor.check()
    design = normalize_design(design)
    constants = {k: python_scalar(v) for k, v in dict(constants or {}).items()}
    clash = set(constants) & set(design.columns)
    if clash:
        raise ValueError(f"constants {sorted(clash)} are also design columns")
    if not collect and out_dir is None:
        raise ValueError("collect=False needs out_dir (the outcomes would be lost)")
    if int(replicates) != replicates or replicates < 1:
        raise ValueError("replicates must be a positive integer")
    replicates = int(replicates)

    fname = func_name(func)
    dhash = design_hash(design)
    param_names = [c for c in design.columns if c != "experiment"]
    experiments = design["experiment"].tolist()
    params_of = _params_of(design)
    total = len(experiments) * replicates

    store = Store(out_dir) if out_dir is not None else None
    stored_manifest = None
    if store is not None:
        store.prepare(resume)
        stored_manifest = store.read_manifest() if resume else None
        if stored_manifest is not None and seed is None:
            seed = stored_manifest.get("seed", {}).get("entropy")
        if resume:
            check_resume(store, stored_manifest, design, dhash, seed, replicates, fname, constants)

    entropy, seeds = replicate_seeds(seed, replicates)

    results: dict[tuple[int, int], pd.DataFrame | None] = {}
    invalid: set[tuple[int, int]] = set()
    if store is not None:
        results, invalid = _reload_runs(store, params_of, seeds, constants, fname, collect)
        manifest = new_manifest(stored_manifest, function=fname, entropy=entropy, seeds=seeds,
                                n_experiments=len(experiments), parameters=param_names, constants=constants,
                                dhash=dhash)
        store.begin(manifest, design, {"backend": backend, "n_jobs": n_jobs, "resume": resume})

    reused = len(results)
    todo = [(e, r) for e in experiments for r in range(replicates) if (e, r) not in results]
    calls = [joblib.delayed(_run_one)(func, {**constants, **params_of[e]}, seeds[r], e, r) for e, r in todo]
    if calls:  # never more workers than runs (each idle worker is a process of its own)
        n_jobs = max(1, min(n_workers(n_jobs), len(calls)))
    gen = executor.run(calls, n_jobs, scheduler, batch_size) if calls else iter(())
    computed = _collect_runs(gen, store, results, invalid, total, reused, progress, collect,
                             lambda e, r: run_meta(e, r, seeds[r], params_of[e], constants, fname))

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


def _params_of(design: pd.DataFrame) -> dict[int, dict]:
    """Parameters of each experiment as Python scalars, by experiment number."""
    names = [c for c in design.columns if c != "experiment"]
    return {int(e): {k: python_scalar(v) for k, v in row.items()}
            for e, row in zip(design["experiment"].tolist(), design[names].to_dict("records"))}


def _reload_runs(store: Store, params_of: Mapping[int, dict], seeds: Sequence[int], constants: dict,
                 fname: str, collect: bool) -> tuple[dict, set]:
    """Valid finished runs of this design found in ``store``, and the keys of invalid ones (to recompute)."""
    results: dict[tuple[int, int], pd.DataFrame | None] = {}
    invalid: set[tuple[int, int]] = set()
    expected_keys = {(e, r) for e in params_of for r in range(len(seeds))}
    for key, path in sorted(store.run_files().items()):
        if key not in expected_keys:
            warnings.warn(f"ignoring run file {path}: not part of this design", stacklevel=3)
            continue
        e, r = key
        frame, reason = store.read_run(path, run_meta(e, r, seeds[r], params_of[e], constants, fname))
        if frame is None:
            warnings.warn(f"run file {path} is {reason}; recomputing it", stacklevel=3)
            invalid.add(key)
        else:
            results[key] = frame if collect else None
    return results, invalid


def _collect_runs(gen: Iterator[tuple], store: Store | None, results: dict, invalid: set, total: int,
                  reused: int, progress: bool, collect: bool, meta_of: Callable[[int, int], dict]) -> int:
    """Take finished runs from ``gen`` into ``results`` (and the store); return how many were computed.

    Closes the store's session as complete, interrupted or failed; on an interruption says how
    to resume before re-raising.
    """
    bar = _Progress(total, reused, progress)
    bar.emit(force=True)
    wall: dict[tuple[int, int], float] = {}
    current: tuple | None = None  # the run being stored: an interrupt may land after its file is published
    try:
        for e, r, frame, seconds in gen:
            current = (e, r, seconds)
            if store is not None:
                meta = meta_of(e, r)
                meta["wall_time_s"] = seconds
                frame = store.write_run(e, r, frame, meta)
            results[(e, r)] = frame if collect else None
            wall[(e, r)] = seconds
            bar.update()
    except KeyboardInterrupt:
        if _published_unrecorded(store, current, wall, invalid):
            wall[current[:2]] = current[2]
        with contextlib.suppress(Exception):
            gen.close()
        bar.close()
        _finish(store, "interrupted", total, reused, wall, invalid)
        print(_interrupted_message(store, reused + len(wall), total), file=sys.stderr, flush=True)
        raise
    except BaseException as exc:
        with contextlib.suppress(Exception):
            gen.close()
        bar.close()
        _finish(store, "failed", total, reused, wall, invalid, error=f"{type(exc).__name__}: {exc}")
        raise
    bar.close()
    _finish(store, "complete", total, reused, wall, invalid)
    return len(wall)


def _published_unrecorded(store: Store | None, current: tuple | None, wall: Mapping, invalid: set) -> bool:
    """Whether the run ``current`` (experiment, replicate, seconds) has its file in the store but
    is not counted yet: an interrupt that arrives between the atomic rename and the bookkeeping.
    A run whose earlier file was invalid is not counted (its old file may still be there)."""
    if store is None or current is None:
        return False
    key = current[:2]
    return key not in wall and key not in invalid and store.run_path(*key).exists()


def _finish(store: Store | None, status: str, total: int, reused: int, wall: Mapping[tuple[int, int], float],
            invalid: set, error: str | None = None) -> None:
    """Record the session's end in the store's manifest (nothing without a store)."""
    if store is None:
        return
    computed = len(wall)
    counts = {"total": total, "done": reused + computed, "reused": reused, "computed": computed,
              "recomputed": len(invalid & set(wall)), "missing": total - reused - computed}
    if wall:
        counts["wall_time_s_mean"] = float(np.mean(list(wall.values())))
    store.finish(status, counts, error)


def _interrupted_message(store: Store | None, done: int, total: int) -> str:
    if store is not None:
        return (f"\nInterrupted: {done} of {total} runs are saved in {store.root}.\n"
                f"Resume with run_experiments(..., out_dir={str(store.root)!r}, resume=True) "
                f"or the CLI flag --resume.")
    return (f"\nInterrupted after {done} of {total} runs; no out_dir was given, so "
            f"nothing was saved. Pass out_dir=... to make experiments resumable.")


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
    store = Store(out_dir)
    manifest = store.read_manifest()
    if manifest is None or not store.design_path.exists():
        raise FileNotFoundError(f"{out_dir} has no manifest.json / design.parquet")
    design = normalize_design(pd.read_parquet(store.design_path))
    seeds = manifest["seed"]["seeds"]
    params_of = _params_of(design)
    results = {}
    for (e, r), path in sorted(store.run_files().items()):
        if e not in params_of or r >= len(seeds):
            continue
        if verify:
            frame, reason = store.read_run(path, run_meta(e, r, seeds[r], params_of[e],
                                                          manifest.get("constants", {}), manifest["function"]))
            if frame is None:
                warnings.warn(f"skipping run file {path}: {reason}", stacklevel=2)
                continue
        else:
            frame = pd.read_parquet(path)
        results[(e, r)] = frame
    return ExperimentResult(design=design, outcomes=_assemble(results, seeds), manifest=manifest,
                            out_dir=store.root)

