"""One classroom session: the model, the levers, the layout and the pictures.

:class:`DemoSession` is plain Python (matplotlib only, no Solara): the page of
:mod:`sim.face.app` drives it, and so do the tests.  It reads the model only
through the public API of :class:`sim.model.model.ClusterModel`
(``set_param``, ``history``, ``latest``, ``cluster_network``, ``home_firms``,
``critical_mass``) and draws with :mod:`sim.face.drawing`.
"""

from __future__ import annotations

import math
import os
import threading
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scenarios.policies import REGISTRY
from sim.core.calendar import steps_in, years_of
from sim.data.clusters import check_ids, cluster_table
from sim.engine.runner import release_model
from sim.face.drawing import (
    CLASSROOM,
    PROJECTOR,
    StableLayout,
    draw_network,
    draw_plots,
    network_figure,
    plots_figure,
)
from sim.face.lessons import LESSONS, Lesson, lesson_policies, validate_lesson
from sim.indices.scores import (
    DECLINE_RATE,
    FEATURELESS_LQ,
    GROWTH_RATE,
    LOCK_IN_GAP,
    NASCENT_INCLUSIVENESS,
    STAGES,
    TYPOLOGIES,
)
from sim.model.model import ClusterModel
from sim.model.params import SCHEMA, ParameterError, validate

__all__ = [
    "DEFAULT_CLUSTER",
    "DEFAULT_FIRMS",
    "DEFAULT_SEED",
    "LEVER_TEXT",
    "LIMIT_ENV",
    "MAX_FIRMS",
    "SHOCK_DEFAULT",
    "STAGE_TEXT",
    "STARTUP_RANGE",
    "TYPOLOGY_TEXT",
    "DemoSession",
    "Limits",
    "scale_for",
]

DEFAULT_CLUSTER = "jeonju_machinery"
"""Cluster shown in free play (861 firms in 2020; shown at about 300)."""
DEFAULT_FIRMS = 300
"""Firms of the chosen cluster at the start (the scale is set from it)."""
DEFAULT_SEED = 1
MAX_FIRMS = 2000
"""Most firms a session may start with."""
FREE_PLAY_OUTSIDE = 10.0
"""Outside world per cluster firm in free play: the country whose pool of entrants the cluster draws on."""

STAGE_TEXT: dict[str, str] = {
    "nascent": f"Nascent: hardly any local network yet (under {NASCENT_INCLUSIVENESS:.0%} of firms linked)",
    "growing": f"Growing: the number of firms rises by more than {GROWTH_RATE:.0%} a year",
    "featureless": f"Featureless: no specialisation (location quotient below {FEATURELESS_LQ:g})",
    "resilient": "Resilient: after a technology shock it recovered its firms and diversified (measured)",
    "path_locked": f"Path-locked: centripetal forces dominate and the gap is not closing (above {LOCK_IN_GAP:g}), "
                   f"or it failed to recover after a shock",
    "mature": "Mature: stable, not locked in; its resilience has not been tested by a shock",
    "declining": f"Declining: the number of firms falls by more than {-DECLINE_RATE:.0%} a year",
}
"""The development stages of :data:`sim.indices.scores.STAGES` in words."""

TYPOLOGY_TEXT: dict[str, str] = {
    "path_locked": "Path-locked: centripetal high, centrifugal low",
    "resilient": "Resilient: centripetal and centrifugal both high",
    "centrifugal_dominant": "Centrifugal-dominant: centrifugal high, centripetal low",
    "other": "Other: centripetal and centrifugal both low",
}
"""The typologies of :data:`sim.indices.scores.TYPOLOGIES` in words."""

