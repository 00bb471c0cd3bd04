"""Policy plug-ins (starsim-style interventions).

A policy is an object with three small hooks:

* ``initialize(model)`` once, after the population is built (e.g. resolve targets);
* ``active(model)`` whether it acts this quarter (start/end years);
* ``apply(model)`` at the start of each active quarter, before entry: it sets the
  quarter's *levers* (``model.levers[name][cluster]``, reset to neutral every step)
  or changes the population (e.g. places an institution).

No process tests for a policy by name: processes read levers only.  Concrete
policies live in this module's registry :data:`REGISTRY`; each class states its
**mechanism**, its **source** (bibliography keys and item ids of ``docs/sources.md``)
and the **hypothesis** the model tests (``docs/policies.md`` lists them
with the effects measured by ``python scripts/measure_effects.py``).

Combining policies: multiplicative levers (``*_mult``) multiply, additive levers
(``startup_extra``, ``reputation``, ``anchor_inflow``, ``external_cost_shift``, ``tech_shock``,
``anchor_exit``) add, and the incubator probability ``startup_link`` combines as
independent chances, so two policies on one cluster compose.

Every policy draws its own random numbers from a stream derived from the model's
seed (never from ``model.rng`` directly), so that a policy does not shift the
model's random stream before it starts: with the same seed, a run with a policy
that starts in year 5 is identical to the baseline up to year 5 (common random
numbers).  Placing an institution uses :meth:`ClusterModel.add_institutions`,
which draws from ``model.rng`` at the moment of placement.

Example
-------
>>> from scenarios.policies import build_policies
>>> pols = build_policies([{"policy": "hub_institution", "target": "wonju_medical_devices",
...                         "start": 5, "kind": "university"}])
"""

from __future__ import annotations

import dataclasses
import zlib
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from sim.core.calendar import STEPS_PER_YEAR, years_of
from sim.core.schema import Param
from sim.core.schema import fmt as _fmt
from sim.model import technology as tech
from sim.model.params import ParameterError
from sim.model.population import (
    ANCHOR,
    GATEKEEPER,
    INTERMEDIARY,
    RESEARCH,
    SPINOFF,
    UNIVERSITY,
)
from sim.model.processes import members_by_cluster, remove_nodes, sector_counts, young

__all__ = [
    "Policy", "resolve_target", "REGISTRY", "build_policies", "register", "policy_table",
    "HubInstitution", "StartupInflow", "ExternalLinkage", "LivingLab", "AnchorAttraction",
    "AnchorExit", "GrowthPole", "InterclusterLinkage", "TechnologyShock", "Estate", "INSTITUTION_KINDS",
]

#: Names accepted for institution kinds (``kind`` keys), mapped to population roles.
INSTITUTION_KINDS = ("university", "research", "intermediary", "gatekeeper")


def _check_value(name: str, value, meta: dict):
    """Coerce and validate one policy parameter described by a :meth:`Policy.parameter_meta` entry.

    The check is :meth:`sim.core.schema.Param.check`; this adapter serves the scenario loader.
    """
    return Param(**{**meta, "name": name}).check(value)


@dataclass
class Policy:
    """Base class.

    Parameters
    ----------
    start, end : float
        Years from the start of the run between which the policy is active
        (``end`` exclusive; ``None`` = until the end of the run).
    target : str or list of str
        ``"all"``, a cluster id, a list of ids, or ``"family:<sector_family>"``.
    intensity : float
        Strength of the policy (meaning per policy).

    Subclasses declare their parameters with range and meaning (field metadata),
    and the class attributes ``name``, ``mechanism``, ``source``, ``hypothesis``,
    ``expected`` (indicator -> expected sign of the effect on targeted clusters)
    and ``intensity_doc``.
    """

    start: float = Param(
        name="start", default=0.0, kind="float", low=0.0, strict=True,
        doc="years from the start of the run when the policy starts").as_field()
    end: float | None = Param(
        name="end", default=None, kind="float?", low=0.0, strict=True,
        doc="years from the start of the run when it ends (exclusive)").as_field()
    target: str | list = Param(
        name="target", default="all", kind="target", strict=True,
        accepts='"all", a cluster id, a list of cluster ids or "family:<sector_family>"',
        doc="clusters the policy acts on").as_field()
    intensity: float = Param(
        name="intensity", default=1.0, kind="float", low=0.0, strict=True, doc="strength of the policy").as_field()
    _mask: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)
    _rng: np.random.Generator | None = field(default=None, init=False, repr=False, compare=False)

    name: ClassVar[str] = "policy"
    mechanism: ClassVar[str] = ""
    source: ClassVar[str] = ""
    hypothesis: ClassVar[str] = ""
    intensity_doc: ClassVar[str] = "strength of the policy"
    intensity_range: ClassVar[tuple[float, float | None]] = (0.0, None)
    expected: ClassVar[dict[str, int]] = {}

    def __post_init__(self):
        for name, param in self.params().items():
            setattr(self, name, param.check(getattr(self, name)))
        if self.end is not None and self.end <= self.start:
            raise ValueError(f"'end' ({_fmt(self.end)}) must be after 'start' ({_fmt(self.start)})")

    # ---------------------------------------------------------------- hooks
    def initialize(self, model) -> None:
        self._mask = resolve_target(model, self.target)
        self._rng = _policy_rng(model, self)

    def active(self, model) -> bool:
        years = years_of(model.t)
        return years >= self.start and (self.end is None or years < self.end)

    @property
    def clusters(self) -> np.ndarray:
        """Cluster numbers targeted (after ``initialize``)."""
        return np.flatnonzero(self._mask)

    def apply(self, model) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    # ---------------------------------------------------------------- helpers
    def first_quarter(self, model) -> bool:
        """Whether this is the first active quarter."""
        return int(model.t) == max(1, int(np.ceil(self.start * STEPS_PER_YEAR - 1e-9)))

    def _mul(self, model, lever: str, value) -> None:
        arr = model.levers[lever][:-1]
        arr[self._mask] *= np.broadcast_to(value, arr.shape)[self._mask]

    def _add(self, model, lever: str, value) -> None:
        arr = model.levers[lever][:-1]
        arr[self._mask] += np.broadcast_to(value, arr.shape)[self._mask]

    @classmethod
    def params(cls) -> dict[str, Param]:
        """The declaration of every parameter, the common ones first (``intensity`` with the class's range)."""
        out = {}
        for f in dataclasses.fields(cls):
            param = f.metadata.get("param")
            if not f.init or param is None:
                continue
            if f.name == "intensity":
                param = dataclasses.replace(param, low=cls.intensity_range[0], high=cls.intensity_range[1],
                                            doc=cls.intensity_doc)
            out[f.name] = param
        return out

    @classmethod
    def parameters(cls) -> list[tuple[str, object, str]]:
        """``(name, default, meaning)`` of every parameter, the common ones first."""
        out = []
        for f in dataclasses.fields(cls):
            if not f.init:
                continue
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            doc = cls.intensity_doc if f.name == "intensity" else f.metadata["param"].doc
            out.append((f.name, default, doc))
        return out

    @classmethod
    def parameter_meta(cls) -> dict[str, dict]:
        """Type, range and meaning of every parameter (the fields of its :class:`Param`; used by the
        scenario loader)."""
        return {name: dataclasses.asdict(param) for name, param in cls.params().items()}


