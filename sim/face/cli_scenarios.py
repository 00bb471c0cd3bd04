"""Sub-commands ``project``, ``report``, ``scenarios`` and ``policies`` of ``clustersim``.

``sim.face.cli`` imports this module and calls :func:`register`; bad input raises
:class:`scenarios.ScenarioError` or :class:`sim.model.params.ParameterError`, which
``sim.face.cli`` prints as one line with exit code 2.

Examples
--------
::

    clustersim scenarios                                   # the built-in scenario files
    clustersim scenarios --check my_scenario.toml          # validate files, one line each
    clustersim policies                                    # every policy, its parameters and meaning
    clustersim project baseline hub_institution startup_inflow --quick --out results/quick
    clustersim project scenarios/*.toml --replicates 20 --scale 0.1 --jobs 2 --out results/proj
    clustersim project my.toml --params results/calibration/params.json --out results/cal --resume
    clustersim project baseline --params defaults --quick --out results/uncalibrated
    clustersim report results/proj                         # -> results/proj/report.html
"""

from __future__ import annotations

import shlex
import time

from scenarios.base import DEFAULT_BASE
from scenarios.policies import REGISTRY, policy_table
from scenarios.projection import project
from scenarios.scenario import ScenarioError, list_builtin, load
from scenarios.settings import load_all, resolve_settings, with_baseline
from sim.face.options import (
    MAX_REPLICATES,
    SHARED,
    Default,
    add_force_option,
    add_options,
    add_yes,
    check_backend,
    confirm_size,
    csv_list,
    firm_steps,
    positive,
    prepare_output,
)
from sim.face.report import build_report


def _command(a) -> str:
    """The command line equivalent to the parsed ``project`` arguments (for the manifest)."""

    parts = ["clustersim", "project", *a.scenario, "--out", a.out]
    for opt in ("replicates", "seed", "scale", "clusters", "params", "baseline", "jobs", "backend", "scheduler"):
        v = getattr(a, opt)
        if v is not None and (opt, v) not in (("jobs", 1), ("backend", "loky"), ("params", DEFAULT_BASE)):
            parts += [f"--{opt}", str(v)]
    for flag in ("quick", "resume", "no_figures", "quiet", "force"):
        if getattr(a, flag):
            parts.append("--" + flag.replace("_", "-"))
    return " ".join(shlex.quote(str(p)) for p in parts)


def cmd_project(a) -> int:

    check_backend(a.backend, a.jobs, a.scheduler, quiet=a.quiet)
    _confirm(a)
    out = prepare_output(a.out, "project", resume=a.resume, force=a.force, overwrite=a.overwrite)
    t0 = time.perf_counter()
    proj = project(a.scenario, out, replicates=a.replicates, seed=a.seed, clusters=csv_list(a.clusters),
                   scale=a.scale, quick=a.quick, params_file=a.params, baseline=a.baseline,
                   n_jobs=a.jobs, backend=a.backend, scheduler=a.scheduler, resume=a.resume, progress=not a.quiet,
                   figures=not a.no_figures, command=_command(a))
    if not a.quiet:
        st = proj.settings
        print(f"projected {len(proj.scenarios)} scenario(s) ({', '.join(proj.names)}; baseline "
              f"{proj.baseline}) x {st['replicates']} replicates, {st['start_year']}-{st['end_year']}, "
              f"in {time.perf_counter() - t0:.1f}s -> {out}/indicators.parquet, effects.csv, transitions.csv, "
              f"cluster_outcomes.csv" + ("" if a.no_figures else ", figures/") + ", manifest.json\n"
              f"make the report with: clustersim report {out}")
    return 0


def _confirm(a) -> None:
    """Estimate the projection's runs and time; a large one needs ``--yes`` (:func:`confirm_size`)."""
    scen, _, _ = with_baseline(load_all(a.scenario), a.baseline)
    st = resolve_settings(scen, replicates=a.replicates, seed=a.seed, clusters=csv_list(a.clusters),
                          scale=a.scale, quick=a.quick)
    scale = st["scale"] if st["scale"] is not None else max(s.params.get("scale", 1.0) for s in scen)
    confirm_size("project", len(scen) * st["replicates"], firm_steps(st["years"], scale, st["clusters"]), a.jobs,
                 a.yes, "fewer --replicates, a smaller --scale, fewer --clusters or scenarios", quiet=a.quiet)


