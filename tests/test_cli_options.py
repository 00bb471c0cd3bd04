"""One vocabulary of options across the ``clustersim`` commands (issue 16, items 3, 4 and 7).

The shared options (``--out --params --years --seed --scale --jobs --backend --scheduler``) are
declared once, in :func:`sim.face.options.add_options`; every command that runs simulations has
``--scheduler``, which reaches the engine's dask backend; a backend or scheduler that cannot be
used is one line and exit code 2, for every command; and a ``run`` on a real local
``dask.distributed`` cluster, given by its address, gives the same indicators as a sequential run.
"""

from __future__ import annotations

import argparse
import logging
import re
import socket
import subprocess
import sys

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from sim.engine import backends
from sim.engine.backends import BackendError
from sim.face import options
from sim.face.cli import COMMAND_MODULES, build_parser, command_module, main
from sim.face.options import SHARED

CL = "jeonju_machinery"

#: A tiny, fast instance of every command that runs simulations (without --out and the backend).
COMMANDS: dict[str, list[str]] = {
    "run": ["run", "--years", "0.25", "--scale", "0.01", "--clusters", CL, "--replicates", "2", "--no-figure",
            "--quiet"],
    "project": ["project", "baseline", "--quick", "--clusters", CL, "--replicates", "1", "--no-figures", "--quiet"],
    "sensitivity": ["sensitivity", "--method", "morris", "--outcomes", "centripetal", "--n", "2",
                    "--factors", "startup_rate", "--years", "0.25", "--scale", "0.01", "--clusters", CL,
                    "--replicates", "1", "--quiet"],
    "calibrate": ["calibrate", "--quick", "--quiet"],
    "predict": ["predict", "--clusters", CL, "--replicates", "2", "--quiet"],
    "validate": ["validate", "--quick", "--folds", "2", "--quiet"],
    "recover": ["recover", "--quick", "--quiet"],
}

#: The shared options each command has (report's --out is an HTML file, not an output folder).
EXPECTED: dict[str, set[str]] = {
    "run": set(SHARED),
    "sensitivity": set(SHARED),
    "project": set(SHARED) - {"years"},                  # the years are the scenario files'
    "calibrate": {"out", "seed", "jobs", "backend", "scheduler"},
    "validate": {"out", "seed", "jobs", "backend", "scheduler"},
    "recover": {"out", "seed", "jobs", "backend", "scheduler"},
    "predict": {"out", "params", "seed", "jobs", "backend", "scheduler"},
    "exam": {"out", "params", "seed", "jobs", "backend", "scheduler"},
    "demo": {"seed"},
}