def _policy_rng(model, policy) -> np.random.Generator:
    """An independent random stream for one policy, derived from the model's seed.

    Spawning from the model's ``SeedSequence`` by key does not draw from
    ``model.rng``, so the model's own stream is untouched.
    """
    idx = next((i for i, p in enumerate(getattr(model, "policies", [])) if p is policy), 0)
    key = (zlib.crc32(policy.name.encode()), idx)
    ss = getattr(model.rng.bit_generator, "seed_seq", None)
    if isinstance(ss, np.random.SeedSequence):
        child = np.random.SeedSequence(ss.entropy, spawn_key=(*ss.spawn_key, 0x504F4C, *key),
                                       pool_size=ss.pool_size)
    else:  # a generator built from a state: fall back to its current state without advancing it
        state = model.rng.bit_generator.state["state"]
        child = np.random.SeedSequence([int(v) % (2 ** 32) for v in np.atleast_1d(state.get("state", 0))]
                                       + list(key))
    return np.random.default_rng(child)


def resolve_target(model, target) -> np.ndarray:
    """Boolean mask over the model's clusters for a policy target."""

    C = model.n_clusters
    if target in (None, "all"):
        return np.ones(C, bool)
    if isinstance(target, str) and target.startswith("family:"):
        fam = target.split(":", 1)[1]
        mask = (model.table["sector_family"] == fam).to_numpy()
        if not mask.any():
            raise ParameterError(f"policy target '{target}' matches no simulated cluster")
        return mask
    ids = [target] if isinstance(target, str) else list(target)
    unknown = [i for i in ids if i not in model.cluster_ids]
    if unknown:
        raise ParameterError(f"policy target names unknown or unsimulated cluster(s): {', '.join(map(str, unknown))}")
    mask = np.zeros(C, bool)
    mask[[model.cluster_ids.index(i) for i in ids]] = True
    return mask


REGISTRY: dict[str, type[Policy]] = {}


def register(cls: type[Policy]) -> type[Policy]:
    """Class decorator adding a policy to :data:`REGISTRY` under its ``name``."""
    if cls.name in REGISTRY and REGISTRY[cls.name] is not cls:
        raise ValueError(f"policy name {cls.name!r} is already registered")
    REGISTRY[cls.name] = cls
    return cls


# ----------------------------------------------------------------------------- helpers
def _firm_counts(model) -> np.ndarray:
    """Alive firms per cluster now."""

    pop = model.pop
    m = pop.alive & (pop.role <= SPINOFF) & (pop.cluster >= 0)
    return np.bincount(pop.cluster[m].astype(np.int64), minlength=model.n_clusters)


def _role_of(kind: str) -> int:

    return {"university": UNIVERSITY, "research": RESEARCH, "intermediary": INTERMEDIARY,
            "gatekeeper": GATEKEEPER}[kind]


