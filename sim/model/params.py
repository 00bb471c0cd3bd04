"""One schema of model parameters.

Every parameter of the model is declared exactly once here, with its default,
its bounds and its meaning.  The same declaration drives

* the :class:`~sim.model.model.ClusterModel` constructor (``params=``),
* the ``--set name=value`` overrides of the command line,
* the scenario files (``[params]`` tables),
* the bounds of the sensitivity analysis (:func:`problem`),
* the sliders of the classroom app.

Unknown names and out-of-range values are errors that name the parameter and
the allowed range.  Rates are per year unless the name says otherwise; the
model converts them to its quarterly step.
"""

from __future__ import annotations

import difflib
import math
from typing import Any, Iterable, Mapping

from sim.core.schema import Param, ParameterError
from sim.core.schema import fmt as _fmt
from sim.core.schema import show as _show

__all__ = [
    "Param",
    "ParameterError",
    "SCHEMA",
    "PER_CLUSTER",
    "defaults",
    "validate",
    "problem",
    "describe",
    "parse_override",
    "from_sample",
]


_P = Param
_DECLARED: tuple[Param, ...] = (
    # --- set-up -----------------------------------------------------------------
    _P("scale", 1.0, 0.001, 1.0, "float", "setup",
       "fraction of each cluster's observed 2020 firm count simulated (1 = real size)", 0.01, 0.1),
    _P("outside_ratio", 0.5, 0.0, 3.0, "float", "setup",
       "firms of the outside world (rest of the country and abroad) per cluster firm", 0.2, 1.0),
    _P("init_home_share", 0.45, 0.05, 0.95, "float", "setup",
       "initial share of a cluster's firms in its home coarse sector", 0.2, 0.8),
    _P("anchor_share", 0.01, 0.0, 0.2, "float", "setup",
       "share of the initial firms that are anchor (large, lead) firms", 0.0, 0.05),
    _P("institutions_per_1000", 2.0, 0.0, 20.0, "float", "setup",
       "institutions (universities, research institutes, intermediaries, gatekeepers) per 1000 firms, at least one per cluster", 0.0, 6.0),
    _P("burn_in", 12, 0, 40, "int", "setup",
       "quarters of link formation (at four times the search rate) and decay, without entry, exit or learning, that build the initial network", 4, 20),
    # --- entry ------------------------------------------------------------------
    _P("startup_rate", 0.03, 0.0, 0.3, "float", "entry",
       "startups per incumbent firm per year (Poisson rate per cluster)", 0.0, 0.1),
    _P("spinoff_rate", 0.01, 0.0, 0.2, "float", "entry",
       "spin-offs per firm per year at average quality (Klepper heredity)", 0.0, 0.04),
    _P("spinoff_quality", 1.0, 0.0, 4.0, "float", "entry",
       "elasticity of a parent's spin-off rate to its quality: rate * exp(q * quality)", 0.0, 2.0),
    _P("inst_spinoff_rate", 0.5, 0.0, 5.0, "float", "entry",
       "academic spin-offs per university or research institute per year", 0.0, 2.0),
    _P("relocation_rate", 0.01, 0.0, 0.2, "float", "entry",
       "firms relocating into a cluster per cluster firm per year, before the critical-mass feedback", 0.0, 0.04),
    _P("critical_mass", 150.0, 1.0, 20000.0, "float", "entry",
       "home-sector firm count (at scale 1) above which agglomeration feeds back on entry", 30.0, 1000.0),
    _P("critical_mass_gain", 0.5, 0.0, 10.0, "float", "entry",
       "multiplier of entry gained once a cluster is well above critical mass", 0.0, 3.0),
    # --- link formation -----------------------------------------------------------
    _P("search_rate", 0.08, 0.0, 1.0, "float", "links",
       "probability per quarter that a firm or institution searches for a new partner", 0.1, 0.6),
    _P("n_local", 3, 0, 20, "int", "links",
       "random candidates from the own cluster per search (Jackson-Rogers random meetings)", 1, 6),
    _P("n_fof", 2, 0, 20, "int", "links",
       "friends-of-friends candidates per search (Jackson-Rogers network meetings)", 0, 5),
    _P("n_external", 2, 0, 20, "int", "links",
       "candidates from other clusters and the outside world per search", 0, 4),
    _P("beta_pop", 0.8, 0.0, 5.0, "float", "links",
       "preferential attachment: utility weight of log(1 + partner degree)", 0.0, 2.0),
    _P("beta_tri", 1.0, 0.0, 5.0, "float", "links",
       "triadic closure: utility of a candidate met through a common partner", 0.0, 2.5),
    _P("beta_broker", 1.0, 0.0, 5.0, "float", "links",
       "extra utility of a candidate introduced by an institution (brokered tie)", 0.0, 2.5),
    _P("beta_cog", 1.5, 0.0, 5.0, "float", "links",
       "weight of cognitive proximity g(d) = (d/d*) exp(1 - d/d*) (inverted U, Nooteboom)", 0.0, 3.0),
    _P("cog_optimum", 0.3, 0.01, 3.0, "float", "links",
       "optimal cognitive distance d* in technology space", 0.1, 1.0),
    _P("beta_local", 0.5, -5.0, 5.0, "float", "links",
       "utility of a partner in the same cluster (geographical proximity)", 0.0, 2.5),
    _P("external_cost", 1.0, 0.0, 10.0, "float", "links",
       "utility cost of a tie to another cluster or the outside world", 0.5, 4.0),
    _P("beta_inst", 0.5, 0.0, 5.0, "float", "links",
       "utility of an institution as a partner", 0.0, 2.0),
    _P("beta_status", 0.0, -3.0, 3.0, "float", "links",
       "status homophily: cost per unit of |log(1+k_i) - log(1+k_j)| (negative = heterophily)", -1.5, 1.5),
    _P("link_threshold", 1.0, -5.0, 10.0, "float", "links",
       "utility of not linking (the outside option of the logit choice)", 0.0, 2.5),
    _P("broker_intros", 2.0, 0.0, 50.0, "float", "links",
       "introductions per intermediary per quarter between partners of different groups (old/new, sector)", 0.0, 6.0),
    # --- link decay ---------------------------------------------------------------
    _P("decay_rate", 0.12, 0.0, 0.5, "float", "decay",
       "base hazard per quarter that a tie dissolves", 0.02, 0.12),
    _P("decay_cog", 1.0, 0.0, 5.0, "float", "decay",
       "reduction of the decay hazard with cognitive proximity (Juhasz and Lengyel)", 0.0, 2.0),
    _P("decay_age", 0.05, 0.0, 1.0, "float", "decay",
       "reduction of the decay hazard per year of tie age (trust)", 0.0, 0.2),
    # --- learning -----------------------------------------------------------------
    _P("convergence_rate", 0.05, 0.0, 0.5, "float", "learning",
       "rate per quarter at which a firm's technology moves towards its local partners (specialisation)", 0.0, 0.15),
    _P("external_learning", 0.05, 0.0, 0.5, "float", "learning",
       "rate per quarter of learning from partners outside the cluster", 0.0, 0.15),
    _P("recombination_rate", 0.04, 0.0, 1.0, "float", "learning",
       "probability per year that a firm recombines into a related fine sector (diversification)", 0.0, 0.15),
    _P("tech_noise", 0.01, 0.0, 0.5, "float", "learning",
       "random drift of technology positions per quarter (sd)", 0.0, 0.03),
    # --- performance and shocks ---------------------------------------------------
    _P("network_return", 0.3, 0.0, 3.0, "float", "performance",
       "performance gained per unit log(1 + degree) (access to knowledge and markets)", 0.0, 0.8),
    _P("crowding", 1.0, 0.0, 5.0, "float", "performance",
       "performance lost per unit log(1 + n_cf / cap_c): local competition among a cluster's firms of one fine sector, against the local market capacity cap_c", 0.0, 1.5),
    _P("perf_noise", 0.3, 0.0, 3.0, "float", "performance",
       "sd of the idiosyncratic performance shock per quarter", 0.1, 0.6),
    _P("size_growth", 0.01, 0.0, 0.5, "float", "performance",
       "growth of employment per quarter per unit of performance", 0.0, 0.05),
    _P("shock_year", -1.0, -1.0, 200.0, "float", "performance",
       "year (from the start) of a technology shift that devalues every cluster's dominant technology; -1 = none"),
    _P("shock_size", 1.0, 0.0, 10.0, "float", "performance",
       "performance penalty of firms on the dominant technology after the technology shift", 0.0, 3.0),
    _P("shock_persistence", 0.9, 0.0, 1.0, "float", "performance",
       "share of the technology-shift penalty that remains each quarter", 0.5, 0.98),
    # --- exit ---------------------------------------------------------------------
    _P("exit_rate", 0.065, 0.0, 0.5, "float", "exit",
       "exit hazard per year of a firm of average performance", 0.02, 0.1),
    _P("exit_sensitivity", 1.0, 0.0, 5.0, "float", "exit",
       "elasticity of the exit hazard to (low) performance: rate * exp(-s * perf)", 0.0, 2.0),
    _P("anchor_exit_rate", 0.005, 0.0, 0.5, "float", "exit",
       "hazard per year that an anchor firm leaves the cluster (relocation, closure)", 0.0, 0.03),
)

