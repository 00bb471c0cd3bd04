"""Scenario discovery with the EMA Workbench: which uncertainties lead a cluster into path-locked?

Run it from the repository root (needs the ``ema`` extra: ``pip install ".[ema]"``)::

    python scripts/ema_example.py                 # 200 experiments, about a minute on one core
    python scripts/ema_example.py --write         # ... and rewrite the results block of docs/ema.md
    python scripts/ema_example.py --check         # exit 1 if docs/ema.md's block is not what this run gives

It builds the EMA model of :func:`scenarios.ema.ema_model` (one mid-size cluster, the default
uncertainties over their sensitivity ranges, the seed an uncertainty), runs a Latin hypercube
of experiments with ``perform_experiments``, scores the uncertainties with extra trees
(``feature_scoring``; the seed is kept as a noise reference) and runs PRIM on the cases whose
final development stage is path-locked: the first box of the peeling trajectory whose density
reaches the threshold, without the restrictions that are not significant (quasi-p above
``--alpha``). It prints the Markdown block that ``docs/ema.md`` holds between its markers.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import numpy as np
import pandas as pd

from scenarios.ema import DEFAULT_UNCERTAINTIES, INSTALL_HINT, SEED, ema_model
from sim.engine.baseline import golden, run_portably
from sim.model.params import SCHEMA

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "ema.md"
START, END = "<!-- ema:start -->", "<!-- ema:end -->"
#: Lines of the block that differ from run to run and are not compared by ``--check``.
VOLATILE = ("Wall time",)


def _ema():
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*ipyparallel.*")
            import ema_workbench
            from ema_workbench.analysis import feature_scoring, prim
            from ema_workbench.analysis.scenario_discovery_util import RuleInductionType
    except ImportError:
        sys.exit(INSTALL_HINT)
    return ema_workbench, feature_scoring, prim, RuleInductionType


def g(v: float) -> str:
    """A number to three significant digits."""
    return f"{v:.3g}"


def choose_box(box, threshold: float, alpha: float) -> tuple[int, list[str]]:
    """Select the first box on the peeling trajectory with density >= threshold, then drop, one at a
    time and least significant first, every restriction whose quasi-p value exceeds ``alpha``."""
    traj = box.peeling_trajectory
    hits = traj.index[traj["density"] >= threshold]
    i = int(hits[0]) if len(hits) else int(traj.index[-1])
    box.select(i)
    dropped = []
    while True:
        qp = {k: min(p for p in v if p >= 0) for k, v in box.qp[i].items()}
        weak = {k: p for k, p in qp.items() if p > alpha}
        if not weak or len(qp) == 1:
            break
        name = max(weak, key=weak.get)
        box.drop_restriction(name, i)
        dropped.append(name)
        i = len(box.peeling_trajectory) - 1       # drop_restriction appends the new box
    return i, dropped


def analyse(a) -> tuple[str, float]:
    ema, feature_scoring, prim, RuleInductionType = _ema()
    model = ema_model(a.uncertainties, cluster=a.cluster, years=a.years, scale=a.scale)
    np.random.seed(a.seed)            # EMA's samplers draw from numpy's global generator
    t0 = time.perf_counter()
    if a.jobs > 1:
        with ema.MultiprocessingEvaluator(model, n_processes=a.jobs) as ev:
            ex, out = ev.perform_experiments(scenarios=a.experiments)
    else:
        with ema.SequentialEvaluator(model) as ev:
            ex, out = ev.perform_experiments(scenarios=a.experiments)
    wall = time.perf_counter() - t0

    names = [u.name for u in model.uncertainties]
    x = ex[names].reset_index(drop=True)
    y = np.asarray(out["stage_path_locked"]) > 0.5
    n_coi = int(y.sum())

    fs_class, _ = feature_scoring.get_ex_feature_scores(x, y, mode=RuleInductionType.CLASSIFICATION,
                                                        random_state=a.seed)
    fs_reg, _ = feature_scoring.get_ex_feature_scores(x, np.asarray(out["lock_in_gap"]),
                                                      mode=RuleInductionType.REGRESSION, random_state=a.seed)
    scores = pd.DataFrame({"path_locked": fs_class.iloc[:, 0], "lock_in_gap": fs_reg.iloc[:, 0]})
    scores = scores.sort_values("path_locked", ascending=False)

    xp = x.drop(columns=[SEED])
    p = prim.Prim(xp, y, threshold=a.threshold, peel_alpha=a.peel_alpha)
    box = p.find_box()
    chosen, dropped = choose_box(box, a.threshold, a.alpha)
    st = box.peeling_trajectory.loc[chosen]
    lims = box.box_lims[chosen]
    qp = box.qp[chosen]

    cmd = (f"python scripts/ema_example.py --experiments {a.experiments} --cluster {a.cluster} --years {a.years:g} "
           f"--scale {a.scale:g} --seed {a.seed} --threshold {a.threshold:g} --alpha {a.alpha:g}")
    L = [(f"Command: `{cmd}` (ema_workbench {ema.__version__}; the model's golden run hash "
          f"`{golden().get('run')}`)."), ""]
    L.append(f"Wall time of the run that wrote this block: {wall:.0f} s with {a.jobs} process(es).")
    L.append("")
    L.append(f"**Experiments.** {len(x)} runs of `{a.cluster}` at scale {a.scale:g} for {a.years:g} years, "
             f"a Latin hypercube over the uncertainties below (each at its sensitivity range) and one seed "
             f"per run. Final stage path-locked in {n_coi} runs ({n_coi / len(x):.0%}); the other final stages: "
             + ", ".join(f"{s.removeprefix('stage_')} {int(np.sum(np.asarray(v) > 0.5))}"
                         for s, v in out.items() if s.startswith("stage_") and s != "stage_path_locked"
                         and np.sum(np.asarray(v) > 0.5) > 0) + ".")
    L.append("")
    L.append("**Feature scores** (extra trees; `path_locked`: classification of the final stage, "
             "`lock_in_gap`: regression on centripetal - centrifugal at the end; the seed is the noise "
             "reference):")
    L.append("")
    L.append("| uncertainty | range | path_locked | lock_in_gap |")
    L.append("|---|---|---:|---:|")
    for name, row in scores.iterrows():
        rng = "seed of the run" if name == SEED else f"{g(SCHEMA[name].sa_bounds[0])} – {g(SCHEMA[name].sa_bounds[1])}"
        L.append(f"| `{name}` | {rng} | {row['path_locked']:.3f} | {row['lock_in_gap']:.3f} |")
    L.append("")
    L.append(f"**PRIM box** (threshold density {a.threshold:g}, peel alpha {a.peel_alpha:g}; box {chosen} of the "
             f"trajectory, restrictions with quasi-p above {a.alpha:g} dropped"
             + (f": {', '.join('`' + d + '`' for d in dropped)}" if dropped else ": none") + "):")
    L.append("")
    L.append("| restricted uncertainty | box | full range | quasi-p |")
    L.append("|---|---|---|---:|")
    order = sorted(qp, key=lambda k: min(v for v in qp[k] if v >= 0))
    for name in order:
        lo, hi = (float(v) for v in lims[name])
        flo, fhi = SCHEMA[name].sa_bounds
        q = min(v for v in qp[name] if v >= 0)
        L.append(f"| `{name}` | {g(lo)} – {g(hi)} | {g(flo)} – {g(fhi)} | {q:.2g} |")
    L.append("")
    L.append(f"Coverage {st['coverage']:.2f} (the box holds {int(st['k'])} of the {n_coi} path-locked runs), "
             f"density {st['density']:.2f} ({int(st['k'])} of its {int(st['n'])} runs are path-locked, against "
             f"{n_coi / len(x):.2f} overall), mass {st['mass']:.2f}, {int(st['res_dim'])} restricted "
             f"dimension(s).")
    return "\n".join(L) + "\n", wall


def _stable(block: str) -> str:
    return "\n".join(ln for ln in block.splitlines() if not ln.startswith(VOLATILE))


def doc_block(text: str) -> str:
    """The results block of ``docs/ema.md`` (between the markers)."""
    return text.split(START)[1].split(END)[0].strip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python scripts/ema_example.py", description=__doc__.splitlines()[0])
    ap.add_argument("--experiments", type=int, default=200)
    ap.add_argument("--cluster", default="busan_ulsan_gyeongnam_electronics")
    ap.add_argument("--years", type=float, default=8.0)
    ap.add_argument("--scale", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=1, help="seed of the Latin hypercube and of the extra trees")
    ap.add_argument("--uncertainties", type=lambda s: s.split(","), default=list(DEFAULT_UNCERTAINTIES),
                    help="comma-separated parameter names (default: %(default)s)")
    ap.add_argument("--threshold", type=float, default=0.8, help="PRIM's density threshold")
    ap.add_argument("--peel-alpha", type=float, default=0.05)
    ap.add_argument("--alpha", type=float, default=0.05, help="largest quasi-p value of a kept restriction")
    ap.add_argument("--jobs", type=int, default=1, help="processes (EMA's MultiprocessingEvaluator when > 1)")
    ap.add_argument("--write", action="store_true", help=f"rewrite the block of {DOC.relative_to(ROOT)}")
    ap.add_argument("--check", action="store_true", help=f"exit 1 if {DOC.relative_to(ROOT)} differs")
    a = ap.parse_args(argv)
    if argv is None:  # the block is checked by a test in the portable arithmetic: write it in the same
        run_portably([str(Path(__file__).resolve()), *sys.argv[1:]])
    block, _ = analyse(a)
    print(block)
    if a.check:
        same = _stable(doc_block(DOC.read_text(encoding="utf-8"))) == _stable(block)
        print(f"{DOC.relative_to(ROOT)}: " + ("current" if same else "differs from this run"))
        return 0 if same else 1
    if a.write:
        text = DOC.read_text(encoding="utf-8")
        head, rest = text.split(START)
        tail = rest.split(END)[1]
        DOC.write_text(f"{head}{START}\n{block}{END}{tail}", encoding="utf-8")
        print(f"wrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
