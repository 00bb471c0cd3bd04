"""The model as an `EMA Workbench <https://emaworkbench.readthedocs.io>`_ ``Model`` (optional extra ``ema``).

:func:`ema_model` returns an :class:`ema_workbench.Model` whose function runs the cluster
model once (:func:`sim.engine.runner.simulate`), so that ``perform_experiments``, feature
scoring and PRIM scenario discovery work on it (XLRM):

* **uncertainties** (X) from the parameter schema (:mod:`sim.model.params`): each named
  parameter over its sensitivity range ``Param.sa_bounds`` (or a narrower range given),
  a float as a ``RealParameter``, an int as an ``IntegerParameter``;
* **levers** (L) from the policy registry (:mod:`scenarios.policies`): a policy's
  ``intensity`` (or any of its parameters) over a range as a ``RealParameter`` or
  ``IntegerParameter``, a list of choices as a ``CategoricalParameter``; a policy whose
  levers an experiment does not set is not applied;
* **outcomes** (M) at the last step, of one cluster (or the mean over the simulated
  clusters): every structural index, the centripetal and centrifugal scores, the lock-in gap
  (centripetal - centrifugal), the measured resilience, and one indicator per development
  stage and typology (``stage_path_locked`` = 1.0 if the final stage is path-locked; with
  ``cluster=None``, the share of clusters in it).

Replicates follow EMA's convention: each experiment is one seeded run, deterministic given
its seed. By default the seed is an uncertainty (``seed``, an ``IntegerParameter``, so
every experiment draws its own; feature scoring then shows the noise floor); ``seed=<int>``
makes it a ``Constant`` (every experiment on the same random numbers). ``replications=R``
returns a ``ReplicatorModel`` instead: every experiment runs with the same R seeds
(those of ``sim.engine.runner.run`` with that root seed: common random numbers) and each outcome is the mean over them, so a
stage indicator becomes the share of replicates ending in that stage.

Names and values are checked by the schema: an unknown parameter (at build time, or one
added to the model afterwards) stops with the schema's one-line message.

Example
-------
>>> from ema_workbench import perform_experiments
>>> from scenarios.ema import ema_model
>>> model = ema_model(["lock_in", "external_cost"], cluster="daejeon_machinery", years=6)
>>> experiments, outcomes = perform_experiments(model, scenarios=20)   # doctest: +SKIP
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scenarios.base import DEFAULT_BASE, resolve_base
from scenarios.policies import REGISTRY, build_policies
from sim.core.calendar import STEPS_PER_YEAR, steps_in
from sim.data.clusters import check_ids
from sim.engine.design import python_scalar, replicate_seeds
from sim.engine.runner import simulate
from sim.indices.scores import STAGES, TYPOLOGIES
from sim.indices.structure import INDEX_NAMES
from sim.model.params import SCHEMA, ParameterError, problem, validate

__all__ = [
    "DEFAULT_UNCERTAINTIES",
    "INSTALL_HINT",
    "OUTCOMES",
    "SEED",
    "ClusterRun",
    "ema_model",
    "final_outcomes",
]

#: The uncertainties of :func:`ema_model` when none are named: the mechanisms of lock-in
#: (convergence to partners' sector, suppressed branching), renewal (branching), openness
#: (external ties, the cross-group barrier, the tie budget) and the national pool of entrants.
DEFAULT_UNCERTAINTIES: tuple[str, ...] = ("convergence_rate", "lock_in", "recombination_rate", "external_cost",
                                          "cross_accept", "startup_rate", "tie_budget")

#: Name of the seed (an uncertainty or a constant of the EMA model).
SEED = "seed"
#: Largest seed drawn when the seed is an uncertainty.
SEED_HIGH = 2**31 - 1

#: Scalar outcomes, in order: the structural indices, the scores, the lock-in gap, the measured
#: resilience, then one indicator per development stage and per typology.
OUTCOMES: tuple[str, ...] = (*INDEX_NAMES, "centripetal", "centrifugal", "lock_in_gap", "resilience",
                             *(f"stage_{s}" for s in STAGES), *(f"typology_{t}" for t in TYPOLOGIES))

INSTALL_HINT = 'the EMA Workbench adapter needs ema_workbench: pip install "clustersim[ema]"'


def _ema():
    """The ``ema_workbench`` module, or a one-line :class:`ImportError` naming the extra."""
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*ipyparallel.*")   # an optional backend of EMA's
            import ema_workbench
    except ImportError:
        raise ImportError(INSTALL_HINT) from None
    return ema_workbench


# ----------------------------------------------------------------------------- outcomes
def final_outcomes(df: pd.DataFrame, cluster: str | None = None) -> dict[str, float]:
    """The :data:`OUTCOMES` of a run's tidy indicator table at its last step.

    Parameters
    ----------
    df : DataFrame
        A table of :func:`sim.engine.runner.simulate` (``cluster, step, indicator, value, label``).
    cluster : str, optional
        The cluster read; ``None``: the mean over the table's clusters (stage and typology
        indicators become the share of clusters in that stage or typology).
    """
    last = df[df["step"] == df["step"].max()]
    if cluster is not None:
        last = last[last["cluster"] == cluster]
        if last.empty:
            raise ParameterError(f"cluster {cluster!r} is not in the run")
    wide = last.pivot(index="cluster", columns="indicator", values="value")
    labels = last[last["indicator"].isin(("stage", "typology"))].pivot(
        index="cluster", columns="indicator", values="label")
    out = {k: float(wide[k].mean()) for k in (*INDEX_NAMES, "centripetal", "centrifugal", "resilience")}
    out["lock_in_gap"] = float((wide["centripetal"] - wide["centrifugal"]).mean())
    for s in STAGES:
        out[f"stage_{s}"] = float((labels["stage"] == s).mean())
    for t in TYPOLOGIES:
        out[f"typology_{t}"] = float((labels["typology"] == t).mean())
    return {k: out[k] for k in OUTCOMES}


# ----------------------------------------------------------------------------- the model's function
@dataclass
class ClusterRun:
    """The function of the EMA model: keyword values in, :data:`OUTCOMES` out (picklable).

    Keywords are the seed (:data:`SEED`), lever names (``levers``: name -> (policy, key)) and
    model parameters (anything else, validated over ``params`` by the schema).
    """

    params: dict
    years: float
    clusters: list[str]
    cluster: str | None
    levers: dict[str, tuple[str, str]] = field(default_factory=dict)
    policy_specs: dict[str, dict] = field(default_factory=dict)
    cluster_table: pd.DataFrame | None = None
    labeller: Any = None
    start_year: float = 2020.0

    def policies(self, values: Mapping[str, Any]) -> list:
        """Policies of the experiment: those with at least one lever set, over their fixed specification."""
        chosen: dict[str, dict] = {}
        for name, value in values.items():
            policy, key = self.levers[name]
            chosen.setdefault(policy, {})[key] = _plain(value, REGISTRY[policy].params()[key].kind)
        return build_policies([{**self.policy_specs[p], **v} for p, v in chosen.items()])

    def __call__(self, **values) -> dict[str, float]:
        if SEED not in values:
            raise ParameterError(f"the EMA model needs a '{SEED}' (an uncertainty or a constant)")
        seed = int(values.pop(SEED))
        lever_values = {k: values.pop(k) for k in list(values) if k in self.levers}
        params = validate({k: python_scalar(v) for k, v in values.items()}, source="EMA experiment",
                          base=self.params)
        df = simulate(params, seed, years=self.years, clusters=self.clusters, policies=self.policies(lever_values),
                      cluster_table=self.cluster_table, labeller=self.labeller, start_year=self.start_year,
                      record_every=_record_every(self.years))
        return final_outcomes(df, self.cluster)


def _plain(value, kind: str):
    """An EMA-sampled value as the plain Python type a policy parameter declares (policies are strict)."""
    value = python_scalar(value)
    if kind in ("float", "float?") and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if kind == "int" and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _record_every(years: float) -> int:
    """Yearly records when the run is whole years (the stage's four-year window is then recorded too)."""
    steps = steps_in(years)
    return STEPS_PER_YEAR if steps % STEPS_PER_YEAR == 0 else 1


# ----------------------------------------------------------------------------- building the EMA model
def _uncertainty_bounds(uncertainties) -> dict[str, tuple[float, float]]:
    """``{name: (low, high)}``: a name's sensitivity range, or the range given (checked against the schema)."""
    if isinstance(uncertainties, str):
        uncertainties = [uncertainties]
    given = dict(uncertainties) if isinstance(uncertainties, Mapping) else {n: None for n in uncertainties}
    if not given:
        raise ParameterError("the EMA model needs at least one uncertainty")
    for n in given:
        if n not in SCHEMA:
            validate({n: None}, source="EMA uncertainties")     # the schema's one-line error
    prob = problem(list(given))
    out = {}
    for name, sa in zip(prob["names"], prob["bounds"]):
        rng = given[name]
        if rng is None:
            lo, hi = sa
        else:
            try:
                lo, hi = rng
            except (TypeError, ValueError):
                raise ParameterError(f"uncertainty '{name}': give a range (low, high), got {rng!r}") from None
            lo = SCHEMA[name].check(lo, "uncertainty range")
            hi = SCHEMA[name].check(hi, "uncertainty range")
        if not lo < hi:
            raise ParameterError(f"uncertainty '{name}': the range ({lo}, {hi}) is empty; give low < high")
        out[name] = (lo, hi)
    return out


def _ema_parameter(ema, name: str, kind: str, bounds, *, is_choice: bool = False):
    if is_choice:
        return ema.CategoricalParameter(name, list(bounds))
    lo, hi = bounds
    if kind == "int":
        lo, hi = math.ceil(lo), math.floor(hi)
        if not lo < hi:
            raise ParameterError(f"'{name}': no two whole numbers in ({bounds[0]}, {bounds[1]})")
        return ema.IntegerParameter(name, int(lo), int(hi))
    if kind == "bool":
        return ema.BooleanParameter(name)
    return ema.RealParameter(name, float(lo), float(hi))


def _lever_specs(levers, target) -> tuple[dict, dict, list[tuple[str, str, Any, bool]]]:
    """Parse ``levers`` into (lever name -> (policy, key), policy -> fixed spec, [(name, kind, range, choice)])."""
    names: dict[str, tuple[str, str]] = {}
    fixed: dict[str, dict] = {}
    params: list[tuple[str, str, Any, bool]] = []
    for policy, spec in dict(levers or {}).items():
        if policy not in REGISTRY:
            build_policies([{"policy": policy}])          # the registry's one-line error
        if not isinstance(spec, Mapping):
            spec = {"intensity": spec}
        declared = REGISTRY[policy].params()
        base = {"policy": policy, "target": target}
        ranged = {}
        for key, value in spec.items():
            if key not in declared:
                raise ParameterError(f"lever {policy}: unknown key {key!r}; allowed: {', '.join(sorted(declared))}")
            if isinstance(value, tuple):
                if len(value) != 2:
                    raise ParameterError(f"lever {policy}.{key}: give a range (low, high), got {value!r}")
                ranged[key] = (value, False)
            elif isinstance(value, list):
                if len(value) < 2:
                    raise ParameterError(f"lever {policy}.{key}: give two or more choices, got {value!r}")
                ranged[key] = (value, True)
            else:
                base[key] = value
        if not ranged:
            raise ParameterError(f"lever {policy}: give a range (low, high) or a list of choices for at least "
                                 f"one key, e.g. {{'{policy}': (0.0, 1.0)}} for its intensity")
        # every value the lever can take must make a valid policy (the policy's own one-line errors)
        for key, (value, _) in ranged.items():
            for v in value:
                build_policies([{**base, key: _plain(v, declared[key].kind)}])
        build_policies([base])
        fixed[policy] = base
        for key, (value, choice) in ranged.items():
            name = f"{policy}_{key}"
            if name in SCHEMA or name == SEED:
                raise ParameterError(f"lever name {name!r} clashes with a model parameter")
            names[name] = (policy, key)
            params.append((name, declared[key].kind, value, choice))
    return names, fixed, params


def ema_model(uncertainties: Iterable[str] | Mapping[str, tuple[float, float] | None] = DEFAULT_UNCERTAINTIES,
              *, levers: Mapping[str, Any] | None = None, cluster: str | None = "daejeon_machinery",
              clusters: Sequence[str] | None = None, years: float = 8, scale: float = 0.1,
              params: Mapping[str, Any] | None = None, base=DEFAULT_BASE, seed: int | None = None,
              replications: int | None = None, start_year: float = 2020.0, name: str = "clustersim"):
    """An :class:`ema_workbench.Model` of the cluster model.

    Parameters
    ----------
    uncertainties : names, or mapping name -> (low, high) or None
        Model parameters sampled by EMA; a name alone takes its sensitivity range
        (``Param.sa_bounds``); a range must lie inside the parameter's bounds. Default
        :data:`DEFAULT_UNCERTAINTIES`.
    levers : mapping policy name -> (low, high) or {key: (low, high) | [choices] | value}, optional
        Policies of :data:`scenarios.policies.REGISTRY` as levers: a range of the
        policy's ``intensity``, or per key a range (``RealParameter`` / ``IntegerParameter``),
        a list of choices (``CategoricalParameter``) or a fixed value. Lever names are
        ``<policy>_<key>``, e.g. ``startup_inflow_intensity``. The target defaults to
        ``cluster`` (all simulated clusters when ``cluster`` is None).
    cluster : str or None
        The cluster whose final state are the outcomes; ``None``: the mean over ``clusters``.
    clusters : sequence of str, optional
        Simulated clusters (default: ``[cluster]``, or all 38 when ``cluster`` is None).
    years, scale, start_year
        Simulated years, the model's scale, the calendar year of the start.
    params : mapping, optional
        Fixed parameter values over the base model (not uncertainties).
    base : "defaults", "calibrated" or a path
        The base model (:func:`scenarios.base.resolve_base`).
    seed : int, optional
        ``None``: the seed is an uncertainty (one seed per experiment); an int: a ``Constant``.
        With ``replications``: the root of the replicates' seeds (default 0).
    replications : int, optional
        Replicates per experiment: a ``ReplicatorModel`` whose outcomes are replicate means.
    name : str
        The EMA model's name (letters and digits).

    Returns
    -------
    ema_workbench.Model or ema_workbench.ReplicatorModel
        Its function is a :class:`ClusterRun`; outcomes are :data:`OUTCOMES`.
    """
    ema = _ema()
    bounds = _uncertainty_bounds(uncertainties)
    fixed = dict(params or {})
    fixed.setdefault("scale", scale)
    both = sorted(set(fixed) & set(bounds))
    if both:
        raise ParameterError(f"parameter(s) {', '.join(both)} given both as uncertainties and in params=; give "
                             f"each once")
    if not (np.isfinite(years) and 0.25 <= years <= 1000) or abs(years * STEPS_PER_YEAR - steps_in(years)) > 1e-9:
        raise ParameterError(f"years must be a whole number of quarters from 0.25 to 1000, got {years}")
    if cluster is not None:
        check_ids([cluster])
        clusters = [cluster] if clusters is None else clusters
    ids = check_ids(clusters) if clusters is not None else None
    if cluster is not None and cluster not in ids:
        raise ParameterError(f"cluster {cluster!r} is not simulated; simulated: {', '.join(ids)}")
    resolved = resolve_base(base)
    explicit = set(fixed) | set(bounds)
    full = validate(fixed, source="params", base=validate(resolved.params, source="base parameters"))
    lever_names, policy_specs, lever_params = _lever_specs(levers, cluster if cluster is not None else "all")

    run = ClusterRun(params=full, years=float(years), clusters=ids, cluster=cluster, levers=lever_names,
                     policy_specs=policy_specs, cluster_table=resolved.cluster_table(explicit),
                     labeller=resolved.labeller, start_year=float(start_year))
    xs = [_ema_parameter(ema, n, SCHEMA[n].kind, b) for n, b in bounds.items()]
    if replications is not None:
        if isinstance(replications, bool) or not isinstance(replications, int) or replications < 1:
            raise ParameterError(f"replications must be a whole number of at least 1, got {replications!r}")
        model = ema.ReplicatorModel(name, function=run)
        _, seeds = replicate_seeds(0 if seed is None else int(seed), replications)   # as sim.engine.runner.run
        model.replications = [{SEED: s} for s in seeds]
        model.outcomes = [ema.ScalarOutcome(o, function=np.mean) for o in OUTCOMES]
    else:
        model = ema.Model(name, function=run)
        if seed is None:
            xs.append(ema.IntegerParameter(SEED, 0, SEED_HIGH))
        else:
            model.constants = [ema.Constant(SEED, int(seed))]
        model.outcomes = [ema.ScalarOutcome(o) for o in OUTCOMES]
    model.uncertainties = xs
    model.levers = [_ema_parameter(ema, n, kind, rng, is_choice=choice) for n, kind, rng, choice in lever_params]
    return model