SCHEMA: dict[str, Param] = {p.name: p for p in _DECLARED}

#: Parameters that may take a different value in each cluster: a ``cluster_table`` column of
#: that name (used by calibration and the development-type archetypes) overrides the global
#: value for that cluster. :class:`sim.model.model.ClusterModel` rejects a column named after any
#: other parameter, which acts on the whole system; ``tests/test_model.py`` checks that each
#: name here really changes the run.
PER_CLUSTER: frozenset[str] = frozenset({
    "init_home_share",
    "startup_rate", "spinoff_rate", "spinoff_quality", "inst_spinoff_rate", "relocation_rate",
    "search_rate", "beta_pop", "beta_tri", "beta_broker", "beta_cog", "beta_local", "external_cost",
    "beta_inst", "beta_status", "link_threshold",
    "convergence_rate", "external_learning", "recombination_rate",
    "network_return", "crowding",
    "exit_rate", "exit_sensitivity", "anchor_exit_rate",
})


def defaults() -> dict[str, float | int | bool]:
    """Return a fresh dict of every parameter at its default value."""
    return {p.name: p.default for p in _DECLARED}


def validate(overrides: Mapping[str, Any] | None = None, *, source: str = "",
             base: Mapping[str, Any] | None = None) -> dict[str, float | int | bool]:
    """Merge ``overrides`` into ``base`` (default: the defaults) and validate.

    Parameters
    ----------
    overrides : mapping
        Parameter values to set.  Unknown names raise :class:`ParameterError`
        listing the close matches.
    source : str
        Where the values come from (file name, ``--set``) for error messages.
    base : mapping, optional
        Starting values (already valid), e.g. calibrated parameters.

    Returns
    -------
    dict
        A complete, validated parameter set.
    """
    out = dict(defaults() if base is None else base)
    for key, value in (overrides or {}).items():
        if key not in SCHEMA:
            raise ParameterError(_unknown(key, source))
        out[key] = SCHEMA[key].check(value, source)
    return out