class _Placement:
    """Mixin: place institutions in the targeted clusters once, optionally remove them at ``end``."""

    _placed: np.ndarray | None = None
    _removed: bool = False

    def _reset_placement(self) -> None:
        self._placed = None
        self._removed = False

    def _place(self, model, kinds: list[str], count: float, initial_ties: int) -> None:
        """``count`` institutions of each kind per targeted cluster (fractional counts rounded at random).

        Each is given ``initial_ties`` founding affiliates, random firms of its cluster (a firm
        switches from any institution it belonged to).
        """

        rng = self._rng
        clusters, roles = [], []
        for c in self.clusters:
            for k in kinds:
                n = int(np.floor(count + rng.random()))
                clusters += [c] * n
                roles += [_role_of(k)] * n
        if not clusters:
            self._placed = np.empty(0, dtype=np.int64)
            return
        ids = model.add_institutions(np.array(clusters, dtype=np.int64), np.array(roles, dtype=np.int8))
        self._placed = model.pop.uid[ids].copy()
        if initial_ties > 0:
            order, start, count_ = members_by_cluster(model)
            u, v = [], []
            for i, c in zip(ids, clusters):
                k = min(int(initial_ties), int(count_[c]))
                if k:
                    pick = rng.choice(count_[c], size=k, replace=False)
                    u += [i] * k
                    v += order[start[c] + pick].tolist()
            model.affiliate(np.array(u, dtype=np.int64), np.array(v, dtype=np.int64))

    def _placed_alive(self, model) -> np.ndarray:
        pop = model.pop
        if self._placed is None or not len(self._placed):
            return np.empty(0, dtype=np.int64)
        return np.flatnonzero(pop.alive & np.isin(pop.uid, self._placed))

    def _outreach(self, model, share: float, mixed: bool = False) -> None:
        """Each placed institution still alive recruits Poisson(share/4 * n_c) random firms of its cluster as affiliates.

        With ``mixed``, half of the recruits are drawn among the cluster's young firms (the
        barrier's young group, under ``young_years``) and half among the older ones (when both
        exist).
        """

        pop = model.pop
        ids = self._placed_alive(model)
        if len(ids) == 0:
            return
        order, start, count = members_by_cluster(model)
        k = self._rng.poisson(share / STEPS_PER_YEAR * count[pop.cluster[ids].astype(np.int64)])
        if not k.any():
            return
        src = np.repeat(ids, k)
        cl = pop.cluster[src].astype(np.int64)
        ok = count[cl] > 0
        src, cl = src[ok], cl[ok]
        if not mixed:
            dst = order[start[cl] + (self._rng.random(len(cl)) * count[cl]).astype(np.int64)]
        else:
            dst = np.empty(len(src), dtype=np.int64)
            want_young = self._rng.random(len(src)) < 0.5
            for c in np.unique(cl):
                mem = order[start[c]:start[c] + count[c]]
                is_young = young(model, mem)
                new, old = mem[is_young], mem[~is_young]
                for flag, group in ((True, new), (False, old)):
                    sel = (cl == c) & (want_young == flag)
                    pool = group if len(group) else mem
                    dst[sel] = pool[(self._rng.random(int(sel.sum())) * len(pool)).astype(np.int64)]
        model.affiliate(src, dst)

    def _remove_placed(self, model) -> None:

        if self._placed is not None and len(self._placed) and not self._removed:
            remove_nodes(model, self._placed_alive(model))
        self._removed = True

    def _after_end(self, model) -> bool:
        return self.end is not None and years_of(model.t) >= self.end


# ----------------------------------------------------------------------------- policies
@register
@dataclass
class HubInstitution(_Placement, Policy):
    """Hub institution: a university, research institute or intermediary placed in a cluster."""

    kind: list = Param(
        name="kind", default=["university", "intermediary"], kind="kinds", strict=True, choices=INSTITUTION_KINDS,
        accepts="institution kind",
        doc="kind(s) of institution placed: university, research, intermediary, gatekeeper").as_field()
    initial_ties: int = Param(
        name="initial_ties", default=3, kind="int", low=0, high=50, strict=True,
        doc="founding affiliates of each new institution, random firms of its cluster (its prior local "
            "networking; 0 = placed without any)").as_field()
    persist: bool = Param(
        name="persist", default=True, kind="bool", strict=True,
        doc="institutions stay after 'end' (false: they close at 'end')").as_field()
    outreach: float = Param(
        name="outreach", default=0.2, kind="float", low=0.0, high=10.0, strict=True,
        doc="firms recruited as affiliates per year by each placed institution while active, as a share "
            "of the cluster's firms (members of its training and support programmes)").as_field()

    name: ClassVar[str] = "hub_institution"
    intensity_doc: ClassVar[str] = ("institutions of each kind placed per targeted cluster at 'start' "
                                    "(fractional values are rounded at random)")
    intensity_range: ClassVar[tuple] = (0.0, 20.0)
    mechanism: ClassVar[str] = (
        "At 'start', places 'intensity' institutions of each 'kind' in every targeted cluster with "
        "'initial_ties' founding affiliates; while active each recruits 'outreach' x the cluster's firms "
        "per year as affiliates (S4J-M6).  Institutions are not nodes of the transaction network; each "
        "kind acts through its affiliates by its own rule: a university spins off firms into related "
        "sectors (inst_spinoff_rate), raises its affiliates' branching (absorptive_boost) and the "
        "cluster's pull on the national pool (inst_attraction); a research institute does the same and "
        "relays the national sector mix into its affiliates' relatedness density; an intermediary "
        "introduces its affiliates to firms of other groups and other clusters, lifting the barrier "
        "(broker_intros, broker_lift, broker_external_share); a gatekeeper spares its affiliates part "
        "of the external cost (gatekeeper_discount) and relays outside knowledge.  Co-affiliated firms "
        "meet more easily (beta_inst).  With persist = false they close at 'end'.")
    source: ClassVar[str] = (
        "[KRIHS-2020] S4W-M1/M8/M13, S4J-M1/M2/M6/M11, S4X-M1/M2, S4V-1/S4V-10 (Wonju: university and "
        "Technovalley as network centre; Jeonju: CAMTIC as broker); [Kang-Jung-2004] S3-H7 "
        "(an institute placed without prior local networking brings little)")
    hypothesis: ClassVar[str] = (
        "A hub institution raises its cluster's local connectedness (inclusiveness), its external "
        "linkage and its related variety (centrifugal force: bridging, not lock-in; S3-H7, S4P-P9), and "
        "the firm count; placed without founding affiliates (initial_ties = 0) its effect is smaller "
        "(S3-H7).")
    expected: ClassVar[dict] = {"inclusiveness": 1, "external_linkage": 1, "related_variety": 1, "firms": 1}

    def initialize(self, model) -> None:
        super().initialize(model)
        self._reset_placement()

    def active(self, model) -> bool:
        if Policy.active(self, model):
            return True
        return (not self.persist and self._placed is not None and not self._removed and self._after_end(model))

    def apply(self, model) -> None:
        if self._after_end(model):
            self._remove_placed(model)
            return
        if self._placed is None:
            self._place(model, self.kind, self.intensity, self.initial_ties)
        if self.outreach > 0:
            self._outreach(model, self.outreach)


