"""Run the benchmark suite and write its results (``python -m benchmarks``).

Every measurement runs in a fresh Python process (:mod:`benchmarks.worker`)
with BLAS/OpenMP limited to one thread, one after the other, so the whole
suite measures one core of one machine in one run.  Results are printed as a
Markdown report and written to ``<out>/results.json`` and ``<out>/results.md``
(default ``benchmarks/results/``).

Sections
--------
1. full system: all 38 clusters at their 2020 firm counts (``scale=1``) plus
   institutions and the outside world, 10 years (40 quarterly steps) with
   indicators every step, on the schema defaults with Mesa agent handles (the
   default model) and without, and on the shipped calibration without handles
   (what ``clustersim run`` runs): set-up and step times, time per phase, peak
   RSS; and the README's main command, ``clustersim run --years 10 --seed 1``,
   end to end in its own process, three times (the median is reported);
2. scaling: steps per second and time per firm-step of the fast engine at
   1,000 / 10,000 / 100,000 cluster firms;
3. indices: :func:`sim.indices.structure.cluster_indices` against networkx on test
   networks of 1,000 / 10,000 / 100,000 nodes (:mod:`benchmarks.index_bench`);
4. reference: the fast engine against the per-agent Mesa reference
   (:mod:`benchmarks.reference_model`) at 1,000 and 10,000 firms.

Times are CPU seconds of the measuring process (``time.process_time``) unless
marked *wall*; on a shared machine CPU time is the steadier measure of the
code, wall time what a user waits.  Ratios use CPU time.

Options: ``--quick`` (smaller and fewer runs, for a smoke test), ``--only``
(comma-separated sections: full, scaling, indices, reference), ``--out DIR``,
``--pin CPU`` (pin every worker to one CPU).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = ("full", "scaling", "indices", "reference")
TARGETS = {
    "main_command_s": 10.0,       # the README's main command (calibrated base, real size, 10 years), one core
    "full_peak_rss_mb": 2048.0,   # peak memory
    "reference_speedup_10k": 50.0,
    "index_speedup_100k": 20.0,
    "firm_step_growth_100k_vs_10k": 2.0,
}
#: Runs of the README's main command; the report gives the median run (the machine's speed drifts
#: between runs by more than the code's run-to-run noise, so one run is a poor estimate).
COMMAND_RUNS = 3
ONE_THREAD = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                               "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")}


def _run_worker(task: str, pin: int | None = None, **kwargs) -> dict:
    """Run one measurement in a fresh interpreter and return its result."""
    if pin is not None:
        kwargs["pin"] = pin
    env = {**os.environ, **ONE_THREAD, "PYTHONHASHSEED": "0"}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, "-m", "benchmarks.worker", task, json.dumps(kwargs)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark worker {task} {kwargs} failed:\n{proc.stderr[-3000:]}")
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    out = json.loads(line[len("RESULT "):])
    out["process_wall"] = time.perf_counter() - t0
    return out


def machine() -> dict:
    info = {"platform": platform.platform(), "python": platform.python_version(),
            "logical_cpus": os.cpu_count(), "date": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        mem = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
        info["memory_gb"] = round(int(mem) / 2**20, 1)
    except OSError:
        pass
    try:
        info["load_start"] = os.getloadavg()
    except OSError:
        pass
    from importlib import metadata

    for pkg in ("numpy", "scipy", "mesa", "networkx", "pandas"):
        try:
            info[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            info[pkg] = None
    return info


def median_run(runs: list[dict]) -> dict:
    """The run of median wall time, with every run's wall and CPU time (``runs_wall``, ``runs_cpu``)."""
    ordered = sorted(runs, key=lambda r: r["wall"])
    out = dict(ordered[(len(ordered) - 1) // 2])
    out["runs_wall"] = [r["wall"] for r in runs]
    out["runs_cpu"] = [r["cpu"] for r in runs]
    return out


def measure(sections, quick: bool = False, pin: int | None = None, log=print) -> dict:
    res: dict = {"machine": machine(), "quick": quick, "targets": TARGETS}

    def run_worker(task, pin, **kw):
        return _run_worker(task, pin, **kw)

    if "full" in sections:
        log("full system (scale=1, 10 years) ...")
        scale, years = (0.1, 2) if quick else (1.0, 10)
        res["full"] = [run_worker("full", pin, scale=scale, years=years, handles=h, base=b)
                       for b, h in (("defaults", True), ("defaults", False), ("calibrated", False))]
        runs = 1 if quick else COMMAND_RUNS
        log(f"the README's main command ({runs} run{'s' if runs > 1 else ''}) ...")
        res["command"] = median_run([run_worker("command", pin, years=years, **({"scale": scale} if quick else {}))
                                     for _ in range(runs)])
    sizes = (1000, 10000) if quick else (1000, 10000, 100000)
    if "scaling" in sections or "reference" in sections:
        log("engine scaling ...")
        seeds = {1000: [1, 2, 3], 10000: [1, 2, 3], 100000: [1]}
        res["scaling"] = [run_worker("engine", pin, firms=n, steps=12 if quick else 40, handles=h,
                                     seeds=seeds[n][:1] if quick else seeds[n])
                          for n in sizes for h in (True, False)]
    if "indices" in sections:
        log("indices ...")
        reps = {1000: (20, 3), 10000: (10, 1), 100000: (5, 1)}
        res["indices"] = [run_worker("indices", pin, nodes=n, repeats=reps[n][0], nx_repeats=reps[n][1])
                          for n in sizes]
    if "reference" in sections:
        log("reference model ...")
        steps = {1000: 40, 10000: 8}
        res["reference"] = []
        for n in (1000, 10000):  # the faster of two runs (seeds 1 and 2), as ours is the best of its seeds
            runs = [run_worker("reference", pin, firms=n, steps=4 if quick else steps[n], seed=s)
                    for s in ((1,) if quick else (1, 2))]
            best = dict(min(runs, key=lambda r: r["step_cpu"]))
            best["runs_step_cpu"] = [r["step_cpu"] for r in runs]
            res["reference"].append(best)
    try:
        res["machine"]["load_end"] = os.getloadavg()
    except OSError:
        pass
    return res


# ----------------------------------------------------------------------------- report
def _engine(res, firms, handles):
    for r in res.get("scaling", []):
        if r["firms"] == firms and r["handles"] == handles:
            return r
    return None


def evaluate(res: dict) -> dict:
    """Derived ratios and the pass/fail of every target."""
    out: dict = {}
    if "command" in res:
        c = res["command"]
        out["main_command_wall_s"] = (c["wall"], c["wall"] <= TARGETS["main_command_s"])
        out["main_command_cpu_s"] = (c["cpu"], c["cpu"] <= TARGETS["main_command_s"])
    if "full" in res:
        rss = max(r["peak_rss_mb"] for r in res["full"])
        out["full_peak_rss_mb"] = (rss, rss <= TARGETS["full_peak_rss_mb"])
    if "reference" in res:
        for r in res["reference"]:
            for h in (True, False):
                e = _engine(res, r["firms"], h)
                if e:
                    sp = r["step_cpu"] / e["step_cpu"]
                    key = f"reference_speedup_{r['firms'] // 1000}k" + ("" if h else "_nohandles")
                    ok = sp >= TARGETS["reference_speedup_10k"] if r["firms"] == 10000 else None
                    out[key] = (sp, ok)
    if "indices" in res:
        for r in res["indices"]:
            sp = r["nx_cpu"] / r["ours_cpu"]
            ok = sp >= TARGETS["index_speedup_100k"] if r["nodes"] >= 100000 else None
            out[f"index_speedup_{r['nodes'] // 1000}k"] = (sp, ok and r["agree"] if ok is not None else None)
    for h in (True, False):
        a, b = _engine(res, 10000, h), _engine(res, 100000, h)
        if a and b:
            g = (b["step_cpu"] / b["mean_firms"]) / (a["step_cpu"] / a["mean_firms"])
            out["firm_step_growth_100k_vs_10k" + ("" if h else "_nohandles")] = (
                g, g <= TARGETS["firm_step_growth_100k_vs_10k"])
    return out


def _f(x, nd=2):
    return "–" if x is None else f"{x:,.{nd}f}"


def _mark(ok):
    return "" if ok is None else (" ✅" if ok else " ❌")


def report(res: dict) -> str:
    m = res["machine"]
    ev = evaluate(res)
    L = ["# clustersim benchmark results", ""]
    L.append(f"Machine: {m.get('cpu', '?')}, {m.get('logical_cpus')} logical CPUs, {m.get('memory_gb', '?')} GB; "
             f"{m['platform']}; Python {m['python']}, numpy {m['numpy']}, scipy {m['scipy']}, "
             f"Mesa {m['mesa']}, networkx {m['networkx']}.  {m['date']}.")
    if "load_start" in m:
        ls, le = m["load_start"], m.get("load_end", m["load_start"])
        L.append(f"Load average (1 min) at start {ls[0]:.2f}, at end {le[0]:.2f} (a load above the CPU count "
                 "means other processes shared the cores; wall times then exceed CPU times).")
    L.append("Every measurement ran in a fresh process with BLAS/OpenMP limited to one thread. "
             "Times are CPU seconds unless marked wall; ratios use CPU time.")
    if res.get("quick"):
        L.append("**Quick mode: reduced sizes, not the reference measurement.**")
    L.append("")
    if "full" in res:
        f0 = res["full"][0]
        L += [f"## Full national system (38 clusters, scale {f0['scale']}, {f0['steps']} quarterly steps, "
              "indicators every step)", "",
              "| base | Mesa handles | cluster firms (start → end) | nodes (start) | ties (start) | set-up | steps | "
              "total CPU | total wall | peak RSS |",
              "|---|---|---|---|---|---|---|---|---|---|"]
        for r in res["full"]:
            L.append(f"| {r.get('base', 'defaults')} | {'yes (default)' if r['handles'] else 'no'} | "
                     f"{r['firms_start']:,} → {r['firms_end']:,} | "
                     f"{r['nodes_start']:,} | {r['edges_start']:,} | {_f(r['setup_cpu'])} s | {_f(r['steps_cpu'])} s | "
                     f"{_f(r['total_cpu'])} s | {_f(r['total_wall'])} s | {r['peak_rss_mb']:,.0f} MB |")
        for r in res["full"]:
            if r["handles"] and "agents_read_cpu" in r:
                L += ["", f"Mesa handles are made when read: reading `model.agents` once after the run "
                          f"({r.get('base', 'defaults')} base) made its {r['mesa_agents_end']:,} agents in "
                          f"{_f(r['agents_read_cpu'])} s (not in the totals above)."]
        L += ["", "CPU seconds per phase over all steps:", "",
              "| phase | " + " | ".join(f"{r.get('base', 'defaults')}, " + ("handles" if r["handles"] else "no handles")
                                        for r in res["full"]) + " |",
              "|---|" + "---|" * len(res["full"])]
        for ph in res["full"][0]["phase_cpu"]:
            L.append(f"| {ph} | " + " | ".join(_f(r["phase_cpu"].get(ph, 0.0)) for r in res["full"]) + " |")
        L.append("")
    if "command" in res:
        c = res["command"]
        L += ["## The README's main command, end to end", "",
              f"`{c['command']}` in a child process (interpreter start, imports, set-up on the shipped "
              f"calibration at {'real size' if c.get('scale') is None else 'scale ' + format(c['scale'], 'g')}, "
              "the run, the parquet file and the figure): "
              f"wall {_f(c['wall'])} s, CPU {_f(c['cpu'])} s, peak RSS {c['peak_rss_mb']:,.0f} MB"
              + (f" (the median of {len(c['runs_wall'])} runs; wall times in run order: "
                 + ", ".join(f"{_f(w)} s" for w in c["runs_wall"]) + ")" if len(c.get("runs_wall", [])) > 1 else "")
              + ".", ""]
    if "scaling" in res:
        L += ["## Scaling of the fast engine (40 steps, indicators every step)", "",
              "| cluster firms | scale | nodes | handles | set-up | ms / step | steps / s | µs / firm-step |",
              "|---|---|---|---|---|---|---|---|"]
        for r in res["scaling"]:
            L.append(f"| {r['firms']:,} | {r['scale']:.4f} | {r['nodes']:,} | {'yes' if r['handles'] else 'no'} | "
                     f"{_f(r['setup_cpu'])} s | {_f(1000 * r['step_cpu'])} | {_f(1 / r['step_cpu'], 1)} | "
                     f"{_f(1e6 * r['step_cpu'] / r['mean_firms'])} |")
        L.append("")
    if "indices" in res:
        L += ["## Index computation: sim.indices against networkx (same networks, same values)", "",
              "| nodes | ties | ours | networkx | speed-up | networkx graph build (not in the ratio) | values agree |",
              "|---|---|---|---|---|---|---|"]
        for r in res["indices"]:
            L.append(f"| {r['nodes']:,} | {r['edges']:,} | {_f(1000 * r['ours_cpu'])} ms | "
                     f"{_f(1000 * r['nx_cpu'])} ms | "
                     f"{_f(r['nx_cpu'] / r['ours_cpu'], 0)}× | {_f(1000 * r['nx_build_cpu'])} ms | "
                     f"{'yes' if r['agree'] else 'NO'} (max rel. diff {r['max_rel_diff']:.1e}) |")
        L.append("")
    if "reference" in res:
        L += ["## Fast engine against the per-agent Mesa reference (benchmarks/reference_model.py)", "",
              "| cluster firms | reference steps run | reference ms / step | reference set-up | "
              "ours ms / step (handles) | speed-up | ours ms / step (no handles) | speed-up |",
              "|---|---|---|---|---|---|---|---|"]
        for r in res["reference"]:
            e1, e0 = _engine(res, r["firms"], True), _engine(res, r["firms"], False)
            L.append(f"| {r['firms']:,} | {r['steps']} | {_f(1000 * r['step_cpu'], 0)} | {_f(r['setup_cpu'])} s | "
                     f"{_f(1000 * e1['step_cpu']) if e1 else '–'} | "
                     f"{_f(r['step_cpu'] / e1['step_cpu'], 0) + '×' if e1 else '–'} | "
                     f"{_f(1000 * e0['step_cpu']) if e0 else '–'} | "
                     f"{_f(r['step_cpu'] / e0['step_cpu'], 0) + '×' if e0 else '–'} |")
        runs = "; ".join(f"{r['firms']:,} firms: " + ", ".join(_f(1000 * x, 0) for x in r.get("runs_step_cpu", []))
                         for r in res["reference"])
        L += ["", "The reference runs fewer steps at 10,000 firms; its time per step is the mean over the steps "
              "run (extrapolated to 40 steps it is that mean × 40), the faster of two runs (seeds 1 and 2; ms per "
              f"step of each run: {runs}). Ours: best of the seeds run, 40 steps.", ""]
        pairs = [("entry", "entry"), ("affiliations", "affiliations"), ("link formation", "link_formation"),
                 ("link decay", "link_decay"), ("technology", "technology"),
                 ("performance and shocks", "performance"), ("exit", "exit"), ("indicators", "record")]
        for r in res["reference"]:
            e = _engine(res, r["firms"], True)
            if not e or "phase_cpu" not in e or "phase_cpu" not in r:
                continue
            L += [f"Per phase at {r['firms']:,} firms (ms per step):", "",
                  "| phase | reference | ours (handles) | ratio |", "|---|---|---|---|"]
            for ours_name, ref_name in pairs:
                a, b = r["phase_cpu"].get(ref_name, 0.0), e["phase_cpu"].get(ours_name, 0.0)
                ratio = _f(a / b, 0) + "×" if b > 0 else "–"
                L.append(f"| {ours_name} | {_f(1000 * a)} | {_f(1000 * b)} | {ratio} |")
            L.append("")
    L += ["## Targets", "", "| target | measured | limit | met |", "|---|---|---|---|"]
    rows = [
        ("README main command (calibrated base, real size, 10 years), wall", "main_command_wall_s", "s",
         f"≤ {TARGETS['main_command_s']:.0f} s"),
        ("README main command, CPU", "main_command_cpu_s", "s", f"≤ {TARGETS['main_command_s']:.0f} s"),
        ("full system peak RSS", "full_peak_rss_mb", "MB", f"≤ {TARGETS['full_peak_rss_mb']:.0f} MB"),
        ("speed-up over the reference, 10,000 firms (handles)", "reference_speedup_10k", "×", "≥ 50×"),
        ("speed-up over the reference, 10,000 firms (no handles)", "reference_speedup_10k_nohandles", "×", "≥ 50×"),
        ("index speed-up over networkx, 100,000 nodes", "index_speedup_100k", "×", "≥ 20×"),
        ("cost per firm-step, 100,000 vs 10,000 firms (handles)", "firm_step_growth_100k_vs_10k", "×", "≤ 2×"),
        ("cost per firm-step, 100,000 vs 10,000 firms (no handles)", "firm_step_growth_100k_vs_10k_nohandles", "×",
         "≤ 2×"),
    ]
    for label, key, unit, limit in rows:
        if key in ev:
            val, ok = ev[key]
            L.append(f"| {label} | {_f(val, 2 if unit != '×' else 1)} {unit} | {limit} |{_mark(ok)} |")
    L.append("")
    return "\n".join(L)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, few runs (smoke test)")
    ap.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections: " + ", ".join(SECTIONS))
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"), help="output folder")
    ap.add_argument("--pin", type=int, default=None, help="pin every worker process to this CPU")
    a = ap.parse_args(argv)
    sections = [s.strip() for s in a.only.split(",") if s.strip()]
    bad = set(sections) - set(SECTIONS)
    if bad:
        ap.error(f"unknown section(s) {sorted(bad)}; choose from {', '.join(SECTIONS)}")
    t0 = time.perf_counter()
    res = measure(sections, quick=a.quick, pin=a.pin,
                  log=lambda s: print(s, file=sys.stderr, flush=True))
    res["suite_wall_s"] = time.perf_counter() - t0
    res["evaluation"] = {k: {"value": v, "met": ok} for k, (v, ok) in evaluate(res).items()}
    md = report(res)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "results"
    (out / f"{stem}.json").write_text(json.dumps(res, indent=2, default=float) + "\n")
    (out / f"{stem}.md").write_text(md + "\n")
    print(md)
    print(f"(suite took {res['suite_wall_s']:.0f} s; wrote {out / (stem + '.json')} and {out / (stem + '.md')})",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
