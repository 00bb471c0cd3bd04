"""Bounds and silent errors (issue 15, items 4, 6 and 8): options that size the work have upper
bounds, a large design states its runs and time and waits for ``--yes``, workers never outnumber
the runs, a missing or unreachable backend is one line, and inputs that used to give silently
wrong output (duplicate outcomes or factors, a Sobol ``--n`` that is not a power of 2, ``--set``
on a varied factor, ``--scale`` with ``--set scale=``, years that are not whole quarters, a
``record_every`` that skips the end of the horizon) are refused with exit code 2.

Commands that used to run away (memory growing, SALib spinning) are run as subprocesses with a
timeout, so that a regression fails instead of hanging the test run.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import time

import pandas as pd
import pytest
from robustness_helpers import main_in_process as _main
from robustness_helpers import one_line_error, run_cli_subprocess

from scenarios.scenario import ScenarioError, loads
from sim.engine import backends
from sim.engine.experiments import run_experiments
from sim.engine.runner import run
from sim.face import options
from sim.model.params import ParameterError

TINY = ["--scale", "0.01", "--years", "0.25", "--clusters", "jeonju_machinery"]
SENS = ["sensitivity", "--method", "morris", "--outcomes", "centripetal", "--factors", "startup_rate,exit_rate",
        "--clusters", "jeonju_machinery", "--scale", "0.01", "--years", "0.25", "--replicates", "1", "--n", "2",
        "--backend", "sequential", "--quiet"]




def _sens(tmp_path, *extra: str) -> list[str]:
    """``SENS`` with options replaced or added (``extra`` = option, value, ...)."""
    args = list(SENS)
    for opt, val in zip(extra[::2], extra[1::2]):
        if opt in args:
            args[args.index(opt) + 1] = val
        else:
            args += [opt, val]
    return args + ["--out", str(tmp_path / "o")]


def _last(err: str) -> str:
    assert "Traceback" not in err, err
    return err.strip().splitlines()[-1]


# ----------------------------------------------------------------------------- upper bounds
@pytest.mark.parametrize("args, needle", [
    (["run", *TINY, "--replicates", "1000000000"], "--replicates"),  # grew memory ~30 MB/s, no output
    (SENS + ["--n", "1000000000"], "--n"),  # SALib's sampler spun silently
])
def test_sizes_have_upper_bounds(tmp_path, args, needle):
    r = run_cli_subprocess(args + ["--out", str(tmp_path / "o")], timeout=90)
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    last = _last(r.stderr)
    assert needle in last and "at most" in last, last


def test_jobs_has_an_upper_bound(tmp_path):
    # --jobs 1000000 reached joblib (ValueError traceback)
    rc, err = _main(["run", *TINY, "--replicates", "2", "--jobs", "1000000", "--out", str(tmp_path / "o")])
    assert rc == 2
    assert "--jobs" in _last(err) and "at most" in _last(err)


def test_workers_capped_at_number_of_runs(monkeypatch):
    # --jobs 16 with 2 replicates started 19 processes (1.07 GB): the engine caps the workers
    seen = []
    real = backends.LokyBackend.enter

    def spy(self, stack, n_jobs, scheduler):
        seen.append(n_jobs)
        return real(self, stack, n_jobs, scheduler)

    monkeypatch.setattr(backends.LokyBackend, "enter", spy)
    res = run_experiments(_toy, pd.DataFrame({"x": [1.0]}), replicates=2, backend="loky", n_jobs=16,
                          progress=False)
    assert len(res.outcomes) == 2
    assert seen == [2]


def _toy(params: dict, seed: int) -> pd.DataFrame:
    return pd.DataFrame({"y": [params["x"] + seed % 7]})


@pytest.mark.parametrize("args", [
    ["run", *TINY, "--replicates", "9000"],
    SENS + ["--n", "100000"],
    ["project", "baseline", "--quick", "--clusters", "jeonju_machinery", "--replicates", "9000", "--no-figures",
     "--quiet"],
], ids=["run", "sensitivity", "project"])
def test_large_design_states_its_size_and_needs_yes(tmp_path, args):
    r = run_cli_subprocess(args + ["--out", str(tmp_path / "o")], timeout=90)
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    line = one_line_error(r.stderr)
    assert "runs, roughly" in line and "--yes" in line, line
    assert not (tmp_path / "o").exists()


def test_large_calibration_needs_yes(tmp_path):
    settings = tmp_path / "big.json"
    settings.write_text(json.dumps({"n_initial": 10000}))
    r = run_cli_subprocess(["calibrate", "--quick", "--settings", str(settings), "--out", str(tmp_path / "o")],
                           timeout=90)
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    line = one_line_error(r.stderr)
    assert "calibrate:" in line and "runs, roughly" in line and "--yes" in line, line


def test_confirm_size_with_yes_prints_the_estimate(capsys):
    fs = options.firm_steps(10, 0.05, None)
    options.confirm_size("run", 10, fs, 2, yes=False, reduce="-")  # small: silent
    assert capsys.readouterr().err == ""
    options.confirm_size("run", 9000, fs, 2, yes=True, reduce="-")
    err = capsys.readouterr().err
    assert "9,000 runs, roughly" in err and "2 workers" in err and "--yes" in err
    with pytest.raises(options.UserError, match="pass --yes"):
        options.confirm_size("run", 9000, fs, 2, yes=False, reduce="-")


# ----------------------------------------------------------------------------- tracebacks
def test_duplicate_outcomes_refused_up_front(tmp_path):
    # reshape error (traceback) after every run had finished
    rc, err = _main(_sens(tmp_path, "--outcomes", "centripetal,centripetal"))
    assert rc == 2
    assert "--outcomes" in _last(err) and "more than once" in _last(err)
    assert not (tmp_path / "o").exists()


@pytest.mark.skipif(importlib.util.find_spec("ray") is not None, reason="ray is installed")
def test_missing_ray_is_one_line(tmp_path):
    rc, err = _main(["run", *TINY, "--replicates", "2", "--jobs", "2", "--backend", "ray",
                     "--out", str(tmp_path / "o")])
    assert rc == 2
    assert 'pip install "clustersim[ray]"' in _last(err)
    assert len(err.strip().splitlines()) == 1, err


def test_unreachable_dask_scheduler_is_short_and_one_line(tmp_path):
    pytest.importorskip("distributed")
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.perf_counter()
    rc, err = _main(_sens(tmp_path, "--backend", "dask", "--scheduler", f"tcp://127.0.0.1:{port}"))
    assert rc == 2
    assert "scheduler" in _last(err) and len(err.strip().splitlines()) == 1, err
    assert time.perf_counter() - t0 < 20  # was 30 s, then an OSError traceback


def test_backend_with_one_job_says_it_is_not_used(tmp_path):
    rc, err = _main(["run", *TINY, "--jobs", "1", "--backend", "dask", "--no-figure",
                     "--out", str(tmp_path / "o")])
    assert rc == 0, err
    assert "--backend dask is not used" in err


# ----------------------------------------------------------------------------- silently wrong output
def test_record_every_longer_than_horizon_refused(tmp_path):
    # recorded only step 0 and wrote a header-only effects.csv, exit 0
    text = "[scenario]\nname = 'long'\nstart_year = 2020\nend_year = 2021\nrecord_every = 400\n"
    with pytest.raises(ScenarioError, match="record_every.*longer than the horizon of 4 quarters"):
        loads(text)
    with pytest.raises(ScenarioError, match="does not divide"):
        loads(text.replace("400", "3"))
    f = tmp_path / "long.toml"
    f.write_text(text)
    rc, err = _main(["project", str(f), "--quick", "--clusters", "jeonju_machinery", "--no-figures", "--quiet",
                     "--out", str(tmp_path / "o")])
    assert rc == 2 and "record_every" in _last(err)
    with pytest.raises(ParameterError, match="record_every"):
        run(years=0.25, clusters=["jeonju_machinery"], scale=0.01, record_every=2, progress=False)


def test_duplicate_factors_refused(tmp_path):
    # one row with sigma = 0, exit 0
    rc, err = _main(_sens(tmp_path, "--factors", "startup_rate,startup_rate"))
    assert rc == 2 and "--factors" in _last(err) and "more than once" in _last(err)


def test_sobol_n_not_a_power_of_two_refused(tmp_path):
    # ST = 1.33, exit 0
    rc, err = _main(_sens(tmp_path, "--method", "sobol", "--n", "3"))
    assert rc == 2
    assert "power of 2" in _last(err) and "--n 2 or --n 4" in _last(err)


def test_set_on_a_varied_factor_refused(tmp_path):
    # the --set value was silently dropped
    rc, err = _main(_sens(tmp_path, "--set", "startup_rate=0.1"))
    assert rc == 2 and "--set startup_rate" in _last(err)


@pytest.mark.parametrize("args", [["run", *TINY], SENS], ids=["run", "sensitivity"])
def test_scale_and_set_scale_refused(tmp_path, args):
    # --scale 0.05 --set scale=0.5 silently used 0.05
    args = [a for a in args]
    args[args.index("--scale") + 1] = "0.05"
    rc, err = _main(args + ["--set", "scale=0.5", "--out", str(tmp_path / "o")])
    assert rc == 2 and "give one" in _last(err)


@pytest.mark.parametrize("cmd", ["run", "sensitivity"])
def test_years_must_be_whole_quarters(tmp_path, cmd):
    # --years 1.1 was recorded as 1.1 but 1.0 was simulated
    args = ["run", *TINY] if cmd == "run" else list(SENS)
    args[args.index("--years") + 1] = "1.1"
    rc, err = _main(args + ["--out", str(tmp_path / "o")])
    assert rc == 2
    assert "--years" in _last(err) and "1 or 1.25" in _last(err)
    with pytest.raises(ParameterError, match="whole number of quarters"):
        run(years=1.1, clusters=["jeonju_machinery"], scale=0.01, progress=False)