@register
@dataclass
class StartupInflow(Policy):
    """Startup inflow: raised entry of startups, optionally linked to incumbents by an incubator."""

    intensity: float = Param(
        name="intensity", default=2.0, kind="float", strict=True, doc="see intensity_doc").as_field()

    extra_rate: float = Param(
        name="extra_rate", default=0.0, kind="float", low=0.0, high=1.0, strict=True,
        doc="additional startups per year per firm of the cluster, on top of the multiplied endogenous "
            "rate").as_field()
    incubator_link: float = Param(
        name="incubator_link", default=0.0, kind="float", low=0.0, high=1.0, strict=True,
        doc="probability that an incubator introduces a startup to a random incumbent of its cluster "
            "(hubbed with the old industry): the pair forms through the barrier with the broker's lift").as_field()

    name: ClassVar[str] = "startup_inflow"
    intensity_doc: ClassVar[str] = ("multiplier of the cluster's attractiveness to the national pool's new firms "
                                    "(1 = no change)")
    intensity_range: ClassVar[tuple] = (0.0, 50.0)
    mechanism: ClassVar[str] = (
        "While active, multiplies the targeted clusters' attractiveness to the national pool's new firms by "
        "'intensity' (lever entry_mult: a larger share of the finite pool chooses them, S4P-M4), adds "
        "'extra_rate' startups per firm per year in sectors of the cluster's relatedness density (lever "
        "startup_extra) and, with probability 'incubator_link', introduces a startup to an incumbent "
        "(lever startup_link): the pair crosses the young/incumbent barrier with the broker's lift "
        "(S4P-M17).  Entrants still need free space.")
    source: ClassVar[str] = (
        "[KRIHS-2020] S4P-P9, S4P-M16/M17, S4E-M4/M11 (startup ecosystem hubbed and linked to the old "
        "industry; Euljiro makers); [Park-2005] section 2-2 (market-friendly creation of start-ups)")
    hypothesis: ClassVar[str] = (
        "More startups raise firm counts and variety (related variety up, specialisation down: centrifugal "
        "force); the effect on the network (inclusiveness, heterophily) appears only if startups are linked "
        "to the incumbent core through the barrier (S4P-M17).")
    expected: ClassVar[dict] = {"startups": 1, "firms": 1, "related_variety": 1}

    def apply(self, model) -> None:
        if self.intensity != 1.0:
            self._mul(model, "entry_mult", self.intensity)
        if self.extra_rate > 0:
            self._add(model, "startup_extra", self.extra_rate * _firm_counts(model))
        if self.incubator_link > 0:
            lv = model.levers["startup_link"][:-1]
            lv[self._mask] = 1.0 - (1.0 - lv[self._mask]) * (1.0 - self.incubator_link)


@register
@dataclass
class ExternalLinkage(_Placement, Policy):
    """External linkage: cheaper (subsidised) ties to other clusters and the outside; gatekeepers."""

    intensity: float = Param(
        name="intensity", default=0.5, kind="float", strict=True, doc="see intensity_doc").as_field()

    gatekeepers: float = Param(
        name="gatekeepers", default=0.0, kind="float", low=0.0, high=20.0, strict=True,
        doc="gatekeeper institutions placed per targeted cluster at 'start' (their affiliates are spared "
            "part of the external cost and receive outside knowledge)").as_field()
    initial_ties: int = Param(
        name="initial_ties", default=3, kind="int", low=0, high=50, strict=True,
        doc="founding affiliates of each gatekeeper when placed").as_field()

    name: ClassVar[str] = "external_linkage"
    intensity_doc: ClassVar[str] = ("reduction of the utility cost of a tie to another cluster or the "
                                    "outside (external_cost is 1 by default; the cost is floored at 0)")
    intensity_range: ClassVar[tuple] = (0.0, 10.0)
    mechanism: ClassVar[str] = (
        "While active, lowers the targeted clusters' external tie cost by 'intensity' (lever "
        "external_cost_shift, a subsidy of external search), and at 'start' places 'gatekeepers' "
        "gatekeeper institutions per cluster.  External partners' sectors enter firms' relatedness "
        "density (external_learning), so branching imports variety.")
    source: ClassVar[str] = (
        "[KRIHS-2020] S4P-M20, S4P-P10/P11 (cognitive lock-in; external ties are costly, "
        "gatekeepers lower the cost), S4X-M3, S4V-5 (Wonju closed); [Kang-Jung-2004] S3-H4, S3-H9; "
        "[Ahn-Gu-2022] S0-P10, S0-P16 (internationalisation programmes)")
    hypothesis: ClassVar[str] = (
        "Cheaper external ties raise external linkage and lower internal cohesion (centrifugal up, "
        "centripetal down), countering cognitive lock-in.")
    expected: ClassVar[dict] = {"external_linkage": 1, "internal_cohesion": -1}

    def initialize(self, model) -> None:
        super().initialize(model)
        self._reset_placement()

    def apply(self, model) -> None:
        if self.intensity:
            self._add(model, "external_cost_shift", -self.intensity)
        if self._placed is None:
            self._place(model, ["gatekeeper"], self.gatekeepers, self.initial_ties)


