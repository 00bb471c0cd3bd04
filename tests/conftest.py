"""Test-suite set-up: the default run is fast, CI runs everything.

Tests marked ``slow`` (long-running: quick-mode calibrations, soak runs, the extended
robustness campaign) are left out of a plain ``python -m pytest`` on a developer's machine,
as if ``-m "not slow"`` were given; when the environment variable ``CI`` is set (any value
but empty, ``0`` or ``false``), as in ``.ci/run``, the whole suite runs. An explicit ``-m``
expression always wins: ``python -m pytest -m slow`` runs the slow set alone.
"""

from __future__ import annotations

import os


def in_ci() -> bool:
    """True when the environment variable ``CI`` is set to something true."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def pytest_configure(config):
    if not config.option.markexpr and not in_ci():
        config.option.markexpr = "not slow"


def pytest_report_header(config):
    if in_ci():
        return "clustersim: CI is set: running the whole suite, slow tests included"
    if config.option.markexpr == "not slow":
        return "clustersim: skipping slow tests (-m 'not slow'); set CI=true or pass -m slow to run them"
    return None