def cmd_report(a) -> int:

    path = build_report(a.dir, a.out, progress=not a.quiet)
    if not a.quiet:
        print(f"wrote {path}")
    return 0


def cmd_scenarios(a) -> int:

    if a.check:
        bad = 0
        for f in a.check:
            try:
                s = load(f)
            except ScenarioError as exc:
                print(f"error: {exc}")
                bad += 1
            else:
                print(f"ok: {f}: scenario {s.name}, {s.start_year}-{s.end_year}, {len(s.policies)} "
                      f"polic{'y' if len(s.policies) == 1 else 'ies'}, {s.replicates} replicates")
        if bad:
            raise ScenarioError(f"{bad} of {len(a.check)} scenario file(s) invalid (see above)")
        return 0
    for name in list_builtin():
        s = load(name)
        pols = ", ".join(p["policy"] for p in s.policies) or "no policy"
        print(f"{name:<24}{s.start_year}-{s.end_year}  {pols}")
    return 0


def cmd_policies(a) -> int:

    if a.name:
        if a.name not in REGISTRY:
            raise ScenarioError(f"unknown policy {a.name!r}; known: {', '.join(REGISTRY)}")
        cls = REGISTRY[a.name]
        print(f"{cls.name}: {cls.__doc__.strip()}\n\nmechanism: {cls.mechanism}\n\nsource: {cls.source}\n\n"
              f"hypothesis: {cls.hypothesis}\n")
        rows = [(pname, str(default), doc) for pname, default, doc in cls.parameters()]
        width = max(len(d) for _, d, _ in rows) + 2  # a default never runs into its meaning
        for pname, default, doc in rows:
            print(f"    {pname:<16}{default:<{width}}{doc}")
        return 0
    print(policy_table(), end="")
    return 0


def register(sub) -> None:
    """Add the sub-commands to ``clustersim``'s sub-parser collection."""

    p = sub.add_parser("project", help="run scenarios as ensembles with common random numbers and write "
                                       "indicators, effect and transition tables and figures",
                       description="Project scenarios (TOML files or built-in names) from the 2020 state.")
    p.add_argument("scenario", nargs="+", help="scenario files or built-in names (see 'clustersim scenarios'); "
                                               "a baseline is added if none is given")
    # --out --params --seed --scale --jobs --backend --scheduler (the years are the scenario files')
    add_options(p, *(o for o in SHARED if o != "years"), seed=Default(None, "the files'"),
                scale=Default(None, "the files' [params] or 1"))
    p.add_argument("--replicates", type=positive(int, maximum=MAX_REPLICATES),
                   help=f"replicates per scenario (default: the files'; at most {MAX_REPLICATES:,})")
    p.add_argument("--clusters", help="comma-separated cluster ids to simulate (default: the files')")
    p.add_argument("--quick", action="store_true", help="small fast run: scale 0.02 and 3 replicates unless given")
    p.add_argument("--baseline", help="name of the scenario the effects are measured against")
    p.add_argument("--resume", action="store_true", help="reuse finished replicates in OUT/store")
    p.add_argument("--no-figures", action="store_true", help="do not draw figures/")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    add_yes(p)
    add_force_option(p)
    p.set_defaults(func=cmd_project)

    p = sub.add_parser("report", help="write a self-contained HTML report of a projection folder")
    p.add_argument("dir", help="projection folder written by 'clustersim project'")
    p.add_argument("--out", help="HTML file (default DIR/report.html)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("scenarios", help="list the built-in scenario files, or validate files with --check")
    p.add_argument("--check", nargs="+", metavar="FILE", help="validate scenario files and report each")
    p.set_defaults(func=cmd_scenarios)

    p = sub.add_parser("policies", help="list the policy plug-ins and their parameters")
    p.add_argument("name", nargs="?", help="show one policy's mechanism, source and hypothesis")
    p.set_defaults(func=cmd_policies)