@register
@dataclass
class LivingLab(_Placement, Policy):
    """Brokers / living lab between heterogeneous groups (old and new firms, different sectors)."""

    intensity: float = Param(
        name="intensity", default=3.0, kind="float", strict=True, doc="see intensity_doc").as_field()

    brokers: float = Param(
        name="brokers", default=1.0, kind="float", low=0.0, high=20.0, strict=True,
        doc="intermediaries (brokerage offices) placed per targeted cluster at 'start'").as_field()
    initial_ties: int = Param(
        name="initial_ties", default=3, kind="int", low=0, high=50, strict=True,
        doc="founding members (affiliates) of each platform when placed").as_field()
    recombination: float = Param(
        name="recombination", default=1.5, kind="float", low=0.0, high=20.0, strict=True,
        doc="multiplier of the branching rate of the cluster's firms").as_field()
    members: float = Param(
        name="members", default=0.2, kind="float", low=0.0, high=10.0, strict=True,
        doc="firms recruited as members per year by each platform as a share of the cluster's firms, half "
            "among young firms and half among incumbents").as_field()
    trust: float = Param(
        name="trust", default=2.0, kind="float", low=0.0, high=20.0, strict=True,
        doc="multiplier of the speed at which trust builds among the co-members of each of the cluster's intermediaries (S4E-M7, S4P-M15)").as_field()
    coordination: float = Param(
        name="coordination", default=0.25, kind="float", low=0.0, high=1.0, strict=True,
        doc="multiplier of the coordination threshold of collective diversification (S4P-M9)").as_field()
    mission: bool = Param(
        name="mission", default=True, kind="bool", strict=True,
        doc="the platform targets one new field, the fine sector most related to the cluster's dominant "
            "sector among those it holds least; its members' branching favours it").as_field()

    name: ClassVar[str] = "living_lab"
    intensity_doc: ClassVar[str] = ("multiplier of brokerage in the cluster: intermediaries' introductions "
                                    "per quarter (1 = no change)")
    intensity_range: ClassVar[tuple] = (0.0, 50.0)
    mechanism: ClassVar[str] = (
        "At 'start' places 'brokers' platforms (intermediaries) per targeted cluster, each with a mission "
        "(a new related field); while active each recruits 'members' x the cluster's firms per year, half "
        "young firms and half incumbents (the two groups that 'do not mix naturally'); introductions are "
        "multiplied by 'intensity' (lever broker_mult) and lift the barrier; trust builds 'trust' times "
        "faster among co-members (lever trust_mult), so their cross-group ties last and become productive; the coordination "
        "threshold of collective diversification is multiplied by 'coordination' (lever "
        "coordination_mult) and branching by 'recombination' (lever recombination_mult); members' "
        "branching favours the mission.")
    source: ClassVar[str] = (
        "[KRIHS-2020] S4E-M5/M6/M7 (Sewoon technology-brokerage office, Meisters), S4P-P8 and "
        "S4P-M8/M9 (living labs; divergence must be organised, collective diversification), S4X-M4")
    hypothesis: ClassVar[str] = (
        "Brokerage between heterogeneous groups raises heterophily, inclusiveness and related variety "
        "(centrifugal force) of a locked-in cluster; the market alone does not produce it (S4P-M8).")
    expected: ClassVar[dict] = {"heterophily": 1, "inclusiveness": 1, "related_variety": 1}

    def initialize(self, model) -> None:
        super().initialize(model)
        self._reset_placement()

    def _set_missions(self, model) -> None:
        """Each platform's mission: argmax over s of phi(dominant, s) x (1 - share of s) among s != dominant."""
        pop = model.pop
        ids = self._placed_alive(model)
        if len(ids) == 0:
            return
        cnt, _ = sector_counts(model)
        shares = cnt / np.maximum(cnt.sum(1, keepdims=True), 1.0)
        for i in ids:
            c = int(pop.cluster[i])
            dom = int(np.argmax(cnt[c]))
            score = model.phi[dom] * (1.0 - shares[c])
            score[dom] = -1.0
            pop.mission[i] = int(np.argmax(score))

    def apply(self, model) -> None:
        if self.intensity != 1.0:
            self._mul(model, "broker_mult", self.intensity)
        if self.recombination != 1.0:
            self._mul(model, "recombination_mult", self.recombination)
        if self.trust != 1.0:
            self._mul(model, "trust_mult", self.trust)
        if self.coordination != 1.0:
            self._mul(model, "coordination_mult", self.coordination)
        if self._placed is None:
            self._place(model, ["intermediary"], self.brokers, self.initial_ties)
            if self.mission:
                self._set_missions(model)
        if self.members > 0:
            self._outreach(model, self.members, mixed=True)


