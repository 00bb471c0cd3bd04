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


def _P(name, default, low, high, kind, group, doc, sa_low=None, sa_high=None, source=""):
    return Param(name, default, low, high, kind, group, doc, sa_low, sa_high, source=source)


_DECLARED: tuple[Param, ...] = (
    # --- set-up -----------------------------------------------------------------
    _P("scale", 1.0, 0.001, 1.0, "float", "setup",
       "fraction of each cluster's observed 2020 firm count simulated (1 = real size)", 0.01, 0.1),
    _P("outside_ratio", 0.5, 0.0, 20.0, "float", "setup",
       "firms of the outside world (rest of the country and abroad) per cluster firm", 0.2, 1.0),
    _P("init_home_share", 0.45, 0.05, 0.95, "float", "setup",
       "initial share of a cluster's firms in its home coarse sector (about 0.1 is the national share of a "
       "family: no specialisation)", 0.1, 0.8),
    _P("anchor_share", 0.01, 0.0, 0.2, "float", "setup",
       "share of the initial firms that are anchor (large, lead) firms", 0.0, 0.05),
    _P("institutions_per_1000", 2.0, 0.0, 20.0, "float", "setup",
       "institutions (universities, research institutes, intermediaries, gatekeepers) per 1000 firms, "
       "at least one per cluster", 0.0, 6.0),
    _P("burn_in", 12, 0, 80, "int", "setup",
       "quarters of link formation and decay, without entry, exit or technology change, that build the "
       "initial network", 4, 20),
    _P("phi_family", 0.5, 0.0, 1.0, "float", "setup",
       "relatedness of two different fine sectors of one sector family", 0.3, 0.7,
       source="Frenken, Van Oort & Verburg 2007 (related variety within 2-digit classes)"),
    _P("phi_neighbour", 0.15, 0.0, 1.0, "float", "setup",
       "relatedness of fine sectors of adjacent families on the value-chain ring (r steps apart: phi^r)",
       0.05, 0.3, source="Neffke, Henning & Boschma 2011 (graded inter-industry relatedness)"),
    _P("space_headroom", 1.3, 1.0, 20.0, "float", "setup",
       "capacity of a cluster's estates (firms it can host) per initial firm", 1.1, 2.0,
       source="S4V-15, S4V-18 (estates fill; entry stops without new space)"),
    # --- entry ------------------------------------------------------------------
    _P("startup_rate", 0.06, 0.0, 0.3, "float", "entry",
       "national pool of startups and relocating firms per year per firm of the country; each entrant "
       "chooses a cluster (or the rest of the country) by attractiveness", 0.03, 0.1,
       source="S4P-M4 (a finite national pool of firms)"),
    _P("pool_startup_share", 0.7, 0.0, 1.0, "float", "entry",
       "share of the national pool that are new firms (the rest relocate as established firms)", 0.5, 0.9),
    _P("entry_relatedness", 0.3, 0.0, 1.0, "float", "entry",
       "weight of related sectors in the related base an entrant looks for: n_s + w * sum_f phi_fs n_f "
       "(0: only its own sector counts)", 0.1, 0.6, source="S4P-M1; Neffke et al. 2011"),
    _P("wait_years", 2.0, 0.0, 10.0, "float", "entry",
       "years an entrant who chose a cluster whose estate is full waits for a unit before giving up; "
       "acts only in clusters with estate units (from an 'estate' policy or a 'space' column)", 1.0, 3.0,
       source="assumption: no source gives a waiting time; S4V-12 (66 firms competed for Wonju's small "
              "estate) and S4V-18 (Jeonju's hub fully contracted after completion) show applicants "
              "outnumbering units"),
    _P("startup_size", 0.3, 0.01, 2.0, "float", "entry",
       "mean employees of a new firm (startup or spin-off) as a share of its cluster's mean firm size", 0.1, 0.6),
    _P("anchor_size", 20.0, 1.0, 200.0, "float", "entry",
       "mean employees of an anchor firm as a multiple of its cluster's mean firm size", 5.0, 50.0),
    _P("anchor_entry_share", 0.04, 0.0, 1.0, "float", "entry",
       "share of relocating firms that are branch plants of large firms (anchors); at the default the "
       "anchors' share of firms stays put at rest (docs/odd.md)", 0.0, 0.1),
    _P("spinoff_rate", 0.01, 0.0, 0.2, "float", "entry",
       "spin-offs per firm per year at average quality (Klepper heredity); they settle in the parent's cluster",
       0.0, 0.04, source="S4V-13 (Medison spin-offs); Klepper 2007"),
    _P("spinoff_quality", 1.0, 0.0, 4.0, "float", "entry",
       "elasticity of a parent's spin-off rate to its quality: rate * exp(q * quality)", 0.0, 2.0),
    _P("spinoff_heredity", 0.5, 0.0, 1.0, "float", "entry",
       "share of the parent's quality advantage a spin-off inherits (bounded heredity)", 0.2, 0.8,
       source="Klepper 2007 (spin-offs inherit their parents' capabilities)"),
    _P("spinoff_branch", 0.2, 0.0, 1.0, "float", "entry",
       "probability that a spin-off starts in a related fine sector instead of its parent's", 0.0, 0.5),
    _P("inst_spinoff_rate", 0.5, 0.0, 5.0, "float", "entry",
       "academic spin-offs per university or research institute per year, into fine sectors related to "
       "but different from the institution's field", 0.0, 2.0, source="S4V-1/12 (university-led emergence)"),
    _P("inst_attraction", 30.0, 0.0, 500.0, "float", "entry",
       "a university or research institute's pull on the national pool, in firm equivalents of a related "
       "base (at scale 1)", 0.0, 80.0, source="S4P-M1, S4W-M1 (institutions and talent attract firms)"),
    _P("critical_mass", 150.0, 1.0, 20000.0, "float", "entry",
       "home-sector firm count (at scale 1) above which agglomeration raises a cluster's attractiveness",
       30.0, 1000.0, source="S4P-M1 (critical mass)"),
    _P("critical_mass_gain", 0.5, 0.0, 5.0, "float", "entry",
       "log-attractiveness gained once a cluster is well above critical mass", 0.0, 1.5,
       source="S4P-M2 (virtuous circle)"),
    _P("reputation_weight", 2.0, 0.0, 10.0, "float", "entry",
       "log-attractiveness per unit of recent growth (log firms per year over four years): reputation",
       0.0, 4.0, source="S4W-M7 (reputation attracts entrants)"),
    # --- link formation -----------------------------------------------------------
    _P("search_rate", 0.3, 0.0, 1.0, "float", "links",
       "probability per quarter that a firm with spare tie budget searches for a new partner", 0.05, 0.4),
    _P("n_local", 3, 0, 20, "int", "links",
       "random candidates from the own cluster per search (Jackson-Rogers random meetings)", 1, 6),
    _P("n_fof", 2, 0, 20, "int", "links",
       "friends-of-friends candidates per search (Jackson-Rogers network meetings)", 0, 5),
    _P("n_external", 2, 0, 20, "int", "links",
       "candidates from other clusters and the outside world per search", 0, 4),
    _P("tie_budget", 2.0, 0.1, 20.0, "float", "links",
       "transaction ties a firm of its cluster's mean size maintains at most", 0.6, 2.5,
       source="table 3-2 (0.04-1.16 internal links per establishment)"),
    _P("tie_size_elasticity", 0.5, 0.0, 2.0, "float", "links",
       "elasticity of the tie budget to firm size: budget * (size / mean size) ** e", 0.2, 1.0),
    _P("beta_pop", 0.8, 0.0, 5.0, "float", "links",
       "preferential attachment: utility weight of log(1 + partner degree) (firm-to-firm ties only)", 0.0, 2.0),
    _P("beta_tri", 1.0, 0.0, 5.0, "float", "links",
       "triadic closure: utility of a candidate met through a common partner", 0.0, 2.5),
    _P("beta_cog", 1.5, 0.0, 5.0, "float", "links",
       "weight of cognitive fit g(d) = (d/d*) exp(1 - d/d*), d = 1 - relatedness (inverted U, Nooteboom)",
       0.0, 3.0),
    _P("cog_optimum", 0.5, 0.01, 1.0, "float", "links",
       "optimal cognitive distance d* (1 - relatedness) for partner choice and learning", 0.3, 0.8,
       source="S4P-M20 (external actors bring cognitive challenge); Nooteboom 2000"),
    _P("beta_local", 0.5, -5.0, 5.0, "float", "links",
       "utility of a partner in the same cluster (geographical proximity)", 0.0, 2.5),
    _P("external_cost", 1.0, 0.0, 10.0, "float", "links",
       "utility cost of a tie to another cluster or the outside world", 0.5, 4.0),
    _P("gatekeeper_discount", 0.7, 0.0, 1.0, "float", "links",
       "share of the external cost a gatekeeper's affiliates are spared", 0.3, 1.0,
       source="anchors-science 1.10 (gatekeeper pipelines)"),
    _P("beta_inst", 0.5, 0.0, 5.0, "float", "links",
       "utility of a candidate affiliated with one of the searcher's institutions (met through it)", 0.0, 2.0),
    _P("beta_status", 0.0, -3.0, 3.0, "float", "links",
       "status homophily: cost per unit of |log(1+k_i) - log(1+k_j)| (negative = heterophily)", -1.5, 1.5),
    _P("link_threshold", 1.0, -5.0, 10.0, "float", "links",
       "utility of not linking (the outside option of the logit choice)", 0.0, 2.5),
    _P("cross_accept", 0.25, 0.0, 1.0, "float", "links",
       "probability that a chosen partner from another group (incumbent vs young firm, other sector "
       "family) accepts without an introduction: the barrier", 0.05, 0.6,
       source="S4E-M5, S4P-M17 (old and new do not mix naturally)"),
    _P("young_years", 5.0, 0.5, 30.0, "float", "links",
       "age under which a firm belongs to the young (new) group of the barrier", 3.0, 8.0),
    _P("broker_intros", 2.0, 0.0, 50.0, "float", "links",
       "introductions per intermediary per quarter between an affiliate and a firm it would not meet", 0.0, 6.0,
       source="S4E-M6 (technology-brokerage office)"),
    _P("broker_lift", 0.7, 0.0, 1.0, "float", "links",
       "share of the cross-group barrier that a broker's introduction removes", 0.3, 1.0,
       source="S4E-M6"),
    _P("broker_external_share", 0.3, 0.0, 1.0, "float", "links",
       "share of an intermediary's introductions made to firms of other clusters or the outside world",
       0.0, 0.6, source="S3-H7, S4V-4 (brokers connect clusters)"),
    _P("affiliation_share", 0.1, 0.0, 1.0, "float", "links",
       "share of its cluster's firms an institution keeps as affiliates (members, tenants, clients)", 0.03, 0.3),
    # --- link decay ---------------------------------------------------------------
    _P("decay_rate", 0.12, 0.0, 0.5, "float", "decay",
       "base hazard per quarter that a tie dissolves", 0.02, 0.2),
    _P("decay_cog", 1.0, 0.0, 5.0, "float", "decay",
       "reduction of the decay hazard per unit of relatedness of the partners (Juhasz and Lengyel)", 0.0, 2.0),
    _P("decay_age", 0.05, 0.0, 1.0, "float", "decay",
       "reduction of the decay hazard per year of tie age", 0.0, 0.2),
    _P("trust_years", 3.0, 0.25, 50.0, "float", "decay",
       "years of contact over which trust in a tie builds (time constant)", 1.0, 6.0,
       source="S4E-M7 (trust grows slowly with repeated good contact)"),
    _P("cross_decay", 2.0, 0.0, 10.0, "float", "decay",
       "extra decay of a cross-group tie while trust is low: hazard * (1 + cross_decay (1 - trust))", 0.0, 4.0,
       source="S4E-M7"),
    # --- technology ---------------------------------------------------------------
    _P("recombination_rate", 0.08, 0.0, 1.0, "float", "technology",
       "branching attempts per firm per year: a move into a fine sector drawn by relatedness density", 0.0, 0.2,
       source="Neffke et al. 2011; Hidalgo et al. 2007 (branching)"),
    _P("convergence_rate", 0.1, 0.0, 1.0, "float", "technology",
       "per year: rate at which a firm converts to the sector that dominates its trusted local partners, "
       "times that sector's share of them (cognitive lock-in)", 0.0, 0.3, source="S4P-M20"),
    _P("lock_in", 2.0, 0.0, 10.0, "float", "technology",
       "suppression of branching by trusted same-sector local ties: attempts * exp(-lock_in * share)",
       0.0, 4.0, source="S4P-M20 (cognitive lock-in)"),
    _P("external_learning", 1.0, 0.0, 5.0, "float", "technology",
       "weight of an external partner's sector in the relatedness density, relative to a local partner's",
       0.0, 2.0, source="S4P-M20; Bathelt et al. 2004 (pipelines)"),
    _P("density_partners", 0.4, 0.0, 1.0, "float", "technology",
       "weight of partners' sectors in a firm's relatedness density (the rest: own capabilities and the cluster)",
       0.2, 0.6),
    _P("density_cluster", 0.3, 0.0, 1.0, "float", "technology",
       "weight of the cluster's sector mix in a firm's relatedness density", 0.1, 0.5,
       source="Hidalgo et al. 2007; Neffke et al. 2011"),
    _P("absorptive_boost", 1.0, 0.0, 10.0, "float", "technology",
       "extra branching of a university's or research institute's affiliates (talent, absorptive capacity): "
       "attempts * (1 + boost)", 0.0, 2.0, source="S4W-M1, S4J-M2"),
    _P("coordination_share", 0.02, 0.0, 0.5, "float", "technology",
       "share of its cluster's firms that must hold a fine sector for a move into it to pay off "
       "(collective diversification; at least two firms)", 0.005, 0.05, source="S4P-M9"),
    # --- performance and shocks ---------------------------------------------------
    _P("network_return", 0.3, 0.0, 3.0, "float", "performance",
       "performance gained per unit log(1 + degree) (access to knowledge and markets)", 0.0, 0.8),
    _P("perf_noise", 0.3, 0.0, 3.0, "float", "performance",
       "sd of the idiosyncratic performance shock per quarter", 0.1, 0.6),
    _P("maturation_rate", 0.3, 0.0, 2.0, "float", "performance",
       "share per year of the gap between a firm's log employment and its target (drawn at birth) that closes",
       0.1, 0.6),
    _P("size_growth", 0.01, 0.0, 0.5, "float", "performance",
       "growth of employment per quarter per unit of performance", 0.0, 0.05),
    _P("pool_elasticity", 0.05, 0.0, 1.0, "float", "performance",
       "elasticity of a firm's target employment to its cluster's skilled-labour pool (the cluster's employment "
       "against its own moving average): target * pool^e (Marshall's labour pool)", 0.02, 0.1,
       source="KLRI-2016 §2.1 (Marshall); Rosenthal & Strange 2004"),
    _P("pool_matching", 0.5, 0.0, 3.0, "float", "performance",
       "elasticity of a growing firm's hiring (its catch-up to its target) to the skilled-labour pool: "
       "maturation_rate * pool^eta (matching function; the survey's range of the elasticity of matches to "
       "job seekers)", 0.5, 0.7,
       source="S4P-M1, S4W-M6; Petrongolo & Pissarides 2001"),
    _P("pool_memory", 10.0, 0.25, 100.0, "float", "performance",
       "time constant in years of the moving average of a cluster's employment against which its "
       "skilled-labour pool is judged (how long a lost pool is felt)", 5.0, 20.0),
    _P("shock_year", -1.0, -1.0, 200.0, "float", "performance",
       "year (from the start) of a technology shift that devalues every cluster's dominant technology (all "
       "clusters at once: growth and exit are measured against the performance without the shift, so it "
       "shrinks the whole system); -1 = none"),
    _P("shock_size", 1.0, 0.0, 10.0, "float", "performance",
       "performance penalty of firms on the dominant technology after the technology shift (related "
       "sectors lose phi times as much)", 0.0, 3.0, source="S4P-M10"),
    _P("shock_persistence", 0.9, 0.0, 1.0, "float", "performance",
       "share of the technology-shift penalty that remains each quarter", 0.5, 0.98),
    # --- exit ---------------------------------------------------------------------
    _P("exit_rate", 0.065, 0.0, 0.5, "float", "exit",
       "exit hazard per year of a firm of average performance", 0.02, 0.1),
    _P("exit_sensitivity", 1.0, 0.0, 5.0, "float", "exit",
       "elasticity of the exit hazard to (low) performance: rate * exp(-s * (perf - mean perf))", 0.0, 2.0),
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
    "init_home_share", "space_headroom",
    "spinoff_rate", "spinoff_quality", "inst_spinoff_rate",
    "search_rate", "tie_budget", "beta_pop", "beta_tri", "beta_cog", "beta_local", "external_cost",
    "beta_inst", "beta_status", "link_threshold", "cross_accept",
    "convergence_rate", "lock_in", "external_learning", "recombination_rate", "coordination_share",
    "network_return",
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


#: Parameters left out of the default sensitivity design: ``shock_year`` schedules an event (a scenario
#: choice, not an uncertainty) and ``wait_years`` acts only in clusters with estate units, which the base
#: model has none of.
NOT_SCREENED = ("shock_year", "wait_years")


def problem(names: Iterable[str] | None = None) -> dict:
    """SALib problem dictionary over ``names`` (default: every non-setup float/int parameter but
    :data:`NOT_SCREENED`).

    Bounds are each parameter's sensitivity-analysis range (``Param.sa_bounds``).
    """
    if names is None:
        names = [p.name for p in _DECLARED
                 if p.kind != "bool" and p.group != "setup" and p.name not in NOT_SCREENED]
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
