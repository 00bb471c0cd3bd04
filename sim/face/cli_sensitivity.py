"""``clustersim sensitivity``: Morris screening and Sobol indices of the model.

Factors and their ranges come from the parameter schema (``Param.sa_bounds``);
outcomes are final-step indicators of one cluster (``--cluster``) or their mean
over the simulated clusters, plus typology probabilities ``p_<typology>``
(the share of replicates, or of clusters, ending in that typology).

The model under the design is the base model of ``--params``, as in ``clustersim run``: by
default the calibrated model (its global values, each cluster's own calibrated values and its
labeller); ``--params defaults`` takes the parameter schema's defaults. A per-cluster value
gives way to a varied factor or a ``--set`` value of the same name, which hold for every
cluster. ``manifest.json`` records the base model (``base_model``, and in ``per_cluster`` the
per-cluster values still applied), the labeller, the design and the fixed parameters.
"""

from __future__ import annotations

import sys
import time
from functools import partial

import numpy as np
import pandas as pd

from scenarios.base import resolve_base
from sim.core.io import atomic_savefig, atomic_write_json
from sim.engine.experiments import StepProgress
from sim.engine.runner import (
    CONFIG_KEY,
    _check_setup,
    _simulate_task,
    labeller_digest,
    manifest,
)
from sim.engine.sensitivity import FIGURE_DPI, morris, plot_morris, plot_sobol, save_indices, sobol
from sim.engine.settings import RunSettings
from sim.face.options import (
    MAX_REPLICATES,
    MAX_SAMPLES,
    SHARED,
    Default,
    UserError,
    add_deprecated_alias,
    add_force_option,
    add_options,
    add_yes,
    check_backend,
    confirm_size,
    csv_list,
    firm_steps,
    overrides,
    positive,
    prepare_output,
)
from sim.indices.scores import TYPOLOGIES, Labeller
from sim.indices.structure import INDEX_NAMES
from sim.model.system import FLOWS
from sim.model.params import from_sample, problem, validate


class FinalOutcomes:
    """Reducer: final-step indicators of one cluster (or the mean over clusters).

    Also yields ``p_<typology>``: 1/0 for one cluster (so that the replicate mean
    is a probability), the share of clusters otherwise.  Picklable.
    """

    def __init__(self, cluster: str | None = None):
        self.cluster = cluster

    @property
    def __clustersim_name__(self) -> str:
        return f"FinalOutcomes(cluster={self.cluster!r})"

    def __call__(self, frame: pd.DataFrame) -> pd.Series:
        last = frame[frame["step"] == frame["step"].max()]
        if self.cluster is not None:
            last = last[last["cluster"] == self.cluster]
        out = last.groupby("indicator")["value"].mean()
        codes = last.loc[last["indicator"] == "typology", "value"].to_numpy()
        for i, name in enumerate(TYPOLOGIES):
            out[f"p_{name}"] = float(np.mean(codes == i)) if len(codes) else np.nan
        return out


def _sample_task(params: dict, seed: int, **kw):
    """One run of a sensitivity design: integer parameters take the nearest whole number of the sample."""
    return _simulate_task(from_sample(params), seed, **kw)