@register
@dataclass
class AnchorAttraction(Policy):
    """Anchor-firm attraction: large home-sector firms (no quality bonus in v2) drawn into the cluster."""

    scaled: bool = Param(
        name="scaled", default=True, kind="bool", strict=True,
        doc="multiply the rate by the model's 'scale' (true: 'intensity' is a real-world count; false: a "
            "count in the simulated, scaled-down system)").as_field()

    name: ClassVar[str] = "anchor_attraction"
    intensity_doc: ClassVar[str] = "anchor firms attracted per year per targeted cluster (Poisson rate)"
    intensity_range: ClassVar[tuple] = (0.0, 1000.0)
    mechanism: ClassVar[str] = (
        "While active, anchors arrive at 'intensity' per year per targeted cluster (times the model "
        "scale when 'scaled'; lever anchor_inflow): home-sector firms as large as the largest firms "
        "(ClusterModel.anchor_draw: anchor_size times a size from the top anchor_share of the size distribution).  Their tie budget grows with their size and "
        "preferential attachment draws some suppliers to them, but like every firm they form at most one tie per search "
        "at the common search rate, so they stay far below their budget: more connected than other firms, not hubs.")
    source: ClassVar[str] = (
        "[KRIHS-2020] S4J-M12 (Jeonju lacks an anchor; scenario: inject one), S4J-M8 (Hyosung "
        "investment), S4W-M5; [KLRI-2016] Moon, appendix (Upper Austria anchor courting, inward investment); "
        "[Park-2005] section 2-2 (Strathclyde large-firm attraction)")
    hypothesis: ClassVar[str] = (
        "Attracting anchors raises hierarchy and employment and, through preferential attachment, "
        "internal cohesion (centripetal force).")
    expected: ClassVar[dict] = {"hierarchy": 1, "employment": 1}

    def apply(self, model) -> None:
        rate = self.intensity * (model.p["scale"] if self.scaled else 1.0)
        self._add(model, "anchor_inflow", rate)


@register
@dataclass
class AnchorExit(Policy):
    """Anchor exit: a share of the cluster's anchors leaves at once, and/or a raised anchor exit hazard."""

    hazard: float = Param(
        name="hazard", default=0.0, kind="float", low=0.0, high=10.0, strict=True,
        doc="extra exit hazard per year of the remaining anchors while active").as_field()

    name: ClassVar[str] = "anchor_exit"
    intensity_doc: ClassVar[str] = "share of the targeted clusters' anchors that leave at 'start' (0-1)"
    intensity_range: ClassVar[tuple] = (0.0, 1.0)
    mechanism: ClassVar[str] = (
        "At 'start' each anchor firm of the targeted clusters leaves with probability 'intensity' "
        "(with all its ties); while active the remaining anchors exit with an extra hazard 'hazard' per "
        "year (lever anchor_exit).  Suppliers lose their ties to the anchor, so their network return "
        "falls and their exit hazard rises.")
    source: ClassVar[str] = (
        "[KRIHS-2020] S4W-M6 and S4V-14 (Medison's move after its acquisition), Jeonbuk GM Daewoo "
        "exit (S4P-P8 examples), table 2-1 (path-locked -> declining under an anchor exit)")
    hypothesis: ClassVar[str] = (
        "The exit of anchors lowers hierarchy, employment and links and can tip a path-locked cluster "
        "into decline.")
    expected: ClassVar[dict] = {"hierarchy": -1, "employment": -1}

    def apply(self, model) -> None:

        if self.first_quarter(model) and self.intensity > 0:
            pop = model.pop
            cand = np.flatnonzero(pop.alive & (pop.role == ANCHOR) & (pop.cluster >= 0))
            cand = cand[self._mask[pop.cluster[cand]]]
            out = cand[self._rng.random(len(cand)) < self.intensity]
            if len(out):
                cl = pop.cluster[out].astype(np.int64)
                remove_nodes(model, out)
                n = np.bincount(cl, minlength=model.n_clusters)
                model.flows["exits"] += n
                model.flows["anchor_exits"] += n
        if self.hazard:
            self._add(model, "anchor_exit", self.hazard)


@register
@dataclass
class GrowthPole(Policy):
    """Growth-pole concentration: a fixed support budget concentrated on few clusters or spread thin."""

    intensity: float = Param(
        name="intensity", default=2.0, kind="float", strict=True, doc="see intensity_doc").as_field()

    poles: int = Param(
        name="poles", default=1, kind="int", low=0, high=1000, strict=True,
        doc="number of targeted clusters that receive the support (0 = all targeted clusters: dispersed "
            "support)").as_field()
    select: str = Param(
        name="select", default="largest", kind="str", strict=True, choices=("largest", "listed"),
        doc="which targeted clusters become poles: the 'largest' by initial home-sector firms, or the "
            "first ones 'listed' in target").as_field()

    name: ClassVar[str] = "growth_pole"
    intensity_doc: ClassVar[str] = ("total support budget B: each of the k poles gets its attractiveness to "
                                    "relocating firms and its agglomeration gain multiplied by 1 + B/k")
    intensity_range: ClassVar[tuple] = (0.0, 100.0)
    mechanism: ClassVar[str] = (
        "At initialisation selects k = 'poles' of the targeted clusters (all when 0); while active each "
        "pole's attractiveness to the national pool's relocating firms (lever relocation_mult) and its agglomeration gain above "
        "critical mass (lever agglomeration_mult) are multiplied by 1 + intensity/k.  The same budget "
        "spread over more clusters gives each a smaller push.")
    source: ClassVar[str] = (
        "[KRIHS-2020] S4P-P1, S4P-M1/M2/M4 (selection and concentration, critical mass, virtuous "
        "and vicious circles); [Kang-Jung-2004] S3-H11 (Technopolis dispersion), S3-H20 (an existing base "
        "first); [Ahn-Gu-2022] S0-P8/S0-P17 (Spitzencluster excellence principle)")
    hypothesis: ClassVar[str] = (
        "Concentrating a fixed budget on few poles pushes them past critical mass and yields more firms "
        "in total than spreading it thinly over many clusters (S3-H11).")
    expected: ClassVar[dict] = {"firms": 1, "specialization": 1}

    def initialize(self, model) -> None:
        super().initialize(model)
        idx = self.clusters
        k = len(idx) if self.poles == 0 else min(self.poles, len(idx))
        if self.select == "largest":
            order = sorted(idx, key=lambda c: -float(model.n0[c]))
        else:
            tgt = [self.target] if isinstance(self.target, str) else list(self.target)
            if any(t in model.cluster_ids for t in tgt):
                order = [model.cluster_ids.index(t) for t in tgt if t in model.cluster_ids]
            else:
                order = list(idx)
        chosen = np.zeros(model.n_clusters, bool)
        chosen[list(order[:k])] = True
        self._mask = chosen
        self._k = max(k, 1)

    @property
    def poles_chosen(self) -> np.ndarray:
        return np.flatnonzero(self._mask)

    def apply(self, model) -> None:
        push = 1.0 + self.intensity / self._k
        self._mul(model, "relocation_mult", push)
        self._mul(model, "agglomeration_mult", push)


