"""Command-line options and value converters shared by every ``clustersim`` command.

Each converter turns one option's text into a value or raises an error that ``clustersim``
prints as one line with exit code 2.
"""

from __future__ import annotations

import argparse
import math
import socket
import sys
from urllib.parse import urlsplit

from sim.core.calendar import STEPS_PER_YEAR, steps_in
from sim.data.clusters import cluster_table
from sim.engine.backends import get_backend, n_workers
from sim.model.params import parse_override

#: Upper bounds of the options that size the work (far above any sensible run on one machine).
MAX_REPLICATES = 10_000
MAX_JOBS = 256
MAX_SAMPLES = 100_000   # sensitivity --n (Morris trajectories, Sobol base sample)
MAX_YEARS = 1000

#: A design larger than this (runs, or estimated seconds of computing) asks for ``--yes`` first.
CONFIRM_RUNS = 5_000
CONFIRM_SECONDS = 2 * 3600

#: Rough cost of one simulated firm for one step, and the fixed cost of one run, in seconds
#: (measured on one core of the reference machine; the estimate is a guide, not a promise).
SECONDS_PER_FIRM_STEP = 4e-6
SECONDS_PER_RUN = 0.1

#: Seconds to wait for a dask scheduler before giving up (the engine's own timeout, too).
SCHEDULER_TIMEOUT = 5.0


class UserError(Exception):
    """Bad input from the user: reported in one line, exit code 2."""


def csv_list(text: str | None, option: str = "--clusters", what: str = "cluster",
             example: str = "wonju_medical_devices,jeonju_machinery") -> list[str] | None:
    """A comma-separated option value as a list (``None`` if not given); an empty list is a :class:`UserError`."""
    if text is None:
        return None
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise UserError(f"{option}: an empty {what} list was given; pass comma-separated values, "
                        f"e.g. {option} {example}")
    dup = sorted({t for t in items if items.count(t) > 1})
    if dup:
        raise UserError(f"{option}: {', '.join(dup)} given more than once; name each {what} once, "
                        f"e.g. {option} {','.join(dict.fromkeys(items))}")
    return items


def overrides(sets: list[str] | None, scale: float | None = None) -> dict:
    """The ``--set NAME=VALUE`` values as a dict, with ``--scale`` (if given) as ``scale``.

    ``--scale`` together with ``--set scale=...`` is a :class:`UserError` (one of them would be
    ignored).
    """
    out = {}
    for s in sets or []:
        k, v = parse_override(s)
        out[k] = v
    if scale is not None:
        if "scale" in out:
            raise UserError(f"--scale {scale:g} and --set scale={out['scale']} both give the scale; give one of them")
        out["scale"] = scale
    return out


def positive(kind, maximum=None):
    """An argparse converter to a positive ``kind`` (int or float), at most ``maximum``."""
    def conv(text):
        try:
            v = kind(text)
        except (ValueError, OverflowError):
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__}, got {text!r}") from None
        if not v > 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text!r}")
        if maximum is not None and not v <= maximum:
            raise argparse.ArgumentTypeError(f"must be at most {maximum:,}, got {text!r}")
        return v
    return conv


def _quarters(v: float) -> str:
    lo = math.floor(v * STEPS_PER_YEAR) / STEPS_PER_YEAR
    hi = lo + 1 / STEPS_PER_YEAR
    return " or ".join(f"{x:g}" for x in (lo, hi) if x > 0)


def check_years(v: float, option: str = "--years") -> float:
    """``v`` if it is a whole number of quarters (the model's step); else a :class:`UserError`
    naming the nearest valid values."""
    if abs(v * STEPS_PER_YEAR - steps_in(v)) > 1e-9:
        raise UserError(f"{option} {v:g} is not a whole number of quarters (the model steps by a quarter); "
                        f"use {_quarters(v)}")
    return v


def years(text):
    """An argparse converter to simulated years: positive, at most 1000, a whole number of quarters."""
    v = positive(float, maximum=MAX_YEARS)(text)
    if abs(v * STEPS_PER_YEAR - steps_in(v)) > 1e-9:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of quarters (the model steps by a "
                                         f"quarter); use {_quarters(v)}")
    return v


def seed(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text!r}")
    return v


def add_common(p: argparse.ArgumentParser, years_default: float = 10) -> None:
    p.add_argument("--years", type=years, default=years_default,
                   help="simulated years, a whole number of quarters (default %(default)s, at most 1000)")
    p.add_argument("--seed", type=seed, default=1, help="root random seed, a non-negative integer (default %(default)s)")
    p.add_argument("--replicates", type=positive(int, maximum=MAX_REPLICATES), default=1,
                   help=f"replicates (default %(default)s, at most {MAX_REPLICATES:,})")
    p.add_argument("--clusters", help="comma-separated cluster ids (default: all 38; see 'clustersim clusters')")
    p.add_argument("--scale", type=float, help="fraction of real firm counts simulated (0.001-1; default 1)")
    p.add_argument("--set", action="append", metavar="NAME=VALUE", help="override a parameter (repeatable; see 'clustersim params')")
    p.add_argument("--jobs", type=positive(int, maximum=MAX_JOBS), default=1,
                   help=f"parallel workers (default %(default)s, at most {MAX_JOBS}; never more than the runs)")
    p.add_argument("--backend", default="loky", choices=["loky", "sequential", "dask", "ray"],
                   help="joblib backend for parallel replicates (default %(default)s)")
    p.add_argument("--resume", action="store_true", help="reuse finished replicates in OUT and compute only the missing ones")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    add_yes(p)


