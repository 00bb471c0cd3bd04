"""One benchmark measurement, run in a fresh interpreter by :mod:`benchmarks.run`.

``python -m benchmarks.worker TASK JSON`` runs task ``TASK`` with the keyword
arguments in ``JSON`` and prints one line ``RESULT {json}`` as its last line.
A fresh process per measurement makes the peak memory (``ru_maxrss``) that of
that measurement alone and keeps caches and allocator state from one
measurement out of the next.

Tasks
-----
full       the whole system (all 38 clusters, ``scale``) for ``years`` years on a base
           (``"defaults"`` or ``"calibrated"``, the shipped calibration as ``clustersim run``
           uses it), indicators every step: set-up and step times, time per phase, peak RSS
command    the README's main command, ``clustersim run --years 10 --seed 1`` (calibrated base,
           real size), end to end in a child process: wall and CPU time, peak RSS
engine     the fast engine at a given number of cluster firms: steps per second
reference  the Mesa-tutorial reference (:mod:`benchmarks.reference_model`) at a
           given number of cluster firms
indices    :func:`sim.indices.structure.cluster_indices` against networkx on test networks
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from collections import defaultdict


def _rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports KiB)."""
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 1024.0 if sys.platform != "darwin" else r / 2**20


def _current_rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return float("nan")


class _Clock:
    def __init__(self):
        self.w, self.c = time.perf_counter(), time.process_time()

    def lap(self) -> tuple[float, float]:
        w, c = time.perf_counter(), time.process_time()
        out = (w - self.w, c - self.c)
        self.w, self.c = w, c
        return out


def scale_for(firms: int) -> float:
    """Smallest ``scale`` at which the 38 clusters start with at least ``firms`` firms in total."""
    import numpy as np

    from sim.data.clusters import cluster_table

    f = cluster_table()["firms"].to_numpy(float)
    count = lambda s: int(np.maximum(np.round(f * s), 5).sum())  # noqa: E731  (as ClusterModel._populate)
    lo, hi = 1e-6, 1.0
    if count(hi) < firms:
        raise ValueError(f"{firms} firms is more than the full system ({count(hi)})")
    for _ in range(80):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if count(mid) < firms else (lo, mid)
    return hi


def _cluster_firms(model) -> int:
    from sim.model.population import SPINOFF

    pop = model.pop
    return int((pop.alive & (pop.role <= SPINOFF) & (pop.cluster >= 0)).sum())


def _time_phases(model) -> dict[str, float]:
    """Accumulate the CPU time of each phase of a ClusterModel's schedule (negligible overhead)."""
    phase_cpu: dict[str, float] = defaultdict(float)
    for name, fn in list(model._phases.items()):
        def timed(fn=fn, name=name):
            c = time.process_time()
            fn()
            phase_cpu[name] += time.process_time() - c
        model._phases[name] = timed
    return phase_cpu


def _time_methods(obj, names) -> dict[str, float]:
    """Accumulate the CPU time of the given methods of ``obj`` (wrapped on the instance)."""
    acc: dict[str, float] = defaultdict(float)
    for name in names:
        fn = getattr(obj, name)

        def timed(*a, fn=fn, name=name, **k):
            c = time.process_time()
            out = fn(*a, **k)
            acc[name] += time.process_time() - c
            return out
        setattr(obj, name, timed)
    return acc


def _model_class(handles: bool):
    """The Mesa model with agent handles (:class:`~sim.model.model.ClusterModel`) or, without
    handles, the model that ``clustersim run`` and the experiment engine run
    (:class:`~sim.model.system.ClusterSystem`, no Mesa); only its module is imported."""
    if handles:
        from sim.model.model import ClusterModel

        return ClusterModel
    from sim.model.system import ClusterSystem

    return ClusterSystem


def _base_setup(base: str, scale: float) -> dict:
    """Keyword arguments of the model for a base, as ``clustersim run`` builds them (:func:`sim.engine.runner.resolve_setup`)."""
    from scenarios.base import resolve_base
    from sim.data.clusters import in_canonical_order
    from sim.engine.runner import resolve_setup

    if base == "defaults":
        return {"params": {"scale": scale}}
    params, table, labeller, _ = resolve_setup({"scale": scale}, base=resolve_base(base))
    return {"params": params, "cluster_table": in_canonical_order(table), "labeller": labeller}


def task_full(scale: float = 1.0, years: float = 10, handles: bool = True, seed: int = 1,
              record_every: int = 1, base: str = "defaults") -> dict:
    rss0 = _current_rss_mb()
    model_class = _model_class(handles)  # imported before the clock starts

    rss_import = _current_rss_mb()
    clock = _Clock()
    model = model_class(rng=seed, record_every=record_every, **_base_setup(base, scale))
    setup_wall, setup_cpu = clock.lap()
    firms0, nodes0, edges0 = _cluster_firms(model), int(model.pop.alive.sum()), len(model.edges)
    phase_cpu = _time_phases(model)
    steps = int(round(years * 4))
    clock.lap()
    for _ in range(steps):
        model.step()
    steps_wall, steps_cpu = clock.lap()
    frame = model.indicators_frame()
    frame_wall, frame_cpu = clock.lap()
    n_agents = len(getattr(model, "agents", ()))  # the first read makes every handle owed so far
    _, agents_cpu = clock.lap()
    return {
        "scale": scale, "handles": handles, "steps": steps, "seed": seed, "base": base,
        "firms_start": firms0, "firms_end": _cluster_firms(model), "nodes_start": nodes0,
        "nodes_end": int(model.pop.alive.sum()), "edges_start": edges0, "edges_end": len(model.edges),
        "mesa_agents_end": n_agents, "agents_read_cpu": agents_cpu,
        "setup_wall": setup_wall, "setup_cpu": setup_cpu, "steps_wall": steps_wall, "steps_cpu": steps_cpu,
        "total_wall": setup_wall + steps_wall, "total_cpu": setup_cpu + steps_cpu,
        "frame_wall": frame_wall, "frame_rows": len(frame),
        "phase_cpu": dict(phase_cpu),
        "rss_start_mb": rss0, "rss_after_import_mb": rss_import, "peak_rss_mb": _rss_mb(),
    }