@register
@dataclass
class InterclusterLinkage(_Placement, Policy):
    """Inter-cluster linkage programme: matched joint projects between firms of partner clusters."""

    intensity: float = Param(
        name="intensity", default=2.0, kind="float", strict=True, doc="see intensity_doc").as_field()

    candidates: int = Param(
        name="candidates", default=3, kind="int", low=1, high=50, strict=True,
        doc="firms of the partner cluster screened per match; the technologically closest is chosen "
            "(matching on complementarity)").as_field()
    gatekeepers: float = Param(
        name="gatekeepers", default=0.0, kind="float", low=0.0, high=20.0, strict=True,
        doc="gatekeepers placed per targeted cluster at 'start' (a cluster's window for inter-cluster "
            "cooperation)").as_field()
    initial_ties: int = Param(
        name="initial_ties", default=3, kind="int", low=0, high=50, strict=True,
        doc="founding affiliates of each gatekeeper when placed").as_field()

    name: ClassVar[str] = "intercluster_linkage"
    intensity_doc: ClassVar[str] = "matched joint-project ties per year per 100 firms of each targeted cluster"
    intensity_range: ClassVar[tuple] = (0.0, 1000.0)
    mechanism: ClassVar[str] = (
        "While active, each targeted cluster gets Poisson(intensity/4 x firms/100) joint-project ties per "
        "quarter: a random local firm is matched with the technologically closest of 'candidates' random "
        "firms of a partner cluster (another targeted cluster, or any other simulated cluster when only "
        "one is targeted), chosen in proportion to its size.  The ties then live and decay like any "
        "other tie (cognitive proximity and age make them last).  Optional gatekeepers at 'start'.")
    source: ClassVar[str] = (
        "[KRIHS-2020] S4P-P10/P11/P12 (policy-learning platform, Interreg joint projects, "
        "super-regional cooperation, national control tower linking hubs), S4V-4 (Euljiro's inter-cluster "
        "brokerage); [Kang-Jung-2004] S3-H9 (inter-cluster sourcing instead of a self-contained "
        "cluster), S3-H5 (imposed links do not last)")
    hypothesis: ClassVar[str] = (
        "Matched inter-cluster projects raise the external linkage of all partner clusters and import "
        "variety (related variety up); ties imposed without real need decay, so the effect fades after "
        "the programme ends (S3-H5).")
    expected: ClassVar[dict] = {"external_linkage": 1, "internal_cohesion": -1}

    def initialize(self, model) -> None:
        super().initialize(model)
        self._reset_placement()

    def apply(self, model) -> None:

        if self._placed is None:
            self._place(model, ["gatekeeper"], self.gatekeepers, self.initial_ties)
        if self.intensity <= 0:
            return
        rng = self._rng
        pop = model.pop
        order, start, count = members_by_cluster(model)
        targets = self.clusters
        k = rng.poisson(self.intensity / STEPS_PER_YEAR * count[targets] / 100.0)
        if not k.any():
            return
        partners_pool = targets if len(targets) >= 2 else np.setdiff1d(np.arange(model.n_clusters), targets)
        u, v = [], []
        for c, kc in zip(targets, k):
            pool = partners_pool[partners_pool != c]
            w = count[pool].astype(float)
            if kc == 0 or w.sum() == 0 or count[c] == 0:
                continue
            part = rng.choice(pool, size=kc, p=w / w.sum())
            src = order[start[c] + rng.integers(0, count[c], kc)]
            for i, pc in zip(src, part):
                cand = order[start[pc] + rng.integers(0, count[pc], self.candidates)]
                d = tech.distance(model.phi, pop.fine[i], pop.cap2[i], pop.fine[cand], pop.cap2[cand])
                u.append(i)
                v.append(cand[np.argmin(d)])
        if u:
            model.edges.add(np.array(u, dtype=np.int64), np.array(v, dtype=np.int64))