def add_yes(p: argparse.ArgumentParser) -> None:
    """The ``--yes`` option: start a large design without asking (see :func:`confirm_size`)."""
    p.add_argument("--yes", action="store_true",
                   help=f"start a large design (more than {CONFIRM_RUNS:,} runs or an estimated "
                        f"{CONFIRM_SECONDS // 3600} hours) without asking")


def firm_steps(years: float, scale: float | None, clusters: list[str] | None) -> float:
    """Simulated firms x steps of one run (the unit of :func:`estimate_seconds`)."""
    tab = cluster_table()
    if clusters:
        tab = tab[tab["id"].isin(clusters)]
    share = float(scale) if isinstance(scale, (int, float)) and 0 < scale <= 1 else 1.0  # validated later
    return float(tab["firms"].sum()) * share * steps_in(years)


def estimate_seconds(runs: int, firm_steps_per_run: float, workers: int) -> float:
    """Rough wall time of ``runs`` runs of ``firm_steps_per_run`` firm-steps each on ``workers`` workers."""
    per_run = SECONDS_PER_RUN + SECONDS_PER_FIRM_STEP * firm_steps_per_run
    return runs * per_run / max(1, min(int(workers), runs))


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:,.0f} days"


def confirm_size(what: str, runs: int, firm_steps_per_run: float, workers: int | None, yes: bool,
                 reduce: str, quiet: bool = False) -> None:
    """Check the size of a design before it starts.

    ``runs`` model runs of ``firm_steps_per_run`` firm-steps each on ``workers`` workers (None:
    all cores). A design of more than :data:`CONFIRM_RUNS` runs or an estimated
    :data:`CONFIRM_SECONDS` seconds is refused with a :class:`UserError` that states the
    estimate, unless ``yes`` (``--yes``), in which case the estimate is printed to stderr and
    the work starts. ``reduce`` names the options that make the design smaller.
    """
    n = max(1, min(int(workers) if workers else n_workers(None), int(runs)))
    seconds = estimate_seconds(runs, firm_steps_per_run, n)
    estimate = (f"{what}: {runs:,} runs, roughly {_duration(seconds)} on {n} worker{'s' if n > 1 else ''}")
    if runs <= CONFIRM_RUNS and seconds <= CONFIRM_SECONDS:
        return
    if not yes:
        raise UserError(f"{estimate}; pass --yes to start it, or make it smaller ({reduce})")
    if not quiet:
        print(f"clustersim: {estimate} (--yes given, starting)", file=sys.stderr, flush=True)


def check_backend(backend: str, jobs: int | None, scheduler: str | None = None, quiet: bool = False) -> None:
    """Fail early, in one line, when ``backend`` cannot run here (a missing optional dependency,
    an unreachable dask scheduler); say so when ``jobs`` (``--jobs``) = 1 means the backend is not
    used (``run``, ``project`` and the calibration commands then run in this process; pass
    ``jobs=None`` where the backend is used with any number of workers)."""
    try:
        get_backend(backend).check()
    except ImportError:
        raise UserError(f"--backend {backend}: the optional dependency is not installed; install it with "
                        f'pip install "clustersim[{backend}]" or choose --backend loky') from None
    if scheduler is not None:
        if backend != "dask":
            if backend != "ray":
                raise UserError(f"--scheduler is for --backend dask (or ray), not --backend {backend}")
        else:
            _check_reachable(scheduler)
    if jobs == 1 and backend in ("dask", "ray") and scheduler is None and not quiet:
        print(f"clustersim: note: --jobs 1 runs everything one after the other in this process, so "
              f"--backend {backend} is not used; pass --jobs N (N > 1) to use it", file=sys.stderr)


def _check_reachable(address: str) -> None:
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    try:
        host, port = parts.hostname, parts.port or 8786
    except ValueError:
        host = port = None
    if not host:
        raise UserError(f"--scheduler {address}: not an address; give one such as tcp://10.0.0.5:8786")
    try:
        with socket.create_connection((host, port), timeout=SCHEDULER_TIMEOUT):
            pass
    except OSError as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise UserError(f"--scheduler {address}: no dask scheduler answers there within {SCHEDULER_TIMEOUT:g} s "
                        f"({reason}); start one with 'dask scheduler' or check the address") from None


def add_base_option(p: argparse.ArgumentParser) -> None:
    """The ``--params`` option of ``run`` and ``project``: the base model (see :func:`scenarios.base.resolve_base`)."""
    p.add_argument("--params", metavar="calibrated|defaults|FILE.json", default="calibrated",
                   help="base model: 'calibrated' (default: the shipped calibration, each cluster with its own "
                        "calibrated values), 'defaults' (the parameter schema's defaults, the same in every "
                        "cluster) or a JSON file (a calibration's params.json or an object of parameter values); "
                        "values set explicitly (--set, a scenario's [params]) hold for every cluster")
