"""Interruptions lose nothing (issue #8, part 3).

Every long command is started as a real subprocess, killed (SIGKILL to its process group,
as ``kill -9`` or a lost machine would) and restarted with ``--resume``; the resumed run must
end with exactly the results of an uninterrupted run.  Right after each kill, every final
output file must be either absent or complete (equal to the uninterrupted run's file):
a kill never leaves a truncated ``indicators.parquet`` or ``manifest.json``.

Kinds of trial:

* **random kills** at a uniformly random moment of the command's run time;
* **write-phase kills** at a random moment after the command starts writing its final
  outputs (``killer.py after:<s>``), where a non-atomic writer would be caught;
* **deterministic kills** in the middle of writing one output file in place
  (``killer.py write``) and just before the rename that publishes it (``killer.py rename``);
* **Ctrl-C** (SIGINT, sent right after the first replicate is written: ``killer.py sigint:<glob>``): exit code 130, a one-line hint to ``--resume``, no traceback.

A command missing from ``clustersim --help`` fails its tests.  ``CLUSTERSIM_ROBUSTNESS=<factor>`` multiplies the number of trials.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pandas.testing as pdt
import pytest
from robustness_helpers import (
    CLI,
    FACTOR,
    ROOT,
    SMALL,
    cli_commands,
    cli_env,
    examples,
    require_command,
)

KILLER = Path(__file__).with_name("killer.py")
RNG_SEED = int(os.environ.get("CLUSTERSIM_ROBUSTNESS_SEED", "20240611"))
EXTENDED = FACTOR > 1
extended_only = pytest.mark.skipif(not EXTENDED, reason="extended campaign only (CLUSTERSIM_ROBUSTNESS>1)")

#: manifest keys that legitimately differ between two runs of the same command
VOLATILE = {"created", "command", "wall_time", "wall_time_s", "wall_time_s_mean", "started", "finished",
            "sessions", "machine", "git_commit", "versions", "counts", "status", "resume", "elapsed_s"}


@dataclass
class Command:
    name: str
    args: list[str]                       # without --out / --resume
    outputs: list[str]                    # final files, compared with the uninterrupted run


COMMANDS: dict[str, Command] = {
    "run": Command("run", ["run", "--years", "2", "--scale", "0.1", "--clusters", ",".join(SMALL),
                           "--replicates", "4", "--seed", "11", "--quiet", "--no-figure"],
                   ["indicators.parquet", "manifest.json"]),
    "project": Command("project", ["project", "baseline", "hub_institution", "--quick", "--replicates", "2",
                                   "--clusters", "wonju_medical_devices,jeonbuk_food,gyeonggi_north_chemicals,"
                                                 "osong_ochang_medical_devices",
                                   "--no-figures", "--quiet", "--jobs", "1"],
                       ["indicators.parquet", "manifest.json", "effects.csv", "transitions.csv",
                        "cluster_outcomes.csv"]),
    "sensitivity": Command("sensitivity", ["sensitivity", "--method", "morris", "--outcomes", "centripetal,firms",
                                           "--n", "2", "--factors", "startup_rate,exit_rate",
                                           "--clusters", "wonju_medical_devices,jeonju_machinery", "--years", "1",
                                           "--scale", "0.05", "--replicates", "2", "--backend", "sequential",
                                           "--seed", "3", "--quiet"],
                           ["morris_indices.csv", "morris_noise.csv"],
),
    # a calibration shrunk to seconds (tests/robustness/calibrate_tiny.json); if these arguments
    # stop fitting the command, the tests fail with a message saying so
    "calibrate": Command("calibrate", ["calibrate", "--settings", str(Path(__file__).with_name("calibrate_tiny.json")),
                                       "--clusters", "wonju_medical_devices,jeonju_machinery,daegu_gumi_chemicals,"
                                                     "jeonbuk_food,gyeonggi_north_chemicals,daegu_electronics",
                                       "--no-figures", "--quiet", "--jobs", "1", "--backend", "sequential"],
                         ["params.json", "fit.csv", "typology.csv", "initial_fit.csv", "evaluations.csv"]),
}


# ----------------------------------------------------------------------------- helpers
def _spawn(argv: list[str], **kw) -> subprocess.Popen:
    return subprocess.Popen(argv, cwd=ROOT, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True, **kw)


def _kill_group(proc: subprocess.Popen, sig=signal.SIGKILL) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def _finish(proc: subprocess.Popen, timeout: float = 300) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        out, err = proc.communicate()
        raise AssertionError(f"command did not finish in {timeout}s:\n{err[-2000:]}") from None
    finally:
        _kill_group(proc)  # loky workers left behind by a killed parent
    return proc.returncode, out, err


def _run(cmd: Command, out: Path, resume: bool = False, timeout: float = 300) -> tuple[int, str, float]:
    t0 = time.perf_counter()
    p = _spawn(CLI + cmd.args + ["--out", str(out)] + (["--resume"] if resume else []))
    rc, _, err = _finish(p, timeout)
    return rc, err, time.perf_counter() - t0


def _strip(obj, out: Path):
    if isinstance(obj, dict):
        return {k: _strip(v, out) for k, v in obj.items() if k not in VOLATILE}
    if isinstance(obj, list):
        return [_strip(v, out) for v in obj]
    if isinstance(obj, str):
        return obj.replace(str(out), "<OUT>")
    return obj


def same_output(name: str, got: Path, ref: Path, got_root: Path, ref_root: Path) -> None:
    """Assert ``got`` is complete and equal to the uninterrupted run's ``ref``."""
    if name.endswith(".parquet"):
        pdt.assert_frame_equal(pd.read_parquet(got), pd.read_parquet(ref))
    elif name.endswith(".json"):
        a = json.loads(got.read_text())  # a truncated file does not parse
        b = json.loads(ref.read_text())
        assert _strip(a, got_root) == _strip(b, ref_root), f"{name} differs from the uninterrupted run"
    else:
        assert got.read_bytes() == ref.read_bytes(), f"{name} differs from the uninterrupted run (truncated?)"