# Policy levers: (app key, policies tried in order in scenarios.policies.REGISTRY, teacher-facing text).
LEVER_POLICIES = {
    "hub": ("hub_institution",),
    "startup": ("startup_inflow",),
    "broker": ("broker", "living_lab"),
    "shock": ("technology_shock",),
}
LEVER_TEXT = {
    "hub": "Add a hub institution: a university and an intermediary open in the cluster, tied to a few "
           "firms, and keep reaching out to new partners.",
    "startup": "Startup inflow: multiplies the cluster's startup rate (x1 = no policy).",
    "incubator": "Incubator: half of the new startups get a tie to an established firm.",
    "external_cost": "External-linkage cost: the utility cost of a tie to another cluster or the outside "
                     "(the parameter external_cost; lower = cheaper, subsidised external ties).",
    "broker": "Add a broker between old and new firms: an intermediary recruits young and old firms, "
              "introduces them to each other and helps firms move into related fields.",
    "shock": "Technology shock: the cluster's dominant technology is devalued from next quarter on; "
             "firms close to it lose performance.",
}
STARTUP_RANGE = (1.0, 10.0)
SHOCK_DEFAULT = 2.0


# ----------------------------------------------------------------------------- classroom limits
#: Environment variables of the classroom limits (set by ``clustersim demo``; read by every new session).
LIMIT_ENV = {"max_firms": "CLUSTERSIM_DEMO_MAX_FIRMS", "max_drawn": "CLUSTERSIM_DEMO_MAX_DRAWN",
             "max_step_seconds": "CLUSTERSIM_DEMO_MAX_STEP_SECONDS"}