def task_command(years: float = 10, seed: int = 1, scale: float | None = None) -> dict:
    """The README's main command, end to end, in a child process (interpreter start, imports, set-up, run,
    parquet and figure): wall time, the child's CPU time and its peak RSS.

    The child may write Python's bytecode cache even where the environment says not to
    (``PYTHONDONTWRITEBYTECODE``), as the README's ``pip install .`` compiles the package when it
    installs it: otherwise an editable checkout would compile the project's source on every run.
    The suite's first run writes the cache; the median of its runs reads it.
    """
    import shutil
    import subprocess
    import tempfile

    out = tempfile.mkdtemp(prefix="clustersim-bench-")
    cmd = [sys.executable, "-m", "sim.face.cli", "run", "--years", f"{years:g}", "--seed", str(seed),
           "--out", os.path.join(out, "main"), "--quiet"] + ([] if scale is None else ["--scale", f"{scale:g}"])
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    try:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    finally:
        shutil.rmtree(out, ignore_errors=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    shown = ["clustersim", "run", "--years", f"{years:g}", "--seed", str(seed)]
    shown += [] if scale is None else ["--scale", f"{scale:g}"]
    return {"command": " ".join(shown), "years": years, "seed": seed, "scale": scale,
            "wall": wall, "cpu": cpu, "peak_rss_mb": after.ru_maxrss / 1024.0}


def task_engine(firms: int, steps: int = 40, handles: bool = True, seeds=(1,)) -> dict:
    model_class = _model_class(handles)  # imported before the clock starts

    scale = scale_for(firms)
    runs = []
    for seed in seeds:
        clock = _Clock()
        model = model_class(params={"scale": scale}, rng=seed)
        setup_wall, setup_cpu = clock.lap()
        f0 = _cluster_firms(model)
        phase_cpu = _time_phases(model)
        clock.lap()
        for _ in range(steps):
            model.step()
        steps_wall, steps_cpu = clock.lap()
        runs.append({"seed": seed, "setup_wall": setup_wall, "setup_cpu": setup_cpu, "steps_wall": steps_wall,
                     "steps_cpu": steps_cpu, "firms_start": f0, "firms_end": _cluster_firms(model),
                     "nodes": int(model.pop.alive.sum()),
                     "phase_cpu": {k: v / steps for k, v in phase_cpu.items()}})
    best = min(runs, key=lambda r: r["steps_cpu"])
    return {"firms": firms, "scale": scale, "handles": handles, "steps": steps, "runs": runs,
            "step_cpu": best["steps_cpu"] / steps, "step_wall": best["steps_wall"] / steps,
            "setup_cpu": best["setup_cpu"], "setup_wall": best["setup_wall"],
            "mean_firms": (best["firms_start"] + best["firms_end"]) / 2, "nodes": best["nodes"],
            "phase_cpu": best["phase_cpu"], "peak_rss_mb": _rss_mb()}


def task_reference(firms: int, steps: int = 40, seed: int = 1) -> dict:
    from benchmarks.reference_model import ReferenceModel

    scale = scale_for(firms)
    clock = _Clock()
    model = ReferenceModel(params={"scale": scale}, rng=seed)
    setup_wall, setup_cpu = clock.lap()
    f0 = len(model.cluster_firms())
    phase_cpu = _time_methods(model, ("entry", "affiliations", "link_formation", "link_decay", "technology",
                                      "performance", "exit", "record"))
    for _ in range(steps):
        model.step()
    steps_wall, steps_cpu = clock.lap()
    f1 = len(model.cluster_firms())
    return {"firms": firms, "scale": scale, "steps": steps, "setup_cpu": setup_cpu, "setup_wall": setup_wall,
            "step_cpu": steps_cpu / steps, "step_wall": steps_wall / steps, "mean_firms": (f0 + f1) / 2,
            "nodes": len(model.agents), "edges": model.G.number_of_edges(), "peak_rss_mb": _rss_mb(),
            "phase_cpu": {k: v / steps for k, v in phase_cpu.items()}}


def task_indices(nodes: int, repeats: int = 5, nx_repeats: int = 1, seed: int = 0) -> dict:
    from benchmarks.index_bench import bench_indices

    return bench_indices(nodes, seed=seed, repeats=repeats, nx_repeats=nx_repeats)


TASKS = {"full": task_full, "command": task_command, "engine": task_engine, "reference": task_reference, "indices": task_indices}


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    task, kwargs = argv[0], json.loads(argv[1]) if len(argv) > 1 else {}
    pin = kwargs.pop("pin", None)
    if pin is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {int(pin)})
    out = TASKS[task](**kwargs)
    print("RESULT " + json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