@register
@dataclass
class TechnologyShock(Policy):
    """Technology shock: the cluster's dominant technology is devalued (a paradigm change)."""

    mode: str = Param(
        name="mode", default="once", kind="str", strict=True, choices=("once", "sustained"),
        doc="'once': the penalty is added at 'start' and fades with shock_persistence; 'sustained': it "
            "is held at 'intensity' while active").as_field()

    name: ClassVar[str] = "technology_shock"
    intensity_doc: ClassVar[str] = ("performance penalty of firms on the cluster's dominant technology "
                                    "(same unit as shock_size)")
    intensity_range: ClassVar[tuple] = (0.0, 10.0)
    mechanism: ClassVar[str] = (
        "Adds 'intensity' to the targeted clusters' technology-shift penalty (lever tech_shock) at "
        "'start' ('once'; it then fades by shock_persistence per quarter) or holds it at 'intensity' "
        "while active ('sustained').  Firms close to the dominant technology lose performance, grow "
        "less and exit more; diversified firms escape.")
    source: ClassVar[str] = (
        "[KRIHS-2020] S4P-M10 (disruptive change dismantles production structures), S4W-M12 "
        "(Wonju's vulnerability to a paradigm change), S4E-M3 (Sewoon shocks), table 2-1 "
        "(path-locked -> declining under a technology change)")
    hypothesis: ClassVar[str] = (
        "A technology shock lowers firm counts and employment, most in specialised, cohesive clusters; "
        "related variety and external ties cushion it.")
    expected: ClassVar[dict] = {"firms": -1, "employment": -1}

    def apply(self, model) -> None:
        if self.mode == "once":
            if self.first_quarter(model):
                self._add(model, "tech_shock", self.intensity)
        else:
            gap = np.maximum(self.intensity - model.shock, 0.0)
            self._add(model, "tech_shock", gap)


@register
@dataclass
class Estate(Policy):
    """New estate and national projects: space for firms and a showcase that draws entrants."""

    intensity: float = Param(
        name="intensity", default=200.0, kind="float", strict=True, doc="see intensity_doc").as_field()

    showcase: float = Param(
        name="showcase", default=0.0, kind="float", low=0.0, high=5.0, strict=True,
        doc="log-attractiveness added while active: a demonstration success or national project that "
            "makes the cluster known to entrants (lever reputation)").as_field()
    scaled: bool = Param(
        name="scaled", default=True, kind="bool", strict=True,
        doc="multiply the space by the model's 'scale' (true: 'intensity' is a real-world firm count)").as_field()
    dedicated: bool = Param(
        name="dedicated", default=False, kind="bool", strict=True,
        doc="let the cluster's estate units only to firms of its home sector family (a dedicated estate, "
            "like Wonju's 2004 medical-device complex); applies to all its units").as_field()

    name: ClassVar[str] = "estate"
    intensity_doc: ClassVar[str] = "firms the new estates can host, added to each targeted cluster's capacity at 'start'"
    intensity_range: ClassVar[tuple] = (0.0, 100000.0)
    mechanism: ClassVar[str] = (
        "At 'start' adds 'intensity' estate units (times the model scale when 'scaled') to the targeted "
        "clusters.  Estate units are a market of their own beside the cluster's premises: they are let by "
        "application, so they draw newcomers in proportion to their share of the cluster's room whether "
        "full or not; at most the free units are let each quarter, and applicants who find them full wait "
        "up to wait_years on a waiting list that new units serve first.  With 'dedicated' the units are let "
        "only to firms of the cluster's home sector family, and only those newcomers are drawn by them.  "
        "While active adds 'showcase' to their log-attractiveness (lever reputation).  Without space, entry "
        "stops as the estate fills.")
    source: ClassVar[str] = (
        "[KRIHS-2020] S4V-12/S4V-15 (Wonju: 66 firms competed for a small estate; ten years without "
        "new estates or projects stopped entry), S4V-18 (Jeonju startup hub fully contracted), S4W-M7")
    hypothesis: ClassVar[str] = (
        "Space and a showcase let a cluster grow where firms want to come; without them entry stops "
        "(S4V-15).")
    expected: ClassVar[dict] = {"firms": 1, "startups": 1}

    def apply(self, model) -> None:
        if self.first_quarter(model) and self.intensity > 0:
            add = self.intensity * (model.p["scale"] if self.scaled else 1.0)
            model.space_extra[self._mask] += add
            if self.dedicated:
                model.space_dedicated[self._mask] = True
        if self.showcase:
            self._add(model, "reputation", self.showcase)


# ----------------------------------------------------------------------------- building and listing
def build_policies(specs) -> list[Policy]:
    """Policy objects from a list of policies or specification dicts.

    A specification is ``{"policy": <name in REGISTRY>, "start": ..., "end": ...,
    "target": ..., "intensity": ..., <policy-specific keys>}``; unknown policy
    names, unknown keys, wrong types and out-of-range values raise
    :class:`~sim.model.params.ParameterError`.
    """

    out = []
    for i, spec in enumerate(specs or ()):
        if isinstance(spec, Policy):
            out.append(spec)
            continue
        if not isinstance(spec, dict):
            raise ParameterError(f"policy #{i + 1} must be a table/dict, got {type(spec).__name__}")
        spec = dict(spec)
        name = spec.pop("policy", None)
        if name not in REGISTRY:
            known = ", ".join(sorted(REGISTRY)) or "(none registered)"
            raise ParameterError(f"policy #{i + 1}: unknown policy {name!r}; known policies: {known}")
        cls = REGISTRY[name]
        fields = {f.name for f in dataclasses.fields(cls) if f.init}
        unknown = sorted(set(spec) - fields)
        if unknown:
            raise ParameterError(f"policy #{i + 1} ({name}): unknown key(s) {', '.join(unknown)}; "
                                 f"allowed: {', '.join(sorted(fields))}")
        try:
            out.append(cls(**spec))
        except (TypeError, ValueError) as exc:
            raise ParameterError(f"policy #{i + 1} ({name}): {exc}") from None
    return out


def policy_table() -> str:
    """A plain-text list of every registered policy and its parameters (``clustersim policies``)."""
    lines = []
    for name, cls in REGISTRY.items():
        lines.append(f"{name}: {cls.__doc__.strip().splitlines()[0]}")
        for pname, default, doc in cls.parameters():
            lines.append(f"    {pname:<16}{_fmt(default) if not isinstance(default, list) else default!s:<26} {doc}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
