"""The ``clustersim`` command line.

Every command validates its input before any work starts; bad input prints one
line ``clustersim: error: ...`` naming the problem and the fix and exits with
code 2 (no traceback).  An interrupted command exits with 130 and says how to
resume.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings

from scenarios.base import resolve_base
from scenarios.scenario import ScenarioError
from sim.core.io import InputFileError, atomic_savefig
from sim.data.clusters import cluster_table
from sim.data.observed import DataError
from sim.engine.backends import BackendError
from sim.engine.runner import run
from sim.engine.store import ResumeMismatchError
from sim.face.options import (
    MAX_REPLICATES,
    SHARED,
    OutputError,
    UserError,
    add_force_option,
    add_options,
    add_yes,
    check_backend,
    confirm_size,
    csv_list,
    discard_new_output,
    firm_steps,
    keep_new_output,
    overrides,
    positive,
    prepare_output,
)
from sim.model.params import SCHEMA, ParameterError, describe
from sim.plots.scores import plot_score_paths

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def cmd_run(a) -> int:

    clusters, over = csv_list(a.clusters), overrides(a.set, a.scale)
    base = resolve_base(a.params)  # bad input stops before the folder is made
    check_backend(a.backend, a.jobs, a.scheduler, quiet=a.quiet)
    confirm_size("run", a.replicates, firm_steps(a.years, over.get("scale"), clusters), a.jobs, a.yes,
                 "fewer --replicates, fewer --years, a smaller --scale or fewer --clusters", quiet=a.quiet)
    out = prepare_output(a.out, "run", resume=a.resume, force=a.force, overwrite=a.overwrite)
    t0 = time.perf_counter()
    df = run(years=a.years, seed=a.seed, replicates=a.replicates, clusters=clusters,
             params=over, out=out, resume=a.resume, n_jobs=a.jobs, backend=a.backend, scheduler=a.scheduler,
             progress=not a.quiet, command=" ".join(["clustersim"] + sys.argv[1:]), base=base)
    if not a.no_figure:
        atomic_savefig(out / "scores.png", plot_score_paths(df), dpi=120, bbox_inches="tight")
    if not a.quiet:
        n_cl = df["cluster"].nunique()
        print(f"wrote {out / 'indicators.parquet'} ({len(df):,} rows, {n_cl} clusters, "
              f"{a.replicates} replicate(s)), {out / 'manifest.json'}"
              + ("" if a.no_figure else f", {out / 'scores.png'}") + f" in {time.perf_counter() - t0:.1f}s")
    return 0


def cmd_params(a) -> int:

    if a.json:
        print(json.dumps({k: {"default": p.default, "low": p.low, "high": p.high, "kind": p.kind,
                              "group": p.group, "doc": p.doc} for k, p in SCHEMA.items()}, indent=2))
    else:
        print(describe())
    return 0


def cmd_clusters(a) -> int:

    tab = cluster_table()
    for _, r in tab.iterrows():
        print(f"{r['id']:<42}{r['sector_family']:<22}{int(r['firms']):>7} firms  {r['name_en']}")
    return 0


#: The module that adds each command beyond ``run``, ``params`` and ``clusters`` (each has
#: ``register(subparsers)``).  :func:`main` imports only the module of the command it is given:
#: together they take over a second to import (SALib, scipy.stats, the calibration, the app).
#: Help, or a command not listed here, loads them all.
COMMAND_MODULES: dict[str, str] = {
    "sensitivity": "cli_sensitivity",
    "calibrate": "cli_calibration", "predict": "cli_calibration", "validate": "cli_calibration",
    "exam": "cli_calibration", "recover": "cli_calibration",
    "project": "cli_scenarios", "report": "cli_scenarios", "scenarios": "cli_scenarios",
    "policies": "cli_scenarios",
    "demo": "cli_app",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser: every command, or, given a command of :data:`COMMAND_MODULES`, the
    built-in commands and those of that command's module only."""
    ap = argparse.ArgumentParser(prog="clustersim", description="Agent-based model of industrial cluster evolution.")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("run", help="run the model and write indicators.parquet, manifest.json and a figure")
    add_options(p, *SHARED)  # --out --params --years --seed --scale --jobs --backend --scheduler
    p.add_argument("--replicates", type=positive(int, maximum=MAX_REPLICATES), default=1,
                   help=f"replicates (default %(default)s, at most {MAX_REPLICATES:,})")
    p.add_argument("--clusters", help="comma-separated cluster ids (default: all 38; see 'clustersim clusters')")
    p.add_argument("--set", action="append", metavar="NAME=VALUE",
                   help="override a parameter (repeatable; see 'clustersim params')")
    p.add_argument("--resume", action="store_true",
                   help="reuse finished replicates in OUT and compute only the missing ones")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.add_argument("--no-figure", action="store_true", help="do not draw scores.png")
    add_yes(p)
    add_force_option(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("params", help="list every model parameter with default, range and meaning")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_params)

    p = sub.add_parser("clusters", help="list the cluster ids of the embedded data")
    p.set_defaults(func=cmd_clusters)

    if command in sub.choices:  # run, params or clusters: no other module needed
        return ap
    names = [COMMAND_MODULES[command]] if command in COMMAND_MODULES else list(dict.fromkeys(COMMAND_MODULES.values()))
    for name in names:
        command_module(name).register(sub)
    return ap