@dataclass(frozen=True)
class Limits:
    """The classroom limits of one live session (all sessions share one server process).

    Attributes
    ----------
    max_firms : int
        Most alive nodes (firms and institutions) of the shown cluster.  Growing
        past it pauses the run: :meth:`DemoSession.step` refuses further
        quarters until :meth:`DemoSession.reset`.  The model can double in one
        quarter, so it ends between ``max_firms`` and about twice that.
    max_drawn : int
        Most nodes laid out and drawn in the network picture; a larger network
        is drawn as its ``max_drawn`` best-connected nodes (institutions first),
        with a note in the picture.
    max_step_seconds : float
        Longest a quarter (a model step, or the layout and drawing of a frame) may
        take; a slower one pauses the run with a message (Play goes on).
    """

    max_firms: int = 5000
    max_drawn: int = 3000
    max_step_seconds: float = 5.0

    def __post_init__(self):
        for name, lo, hi in (("max_firms", 10, 1_000_000), ("max_drawn", 10, 100_000)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not lo <= v <= hi:
                raise ParameterError(f"{name} must be a whole number between {lo} and {hi:,}, got {v!r}")
            object.__setattr__(self, name, int(v))
        v = self.max_step_seconds
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not 0 < v <= 3600:
            raise ParameterError(f"max_step_seconds must be a number of seconds in (0, 3600], got {v!r}")
        object.__setattr__(self, "max_step_seconds", float(v))

    @classmethod
    def from_env(cls, env=None) -> Limits:
        """The limits from :data:`LIMIT_ENV` (unset or empty: the default)."""
        env = os.environ if env is None else env
        kw: dict = {}
        for name, var in LIMIT_ENV.items():
            text = (env.get(var) or "").strip()
            if not text:
                continue
            try:
                kw[name] = float(text) if name == "max_step_seconds" else int(text)
            except ValueError:
                raise ParameterError(f"{var} must be a number, got {text!r}") from None
        return cls(**kw)

    def to_env(self) -> dict[str, str]:
        """The environment variables that give these limits."""
        return {var: f"{getattr(self, name):g}" if name == "max_step_seconds" else str(getattr(self, name))
                for name, var in LIMIT_ENV.items()}


def _drawn_subset(net: dict, limit: int) -> dict:
    """``net`` cut to its ``limit`` best-connected nodes: institutions first, then by degree, older first."""
    n = len(net["uid"])
    if n <= limit:
        return net
    order = np.lexsort((net["uid"], -net["degree"], ~net["is_inst"]))
    keep = np.sort(order[:limit])
    local = np.full(n, -1, dtype=np.int64)
    local[keep] = np.arange(len(keep))
    ok = (local[net["i"]] >= 0) & (local[net["j"]] >= 0)
    per_edge = ("i", "j", "affiliation")
    out = {k: v[keep] for k, v in net.items() if k not in per_edge}
    out["i"], out["j"] = local[net["i"][ok]], local[net["j"][ok]]
    if "affiliation" in net:
        out["affiliation"] = net["affiliation"][ok]
    return out


# ----------------------------------------------------------------------------- model set-up
def scale_for(cluster: str, firms: int) -> float:
    """The ``scale`` at which ``cluster`` starts with about ``firms`` firms (within the schema's bounds)."""

    tab = cluster_table()
    check_ids(cluster, tab)
    observed = float(tab.set_index("id").loc[cluster, "firms"])
    p = SCHEMA["scale"]
    return float(min(p.high, max(p.low, round(firms / observed, 4))))


def _demo_table(lesson: Lesson):

    return pd.DataFrame([{"id": "demo_cluster", "name_en": "Demo cluster", "sector_family": lesson.sector,
                          "firms": lesson.firms, "employees_per_firm": 5.0, "firms0": lesson.firms}])


def _policy_class(key: str):

    for name in LEVER_POLICIES[key]:
        if name in REGISTRY:
            return REGISTRY[name]
    return None


# ----------------------------------------------------------------------------- one classroom session
class DemoSession:
    """One running model with its levers, layout and pictures (one per browser tab).

    Parameters
    ----------
    cluster : str
        Cluster shown in free play (an id of ``clustersim clusters``).
    firms : int
        Firms of that cluster at the start; the model's ``scale`` follows.
    seed : int
        Seed of the model.
    lesson : str or None
        Key of a preset lesson (:data:`sim.face.lessons.LESSONS`); ``None`` = free play.
    limits : Limits or None
        The classroom limits (``None``: :meth:`Limits.from_env`, i.e. what
        ``clustersim demo`` was told, else the defaults).
    projector : bool
        Draw the pictures with the larger type of :data:`sim.face.drawing.PROJECTOR`
        (:meth:`set_projector` switches it at any time).

    Every method that changes the model holds the session's own lock, so the
    play loop and the buttons can run in different threads; the lock is taken
    per quarter, so a lever waits for at most one quarter.  Sessions share
    nothing: each has its own model, lock and pictures.  Lever methods act on
    the running model from the next quarter on; parameter changes of the
    set-up group wait for :meth:`reset`.

    The session keeps to its :class:`Limits`: :meth:`step` stops when the
    cluster grows past ``max_firms`` nodes or a quarter takes longer than
    ``max_step_seconds``, and says why in :attr:`halted` (shown by the page).

    The pictures are drawn after a step (of one or more quarters), so while a
    multi-quarter step runs the model is ahead of them: :meth:`view` gives the
    read-out of the quarter the pictures show, with the levers as they are now, so that
    the page's read-out and pictures always agree.
    """

    #: The entries of :meth:`status` that describe the model's state (the rest: levers, log, limits).
    STATE_KEYS = ("quarter", "years", "firms", "institutions", "ties", "home_firms", "critical_mass", "stage",
                  "typology", "stage_text", "typology_text", "centripetal", "centrifugal", "drawn_note")

    def __init__(self, cluster: str = DEFAULT_CLUSTER, firms: int = DEFAULT_FIRMS, seed: int = DEFAULT_SEED,
                 lesson: str | None = None, colour_by: str = "sector", render: bool = True,
                 limits: Limits | None = None, projector: bool = False):
        self._lock = threading.RLock()
        if limits is not None and not isinstance(limits, Limits):
            raise ParameterError(f"limits must be a Limits, got {limits!r}")
        self.limits = limits if limits is not None else Limits.from_env()
        self.halted = ""
        self.capped = False
        self.drawn_note = ""
        if not isinstance(firms, (int, np.integer)) or not 5 <= firms <= MAX_FIRMS:
            raise ParameterError(f"firms must be a whole number between 5 and {MAX_FIRMS}, got {firms!r}")
        self.cluster = cluster
        self.firms = int(firms)
        self.scale = scale_for(cluster, self.firms)
        self.seed = int(seed)
        self.lesson: Lesson | None = None
        if lesson:
            if lesson not in LESSONS:
                raise ParameterError(f"unknown lesson {lesson!r}; known: {', '.join(LESSONS)}")
            self.lesson = LESSONS[lesson]
        self.overrides: dict = {}
        self.colour_by = colour_by
        self.style = PROJECTOR if projector else CLASSROOM
        self.render_enabled = render
        self.network_png = b""
        self.plots_png = b""
        self._drawn: dict = {}
        self.reset()

    # ---------------------------------------------------------------- set-up
    @property
    def base_params(self) -> dict:
        """Parameters before the teacher's slider changes (the lesson's, or the defaults at the cluster's scale)."""
        if self.lesson is not None:
            return validate_lesson(self.lesson)
        return validate({"scale": self.scale, "outside_ratio": FREE_PLAY_OUTSIDE})

    @property
    def params(self) -> dict:
        """The complete parameter set of the next reset."""
        return validate(self.overrides, base=self.base_params, source="app")

    @property
    def title(self) -> str:
        if self.lesson is not None:
            return f"Demo cluster ({self.lesson.sector.replace('_', ' ')}, {self.lesson.firms} firms at the start)"

        tab = cluster_table().set_index("id")
        return f"{tab.loc[self.cluster, 'name_en']} (about {self.firms} firms at the start)"

    def choose_lesson(self, key: str | None) -> None:
        """Load a preset lesson (``None``: free play) and reset; the teacher's slider changes are dropped."""
        with self._lock:
            if key is not None and key not in LESSONS:
                raise ParameterError(f"unknown lesson {key!r}; known: {', '.join(LESSONS)}")
            self.lesson = LESSONS[key] if key else None
            self.overrides = {}
            self.reset()

    def reset(self, seed: int | None = None) -> None:
        """Build a new model from the current parameters (and ``seed``, if given); levers back to neutral."""

        with self._lock:
            if seed is not None:
                if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
                    raise ParameterError(f"the seed must be a non-negative whole number, got {seed!r}")
                self.seed = int(seed)
            params = self.params
            if getattr(self, "model", None) is not None:
                release_model(self.model)  # the server process lives long: let the old model go
            if self.lesson is not None:
                self.model = ClusterModel(params=params, cluster_table=_demo_table(self.lesson),
                                          policies=lesson_policies(self.lesson), rng=self.seed)
            else:
                self.model = ClusterModel(params=params, clusters=[self.cluster], rng=self.seed)
            self.pending: set[str] = set()
            self.startup_mult = 1.0
            self.incubator = False
            self._startup_policy = None
            self.hubs = 0
            self.brokers = 0
            self.shocks = 0
            self.log: list[tuple[int, str]] = []
            if self.lesson is not None:
                for spec in self.lesson.policies:
                    self.log.append((steps_in(spec.get("start", 0.0)),
                                     f"scheduled by the lesson: {spec['policy'].replace('_', ' ')}"))
            self.layout = StableLayout(seed=self.seed)
            self._home_hist: dict[int, int] = {}
            self._record_home()
            self.halted = ""
            self.capped = False
            self._check_size()
            self._refresh(initial=True)

    # ---------------------------------------------------------------- running
    def step(self, n: int = 1, redraw: bool = True, stop=None) -> int:
        """Advance up to ``n`` quarters, then relax the layout and redraw (``redraw=False``: neither, faster).

        Stops early, before the next quarter, when ``stop()`` (if given) is true,
        when the cluster has grown past ``limits.max_firms`` nodes (then no
        further quarter runs until :meth:`reset`) or when a quarter took longer
        than ``limits.max_step_seconds``; :attr:`halted` says why.  Returns the
        number of quarters run.
        """
        n = int(n)
        done = 0
        with self._lock:
            self.halted = "" if not self.capped else self.halted
        while done < n:
            if stop is not None and stop():
                break
            with self._lock:
                if self.capped:
                    break
                t0 = time.monotonic()
                self.model.step()
                self._record_home()
                done += 1
                took = time.monotonic() - t0
                if self._check_size():
                    break
                if self._check_time(took, "to compute"):
                    break
        if redraw and done:
            with self._lock:
                t0 = time.monotonic()
                self._refresh()
                self._check_time(time.monotonic() - t0, "to lay out and draw")
        return done

    def _nodes(self) -> int:
        return len(self.model.cluster_network(0)["uid"])

    def _check_size(self) -> bool:
        """Halt for good (until reset) if the cluster has grown past ``limits.max_firms`` nodes."""
        nodes, cap = self._nodes(), self.limits.max_firms
        if nodes <= cap:
            return False
        self.capped = True
        self.halted = (f"Paused: this cluster grew past {cap:,} firms and institutions ({nodes:,} now), the "
                       f"classroom limit. Press Reset to start again; lower the startup inflow or the entry "
                       f"parameters (startup rate, spin-off rates) so that it stays smaller.")
        return True

    def _check_time(self, took: float, what: str) -> bool:
        lim = self.limits.max_step_seconds
        if took <= lim:
            return False
        self.halted = (f"Paused: one quarter took {took:.1f} s {what}, more than the classroom limit of "
                       f"{lim:g} s. Press Play or Step to go on, or Reset with a smaller cluster.")
        return True

    @property
    def quarter(self) -> int:
        return int(self.model.t)

    # ---------------------------------------------------------------- parameters and levers
    def set_param(self, name: str, value) -> bool:
        """Set a model parameter; returns True if it acts now (False: at the next reset)."""
        with self._lock:
            if name not in SCHEMA:
                validate({name: value})  # raises the schema's own message
            v = SCHEMA[name].check(value, "app")
            self.overrides[name] = v
            if SCHEMA[name].group == "setup":
                if v != self.model.param(name):
                    self.pending.add(name)
                else:
                    self.pending.discard(name)
                return False
            old = self.model.set_param(name, v, source="app")
            if v != old:
                self._note(f"{name.replace('_', ' ')} = {v:g}")
            return True

    def _new_policy(self, key: str, **kw):
        cls = _policy_class(key)
        if cls is None:
            raise ParameterError(f"no policy for the '{key}' lever is registered in scenarios.policies")
        pol = cls(start=years_of(self.model.t + 1), target="all", **kw)
        self.model.policies.append(pol)
        pol.initialize(self.model)
        return pol

    def add_hub(self) -> None:
        """A university and an intermediary open in the cluster from the next quarter on."""
        with self._lock:
            self._new_policy("hub", intensity=1.0, kind=["university", "intermediary"])
            self.hubs += 1
            self._note("hub institution opened (university + intermediary)")

    def set_startup_inflow(self, multiplier: float) -> None:
        """Multiply the cluster's startup rate by ``multiplier`` from the next quarter on (1 = no policy)."""
        with self._lock:
            lo, hi = STARTUP_RANGE
            if isinstance(multiplier, bool) or not isinstance(multiplier, (int, float)) or not lo <= multiplier <= hi:
                raise ParameterError(f"the startup inflow must be a multiplier in [{lo:g}, {hi:g}], got {multiplier!r}")
            multiplier = float(multiplier)
            if multiplier == self.startup_mult:
                return
            self.startup_mult = multiplier
            self._sync_startup()
            self._note(f"startup inflow x{multiplier:g}")

    def set_incubator(self, on: bool) -> None:
        """Link half of the new startups to an established firm (incubator), or stop doing so."""
        with self._lock:
            if bool(on) == self.incubator:
                return
            self.incubator = bool(on)
            self._sync_startup()
            self._note("incubator on" if on else "incubator off")

    def _sync_startup(self):
        if self._startup_policy is None:
            if self.startup_mult == 1.0 and not self.incubator:
                return
            self._startup_policy = self._new_policy("startup", intensity=self.startup_mult)
        self._startup_policy.intensity = self.startup_mult
        self._startup_policy.incubator_link = 0.5 if self.incubator else 0.0

    def set_external_cost(self, cost: float) -> None:
        """The utility cost of a tie to another cluster or the outside (parameter ``external_cost``)."""
        self.set_param("external_cost", cost)

    @property
    def external_cost(self) -> float:
        return float(self.model.param("external_cost"))

    def add_broker(self) -> None:
        """A broker between old and new firms opens from the next quarter on.

        The first broker also starts the collective programme (brokerage x5,
        recombination x10; see the ``broker`` lesson); later ones add a broker each.
        """
        with self._lock:
            cls = _policy_class("broker")
            if cls is not None and cls.name == "living_lab":
                first = self.brokers == 0
                kw = {"brokers": 1.0, "members": 0.5, "intensity": 5.0 if first else 1.0,
                          "recombination": 10.0 if first else 1.0}
            else:
                kw = {}
            self._new_policy("broker", **kw)
            self.brokers += 1
            self._note("broker between old and new firms opened")

    def technology_shock(self, size: float = SHOCK_DEFAULT) -> None:
        """Devalue the cluster's dominant technology by ``size`` (performance units) next quarter."""
        with self._lock:
            self._new_policy("shock", intensity=float(size), mode="once")
            self.shocks += 1
            self._note(f"technology shock (size {size:g})")

    def _note(self, text: str) -> None:
        self.log.append((self.model.t + 1, text))

    # ---------------------------------------------------------------- read-outs
    def _record_home(self):
        self._home_hist[self.model.t] = self.model.home_firms(0)

    @property
    def critical_mass(self) -> float:
        """Home-sector firms above which agglomeration feeds back on entry (``critical_mass * scale``)."""
        return self.model.critical_mass()

    def history(self) -> dict[str, np.ndarray]:
        """Recorded indicators of the shown cluster by quarter (plus ``t`` and ``home_firms``)."""
        with self._lock:
            out = self.model.history(0)
            out["home_firms"] = np.array([self._home_hist.get(int(t), np.nan) for t in out["t"]], dtype=float)
            return out

    def network(self) -> dict:
        """The shown cluster's network now (:meth:`sim.model.model.ClusterModel.cluster_network`)."""
        return self.model.cluster_network(0)

    def status(self) -> dict:
        """What the read-out shows: quarter, year, counts, stage and typology in words, scores, levers."""
        with self._lock:
            m = self.model
            ind = m.latest(0)
            net = self.network()
            st = int(ind["stage"])
            ty = int(ind["typology"])
            return {
                "quarter": int(m.t), "years": years_of(m.t),
                "firms": int(ind["firms"]), "institutions": int(net["is_inst"].sum()),
                "ties": len(net["i"]), "home_firms": self._home_hist.get(m.t, 0),
                "critical_mass": self.critical_mass,
                "stage": STAGES[st] if st >= 0 else "", "typology": TYPOLOGIES[ty] if ty >= 0 else "",
                "stage_text": STAGE_TEXT.get(STAGES[st], "") if st >= 0 else "not defined (no firms)",
                "typology_text": TYPOLOGY_TEXT.get(TYPOLOGIES[ty], "") if ty >= 0 else "not defined (no firms)",
                "centripetal": float(ind["centripetal"]), "centrifugal": float(ind["centrifugal"]),
                "startup_inflow": self.startup_mult, "incubator": self.incubator,
                "external_cost": self.external_cost, "hubs": self.hubs, "brokers": self.brokers,
                "shocks": self.shocks, "pending": sorted(self.pending), "log": list(self.log[-8:]),
                "seed": self.seed, "lesson": self.lesson.key if self.lesson else None,
                "halted": self.halted, "capped": self.capped, "drawn_note": self.drawn_note,
            }

    # ---------------------------------------------------------------- pictures
    def _refresh(self, initial: bool = False) -> None:
        full = self.network()
        net = _drawn_subset(full, self.limits.max_drawn)
        self._full_counts = (int(full["is_inst"].sum()), len(full["i"]))
        n, shown = len(full["uid"]), len(net["uid"])
        self.drawn_note = (f"The picture shows the {shown:,} best-connected of {n:,} nodes "
                           f"(classroom drawing limit)." if shown < n else "")
        if initial:
            self._xy = self.layout.update(net["uid"], net["i"], net["j"], iterations=120, temperature=0.1,
                                          cooling=True)
        else:
            self._xy = self.layout.update(net["uid"], net["i"], net["j"], iterations=4, temperature=0.015)
        self._net = net
        if self.render_enabled:
            # the state the pictures show: the read-out of view() and any later redraw use it
            st = self.status()
            self._drawn = {"status": {k: st[k] for k in self.STATE_KEYS}, "history": self.history()}
            self.network_png = self._draw_network()
            self.plots_png = self._draw_plots()

    def _figure_args(self):
        inst, ties = self._full_counts
        st = self._drawn["status"]
        net = {"colour_by": self.colour_by, "title": self.title, "quarter": st["quarter"], "firms": st["firms"],
                   "institutions": inst, "ties": ties, "note": st["drawn_note"], "style": self.style}
        plots = {"labeller": self.model.labeller, "critical_mass": st["critical_mass"], "stage_text": st["stage_text"],
                     "typology_text": st["typology_text"], "horizon": self.lesson.years if self.lesson else 10.0,
                     "style": self.style}
        return net, plots

    def _draw_network(self) -> bytes:
        return draw_network(self._net, self._xy, **self._figure_args()[0])

    def _draw_plots(self) -> bytes:
        return draw_plots(self._drawn["history"], **self._figure_args()[1])

    def figures(self):
        """The matplotlib figures of the two pictures as drawn now (network, plots), e.g. to measure their text."""
        with self._lock:
            if not self._drawn:
                raise RuntimeError("nothing drawn yet (a session with render=False draws nothing)")
            net, plots = self._figure_args()
            return network_figure(self._net, self._xy, **net), plots_figure(self._drawn["history"], **plots)

    def set_colour_by(self, what: str) -> None:
        if what not in ("sector", "role"):
            raise ParameterError(f"colour by 'sector' or 'role', got {what!r}")
        with self._lock:
            self.colour_by = what
            if self.render_enabled:
                self.network_png = self._draw_network()

    @property
    def projector(self) -> bool:
        """Whether the pictures have the projector's larger type (:data:`sim.face.drawing.PROJECTOR`)."""
        return self.style is PROJECTOR

    def set_projector(self, on: bool) -> None:
        """Switch the pictures to the projector's larger type (or back), redrawing them as they were."""
        with self._lock:
            style = PROJECTOR if on else CLASSROOM
            if style is self.style:
                return
            self.style = style
            if self.render_enabled:
                self.network_png = self._draw_network()
                self.plots_png = self._draw_plots()

    def pictures(self) -> tuple[bytes, bytes]:
        with self._lock:
            return self.network_png, self.plots_png

    def view(self) -> tuple[dict, bytes, bytes]:
        """``(status, network PNG, plots PNG)`` that agree: what the page shows.

        The status's model state (:data:`STATE_KEYS`: quarter, counts, stage, typology,
        scores) is that of the quarter the pictures were drawn at; the levers, the log and
        the limits are as they are now.  Without rendering it is :meth:`status`.
        """
        with self._lock:
            st = self.status()
            if self.render_enabled and self._drawn:
                st.update(self._drawn["status"])
            return st, self.network_png, self.plots_png