def _commands() -> dict[str, argparse.ArgumentParser]:
    ap = build_parser()
    sub = next(a for a in ap._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def _closed_port() -> int:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _one_line(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert "Traceback" not in err, err
    assert len(lines) == 1, err
    assert lines[0].startswith("clustersim: error: "), lines[0]
    return lines[0]


# ----------------------------------------------------------------------------- one declaration
def test_shared_options_are_declared_once():
    """Each shared option has the same flag, converter, choices, metavar and meaning in every
    command that has it, and the commands that run simulations all have --jobs, --backend and
    --scheduler."""
    found = {}
    for name, parser in _commands().items():
        have = set()
        for action in parser._actions:
            for flag in action.option_strings:
                opt = flag.removeprefix("--")
                if opt not in SHARED or name == "report":
                    continue
                have.add(opt)
                spec = options._SPEC[opt]
                assert action.type is spec.get("type"), (name, flag)
                assert action.choices == spec.get("choices"), (name, flag)
                assert action.metavar == spec.get("metavar"), (name, flag)
                pattern = ".*".join(re.escape(part) for part in spec["help"].split("{default}"))
                assert re.fullmatch(pattern, action.help, flags=re.DOTALL), (name, flag, action.help)
        found[name] = have
    assert {k: v for k, v in found.items() if v} == EXPECTED


def test_workers_is_a_hidden_deprecated_alias_of_jobs(capsys):
    ap = build_parser()
    base = COMMANDS["sensitivity"] + ["--out", "o"]
    assert ap.parse_args(base + ["--workers", "3"]).jobs == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["clustersim: note: --workers is deprecated; use --jobs (the same option)"]
    assert ap.parse_args(base + ["--jobs", "3"]).jobs == 3 and capsys.readouterr().err == ""
    assert ap.parse_args(base).jobs is None  # all cores, as before
    with pytest.raises(SystemExit):
        ap.parse_args(base + ["--workers", "0"])
    assert "--workers" in capsys.readouterr().err
    for name, parser in _commands().items():
        assert "--workers" not in parser.format_help(), name


def test_sensitivity_params_default_is_runs():
    ap = build_parser()
    sens = ap.parse_args(COMMANDS["sensitivity"] + ["--out", "o"])
    run = ap.parse_args(COMMANDS["run"] + ["--out", "o"])
    from scenarios.base import DEFAULT_BASE

    assert sens.params == run.params == DEFAULT_BASE


# ----------------------------------------------------------------------------- --scheduler reaches the engine
class _Stop(BackendError):
    pass


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_scheduler_reaches_the_dask_backend(command, tmp_path, monkeypatch):
    """--backend dask --scheduler ADDRESS --jobs 2 hands ADDRESS to the engine's dask backend
    (the first batch stops there, before anything is computed)."""
    seen = []

    def enter(self, stack, n_jobs, scheduler):
        seen.append(scheduler)
        raise _Stop("stopped by the test")

    monkeypatch.setattr(options, "_check_reachable", lambda address: None)
    monkeypatch.setattr(backends.DaskBackend, "enter", enter)
    rc = main(COMMANDS[command] + ["--backend", "dask", "--scheduler", "tcp://10.1.2.3:8786", "--jobs", "2",
                                   "--out", str(tmp_path / "o")])
    assert rc == 2
    assert seen == ["tcp://10.1.2.3:8786"]


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_unreachable_scheduler_is_one_line(command, tmp_path, capsys):
    address = f"tcp://127.0.0.1:{_closed_port()}"
    rc = main(COMMANDS[command] + ["--backend", "dask", "--scheduler", address, "--jobs", "2",
                                   "--out", str(tmp_path / "o")])
    assert rc == 2
    line = _one_line(capsys.readouterr().err)
    assert address in line and "dask scheduler" in line, line
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_missing_ray_is_one_line(command, tmp_path, capsys, monkeypatch):
    """--backend ray without Ray installed (simulated, so that the test holds where Ray is installed)."""
    def missing(self):
        raise ImportError("No module named 'ray'")

    monkeypatch.setattr(backends.RayBackend, "check", missing)
    rc = main(COMMANDS[command] + ["--backend", "ray", "--jobs", "2", "--out", str(tmp_path / "o")])
    assert rc == 2
    assert 'pip install "clustersim[ray]"' in _one_line(capsys.readouterr().err)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_scheduler_without_a_cluster_backend_is_one_line(command, tmp_path, capsys):
    rc = main(COMMANDS[command] + ["--scheduler", "tcp://10.1.2.3:8786", "--jobs", "2",
                                   "--out", str(tmp_path / "o")])
    assert rc == 2
    line = _one_line(capsys.readouterr().err)
    assert "--scheduler" in line and "--backend dask" in line, line


def test_one_job_does_not_use_backend_or_scheduler(tmp_path, capsys):
    """--jobs 1 runs in this process: a note says the backend and the scheduler are not used,
    and the scheduler (here: nobody) is not contacted."""
    args = [a for a in COMMANDS["run"] if a != "--quiet"]
    rc = main(args + ["--backend", "dask", "--scheduler", f"tcp://127.0.0.1:{_closed_port()}", "--jobs", "1",
                      "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "--backend dask and --scheduler are not used" in err


# ----------------------------------------------------------------------------- a real dask cluster
def test_run_on_a_local_dask_cluster_equals_sequential(tmp_path):
    """'clustersim run --backend dask --scheduler ADDRESS --jobs 2' on a real dask.distributed
    cluster gives the same indicators as --backend sequential (same seed). The test needs
    distributed (the [test] extra installs it) and fails without it.

    Two single-threaded workers: joblib runs a cluster of one thread in the calling process."""
    import distributed

    args = ["run", "--years", "1", "--scale", "0.01", "--clusters", f"{CL},wonju_medical_devices",
            "--replicates", "2", "--seed", "7", "--no-figure", "--quiet"]
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=logging.WARNING) as cluster:
        assert main(args + ["--backend", "dask", "--scheduler", cluster.scheduler_address, "--jobs", "2",
                            "--out", str(tmp_path / "dask")]) == 0
        ran = list(cluster.scheduler.task_prefixes)
    assert any("_run_one" in name for name in ran), ran  # the runs went through the cluster
    assert main(args + ["--backend", "sequential", "--out", str(tmp_path / "seq")]) == 0
    dask = pd.read_parquet(tmp_path / "dask" / "indicators.parquet")
    seq = pd.read_parquet(tmp_path / "seq" / "indicators.parquet")
    assert len(dask) and dask["replicate"].nunique() == 2
    assert_frame_equal(dask, seq)


# ----------------------------------------------------------------------------- listing order
@pytest.mark.parametrize("command", ["run", "project"])
def test_cluster_order_does_not_change_the_numbers(command, tmp_path):
    """Issue 15, item 10: '--clusters a,b,c' and 'c,b,a' give every cluster the same numbers (the
    engine runs the clusters in the order of their ids, sim.data.clusters.in_canonical_order)."""
    ids = ["wonju_medical_devices", "daejeon_machinery", "jeonju_machinery"]
    extra = ["--scale", "0.02", "--seed", "5", "--quiet"]
    extra += ["--years", "2", "--no-figure"] if command == "run" else ["--quick", "--no-figures", "baseline"]
    frames = []
    for order in (ids, ids[::-1]):
        out = tmp_path / "-".join(o[:3] for o in order)
        assert main([command, "--clusters", ",".join(order), "--out", str(out)] + extra) == 0
        df = pd.read_parquet(out / "indicators.parquet")
        key = [c for c in ("scenario", "cluster", "replicate", "step", "indicator") if c in df.columns]
        frames.append(df.sort_values(key).reset_index(drop=True))
    assert set(frames[0]["cluster"]) == set(ids)
    assert_frame_equal(frames[0], frames[1])


def test_command_modules_name_every_command_they_add():
    """``COMMAND_MODULES`` (which module to import for a command) is what each module registers."""
    for name in sorted(set(COMMAND_MODULES.values())):
        sub = argparse.ArgumentParser().add_subparsers()
        command_module(name).register(sub)
        assert set(sub.choices) == {c for c, m in COMMAND_MODULES.items() if m == name}, name
    full = build_parser()._subparsers._group_actions[0].choices
    assert set(full) == {"run", "params", "clusters"} | set(COMMAND_MODULES)


def test_run_imports_no_other_command_and_no_sampler():
    """``clustersim run`` starts without the other commands' modules, SALib or scipy.stats (about a second)."""
    code = ("import sys; from sim.face import cli; cli.build_parser('run'); "
            "bad = [m for m in ('sim.face.cli_calibration', 'sim.face.cli_sensitivity', 'sim.face.cli_scenarios', "
            "'sim.face.cli_app', 'scipy.stats', 'SALib') if m in sys.modules]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
    code = "import sys; from sim.face import cli; cli.build_parser('exam'); assert 'sim.face.cli_calibration' in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_run_needs_neither_mesa_nor_networkx(tmp_path):
    """``clustersim run`` runs ClusterSystem: Mesa (about a second to import, with scipy.spatial)
    and networkx are not loaded, also while it writes the figure."""
    code = ("import sys; from sim.face import cli; "
            f"rc = cli.main(['run', '--years', '0.5', '--scale', '0.02', '--quiet', '--out', {str(tmp_path / 'o')!r}]); "
            "bad = [m for m in ('mesa', 'networkx', 'scipy.spatial') if m in sys.modules]; assert rc == 0 and not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
    assert (tmp_path / "o" / "scores.png").exists()
