"""The scenarios and common settings of a projection: loading, a baseline, agreed settings, targets.

:func:`load_all` loads scenario files or built-in names, :func:`with_baseline` finds or adds
the baseline, :func:`resolve_settings` settles the settings every scenario must share
(command-line values win) and :func:`check_targets` checks that targeted clusters are simulated.
"""

from __future__ import annotations

from collections.abc import Sequence

from scenarios.scenario import Scenario, ScenarioError, load
from sim.data.clusters import check_ids, cluster_table
from sim.model.params import SCHEMA

__all__ = ["QUICK", "load_all", "with_baseline", "resolve_settings", "check_targets"]

#: Settings of ``--quick``: a small fast run.
QUICK = {"scale": 0.02, "replicates": 3}


def load_all(scenarios) -> list:

    out = []
    for s in scenarios:
        out.append(s if isinstance(s, Scenario) else load(s))
    if not out:
        raise ScenarioError("no scenario given")
    names = [s.name for s in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ScenarioError(f"scenario name(s) {', '.join(dup)} given more than once (names must be unique)")
    return out


def _common(scen: list, attr: str, label: str, flag: str):

    vals = {s.name: getattr(s, attr) for s in scen}
    uniq = []
    for v in vals.values():
        if v not in uniq:
            uniq.append(v)
    if len(uniq) > 1:
        desc = ", ".join(f"{n}: {'all' if v is None else v}" for n, v in vals.items())
        hint = f"; pass {flag} to run them on one setting" if flag else ""
        raise ScenarioError(f"scenarios disagree on {label} ({desc}){hint}")
    return uniq[0]


def resolve_settings(scen: list, *, replicates: int | None = None, seed: int | None = None,
                     clusters: Sequence[str] | None = None, scale: float | None = None,
                     quick: bool = False) -> dict:
    """Common settings of a projection: command-line values win, else the scenarios must agree."""

    start = _common(scen, "start_year", "start_year", "")
    end = _common(scen, "end_year", "end_year", "")
    if replicates is None:
        replicates = QUICK["replicates"] if quick else _common(scen, "replicates", "replicates", "--replicates")
    if seed is None:
        seed = _common(scen, "seed", "seed", "--seed")
    if clusters is None:
        clusters = _common(scen, "clusters", "clusters", "--clusters")
    else:

        clusters = check_ids(clusters)
    if scale is None and quick:
        scale = QUICK["scale"]
    if scale is not None:

        scale = SCHEMA["scale"].check(scale, "--scale")
    if int(replicates) < 1:
        raise ScenarioError(f"--replicates must be at least 1, got {replicates}")
    if not 0 <= int(seed) < 2 ** 63:
        raise ScenarioError(f"--seed must be a whole number in [0, 2^63), got {seed}")
    record_every = min(s.record_every for s in scen)
    return {"start_year": int(start), "end_year": int(end), "years": int(end) - int(start),
            "replicates": int(replicates), "seed": int(seed), "clusters": clusters, "scale": scale,
            "record_every": int(record_every), "quick": bool(quick)}


def with_baseline(scen: list, baseline: str | None) -> tuple[list, str, bool]:
    """The scenarios plus a baseline (the named one, one called 'baseline', one without policies, or added)."""

    names = [s.name for s in scen]
    if baseline is not None:
        if baseline not in names:
            raise ScenarioError(f"--baseline {baseline!r} is not one of the scenarios given ({', '.join(names)})")
        return scen, baseline, False
    if "baseline" in names:
        return scen, "baseline", False
    for s in scen:
        if not s.policies:
            return scen, s.name, False
    b = load("baseline")
    first = scen[0]
    params = [s.params for s in scen]
    b.params = dict(params[0]) if all(p == params[0] for p in params) else {}
    b.start_year, b.end_year, b.replicates, b.seed = first.start_year, first.end_year, first.replicates, first.seed
    b.clusters, b.record_every = first.clusters, first.record_every
    b.path = None
    b.description = f"No policy (added automatically; settings and [params] as {first.name})."
    b.text = (f"# Added automatically by clustersim project: the built-in baseline with the horizon, replicates,\n"
              f"# seed and clusters of scenario {first.name!r} and the scenarios' common [params] {b.params}.\n"
              + b.text)
    return [b, *scen], "baseline", True


def check_targets(s, clusters: list[str] | None) -> None:

    if clusters is None:
        return

    tab = cluster_table()
    fam = dict(zip(tab["id"], tab["sector_family"]))
    for i, spec in enumerate(s.policies):
        t = spec.get("target", "all")
        if t == "all":
            continue
        if isinstance(t, str) and t.startswith("family:"):
            if not any(fam[c] == t.split(":", 1)[1] for c in clusters):
                raise ScenarioError(f"{s.path or s.name}: policy #{i + 1} ({spec['policy']}).target: {t!r} "
                                    f"matches none of the simulated clusters")
            continue
        ids = [t] if isinstance(t, str) else t
        off = [c for c in ids if c not in clusters]
        if off:
            raise ScenarioError(f"{s.path or s.name}: policy #{i + 1} ({spec['policy']}).target: cluster(s) "
                                f"{', '.join(off)} are not simulated (add them to --clusters)")
