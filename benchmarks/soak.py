"""Soak test: a long run at full scale stays sound.

Runs the model for many years (default: all 38 clusters at scale 1, about 122,000 firms,
50 years, the default parameters) and checks, from samples taken every few years, that

* **memory does not drift**: peak RSS, current RSS and the Python heap traced by
  :mod:`tracemalloc` are sampled; a straight line is fitted to the samples after the
  warm-up, and the growth it predicts over the run must stay small.  The traced heap is
  also split into the model's own state (population arrays, tie list, recorded
  indicators) and *everything else*: a leak shows up as a trend in "everything else";
* **firm counts stay within a band** that the parameters call for: the total number of
  cluster firms within ``[--band-low, --band-high]`` times the initial number, and no
  cluster with at least 50 initial firms above ``--max-cluster-ratio`` times its own
  initial number (no runaway growth, no collapse).  The run stops at the first breach,
  so an explosion cannot exhaust the machine;
* **it finishes** within ``--time-limit`` seconds.

Each mode runs in a fresh child process, so RSS belongs to one run only:

* ``batch`` -- the ``clustersim run`` path (``simulate``, no Mesa agent handles);
* ``mesa``  -- the Mesa API path (one ``mesa.Agent`` handle per firm and institution).

Usage::

    python benchmarks/soak.py                      # scale 1, 50 years, both modes (a few minutes)
    python benchmarks/soak.py --scale 0.05 --years 10 --every 2     # the fast variant of the tests
    python benchmarks/soak.py --mode batch --set spinoff_quality=2  # any parameter override

It prints one table per mode and a verdict, writes everything to ``--out`` (JSON,
default ``results/soak.json``) and exits with 0 if every check held, 1
otherwise.  ``tests/robustness/test_robust_soak.py`` runs the fast variant in the normal test run.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "results" / "soak.json"


# ----------------------------------------------------------------------------- measurements
def _proc_status() -> dict[str, float]:
    """Current and peak resident set size in MB (Linux /proc; peak from getrusage elsewhere)."""
    out = {}
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    k, v = line.split(":", 1)
                    out[k] = int(v.split()[0]) / 1024.0
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024.0 if sys.platform != "darwin" else 2 ** 20)
    return {"rss_mb": out.get("VmRSS", float("nan")), "peak_rss_mb": out.get("VmHWM", peak)}


def _model_mb(model) -> float:
    """Bytes held by the model's own state: population arrays, tie list, recorded indicators."""
    n = model.pop.nbytes
    E = model.edges
    n += E.u.nbytes + E.v.nbytes + E.age.nbytes + E.trust.nbytes + E.brokered.nbytes
    if E._keys_sorted is not None:
        n += E._keys_sorted.nbytes + E._key_pos.nbytes
    for _, ind in model._records:
        n += sum(getattr(v, "nbytes", 0) for v in ind.values())
    n += sum(np.asarray(a).nbytes for v in model._firm_hist.values() for a in v)
    n += sum(a.nbytes for a in model.count_hist)
    return n / 2 ** 20


