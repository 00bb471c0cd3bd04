"""Shared plumbing of the browser end-to-end tests: where Chromium is, and how it is started.

The tests skip only when no Chromium executable can be found (``apt-get install -y chromium``,
or set ``CLUSTERSIM_CHROMIUM``); a missing Playwright package is a failure.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

#: Flags for headless Chromium in a container.
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage"]


def chromium() -> str | None:
    """Path of a Chromium (or Chrome) executable, or None."""
    cands = [os.environ.get("CLUSTERSIM_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser",
             shutil.which("chromium"), shutil.which("chromium-browser"), shutil.which("google-chrome")]
    for c in cands:
        if c and Path(c).is_file() and os.access(c, os.X_OK):
            return c
    return None


@pytest.fixture(scope="module")
def browser_path():
    path = chromium()
    if path is None:
        pytest.skip("no Chromium executable found: install Debian's chromium (apt-get install -y chromium) "
                    "or set CLUSTERSIM_CHROMIUM to a Chromium/Chrome binary")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.fail('the browser test needs the Playwright Python package: pip install ".[test]"')
    return path
