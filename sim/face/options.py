"""Command-line options and value converters shared by every ``clustersim`` command.

Each converter turns one option's text into a value or raises an error that ``clustersim``
prints as one line with exit code 2.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scenarios.base import DEFAULT_BASE
from sim.core.calendar import STEPS_PER_YEAR, steps_in
from sim.core.io import KB, InputFileError, atomic_write_json, read_small_json
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


@dataclass(frozen=True)
class Default:
    """A command's default of a shared option: its ``value`` and how ``--help`` shows it (``text``)."""

    value: Any
    text: str


#: The options shared by the commands, in the order ``--help`` lists them. Each is declared once
#: (:func:`add_options`): the same flag, converter, meaning and help text in every command.
SHARED: tuple[str, ...] = ("out", "params", "years", "seed", "scale", "jobs", "backend", "scheduler")

#: Values of ``--backend``.
BACKEND_CHOICES: tuple[str, ...] = ("loky", "sequential", "dask", "ray")


#: How each shared option is declared: ``add_argument`` keywords; ``{default}`` in the help is the
#: command's default as ``--help`` shows it (:class:`Default`).
_SPEC: dict[str, dict] = {
    "out": {"required": True, "metavar": "OUT", "help": "output folder (created if needed)"},
    "params": {"metavar": "calibrated|defaults|FILE.json",
               "help": "base model (default {default}): 'calibrated' (the shipped calibration, each cluster with its "
                       "own calibrated values), 'defaults' (the parameter schema's defaults, the same in every "
                       "cluster) or a JSON file (a calibration's params.json or an object of parameter values); "
                       "values set explicitly (--set, a scenario's [params], a varied factor) hold for every "
                       "cluster"},
    "years": {"type": years, "help": f"simulated years, a whole number of quarters (default {{default}}, at most "
                                     f"{MAX_YEARS})"},
    "seed": {"type": seed, "help": "root random seed, a non-negative integer (default {default})"},
    "scale": {"type": float, "help": "fraction of real firm counts simulated, 0.001-1 (default {default})"},
    "jobs": {"type": positive(int, maximum=MAX_JOBS), "metavar": "N",
             "help": f"parallel workers (default {{default}}; at most {MAX_JOBS}, never more than the runs); with 1 "
                     f"the runs go one after the other in this process and --backend is not used; with "
                     f"--scheduler the cluster's workers set the parallelism"},
    "backend": {"choices": list(BACKEND_CHOICES),
                "help": "where parallel runs execute (default {default}): loky (processes on this computer), dask "
                        "(a dask.distributed cluster: --scheduler, else a local one), ray (the cluster of "
                        "RAY_ADDRESS or --scheduler), sequential (this process)"},
    "scheduler": {"metavar": "ADDRESS",
                  "help": "address of a running dask scheduler, e.g. tcp://10.0.0.5:8786 (with --backend dask and "
                          "--jobs N; 'dask scheduler' prints it), or of a Ray cluster (with --backend ray)"},
}


def _shared_option(name: str, default: Default) -> tuple[str, dict]:
    """The flag and ``add_argument`` keywords of shared option ``name`` with the command's ``default``."""
    kw = dict(_SPEC[name])
    kw["help"] = kw["help"].format(default=default.text)
    if not kw.get("required"):
        kw["default"] = default.value
    return f"--{name}", kw


#: Each shared option's default when the command does not give one.
SHARED_DEFAULTS: dict[str, Default] = {
    "out": Default(None, ""), "params": Default(DEFAULT_BASE, DEFAULT_BASE), "years": Default(10, "10"),
    "seed": Default(1, "1"), "scale": Default(None, "1"), "jobs": Default(1, "1"),
    "backend": Default("loky", "loky"), "scheduler": Default(None, "none"),
}