def fit(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least-squares line ``y = a + b x``; returns (a, b)."""
    n = len(xs)
    if n < 2:
        return (ys[0] if ys else float("nan")), 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else 0.0
    return my - b * mx, b


# ----------------------------------------------------------------------------- one run (child)
def soak_run(*, scale: float = 1.0, years: float = 50, every: float = 5, seed: int = 1, mode: str = "batch",
             clusters: list[str] | None = None, params: dict | None = None, trace: bool = True,
             band: tuple[float, float] = (0.5, 2.0), max_cluster_ratio: float = 3.0, min_cluster: int = 50,
             time_limit: float = 3600, progress=None) -> dict:
    """Run the model once and return the samples and per-run facts (see the module docstring)."""
    import numpy as np

    from sim.model.model import ClusterModel
    from sim.model.population import SPINOFF

    gc.collect()
    if trace:
        tracemalloc.start()
    t0 = time.perf_counter()
    model = ClusterModel(params={"scale": scale, **(params or {})}, clusters=clusters, rng=seed,
                         handles=(mode == "mesa"))
    t_init = time.perf_counter() - t0

    def cluster_firms() -> "np.ndarray":
        pop = model.pop
        f = pop.alive & (pop.role <= SPINOFF) & (pop.cluster >= 0)
        return np.bincount(pop.cluster[f].astype(np.int64), minlength=model.n_clusters)

    n0 = cluster_firms()
    big = n0 >= min_cluster
    samples: list[dict] = []
    last = [time.perf_counter(), 0]
    breach = None

    def sample() -> None:
        nonlocal breach
        gc.collect()
        now = time.perf_counter()
        cnt = cluster_firms()
        ratio = cnt / np.maximum(n0, 1)
        traced, traced_peak = tracemalloc.get_traced_memory() if trace else (float("nan"),) * 2
        model_mb = _model_mb(model)
        s = {
            "year": model.t / 4.0,
            "wall_s": now - t0,
            "step_s": (now - last[0]) / max(1, model.t - last[1]) if model.t else None,
            **_proc_status(),
            "traced_mb": traced / 2 ** 20,
            "traced_peak_mb": traced_peak / 2 ** 20,
            "model_mb": model_mb,
            "other_mb": traced / 2 ** 20 - model_mb if trace else float("nan"),
            "gc_objects": len(gc.get_objects()),
            "nodes": int(model.pop.n),
            "alive": int(model.pop.alive.sum()),
            "firms": int(cnt.sum()),
            "firms_ratio": float(cnt.sum() / max(1, n0.sum())),
            "max_cluster_ratio": float(ratio[big].max()) if big.any() else float("nan"),
            "max_cluster": model.cluster_ids[int(np.argmax(np.where(big, ratio, -1)))] if big.any() else None,
            "min_cluster_ratio": float(ratio[big].min()) if big.any() else float("nan"),
            "links": int(len(model.edges)),
            "mesa_agents": int(len(model.agents)),
            "records": len(model._records),
        }
        samples.append(s)
        last[0], last[1] = now, model.t
        if progress:
            progress(s)
        lo, hi = band
        if breach is None:
            if s["firms_ratio"] > hi:
                breach = f"runaway growth: total firms {s['firms_ratio']:.2f} x initial at year {s['year']:g}"
            elif s["firms_ratio"] < lo:
                breach = f"collapse: total firms {s['firms_ratio']:.2f} x initial at year {s['year']:g}"
            elif big.any() and s["max_cluster_ratio"] > max_cluster_ratio:
                breach = (f"runaway growth of {s['max_cluster']}: {s['max_cluster_ratio']:.2f} x its initial "
                          f"firms at year {s['year']:g}")

    sample()
    steps = int(round(years * 4))
    k = max(1, int(round(every * 4)))
    finished = True
    # one step at a time; a band breach is checked every step (cheap) so an explosion stops early
    for s in range(steps):
        model.step()
        firms_now = model._records[-1][1]["firms"] if model._records and model._records[-1][0] == model.t else None
        if (s + 1) % k == 0 or s + 1 == steps:
            sample()
        elif firms_now is not None:
            r = float(firms_now.sum() / max(1, n0.sum()))
            cr = firms_now / np.maximum(n0, 1)
            if r > band[1] or r < band[0] or (big.any() and cr[big].max() > max_cluster_ratio):
                sample()
        if breach is not None:
            finished = False
            break
        if time.perf_counter() - t0 > time_limit:
            breach = breach or f"did not finish: time limit of {time_limit:g}s reached at year {model.t / 4:g}"
            finished = False
            break
    wall = time.perf_counter() - t0
    if trace:
        tracemalloc.stop()
    return {"mode": mode, "scale": scale, "years": years, "every": every, "seed": seed,
            "clusters": clusters or "all", "params": params or {}, "tracemalloc": trace,
            "initial_firms": int(n0.sum()), "init_s": t_init, "wall_s": wall, "finished": finished,
            "breach": breach, "samples": samples}


# ----------------------------------------------------------------------------- verdict
def assess(run: dict, *, warmup: float | None = None, max_drift: float = 0.10, min_drift_mb: float = 8.0) -> dict:
    """Checks of one run: finished, firm band, memory trends after the warm-up.

    A memory series *drifts* when the fitted line predicts a growth over the run of more
    than ``max_drift`` times its mean level and more than ``min_drift_mb`` MB.
    """
    smp = run["samples"]
    years = run["years"]
    warm = (0.2 * years) if warmup is None else warmup
    post = [s for s in smp if s["year"] >= warm] or smp
    xs = [s["year"] for s in post]
    trends = {}
    for key in ("rss_mb", "peak_rss_mb", "traced_mb", "other_mb", "gc_objects", "step_s"):
        ys = [s[key] for s in post]
        if any(y is None or (isinstance(y, float) and math.isnan(y)) for y in ys):
            continue
        _, b = fit(xs, ys)
        mean = sum(ys) / len(ys)
        growth = b * (years - warm)  # predicted change from the end of the warm-up to the end
        trends[key] = {"slope_per_decade": 10 * b, "mean": mean, "predicted_growth": growth,
                       "relative_growth": growth / mean if mean else float("nan")}
    checks = {"finished": run["finished"] and not run["breach"],
              "firm_band": not (run["breach"] or "").startswith(("runaway", "collapse"))}
    for key in ("rss_mb", "traced_mb", "other_mb"):
        if key in trends:
            t = trends[key]
            limit = max(min_drift_mb, max_drift * abs(t["mean"]))
            checks[f"no_drift_{key}"] = t["predicted_growth"] <= limit
    if "gc_objects" in trends:
        t = trends["gc_objects"]
        checks["no_drift_gc_objects"] = t["predicted_growth"] <= max(1000, max_drift * t["mean"])
    return {"warmup_years": warm, "trends": trends, "checks": checks, "ok": all(checks.values())}


# ----------------------------------------------------------------------------- output
def table(run: dict) -> str:
    head = (f"{'year':>5} {'wall s':>7} {'s/step':>7} {'RSS MB':>7} {'peak MB':>8} {'traced':>7} {'model':>7} "
            f"{'other':>6} {'gc obj':>8} {'firms':>8} {'x0':>5} {'max cl':>6} {'links':>8} {'nodes':>8}")
    rows = [head, "-" * len(head)]
    for s in run["samples"]:
        step = f"{s['step_s']:.3f}" if s["step_s"] else "-"
        rows.append(f"{s['year']:5.1f} {s['wall_s']:7.1f} {step:>7} {s['rss_mb']:7.0f} {s['peak_rss_mb']:8.0f} "
                    f"{s['traced_mb']:7.1f} {s['model_mb']:7.1f} {s['other_mb']:6.1f} {s['gc_objects']:8d} "
                    f"{s['firms']:8d} {s['firms_ratio']:5.2f} {s['max_cluster_ratio']:6.2f} {s['links']:8d} "
                    f"{s['nodes']:8d}")
    return "\n".join(rows)


def verdict_lines(run: dict, a: dict) -> list[str]:
    lines = []
    for k, ok in a["checks"].items():
        lines.append(f"  {'ok  ' if ok else 'FAIL'} {k}")
    for k, t in a["trends"].items():
        lines.append(f"       trend {k:<12} {t['slope_per_decade']:+10.3g} per decade "
                     f"(mean {t['mean']:.4g}, predicted growth after warm-up {t['predicted_growth']:+.3g}, "
                     f"{100 * t['relative_growth']:+.1f} %)")
    if run["breach"]:
        lines.append(f"  stopped: {run['breach']}")
    return lines


# ----------------------------------------------------------------------------- command line
def _parse(argv):
    ap = argparse.ArgumentParser(prog="python benchmarks/soak.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=1.0, help="model scale (default 1 = real firm counts)")
    ap.add_argument("--years", type=float, default=50, help="simulated years (default 50)")
    ap.add_argument("--every", type=float, default=5, help="years between samples (default 5)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--mode", choices=["batch", "mesa", "both"], default="both")
    ap.add_argument("--clusters", help="comma-separated cluster ids (default: all 38)")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="parameter override")
    ap.add_argument("--band-low", type=float, default=0.5, help="lowest total firms / initial (default 0.5)")
    ap.add_argument("--band-high", type=float, default=2.0, help="highest total firms / initial (default 2)")
    ap.add_argument("--max-cluster-ratio", type=float, default=3.0,
                    help="highest firms / initial of any cluster with >= 50 initial firms (default 3)")
    ap.add_argument("--max-drift", type=float, default=0.10,
                    help="largest memory growth after the warm-up, relative to the level (default 0.10)")
    ap.add_argument("--min-drift-mb", type=float, default=8.0,
                    help="memory growth below this many MB never counts as drift (default 8)")
    ap.add_argument("--time-limit", type=float, default=3600, help="seconds per mode (default 3600)")
    ap.add_argument("--no-tracemalloc", action="store_true", help="RSS only (tracemalloc slows the run)")
    ap.add_argument("--out", default=str(DEFAULT_OUT), help=f"JSON result (default {DEFAULT_OUT.relative_to(ROOT)})")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    return ap.parse_args(argv)


def _config(a) -> dict:
    from sim.model.params import parse_override

    params = dict(parse_override(s) for s in a.set)
    return dict(scale=a.scale, years=a.years, every=a.every, seed=a.seed,
                clusters=[c.strip() for c in a.clusters.split(",")] if a.clusters else None,
                params=params, trace=not a.no_tracemalloc, band=(a.band_low, a.band_high),
                max_cluster_ratio=a.max_cluster_ratio, time_limit=a.time_limit)


def main(argv=None) -> int:
    a = _parse(argv)
    if a.child:  # one run in this (fresh) process; JSON on the last stdout line
        cfg = json.loads(a.child)
        cfg["band"] = tuple(cfg["band"])

        def progress(s):
            print(f"  [{cfg['mode']}] year {s['year']:5.1f}  {s['wall_s']:7.1f}s  RSS {s['rss_mb']:6.0f} MB  "
                  f"firms {s['firms']:>8,} ({s['firms_ratio']:.2f} x)", file=sys.stderr, flush=True)

        res = soak_run(**cfg, progress=None if a.quiet else progress)
        print(json.dumps(res))
        return 0

    sys.path.insert(0, str(ROOT))
    try:
        cfg = _config(a)
    except Exception as exc:  # noqa: BLE001 - a bad --set is reported in one line
        print(f"soak: error: {exc}", file=sys.stderr)
        return 2
    modes = ["batch", "mesa"] if a.mode == "both" else [a.mode]
    results = []
    t0 = time.perf_counter()
    for mode in modes:
        child_cfg = {**cfg, "mode": mode}
        env = dict(os.environ)
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        p = subprocess.run([sys.executable, __file__, "--child", json.dumps(child_cfg)] + (["--quiet"] if a.quiet else []),
                           stdout=subprocess.PIPE, stderr=None, text=True, env=env, cwd=ROOT)
        if p.returncode != 0 or not p.stdout.strip():
            run = {"mode": mode, "finished": False, "breach": f"child process failed with exit code {p.returncode}",
                   "samples": [], "years": a.years}
            results.append({"run": run, "assessment": {"checks": {"finished": False}, "trends": {}, "ok": False}})
            print(f"\n== mode {mode}: child process failed (exit {p.returncode})")
            continue
        run = json.loads(p.stdout.strip().splitlines()[-1])
        ass = assess(run, max_drift=a.max_drift, min_drift_mb=a.min_drift_mb)
        results.append({"run": run, "assessment": ass})
        if not a.quiet or not ass["ok"]:
            print(f"\n== mode {mode}: scale {a.scale:g}, {a.years:g} years, seed {a.seed}, "
                  f"{run['initial_firms']:,} initial cluster firms, {run['wall_s']:.0f}s "
                  f"(set-up {run['init_s']:.1f}s){', tracemalloc on' if run['tracemalloc'] else ''}")
            print(table(run))
            print("\n".join(verdict_lines(run, ass)))
    ok = all(r["assessment"]["ok"] for r in results)
    doc = {"command": " ".join(["python", "benchmarks/soak.py"] + (argv if argv is not None else sys.argv[1:])),
           "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "ok": ok, "wall_s": time.perf_counter() - t0,
           "machine": {"platform": platform.platform(), "python": platform.python_version(),
                       "cpus": os.cpu_count()},
           "config": {**cfg, "band": list(cfg["band"])}, "results": results}
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n")
    os.replace(tmp, out)
    print(f"\nsoak: {'all checks held' if ok else 'SOME CHECKS FAILED'}; wrote {out} in {time.perf_counter() - t0:.0f}s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