def _unknown(key: str, source: str) -> str:

    where = f" in {source}" if source else ""
    close = difflib.get_close_matches(str(key), SCHEMA.keys(), n=3)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return (f"unknown parameter {_show(key)}{where}{hint} "
            f"(run 'clustersim params' to list all {len(SCHEMA)} parameters)")


def parse_override(text: str, source: str = "--set") -> tuple[str, float | int | bool]:
    """Parse ``name=value`` from the command line and validate it."""
    if "=" not in text:
        raise ParameterError(f"{source} expects name=value, got {_show(text)}")
    key, _, raw = text.partition("=")
    key = key.strip()
    if key not in SCHEMA:
        raise ParameterError(_unknown(key, source))
    return key, SCHEMA[key].check(raw.strip(), source)


def problem(names: Iterable[str] | None = None) -> dict:
    """SALib problem dictionary over ``names`` (default: every non-setup float/int parameter).

    Bounds are each parameter's sensitivity-analysis range (``Param.sa_bounds``).
    """
    if names is None:
        names = [p.name for p in _DECLARED
                 if p.kind != "bool" and p.group != "setup" and p.name != "shock_year"]
    names = list(names)
    for n in names:
        if n not in SCHEMA:
            raise ParameterError(_unknown(n, "sensitivity parameters"))
    return {"num_vars": len(names), "names": names,
            "bounds": [list(SCHEMA[n].sa_bounds) for n in names]}


def describe() -> str:
    """A plain-text table of every parameter (used by ``clustersim params``)."""
    rows = [f"{'name':<22}{'default':>10}  {'range':<20}{'group':<12}meaning"]
    for p in _DECLARED:
        rng = f"[{_fmt(p.low)}, {_fmt(p.high)}]"
        rows.append(f"{p.name:<22}{_fmt(p.default):>10}  {rng:<20}{p.group:<12}{p.doc}")
    return "\n".join(rows)


def from_sample(values: Mapping[str, Any]) -> dict[str, Any]:
    r"""Parameter values from a point of a continuous sampling design (SALib's Morris or Sobol).

    Samplers draw every factor from a continuous range; an integer parameter (``kind ==
    "int"``) takes the nearest whole number, :math:`\lfloor x + 1/2 \rfloor`, so the model is
    analysed as the function of the continuous factor that it really is. Other values pass
    unchanged (they are validated when the model is built).
    """
    out = dict(values)
    for k, v in values.items():
        p = SCHEMA.get(k)
        if p is not None and p.kind == "int" and isinstance(v, (int, float)) and not isinstance(v, bool) \
                and math.isfinite(v):
            out[k] = int(math.floor(float(v) + 0.5))
    return out