def command_module(name: str):
    """Import one command module of :data:`COMMAND_MODULES` (imported here, on demand, and nowhere else)."""
    if name == "cli_sensitivity":
        import sim.face.cli_sensitivity as module
    elif name == "cli_calibration":
        import sim.face.cli_calibration as module
    elif name == "cli_scenarios":
        import sim.face.cli_scenarios as module
    elif name == "cli_app":
        import sim.face.cli_app as module
    else:
        raise KeyError(f"no command module {name!r}")
    return module


def main(argv: list[str] | None = None) -> int:
    known_errors: tuple[type[BaseException], ...] = (UserError, ParameterError, FileExistsError, DataError,
                                                     ResumeMismatchError, ScenarioError, BackendError,
                                                     InputFileError, OutputError)
    argv = sys.argv[1:] if argv is None else list(argv)
    ap = build_parser(argv[0] if argv else None)
    for tok in argv:
        # argparse (Python 3.11) turns '--opt=--' into an empty list instead of an error
        if tok.startswith("-") and tok.partition("=")[2] == "--":
            print(f"clustersim: error: argument {tok.partition('=')[0]}: expected a value, got '--'", file=sys.stderr)
            return EXIT_USAGE
    a = ap.parse_args(argv)
    previous = warnings.showwarning
    warnings.showwarning = _show_warning
    try:
        return int(a.func(a) or 0)
    except known_errors as exc:
        discard_new_output()  # bad input leaves no new folder behind
        msg = " ".join(str(exc).splitlines())  # one line, whatever the message holds
        print(f"clustersim: error: {msg}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:  # the file system refused (read-only, full disk, permissions): one line, not a traceback
        where = f" {exc.filename}" if getattr(exc, "filename", None) else ""
        msg = " ".join(f"cannot read or write{where}: {exc.strerror or exc}; check the path and its permissions, "
                       f"or choose another location".splitlines())
        print(f"clustersim: error: {msg}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        out = getattr(a, "out", None)
        hint = f" Finished work is saved in {out}; run the same command with --resume to continue." if out else ""
        print(f"\nclustersim: interrupted.{hint}", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        warnings.showwarning = previous
        keep_new_output()


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Print a warning as one line ``clustersim: warning: ...`` (not Python's two-line form)."""
    text = " ".join(str(message).split())
    try:
        print(f"clustersim: warning: {text}", file=file or sys.stderr)
    except (OSError, ValueError):  # stderr closed
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