def check_after_kill(cmd: Command, out: Path, ref: Path, only: set[str] | None = None) -> dict[str, str]:
    """Each final output is absent or complete; returns {file: 'absent'|'complete'}."""
    state = {}
    for name in cmd.outputs:
        if only is not None and name not in only:
            continue
        p = out / name
        if p.exists():
            same_output(name, p, ref / name, out, ref)
            state[name] = "complete"
        else:
            state[name] = "absent"
    return state


def check_resumed(cmd: Command, out: Path, ref: Path) -> None:
    rc, err, _ = _run(cmd, out, resume=True)
    assert rc == 0, f"resume failed (exit {rc}):\n{err[-3000:]}"
    assert "Traceback" not in err
    for name in cmd.outputs:
        assert (out / name).exists(), f"{name} missing after resume"
        same_output(name, out / name, ref / name, out, ref)
    leftovers = [str(p.relative_to(out)) for p in out.rglob("*") if p.name.endswith(".tmp")]
    assert not leftovers, f"temporary files left after a successful resume: {leftovers}"


_REFS: dict[str, tuple[Path, float]] = {}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """Uninterrupted run of a command (computed once): (folder, wall seconds)."""

    def get(name: str) -> tuple[Path, float]:
        require_command(name)
        if name not in _REFS:
            cmd = COMMANDS[name]
            out = tmp_path_factory.mktemp(f"ref-{name}") / "out"
            rc, err, secs = _run(cmd, out)
            if rc != 0:
                pytest.fail(f"'clustersim {name}' exists but the arguments of tests/robustness/"
                            f"test_robust_kill_resume.py COMMANDS[{name!r}] no longer work (exit {rc}); update them:\n"
                            f"{err[-2000:]}")
            missing = [f for f in cmd.outputs if not (out / f).exists()]
            assert not missing, f"uninterrupted 'clustersim {name}' did not write {missing}"
            _REFS[name] = (out, secs)
        return _REFS[name]

    return get


def _rng(*key) -> random.Random:
    return random.Random(f"{RNG_SEED}-{'-'.join(map(str, key))}")


# ----------------------------------------------------------------------------- random kills
RANDOM_TRIALS = {"run": 2, "project": 1, "sensitivity": 1, "calibrate": 1}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n == "calibrate" else n
                                  for n in COMMANDS])
def test_random_kill_then_resume(name, reference, tmp_path):
    ref, secs = reference(name)
    cmd = COMMANDS[name]
    rng = _rng("random", name)
    log = []
    for trial in range(examples(RANDOM_TRIALS[name])):
        out = tmp_path / f"t{trial}"
        delay = rng.uniform(0.05, 1.0) * secs
        p = _spawn(CLI + cmd.args + ["--out", str(out)])
        time.sleep(delay)
        _kill_group(p)
        rc, _, err = _finish(p)
        state = check_after_kill(cmd, out, ref)
        log.append((round(delay, 2), rc, state))
        check_resumed(cmd, out, ref)
    print(f"{name}: {len(log)} random kills (delay s, exit code, outputs after kill): {log}")


@pytest.mark.parametrize("name", ["run", pytest.param("project", marks=extended_only),
                                  pytest.param("calibrate", marks=extended_only)])
def test_kill_during_resume_then_resume_again(name, reference, tmp_path):
    """Two kills in a row (the second one while resuming), then a resume that finishes."""
    ref, secs = reference(name)
    cmd = COMMANDS[name]
    rng = _rng("double", name)
    out = tmp_path / "out"
    for resume in (False, True):
        p = _spawn(CLI + cmd.args + ["--out", str(out)] + (["--resume"] if resume else []))
        time.sleep(rng.uniform(0.3, 0.8) * secs)
        _kill_group(p)
        _finish(p)
        check_after_kill(cmd, out, ref)
    check_resumed(cmd, out, ref)