def add_options(p: argparse.ArgumentParser, *names: str, **defaults: Any) -> None:
    """Add the shared options ``names`` (of :data:`SHARED`) to command parser ``p``.

    Every command that has one of these options gets it from here, so that the flag, its
    converter and its meaning are the same everywhere. ``defaults`` gives a command's own
    default of an option: a plain value (shown as is) or a :class:`Default` (value and the
    text ``--help`` shows, e.g. ``Default(None, "the scenario files'")``).
    """
    unknown = [n for n in [*names, *defaults] if n not in SHARED]
    if unknown:
        raise ValueError(f"not shared options: {unknown}; shared options: {', '.join(SHARED)}")
    for name in sorted(set(names), key=SHARED.index):
        d = defaults.get(name, SHARED_DEFAULTS[name])
        if not isinstance(d, Default):
            d = Default(d, str(d))
        flag, kw = _shared_option(name, d)
        p.add_argument(flag, **kw)


class _DeprecatedAlias(argparse.Action):
    """A hidden old name of an option: stores into the new option and prints a one-line note."""

    def __init__(self, option_strings, dest, new: str = "", **kw):
        self.new = new
        super().__init__(option_strings, dest, **kw)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"clustersim: note: {option_string} is deprecated; use {self.new} (the same option)", file=sys.stderr)
        setattr(namespace, self.dest, values)


def add_deprecated_alias(p: argparse.ArgumentParser, old: str, name: str) -> None:
    """Accept ``old`` (hidden from ``--help``) as another name of the shared option ``name`` (e.g.
    ``--workers`` for ``jobs``), with the same converter; using it prints a one-line note."""
    flag, kw = _shared_option(name, SHARED_DEFAULTS[name])
    p.add_argument(old, dest=name, type=kw.get("type"), metavar=kw.get("metavar"), action=_DeprecatedAlias,
                   new=flag, default=argparse.SUPPRESS, help=argparse.SUPPRESS)


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
    """Check ``--backend``, ``--jobs`` and ``--scheduler`` together before any work starts.

    Fails in one line (:class:`UserError`) when ``backend`` cannot run here (a missing optional
    dependency), when ``scheduler`` is given with a backend that has none, or when no dask
    scheduler answers at ``scheduler`` within :data:`SCHEDULER_TIMEOUT` seconds. With ``jobs``
    = 1 (``--jobs 1``) every command runs its runs one after the other in this process, so
    ``backend`` and ``scheduler`` are not used: a note says so on stderr (unless ``quiet``) and
    the scheduler is not contacted. ``jobs=None`` means all cores.
    """
    try:
        get_backend(backend).check()
    except ImportError:
        raise UserError(f"--backend {backend}: the optional dependency is not installed; install it with "
                        f'pip install "clustersim[{backend}]" or choose --backend loky') from None
    if scheduler is not None and backend not in ("dask", "ray"):
        raise UserError(f"--scheduler {scheduler}: a scheduler is for --backend dask (or ray), not --backend "
                        f"{backend}; add --backend dask, or drop --scheduler")
    if jobs == 1 and (backend in ("dask", "ray") or scheduler is not None):
        if not quiet:
            used = f"--backend {backend}" + (" and --scheduler are" if scheduler is not None else " is")
            print(f"clustersim: note: --jobs 1 runs everything one after the other in this process, so "
                  f"{used} not used; pass --jobs N (N > 1) to use {'them' if scheduler else 'it'}",
                  file=sys.stderr)
        return
    if scheduler is not None and backend == "dask":
        _check_reachable(scheduler)


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


# ----------------------------------------------------------------------------- output folders
# Every command that writes a folder (run, project, calibrate, predict, validate, recover,
# sensitivity) calls prepare_output before any work starts: --out must not be empty, an existing
# file, or a location that cannot be created or written; the folder records which command writes
# it (MARKER; older folders are recognised by their files, folder_kind); another command refuses
# it, and so does the same command when the folder holds finished output but not the store/ of
# its finished runs (the output would be computed again and overwritten; with the store the
# engine itself refuses to go on without --resume) -- unless --force is given.

#: The file naming the command that writes a folder.
MARKER = ".clustersim-output.json"
MARKER_FORMAT = "clustersim.output/1"

#: The files each command writes at the end (their presence means finished output); every
#: command keeps its finished runs in ``store/`` beside them.
FINISHED: dict[str, tuple[str, ...]] = {
    "run": ("indicators.parquet",), "project": ("indicators.parquet",), "calibrate": ("params.json",),
    "predict": ("predicted.csv",), "validate": ("cv_metrics.csv",), "recover": ("recovery.csv",),
    "exam": ("scorecard.md",),
    "sensitivity": ("morris_indices.csv", "sobol_indices.csv"),
}


