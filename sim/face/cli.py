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
from pathlib import Path

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class UserError(Exception):
    """Bad input from the user: reported in one line, exit code 2."""


def csv_list(text: str | None, option: str = "--clusters", what: str = "cluster",
             example: str = "wonju_medical_devices,jeonju_machinery") -> list[str] | None:
    """A comma-separated option value as a list (``None`` if not given); an empty list is a :class:`UserError`."""
    if text is None:
        return None
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise UserError(f"{option}: an empty {what} list was given; pass comma-separated values, "
                        f"e.g. {option} {example}")
    return items


def _overrides(sets: list[str] | None) -> dict:
    from sim.model.params import parse_override

    out = {}
    for s in sets or []:
        k, v = parse_override(s)
        out[k] = v
    return out


def positive(kind, maximum=None):
    """An argparse converter to a positive ``kind`` (int or float), at most ``maximum``."""
    def conv(text):
        try:
            v = kind(text)
        except (ValueError, OverflowError):
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__}, got {text!r}") from None
        if not v > 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text!r}")
        if maximum is not None and not v <= maximum:
            raise argparse.ArgumentTypeError(f"must be at most {maximum:,}, got {text!r}")
        return v
    return conv


def _seed(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text!r}")
    return v


def _add_common(p: argparse.ArgumentParser, years_default: float = 10) -> None:
    p.add_argument("--years", type=positive(float, maximum=1000), default=years_default,
                   help="simulated years (default %(default)s, at most 1000)")
    p.add_argument("--seed", type=_seed, default=1, help="root random seed, a non-negative integer (default %(default)s)")
    p.add_argument("--replicates", type=positive(int), default=1, help="replicates (default %(default)s)")
    p.add_argument("--clusters", help="comma-separated cluster ids (default: all 38; see 'clustersim clusters')")
    p.add_argument("--scale", type=float, help="fraction of real firm counts simulated (0.001-1; default 1)")
    p.add_argument("--set", action="append", metavar="NAME=VALUE", help="override a parameter (repeatable; see 'clustersim params')")
    p.add_argument("--jobs", type=positive(int, maximum=1_000_000), default=1, help="parallel workers (default %(default)s)")
    p.add_argument("--backend", default="loky", choices=["loky", "sequential", "dask", "ray"],
                   help="joblib backend for parallel replicates (default %(default)s)")
    p.add_argument("--resume", action="store_true", help="reuse finished replicates in OUT and compute only the missing ones")
    p.add_argument("--quiet", action="store_true", help="no progress output")


def add_base_option(p: argparse.ArgumentParser) -> None:
    """The ``--params`` option of ``run`` and ``project``: the base model (see :func:`scenarios.projection.resolve_base`)."""
    p.add_argument("--params", metavar="calibrated|defaults|FILE.json", default="calibrated",
                   help="base model: 'calibrated' (default: the shipped calibration, each cluster with its own "
                        "calibrated values), 'defaults' (the parameter schema's defaults, the same in every "
                        "cluster) or a JSON file (a calibration's params.json or an object of parameter values); "
                        "values set explicitly (--set, a scenario's [params]) hold for every cluster")


def cmd_run(a) -> int:
    from sim.plots.scores import plot_score_paths
    from sim.engine.runner import run

    out = Path(a.out)
    t0 = time.time()
    df = run(years=a.years, seed=a.seed, replicates=a.replicates, clusters=csv_list(a.clusters),
             scale=a.scale, params=_overrides(a.set), out=out, resume=a.resume, n_jobs=a.jobs,
             backend=a.backend, progress=not a.quiet, command=" ".join(["clustersim"] + sys.argv[1:]),
             base=a.params)
    if not a.no_figure:
        fig = plot_score_paths(df)
        fig.savefig(out / "scores.png", dpi=120, bbox_inches="tight")
    if not a.quiet:
        n_cl = df["cluster"].nunique()
        print(f"wrote {out / 'indicators.parquet'} ({len(df):,} rows, {n_cl} clusters, "
              f"{a.replicates} replicate(s)), {out / 'manifest.json'}"
              + ("" if a.no_figure else f", {out / 'scores.png'}") + f" in {time.time() - t0:.1f}s")
    return 0


def cmd_params(a) -> int:
    from sim.model.params import SCHEMA, describe

    if a.json:
        print(json.dumps({k: {"default": p.default, "low": p.low, "high": p.high, "kind": p.kind,
                              "group": p.group, "doc": p.doc} for k, p in SCHEMA.items()}, indent=2))
    else:
        print(describe())
    return 0


def cmd_clusters(a) -> int:
    from sim.data.clusters import cluster_table

    tab = cluster_table()
    for _, r in tab.iterrows():
        print(f"{r['id']:<42}{r['sector_family']:<22}{int(r['firms']):>7} firms  {r['name_en']}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="clustersim", description="Agent-based model of industrial cluster evolution.")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("run", help="run the model and write indicators.parquet, manifest.json and a figure")
    _add_common(p)
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--no-figure", action="store_true", help="do not draw scores.png")
    add_base_option(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("params", help="list every model parameter with default, range and meaning")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_params)

    p = sub.add_parser("clusters", help="list the cluster ids of the embedded data")
    p.set_defaults(func=cmd_clusters)

    for register in _extensions():
        register(sub)
    return ap


def _extensions():
    """Sub-commands contributed by other modules (each has ``register(subparsers)``)."""
    import importlib

    out = []
    for mod in ("sim.face.cli_sensitivity", "sim.face.cli_calibration", "sim.face.cli_scenarios", "sim.face.cli_app"):
        try:
            m = importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name == mod:
                continue
            raise
        out.append(m.register)
    return out


def main(argv: list[str] | None = None) -> int:
    from sim.model.params import ParameterError

    known_errors: tuple[type[BaseException], ...] = (UserError, ParameterError, FileExistsError)
    try:
        from sim.data.observed import DataError
        known_errors += (DataError,)
    except ImportError:  # pragma: no cover
        pass
    try:
        from sim.engine.experiments import ResumeMismatchError
        known_errors += (ResumeMismatchError,)
    except ImportError:  # pragma: no cover
        pass
    try:
        from scenarios.scenario import ScenarioError
        known_errors += (ScenarioError,)
    except ImportError:
        pass
    ap = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    for tok in argv:
        # argparse (Python 3.11) turns '--opt=--' into an empty list instead of an error
        if tok.startswith("-") and tok.partition("=")[2] == "--":
            print(f"clustersim: error: argument {tok.partition('=')[0]}: expected a value, got '--'", file=sys.stderr)
            return EXIT_USAGE
    a = ap.parse_args(argv)
    try:
        return int(a.func(a) or 0)
    except known_errors as exc:
        msg = " ".join(str(exc).splitlines())  # one line, whatever the message holds
        print(f"clustersim: error: {msg}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        out = getattr(a, "out", None)
        hint = f" Finished work is saved in {out}; run the same command with --resume to continue." if out else ""
        print(f"\nclustersim: interrupted.{hint}", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