def test_parallel_run_killed_then_resumed(reference, tmp_path):
    """--jobs 2 (loky worker processes): the whole process group dies, the resume finishes."""
    ref, secs = reference("run")
    cmd = COMMANDS["run"]
    par = Command("run", cmd.args + ["--jobs", "2"], cmd.outputs)
    out = tmp_path / "out"
    p = _spawn(CLI + par.args + ["--out", str(out)])
    time.sleep(_rng("parallel").uniform(0.4, 0.9) * secs)
    _kill_group(p)
    _finish(p)
    check_after_kill(par, out, ref)
    check_resumed(cmd, out, ref)  # resumed serially: same results on one core or two


# ----------------------------------------------------------------------------- write-phase kills
@pytest.mark.parametrize("name", [pytest.param("run", marks=extended_only), "project"])
def test_kills_while_writing_outputs(name, reference, tmp_path):
    ref, _ = reference(name)
    cmd = COMMANDS[name]
    rng = _rng("write-phase", name)
    log = []
    for trial in range(examples(1)):
        out = tmp_path / f"t{trial}"
        delay = rng.uniform(0.0, 0.03 if name == "run" else 0.15)  # the run writes in ~30 ms
        p = _spawn([sys.executable, str(KILLER), f"after:{delay:.4f}", str(out / cmd.outputs[0]), "--"]
                   + cmd.args + ["--out", str(out)])
        rc, _, err = _finish(p)
        assert "Traceback" not in err, err
        state = check_after_kill(cmd, out, ref, only=set(cmd.outputs))
        log.append((round(delay, 3), rc, state))
        check_resumed(cmd, out, ref)
    print(f"{name}: write-phase kills {log}")


# ----------------------------------------------------------------------------- deterministic kills
TARGETS = [(n, f) for n in ("run", "project", "sensitivity", "calibrate") for f in COMMANDS[n].outputs]
#: checked in the normal run; the other (command, file) pairs in the extended campaign
FAST_TARGETS = {("run", "indicators.parquet"), ("run", "manifest.json"), ("project", "indicators.parquet"),
                ("project", "effects.csv"), ("sensitivity", "morris_indices.csv")}


def _target_param(name: str, fname: str):
    marks = [] if (name, fname) in FAST_TARGETS else [extended_only]
    return pytest.param(name, fname, marks=marks, id=f"{name}-{fname}")


@pytest.mark.parametrize("name, fname", [_target_param(n, f) for n, f in TARGETS])
def test_output_file_is_never_truncated(name, fname, reference, tmp_path):
    """Kill in the middle of writing ``fname`` in place or, for an atomic writer, just before
    the rename that publishes it -- whichever comes first (``killer.py first``)."""
    ref, _ = reference(name)
    cmd = COMMANDS[name]
    out = tmp_path / "out"
    p = _spawn([sys.executable, str(KILLER), "first", str(out / fname), "--"] + cmd.args + ["--out", str(out)])
    rc, _, err = _finish(p)
    assert rc == -signal.SIGKILL, (f"{fname} was neither written through a patched writer nor renamed into "
                                   f"place (exit {rc}); extend tests/robustness/killer.py\n{err[-2000:]}")
    how = "write" if "killer: write" in err else "rename"
    state = check_after_kill(cmd, out, ref)  # a truncated file fails here
    assert how == "rename", f"{fname} is written in place, not atomically (write then rename)"
    assert state[fname] == "absent"
    check_resumed(cmd, out, ref)


# ----------------------------------------------------------------------------- Ctrl-C
def test_ctrl_c_exits_130_with_resume_hint(reference, tmp_path):
    ref, _ = reference("run")
    cmd = COMMANDS["run"]
    longer = Command("run", [a if a != "4" else "6" for a in cmd.args], cmd.outputs)  # 6 replicates
    out = tmp_path / "out"
    # Ctrl-C right after the first replicate's file is published: five replicates are still to run
    p = _spawn([sys.executable, str(KILLER), "sigint:exp-*.parquet", str(out), "--"] + longer.args + ["--out", str(out)])
    rc, _, err = _finish(p)
    assert "killer: sigint" in err, f"no replicate file was published by os.replace; extend tests/robustness/killer.py\n{err[-2000:]}"
    assert "Traceback" not in err, err
    assert rc == 130, (rc, err)
    # the replicate published just before the interrupt is counted (the signal lands before its bookkeeping)
    assert "Interrupted: 1 of 6 runs are saved" in err, err
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert lines[-1].startswith("clustersim: interrupted.") and "--resume" in lines[-1], err
    rc, err, _ = _run(longer, out, resume=True)
    assert rc == 0, err
    df = pd.read_parquet(out / "indicators.parquet")
    assert sorted(df.replicate.unique()) == list(range(6))
    # the first four replicates are those of the 4-replicate reference (seeds are spawned in order)
    pdt.assert_frame_equal(df[df.replicate < 4].reset_index(drop=True),
                           pd.read_parquet(ref / "indicators.parquet"))


def test_commands_listed():
    """Which long commands exist now (printed for docs/robustness.md)."""
    have = sorted(set(COMMANDS) & cli_commands())
    print("long commands present:", have, "missing:", sorted(set(COMMANDS) - cli_commands()))
    assert "run" in have
