"""Policy scenarios: TOML files read as data (never executed) and validated.

A scenario file names the policies, their parameters and targets, the horizon,
the replicates and the seed, and optional parameter overrides::

    [scenario]
    name = "hub_wonju"                      # default: the file name without .toml
    description = "A university and an intermediary placed in Wonju from 2025"
    start_year = 2020                       # the model starts from the 2020 state
    end_year = 2035
    replicates = 20
    seed = 2020
    clusters = "all"                        # or a list of cluster ids
    record_every = 4                        # quarters between recorded states (4 = yearly)

    [params]                                # optional overrides, validated by sim.model.params
    startup_rate = 0.04

    [[policy]]                              # one table per policy; any number
    policy = "hub_institution"              # a name in scenarios.policies.REGISTRY
    start = 2025                            # calendar year (default: start_year)
    end = 2035                              # calendar year, exclusive (default: end of the run)
    target = "wonju_medical_devices"        # "all", an id, a list of ids, or "family:<sector_family>"
    intensity = 1.0
    kind = ["university", "intermediary"]   # policy-specific keys (see `clustersim policies`)

Every problem -- malformed TOML (with its line), an unknown table or key, a
bad type, an out-of-range value, an unknown policy, cluster or sector family --
raises :class:`ScenarioError` with a one-line message naming the file and the key.

API: :func:`load` (a path or a built-in name) -> :class:`Scenario`,
:func:`loads` (text), :func:`list_builtin`, :func:`builtin_path`.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from scenarios.policies import REGISTRY, _check_value, build_policies
from sim.core.calendar import STEPS_PER_YEAR
from sim.core.io import KB, InputFileError, read_small_text
from sim.data.clusters import cluster_table
from sim.model.params import SCHEMA, ParameterError

__all__ = ["ScenarioError", "Scenario", "load", "loads", "list_builtin", "builtin_path", "DEFAULTS"]


class ScenarioError(ValueError):
    """A scenario file (or a scenario setting) is not acceptable; the message names the file and the key."""


#: Defaults of the ``[scenario]`` table.
DEFAULTS: dict[str, Any] = {
    "start_year": 2020,
    "end_year": 2035,
    "replicates": 10,
    "seed": 2020,
    "clusters": "all",
    "record_every": 4,
}

_SCENARIO_KEYS = {
    "name": "scenario name (letters, digits, _ and -)",
    "description": "one-paragraph description",
    "start_year": "calendar year of the initial (2020) state",
    "end_year": "calendar year at which the projection ends",
    "replicates": "replicates of the ensemble",
    "seed": "root random seed (replicate seeds are spawned from it: common random numbers)",
    "clusters": '"all" or a list of cluster ids to simulate',
    "record_every": "quarters between recorded states",
}
_TOP_KEYS = ("scenario", "params", "policy")
#: The largest scenario file read (the built-in ones are 1-3 KB).
SCENARIO_LIMIT = 512 * KB


@dataclass
class Scenario:
    """A validated scenario.

    Attributes
    ----------
    name, description : str
    path : str or None
        File it was read from (``None`` for text).
    start_year, end_year : int
        Horizon; the model runs ``end_year - start_year`` years from the 2020 state.
    replicates, seed : int
    clusters : list of str or None
        Simulated clusters (``None`` = all 38).
    record_every : int
    params : dict
        Parameter overrides as validated by :func:`sim.model.params.validate`.
    policies : list of dict
        Policy specifications for :func:`scenarios.policies.build_policies`, with
        ``start``/``end`` converted to years from the start of the run.
    sha256 : str
        Digest of the file's text (provenance).
    """

    name: str
    description: str = ""
    path: str | None = None
    start_year: int = DEFAULTS["start_year"]
    end_year: int = DEFAULTS["end_year"]
    replicates: int = DEFAULTS["replicates"]
    seed: int = DEFAULTS["seed"]
    clusters: list[str] | None = None
    record_every: int = DEFAULTS["record_every"]
    params: dict = field(default_factory=dict)
    policies: list[dict] = field(default_factory=list)
    sha256: str = ""
    text: str = field(default="", repr=False)

    @property
    def years(self) -> int:
        """Simulated years."""
        return self.end_year - self.start_year

    def policy_objects(self):
        """Fresh :class:`scenarios.policies.Policy` objects of this scenario."""

        return build_policies(self.policies)

    def targeted_clusters(self, simulated: list[str]) -> list[str]:
        """Ids of the simulated clusters that some policy of this scenario targets."""

        fam = dict(zip(cluster_table()["id"], cluster_table()["sector_family"]))
        out: list[str] = []
        for spec in self.policies:
            t = spec.get("target", "all")
            if t == "all":
                ids = list(simulated)
            elif isinstance(t, str) and t.startswith("family:"):
                ids = [c for c in simulated if fam.get(c) == t.split(":", 1)[1]]
            else:
                ids = [t] if isinstance(t, str) else list(t)
            out += [c for c in ids if c in simulated and c not in out]
        return [c for c in simulated if c in out]

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d.pop("text")
        return d


# ----------------------------------------------------------------------------- built-ins
def _package_dir():
    return resources.files("scenarios")


def list_builtin() -> list[str]:
    """Names of the built-in scenario files (``scenarios/*.toml``), sorted, baseline first."""
    names = sorted(p.name[:-5] for p in _package_dir().iterdir() if p.name.endswith(".toml"))
    return sorted(names, key=lambda n: (n != "baseline", n))


def builtin_path(name: str):
    """The path (a Traversable) of a built-in scenario."""
    p = _package_dir().joinpath(f"{name}.toml")
    if not p.is_file():
        close = difflib.get_close_matches(name, list_builtin(), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise ScenarioError(f"no scenario file or built-in scenario named {name!r}{hint} "
                            f"(built-in: {', '.join(list_builtin())})")
    return p


# ----------------------------------------------------------------------------- loading
def load(path_or_name: str | Path) -> Scenario:
    """Read and validate a scenario from a TOML file, or a built-in scenario by name.

    Files are read as UTF-8 (a byte-order mark is accepted).
    """
    p = Path(path_or_name)
    shown = _one_line(str(p))
    try:
        exists = p.exists()
    except (OSError, ValueError) as exc:  # e.g. a name longer than the file system allows
        raise ScenarioError(f"{shown}: cannot open the file ({_one_line(str(exc))})") from None
    if exists:  # a regular file of at most SCENARIO_LIMIT bytes, nothing else (FIFO, device, folder)
        try:
            text = read_small_text(p, limit=SCENARIO_LIMIT, what="scenario file")
        except InputFileError as exc:
            raise ScenarioError(str(exc)) from None
        return loads(text, source=str(p), default_name=p.stem)
    if p.suffix == ".toml" or p.parent != Path("."):
        raise ScenarioError(f"{shown}: no such scenario file (built-in scenarios: {', '.join(list_builtin())})")
    bp = builtin_path(str(path_or_name))
    return loads(bp.read_text(encoding="utf-8-sig"), source=f"scenarios/{bp.name}",
                 default_name=str(path_or_name))


def _one_line(text: str) -> str:
    """``text`` with line breaks and other control characters escaped (messages stay on one line)."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def loads(text: str, source: str = "<string>", default_name: str = "scenario") -> Scenario:
    """Validate scenario TOML text; ``source`` names it in error messages."""
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{_one_line(source)}: malformed TOML: {_one_line(str(exc))}") from None
    except (ValueError, RecursionError) as exc:  # integers of > 4300 digits, very deep nesting
        what = "nesting too deep" if isinstance(exc, RecursionError) else _one_line(str(exc))
        raise ScenarioError(f"{_one_line(source)}: malformed TOML: {what}") from None
    err = _Err(source)
    _unknown(err, "", doc, _TOP_KEYS, "top-level table")

    sc = doc.get("scenario", {})
    if not isinstance(sc, dict):
        err("scenario", "must be a table [scenario]")
    _unknown(err, "scenario.", sc, _SCENARIO_KEYS, "key of [scenario]")
    name = sc.get("name", default_name)
    if not isinstance(name, str) or not name or not all(ch.isalnum() or ch in "_-" for ch in name):
        err("scenario.name", f"must be a non-empty name of letters, digits, _ and -, got {name!r}")
    desc = sc.get("description", "")
    if not isinstance(desc, str):
        err("scenario.description", f"must be a string, got {desc!r}")
    start_year = _int(err, "scenario.start_year", sc.get("start_year", DEFAULTS["start_year"]), 1900, 2200)
    end_year = _int(err, "scenario.end_year", sc.get("end_year", DEFAULTS["end_year"]), 1900, 2300)
    if end_year <= start_year:
        err("scenario.end_year", f"({end_year}) must be after start_year ({start_year})")
    if end_year - start_year > 200:
        err("scenario.end_year", f"horizon of {end_year - start_year} years is longer than 200 years")
    replicates = _int(err, "scenario.replicates", sc.get("replicates", DEFAULTS["replicates"]), 1, 10000)
    seed = _int(err, "scenario.seed", sc.get("seed", DEFAULTS["seed"]), 0, 2 ** 63 - 1)
    record_every = _int(err, "scenario.record_every", sc.get("record_every", DEFAULTS["record_every"]), 1, 400)
    horizon = (end_year - start_year) * STEPS_PER_YEAR
    if horizon % record_every:
        fits = [d for d in range(1, horizon + 1) if horizon % d == 0]
        shown = ", ".join(map(str, fits)) if len(fits) <= 8 else ", ".join(map(str, fits[:4] + fits[-3:]))
        what = "is longer than" if record_every > horizon else "does not divide"
        err("scenario.record_every", f"= {record_every} quarters {what} the horizon of {horizon} quarters "
            f"({start_year}-{end_year}), so the end of the horizon would not be recorded; use one that "
            f"divides {horizon}: {shown}")
    clusters = _clusters(err, "scenario.clusters", sc.get("clusters", "all"))

    params = doc.get("params", {})
    if not isinstance(params, dict):
        err("params", "must be a table [params] of parameter = value")

    checked = {}
    for k, v in params.items():
        if k not in SCHEMA:
            close = difflib.get_close_matches(str(k), list(SCHEMA), n=2)
            hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
            err(f"params.{k}", f"unknown parameter{hint}; run 'clustersim params' for the {len(SCHEMA)} parameters")
        try:
            checked[k] = SCHEMA[k].check(v)
        except ParameterError as exc:
            err(f"params.{k}", str(exc))
        except OverflowError:
            err(f"params.{k}", "is beyond the range of numbers")
    params = checked

    pols = doc.get("policy", [])
    if isinstance(pols, dict):
        err("policy", "must be an array of tables: write [[policy]], not [policy]")
    if not isinstance(pols, list):
        err("policy", "must be an array of tables [[policy]]")
    specs = [_policy(err, i, spec, start_year, end_year, clusters) for i, spec in enumerate(pols)]

    return Scenario(name=name, description=desc.strip(), path=None if source == "<string>" else source,
                    start_year=start_year, end_year=end_year, replicates=replicates, seed=seed,
                    clusters=clusters, record_every=record_every, params=params, policies=specs,
                    sha256=hashlib.sha256(text.encode()).hexdigest(), text=text)


class _Err:
    def __init__(self, source: str):
        self.source = source

    def __call__(self, key: str, msg: str):
        raise ScenarioError(_one_line(f"{self.source}: {key}: {msg}"))


def _unknown(err, prefix: str, table: dict, allowed, what: str) -> None:
    if not isinstance(table, dict):
        err(prefix.rstrip(".") or "file", f"must be a table, got {table!r}")
    for k in table:
        if k not in allowed:
            close = difflib.get_close_matches(str(k), list(allowed), n=2)
            hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
            err(f"{prefix}{k}", f"unknown {what}{hint}; allowed: {', '.join(allowed)}")


def _int(err, key: str, v, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        err(key, f"must be a whole number in [{lo}, {hi}], got {v!r}")
    if not lo <= v <= hi:
        err(key, f"= {v} is out of range [{lo}, {hi}]")
    return int(v)


def _known_clusters() -> tuple[list[str], set[str]]:

    tab = cluster_table()
    return list(tab["id"]), set(tab["sector_family"])


def _clusters(err, key: str, v) -> list[str] | None:
    if v == "all":
        return None
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, list) or not v or not all(isinstance(c, str) for c in v):
        err(key, f'must be "all" or a non-empty list of cluster ids, got {v!r}')
    ids, _ = _known_clusters()
    bad = [c for c in v if c not in ids]
    if bad:
        close = difflib.get_close_matches(bad[0], ids, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        err(key, f"unknown cluster id(s) {', '.join(map(repr, bad))}{hint}; run 'clustersim clusters' for the list")
    if len(set(v)) != len(v):
        err(key, "lists a cluster twice")
    return list(v)


def _policy(err, i: int, spec, start_year: int, end_year: int, clusters: list[str] | None) -> dict:

    where = f"policy #{i + 1}"
    if not isinstance(spec, dict):
        err(where, "must be a table")
    name = spec.get("policy")
    if name is None:
        err(where, f"missing key 'policy' (one of: {', '.join(REGISTRY)})")
    if not isinstance(name, str):
        err(f"{where}.policy", f"must be a policy name (string), got {name!r}; known: {', '.join(REGISTRY)}")
    if name not in REGISTRY:
        close = difflib.get_close_matches(str(name), list(REGISTRY), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        err(f"{where}.policy", f"unknown policy {name!r}{hint}; known: {', '.join(REGISTRY)}")
    cls = REGISTRY[name]
    where = f"policy #{i + 1} ({name})"
    meta = cls.parameter_meta()
    allowed = ["policy", *meta]
    _unknown(err, f"{where}.", spec, allowed, "key")
    out: dict[str, Any] = {"policy": name}
    # calendar years -> years from the start of the run
    start = spec.get("start", start_year)
    if isinstance(start, bool) or not isinstance(start, (int, float)):
        err(f"{where}.start", f"must be a calendar year (number), got {start!r}")
    if not start_year <= start < end_year:
        err(f"{where}.start", f"= {start} must be a calendar year in [{start_year}, {end_year}) (the horizon)")
    out["start"] = float(start - start_year)
    if "end" in spec:
        end = spec["end"]
        if isinstance(end, bool) or not isinstance(end, (int, float)):
            err(f"{where}.end", f"must be a calendar year (number), got {end!r}")
        if not start < end <= end_year:
            err(f"{where}.end", f"= {end} must be after start ({start}) and at most end_year ({end_year})")
        out["end"] = float(end - start_year)
    for key, m in meta.items():
        if key in ("start", "end") or key not in spec:
            continue
        try:
            out[key] = _check_value(key, spec[key], m)
        except ValueError as exc:
            err(f"{where}.{key}", str(exc).replace(f"'{key}' ", "", 1))
    if "target" in out:
        _check_target(err, f"{where}.target", out["target"], clusters)
    try:
        cls(**{k: v for k, v in out.items() if k != "policy"})
    except (TypeError, ValueError) as exc:
        err(where, str(exc))
    return out


def _check_target(err, key: str, target, clusters: list[str] | None) -> None:
    if target == "all":
        return
    ids, fams = _known_clusters()
    sim_ids = clusters if clusters is not None else ids
    if isinstance(target, str) and target.startswith("family:"):
        fam = target.split(":", 1)[1]
        if fam not in fams:
            err(key, f"unknown sector family {fam!r}; known: {', '.join(sorted(fams))}")

        tab = cluster_table()
        if not any(c in sim_ids for c in tab.loc[tab["sector_family"] == fam, "id"]):
            err(key, f"sector family {fam!r} has no simulated cluster")
        return
    tl = [target] if isinstance(target, str) else target
    bad = [c for c in tl if c not in ids]
    if bad:
        close = difflib.get_close_matches(bad[0], ids, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        err(key, f"unknown cluster id(s) {', '.join(map(repr, bad))}{hint}; run 'clustersim clusters' for the list")
    off = [c for c in tl if c not in sim_ids]
    if off:
        err(key, f"cluster(s) {', '.join(map(repr, off))} are not in scenario.clusters")
