"""Shared helpers of the robustness tests (issue #8), imported by the test modules.

The section runs in the normal ``pytest`` run and is kept fast (well under two
minutes on two cores).  ``CLUSTERSIM_ROBUSTNESS=<factor>`` multiplies the
number of fuzzed inputs, random parameter sets and kill-and-resume trials, e.g.
``CLUSTERSIM_ROBUSTNESS=10 python -m pytest tests/robustness`` for the longer
campaign whose numbers are in ``docs/robustness.md``.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import re
import subprocess
import sys
from pathlib import Path

from sim.face.cli import main as cli_main

ROOT = Path(__file__).resolve().parents[2]

#: Three small clusters (a few hundred firms at scale 1) used by the fast tests.
SMALL = ["wonju_medical_devices", "jeonju_machinery", "daegu_gumi_chemicals"]

#: Multiplier of the number of random examples / trials (default 1 = fast run).
FACTOR = float(os.environ.get("CLUSTERSIM_ROBUSTNESS", "1") or 1)


def examples(n: int) -> int:
    """``n`` scaled by ``CLUSTERSIM_ROBUSTNESS`` (at least 1)."""
    return max(1, int(round(n * FACTOR)))


#: The command line, as a subprocess (the same code as the ``clustersim`` script).
CLI = [sys.executable, "-m", "sim.face.cli"]


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("PYTHONHASHSEED", "0")
    env.pop("PYTEST_CURRENT_TEST", None)
    return env


def run_cli_subprocess(args: list[str], timeout: float = 120, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + list(args), capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT, env=cli_env(), **kw)


@functools.lru_cache(maxsize=1)
def cli_commands() -> frozenset[str]:
    """Sub-commands listed by ``clustersim --help`` (run once per session)."""
    r = run_cli_subprocess(["--help"], timeout=60)
    text = r.stdout
    m = re.search(r"\{([\w,-]+)\}", text)  # argparse's "{run,params,...}" when no metavar is set
    names = set(m.group(1).split(",")) if m else set()
    for line in text.splitlines():  # "    run        run the model ..."
        mm = re.match(r"^    ([a-z][\w-]*)(\s|$)", line)
        if mm:
            names.add(mm.group(1))
    return frozenset(names)


def require_command(name: str) -> None:
    """Fail the calling test when ``clustersim <name>`` is missing from ``clustersim --help``."""
    assert name in cli_commands(), (f"'clustersim {name}' is not in 'clustersim --help' "
                                     f"(commands now: {', '.join(sorted(cli_commands()))})")


def one_line_error(err: str) -> str:
    """The single ``clustersim: error:`` line of ``err`` (asserts there is exactly one line)."""
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert "Traceback" not in err, err
    assert len(lines) == 1, f"expected one error line, got {len(lines)}:\n{err}"
    assert lines[0].startswith("clustersim: error: "), lines[0]
    return lines[0]


def main_in_process(argv: list[str]) -> tuple[int, str]:
    """``clustersim argv`` run in this process: (exit code, stderr). argparse errors end in SystemExit
    (its code is returned); any other exception propagates, so a traceback fails the test."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            rc = cli_main(argv)
        except SystemExit as exc:
            rc = exc.code
    return rc, err.getvalue()
