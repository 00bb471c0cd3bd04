"""Provenance of every output: commit, dirty flag, package versions, machine, time.

One helper for the whole project, so that every manifest records the same facts the same
way. The commit comes from git when the package runs from a checkout (with ``-dirty`` when
tracked files are modified), otherwise from the stamp written into the built package by
``setup.py`` (``sim/_build.json``), otherwise it is ``None``.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import subprocess
from functools import lru_cache
from importlib import metadata
from pathlib import Path

__all__ = ["git_commit", "package_versions", "machine", "now", "provenance", "PACKAGES"]

#: Distributions whose versions every output records (``None`` when not installed).
PACKAGES: tuple[str, ...] = ("clustersim", "mesa", "numpy", "scipy", "pandas", "pyarrow", "networkx",
                             "joblib", "SALib", "matplotlib", "dask", "distributed", "ray")

_PACKAGE_DIR = Path(__file__).resolve().parents[1]  # the ``sim`` package folder


@lru_cache(maxsize=1)
def git_commit() -> str | None:
    """Commit of the source tree the package runs from, ``-dirty`` if modified; None if unknown."""
    try:
        r = subprocess.run(["git", "rev-parse", "HEAD"], cwd=_PACKAGE_DIR, capture_output=True, text=True,
                           timeout=5)
        if r.returncode == 0 and r.stdout.strip():
            dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=_PACKAGE_DIR,
                                   capture_output=True, text=True, timeout=5).stdout.strip()
            return r.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        return json.loads((_PACKAGE_DIR / "_build.json").read_text(encoding="utf-8")).get("git_commit")
    except (OSError, ValueError, AttributeError):
        return None


def package_versions(names=PACKAGES) -> dict[str, str | None]:
    """Python's version and the installed version of each distribution in ``names``."""
    return {"python": platform.python_version(), **{name: _version(name) for name in names}}


@lru_cache(maxsize=None)
def _version(name: str) -> str | None:
    """The installed version of a distribution (None if absent); read once per process."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def machine() -> dict:
    """Platform string and CPU count."""
    return {"platform": platform.platform(), "cpus": os.cpu_count()}


def now() -> str:
    """The current time, ISO 8601 in UTC, to the second."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def provenance() -> dict:
    """The record every output carries: ``created``, ``versions``, ``git_commit``, ``machine``."""
    return {"created": now(), "versions": package_versions(), "git_commit": git_commit(),
            "machine": machine()}
