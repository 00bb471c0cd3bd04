"""Command-line options and value converters shared by every ``clustersim`` command.

Each converter turns one option's text into a value or raises an error that ``clustersim``
prints as one line with exit code 2.
"""

from __future__ import annotations

import argparse

from sim.model.params import parse_override


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


def overrides(sets: list[str] | None) -> dict:

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


def seed(text):
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text!r}")
    return v


def add_common(p: argparse.ArgumentParser, years_default: float = 10) -> None:
    p.add_argument("--years", type=positive(float, maximum=1000), default=years_default,
                   help="simulated years (default %(default)s, at most 1000)")
    p.add_argument("--seed", type=seed, default=1, help="root random seed, a non-negative integer (default %(default)s)")
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
    """The ``--params`` option of ``run`` and ``project``: the base model (see :func:`scenarios.base.resolve_base`)."""
    p.add_argument("--params", metavar="calibrated|defaults|FILE.json", default="calibrated",
                   help="base model: 'calibrated' (default: the shipped calibration, each cluster with its own "
                        "calibrated values), 'defaults' (the parameter schema's defaults, the same in every "
                        "cluster) or a JSON file (a calibration's params.json or an object of parameter values); "
                        "values set explicitly (--set, a scenario's [params]) hold for every cluster")