def cmd_sensitivity(a) -> int:

    names = csv_list(a.factors, "--factors", "factor", "startup_rate,exit_rate") if a.factors else None
    outcomes = csv_list(a.outcomes, "--outcomes", "outcome", "centripetal,centrifugal")
    known = set(_indicator_names()) | {f"p_{t}" for t in TYPOLOGIES}
    bad = [o for o in outcomes if o not in known]
    if bad:
        raise UserError(f"unknown outcome(s) {', '.join(bad)}; choose from: {', '.join(sorted(known))}")
    if a.method == "sobol" and a.n & (a.n - 1):
        low = 1 << (a.n.bit_length() - 1)
        raise UserError(f"--n {a.n}: Sobol's base sample must be a power of 2 (else the indices are biased); "
                        f"use --n {low} or --n {2 * low}")
    clusters = csv_list(a.clusters)
    if a.cluster and clusters and a.cluster not in clusters:
        raise UserError(f"--cluster {a.cluster} is not among --clusters")
    over = overrides(a.set, a.scale)
    over.setdefault("scale", DEFAULT_SCALE)
    model = resolve_base(a.params)  # the base model under every sample point, as in 'clustersim run'
    base = validate(over, source="--set/--scale", base=validate(model.params, source="--params"))
    if names is None:  # every non-set-up parameter, except those fixed with --set
        names = [n for n in problem()["names"] if n not in over]
        if not names:
            raise UserError("--set fixes every factor; leave some out of --set or name --factors")
    fixed = [n for n in names if n in over]
    if fixed:
        raise UserError(f"--set {', '.join(fixed)}: varied by the analysis (in --factors), so the value would be "
                        f"ignored; drop it from --set, or from --factors to hold it fixed")
    prob = problem(names)
    bounds = {n: tuple(b) for n, b in zip(prob["names"], prob["bounds"])}
    for n in bounds:
        base.pop(n, None)
    runs = a.n * (len(bounds) + (1 if a.method == "morris" else 2)) * a.replicates
    check_backend(a.backend, a.jobs, a.scheduler, quiet=a.quiet)
    confirm_size(f"sensitivity ({a.method})", runs, firm_steps(a.years, over["scale"], clusters or (
        [a.cluster] if a.cluster else None)), a.jobs, a.yes,
        "a smaller --n, fewer --factors or --replicates, fewer --years or --clusters", quiet=a.quiet)

    # a per-cluster value of the base model gives way to what is set explicitly: --set and the varied factors
    explicit = set(over) | set(bounds)
    table = model.cluster_table(explicit)
    _check_setup(base, {"cluster_table": table,
                        "clusters": [a.cluster] if a.cluster and not clusters else clusters})
    if a.cluster and not clusters:
        clusters = [a.cluster]
    func = partial(_sample_task, years=a.years, clusters=clusters, cluster_table=table, labeller=model.labeller)
    config = RunSettings(years=a.years, clusters=clusters, extra={
        "cluster": a.cluster, "labeller": labeller_digest(model.labeller),
        "cluster_table": None if table is None else pd.util.hash_pandas_object(table, index=False).sum().item(),
    }).to_cell()
    out = prepare_output(a.out, "sensitivity", resume=a.resume, force=a.force, overwrite=a.overwrite)
    kw = {"replicates": a.replicates, "seed": a.seed, "outcome_reducer": FinalOutcomes(a.cluster),
          "out_dir": out / "store", "backend": a.backend if a.jobs != 1 else "sequential", "n_jobs": a.jobs,
          "scheduler": a.scheduler, "resume": a.resume, "progress": not a.quiet,
          "constants": {**base, CONFIG_KEY: config}}
    t0 = time.perf_counter()
    if a.method == "morris":
        res = morris(func, bounds, outcomes, n_trajectories=a.n, **kw)
        plot = plot_morris
    else:
        res = sobol(func, bounds, outcomes, n=a.n, **kw)
        plot = plot_sobol
    save_indices(res, out)
    atomic_write_json(out / "manifest.json", manifest(
        command=" ".join(["clustersim"] + sys.argv[1:]), method=a.method, seed=a.seed, replicates=a.replicates,
        n=a.n, runs=runs, years=a.years, clusters=clusters, cluster=a.cluster, outcomes=outcomes,
        factors={n: list(b) for n, b in bounds.items()}, params=base, base_model=model.record,
        per_cluster=[c for c in (model.record or {}).get("per_cluster") or [] if c not in explicit],
        labeller={"source": (model.labeller or Labeller.default()).source,
                  "sha256": labeller_digest(model.labeller)},
        wall_time=time.perf_counter() - t0))
    note = StepProgress("figures", len(outcomes), not a.quiet)
    for o in outcomes:
        note(f"{a.method} {o}")
        atomic_savefig(out / f"{a.method}_{o}.png", plot(res, o), dpi=FIGURE_DPI, bbox_inches="tight")
    if not a.quiet:
        print(f"wrote {a.method} indices for {len(outcomes)} outcome(s) x {len(bounds)} factors to {out} "
              f"in {time.perf_counter() - t0:.0f}s")
        cols = ["outcome", "parameter", "mu_star", "sigma"] if a.method == "morris" else \
            ["outcome", "parameter", "S1", "ST"]
        top = res.indices.sort_values(cols[2], ascending=False).groupby("outcome").head(5)
        print(top[cols].to_string(index=False))
    return 0


#: ``--scale`` when neither ``--scale`` nor ``--set scale=...`` is given.
DEFAULT_SCALE = 0.05


def _indicator_names() -> list[str]:

    return list(INDEX_NAMES) + list(FLOWS) + ["centripetal", "centrifugal", "typology", "stage"]


def register(sub) -> None:

    p = sub.add_parser("sensitivity", help="Morris screening or Sobol indices over the parameter schema (SALib)")
    p.add_argument("--method", choices=["morris", "sobol"], required=True)
    p.add_argument("--outcomes", required=True,
                   help="comma-separated final-step outcomes, e.g. centripetal,centrifugal,p_path_locked")
    p.add_argument("--n", type=positive(int, maximum=MAX_SAMPLES), required=True,
                   help="Morris: trajectories (runs = n(D+1)); Sobol: base sample, a power of 2 (runs = n(D+2))")
    add_options(p, *SHARED, scale=Default(None, str(DEFAULT_SCALE)), jobs=Default(None, "all cores"))
    add_deprecated_alias(p, "--workers", "jobs")  # the old name, from before every command said --jobs
    p.add_argument("--factors", help="comma-separated parameters to vary (default: every non-set-up parameter)")
    p.add_argument("--cluster", help="outcomes of this cluster (default: mean over the simulated clusters)")
    p.add_argument("--clusters", help="clusters to simulate (default: all 38)")
    p.add_argument("--replicates", type=positive(int, maximum=MAX_REPLICATES), default=2,
                   help="replicates per sample, averaged (default %(default)s)")
    p.add_argument("--set", action="append", metavar="NAME=VALUE",
                   help="fix a parameter (repeatable); a fixed parameter is left out of the default factors")
    p.add_argument("--resume", action="store_true", help="reuse finished runs in OUT")
    p.add_argument("--quiet", action="store_true")
    add_yes(p)
    add_force_option(p)
    p.set_defaults(func=cmd_sensitivity)
