"""Parallel runs stay quiet: finished models are freed, so joblib's workers are not restarted.

Mesa 3.3 keeps a reference to every model that created an agent (``mesa.Agent._ids``, a
class-level ``defaultdict`` keyed by the model).  Each worker of a long ensemble then kept
every model it had run and grew until joblib's loky executor took it for a memory leak,
replaced it and printed "A worker stopped while some jobs were given to the executor. This
can be caused by a too short worker timeout or by a memory leak." (about once per 100 runs
per worker at scale 0.1).  :func:`sim.engine.runner.release_model` drops that reference; the
runner, the calibration engine and the classroom app call it.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import mesa

from calibration import engine
from calibration import initial as ini
from sim.data.observed import load_all
from sim.engine.runner import simulate
from sim.model.model import ClusterModel

ROOT = Path(__file__).resolve().parents[1]


def _alive_models() -> int:
    gc.collect()
    return sum(isinstance(o, ClusterModel) for o in gc.get_objects())


def test_simulate_lets_its_model_go():
    before, held = _alive_models(), len(mesa.Agent._ids)
    for seed in range(3):
        simulate({"scale": 0.02}, seed, years=0.5, clusters=["jeonju_machinery"])
    assert _alive_models() == before
    assert len(mesa.Agent._ids) == held


def test_calibration_run_lets_its_model_go():
    tab = ini.base_table(load_all(), scale=0.01, min_firms=10).drop(columns="has_2010").head(2).copy()
    run = engine.encode_run(tab, 0.5, spinup=0.25)
    before, held = _alive_models(), len(mesa.Agent._ids)
    for seed in range(3):
        engine.run_task({"scale": 0.01, engine.RUN_KEY: run}, seed)
    assert _alive_models() == before
    assert len(mesa.Agent._ids) == held


#: Loaded by every process of the command below (workers included) through PYTHONPATH.  loky's
#: leak guard measures a worker's resident memory after each task, and a worker more than
#: 300 MB over its size after its first task is replaced, with the warning.  RSS depends on the
#: allocator and on the run size, so the guard is made deterministic here: it checks after every
#: task, and a model still held by Mesa counts as 1 GB.  A worker that keeps its finished models
#: is then replaced after its second task and the warning appears; one that lets them go never is.
SITECUSTOMIZE = textwrap.dedent("""
    import gc

    import joblib.externals.loky.process_executor as _pe


    def _held_models(pid, force_gc=False):
        import mesa

        if force_gc:
            gc.collect()
        return len(mesa.Agent._ids) * 10 ** 9


    _pe._USE_PSUTIL = True
    _pe._MEMORY_LEAK_CHECK_DELAY = 0.0
    _pe._get_memory_usage = _held_models
""")


def test_parallel_project_prints_no_worker_warning(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "PYTHONWARNINGS": "default"}
    cmd = [sys.executable, "-m", "sim.face.cli", "project", "baseline", "hub_institution", "--quick",
           "--clusters", "jeonbuk_food,gyeonggi_north_chemicals,osong_ochang_medical_devices",
           "--replicates", "4", "--jobs", "2", "--no-figures", "--out", str(tmp_path / "out")]
    r = subprocess.run(cmd, check=False, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert lines, "the progress lines are missing: the command did not run in parallel as expected"
    noise = [ln for ln in lines if not ln.startswith("[clustersim] ")]  # progress lines
    assert not noise, "unexpected stderr output of a parallel run:\n" + "\n".join(noise)
    assert "worker stopped" not in r.stderr and "resource_tracker" not in r.stderr