class OutputError(UserError):
    """An ``--out`` folder that cannot or may not be written (one line, exit code 2)."""


def _clear_results(path: Path, kind: str, shown: str, force: bool) -> None:
    """Delete the earlier results of command ``kind`` in ``path``: its store and output files."""
    found = folder_kind(path)
    if found is not None and found != kind and not force:
        raise OutputError(f"--out {shown} holds the output of 'clustersim {found}'; --overwrite deletes only "
                          f"the results of 'clustersim {kind}' (pass --force as well to write into it anyway)")
    try:
        if (path / "store").is_dir():
            shutil.rmtree(path / "store")
        for name in FINISHED[kind]:
            (path / name).unlink(missing_ok=True)
    except OSError as exc:
        raise OutputError(f"--out {shown}: cannot delete the earlier results ({_shown(exc.strerror or exc)}); "
                          f"choose a new folder") from None


def add_force_option(p: argparse.ArgumentParser) -> None:
    """The ``--force`` and ``--overwrite`` options of the commands that write a folder."""
    p.add_argument("--force", action="store_true",
                   help="write into OUT even if it holds the output of another command, or finished output "
                        "that cannot be resumed (files of the same name are overwritten)")
    p.add_argument("--overwrite", action="store_true",
                   help="start again in OUT: delete this command's earlier results there (its store/ of "
                        "finished runs and its output files) before running (not with --resume)")


def _shown(path) -> str:
    text = str(path)
    return text if text.isprintable() else "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def folder_kind(out: str | os.PathLike) -> str | None:
    """The command whose output ``out`` holds (its :data:`MARKER`, else recognised by its files); None if none."""
    out = Path(out)
    marker = out / MARKER
    if os.path.lexists(marker):
        try:
            d = read_small_json(marker, limit=4 * KB, what="output marker")
        except InputFileError:
            d = None
        if isinstance(d, dict) and d.get("command") in FINISHED:
            return d["command"]
    manifest = out / "manifest.json"
    if manifest.is_file():
        try:
            d = read_small_json(manifest, limit=64 * 1024 * KB, what="manifest")
        except InputFileError:
            d = None
        if isinstance(d, dict):
            if d.get("format") == "clustersim.projection/1":
                return "project"
            cmd = d.get("command")
            if isinstance(cmd, str) and cmd.split()[1:2] == ["run"]:
                return "run"
    for kind, name in (("calibrate", "params.json"), ("predict", "predicted.csv"), ("validate", "cv_metrics.csv"),
                       ("recover", "recovery.csv"), ("sensitivity", "morris_indices.csv"),
                       ("sensitivity", "sobol_indices.csv")):
        if (out / name).is_file():
            return kind
    return None


def _has_runs(store: Path) -> bool:
    runs = store / "runs"
    try:
        return store.is_dir() and (any(store.rglob("*.parquet")) or (runs.is_dir() and any(runs.iterdir())))
    except OSError:
        return False


