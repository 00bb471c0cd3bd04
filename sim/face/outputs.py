"""Output folders of the ``clustersim`` commands: who wrote them, and who may write into them.

Every command that writes a folder (``run``, ``project``, ``calibrate``, ``predict``, ``validate``,
``recover``, ``sensitivity``) calls :func:`prepare_output` before any work starts.  It

* refuses an ``--out`` that is empty, an existing file, or a location that cannot be created or
  written (one line, exit code 2, instead of a traceback after minutes of work);
* records in the folder which command writes it (:data:`MARKER`, a small JSON file); folders
  written before the marker existed are recognised by their files (:func:`folder_kind`);
* refuses a folder written by another command (their files would mix), and a folder that holds
  the finished output of the same command but not the ``store/`` of its finished runs (the
  output would be computed again and overwritten; with the store, the engine itself refuses
  to go on without ``--resume``) -- unless ``--force`` is given.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from sim.core.io import KB, InputFileError, atomic_write_json, read_small_json

__all__ = ["MARKER", "FINISHED", "OutputError", "add_force_option", "folder_kind", "prepare_output",
           "check_output_file"]

#: The file naming the command that writes a folder.
MARKER = ".clustersim-output.json"
MARKER_FORMAT = "clustersim.output/1"

#: The files each command writes at the end (their presence means finished output); every
#: command keeps its finished runs in ``store/`` beside them.
FINISHED: dict[str, tuple[str, ...]] = {
    "run": ("indicators.parquet",), "project": ("indicators.parquet",), "calibrate": ("params.json",),
    "predict": ("predicted.csv",), "validate": ("cv_metrics.csv",), "recover": ("recovery.csv",),
    "sensitivity": ("morris_indices.csv", "sobol_indices.csv"),
}


class OutputError(ValueError):
    """An ``--out`` folder that cannot or may not be written (one line, exit code 2)."""


def add_force_option(p: argparse.ArgumentParser) -> None:
    """The ``--force`` option of the commands that write a folder."""
    p.add_argument("--force", action="store_true",
                   help="write into OUT even if it holds the output of another command, or finished output "
                        "that cannot be resumed (files of the same name are overwritten)")


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


def prepare_output(out, kind: str, *, resume: bool = False, force: bool = False) -> Path:
    """Check ``--out`` for command ``kind`` and create it; return it as a :class:`~pathlib.Path`.

    Raises :class:`OutputError` (one line naming the problem and the fix) for an empty path, an
    existing non-folder, a location that cannot be created or written, a folder of another
    command, or finished output without its store (see the module docstring); ``force`` allows
    the last two; ``resume`` changes nothing: without the store there is nothing to resume.
    """
    if out is None or not str(out).strip():
        raise OutputError("--out: an empty folder name was given; pass the path of an output folder")
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
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"--out {shown}: cannot create the folder ({_shown(exc.strerror or exc)}); "
                          f"choose a writable location") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise OutputError(f"--out {shown}: the folder is not writable; choose a writable location")
    marker = path / MARKER
    if force or folder_kind(path) != kind:
        try:
            atomic_write_json(marker, {"format": MARKER_FORMAT, "command": kind})
        except OSError as exc:
            raise OutputError(f"--out {shown}: cannot write into the folder ({_shown(exc.strerror or exc)}); "
                              f"choose a writable location") from None
    return path



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