def prepare_output(out, kind: str, *, resume: bool = False, force: bool = False, overwrite: bool = False) -> Path:
    """Check ``--out`` for command ``kind`` and create it; return it as a :class:`~pathlib.Path`.

    Raises :class:`OutputError` (one line naming the problem and the fix) for an empty path, an
    existing non-folder, a location that cannot be created or written, a folder of another
    command, or finished output without its store (see the module docstring); ``force`` allows
    the last two; ``resume`` changes nothing: without the store there is nothing to resume.
    ``overwrite`` first deletes the earlier results of the same command in the folder (its
    ``store/`` and output files), so that the command starts again from nothing.
    """
    if out is None or not str(out).strip():
        raise OutputError("--out: an empty folder name was given; pass the path of an output folder")
    if overwrite and resume:
        raise OutputError("--overwrite and --resume contradict each other: --resume continues the earlier "
                          "runs, --overwrite deletes them; pass one of them")
    path = Path(out)
    shown = _shown(path)
    try:
        exists, is_dir = path.exists(), path.is_dir()
    except (OSError, ValueError) as exc:
        raise OutputError(f"--out {shown}: cannot use this path ({_shown(exc)})") from None
    if exists and not is_dir:
        raise OutputError(f"--out {shown} exists and is not a folder; choose a folder path")
    if is_dir and not force:
        try:  # a folder holding nothing but the marker (a command stopped by bad input) is free
            used = any(p.name != MARKER for p in path.iterdir())
        except OSError:
            used = True
        found = folder_kind(path) if used else None
        if found is not None and found != kind:
            raise OutputError(f"--out {shown} holds the output of 'clustersim {found}'; choose a new folder "
                              f"for 'clustersim {kind}' (or pass --force to write into it anyway)")
        finished = [name for name in FINISHED[kind] if (path / name).exists()]
        if found == kind and finished and not _has_runs(path / "store"):
            # the engine refuses a store of finished runs without --resume; without the store, the
            # finished output would be silently computed again and overwritten
            raise OutputError(f"--out {shown} holds finished 'clustersim {kind}' output ({finished[0]}) but no "
                              f"store/ of finished runs to reuse; choose a new folder, or pass --force to compute "
                              f"it again and overwrite it")
    if overwrite and is_dir:
        _clear_results(path, kind, shown, force)
    _NEW.clear()
    missing, p = [], path
    while not os.path.lexists(p) and p != p.parent:
        missing.append(p)  # deepest first
        p = p.parent
    error = None
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        error = exc
    _NEW.extend(d for d in missing if d.is_dir())
    if error is not None:
        discard_new_output()
        raise OutputError(f"--out {shown}: cannot create the folder ({_shown(error.strerror or error)}); "
                          f"choose a writable location")
    if not os.access(path, os.W_OK | os.X_OK):
        discard_new_output()
        raise OutputError(f"--out {shown}: the folder is not writable; choose a writable location")
    marker = path / MARKER
    if force or folder_kind(path) != kind:
        try:
            atomic_write_json(marker, {"format": MARKER_FORMAT, "command": kind})
        except OSError as exc:
            discard_new_output()
            raise OutputError(f"--out {shown}: cannot write into the folder ({_shown(exc.strerror or exc)}); "
                              f"choose a writable location") from None
        _NEW.append(marker)
    return path


#: What the last :func:`prepare_output` created: new folders (deepest first), then a new marker.
_NEW: list[Path] = []


def discard_new_output() -> None:
    """Undo :func:`prepare_output` after bad input: remove the marker it wrote and the folders it
    created, as long as they hold nothing else (``clustersim`` calls it when a command stops with
    an error, so that bad input leaves no trace; work already done stays, marker included)."""
    for p in [x for x in _NEW if x.name == MARKER] + [x for x in _NEW if x.name != MARKER]:
        try:
            if p.name == MARKER:
                if not any(q.name != MARKER for q in p.parent.iterdir()):
                    p.unlink()
            else:
                p.rmdir()  # only if empty
        except OSError:
            pass
    _NEW.clear()


def keep_new_output() -> None:
    """Forget what :func:`prepare_output` created (the command ended; nothing is removed)."""
    _NEW.clear()


def check_output_file(out, default: Path) -> Path:
    """The file ``--out`` names (``default`` if not given): not empty, not a folder, in a folder that
    exists or can be created; :class:`OutputError` otherwise."""
    if out is None:
        path = default
    elif not str(out).strip():
        raise OutputError("--out: an empty file name was given; pass the path of the HTML file, e.g. report.html")
    else:
        path = Path(out)
    shown = _shown(path)
    try:
        if path.is_dir() or str(out or "").endswith(("/", os.sep)):
            raise OutputError(f"--out {shown} is a folder; pass a file path, e.g. {_shown(path / 'report.html')}")
        if path.exists() and not path.is_file():
            raise OutputError(f"--out {shown} exists and is not a regular file; choose another file path")
        parent = path.parent
        if parent.exists() and not parent.is_dir():
            raise OutputError(f"--out {shown}: {_shown(parent)} is not a folder; choose another file path")
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"--out {shown}: cannot create its folder ({_shown(exc.strerror or exc)}); "
                          f"choose a writable location") from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"--out {shown}: the folder {_shown(parent)} is not writable; choose a writable location")
    return path
