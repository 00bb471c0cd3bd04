"""The classroom app: a live view of one cluster's firm network, with levers.

Start it with ``clustersim demo`` (see ``docs/app.md``); it serves a web page on
``http://127.0.0.1:8765`` that a teacher projects in class:

* the firm network of one cluster, drawn live: colour = sector or role, size =
  degree, institutions as squares, a ring on firms with ties outside the
  cluster; the layout is a force-directed layout that is *kept* from frame to
  frame and only relaxed a little each quarter (new firms start next to their
  partners), so the picture does not jump;
* live plots of the six structural indices, of the centripetal and centrifugal
  scores, of the firm count against critical mass and of the path through the
  typology plane, with the development stage and the typology in words;
* play / pause / step / reset, the seed, and the policy levers, which act on the
  running model without a reset: add a hub institution, a startup inflow, the
  cost of external ties, a broker between old and new firms, a technology shock
  (the policies of :data:`scenarios.policies.REGISTRY`); every model parameter has a
  slider generated from :data:`sim.model.params.SCHEMA`;
* the preset lessons of :mod:`sim.face.lessons`.

This module has two layers.  :class:`DemoSession` (the model, the levers, the
layout and the pictures; matplotlib only) is plain Python and is what the
tests drive.  The page itself is built with `Solara <https://solara.dev>`_ and
is created lazily on first access to ``sim.face.app.Page``, so importing this
module never needs Solara; :func:`serve` runs the Solara server.

Why Solara directly and not Mesa's ``SolaraViz``: in Mesa 3.3.1 SolaraViz
re-creates the model whenever a model parameter changes (the levers here must
act on the running model), recomputes the network layout at every frame (nodes
jump), and its Altair backend breaks on pandas 3.
"""

from __future__ import annotations

import html
import io
import math
import os
import re
import threading
import time
import webbrowser
from dataclasses import dataclass

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from scenarios.policies import REGISTRY
from sim.data.clusters import check_ids, cluster_table
from sim.face.lessons import LESSONS, Lesson, lesson_policies, validate_lesson
from sim.indices.scores import (
    CENTRIFUGAL,
    CENTRIPETAL,
    DECLINE_RATE,
    FEATURELESS_LQ,
    GROWTH_RATE,
    LOCK_IN_GAP,
    NASCENT_FIRMS,
    NASCENT_INCLUSIVENESS,
    STAGES,
    TYPOLOGIES,
)
from sim.model.model import ClusterModel
from sim.model.params import SCHEMA, ParameterError, validate
from sim.model.population import INSTITUTION_ROLES, ROLE_NAMES, SPINOFF
from sim.model.technology import SECTOR_FAMILIES

__all__ = [
    "DEFAULT_CLUSTER", "DEFAULT_FIRMS", "DEFAULT_SEED", "SliderSpec", "slider_specs", "slider_spec",
    "STAGE_TEXT", "TYPOLOGY_TEXT", "LEVER_TEXT", "scale_for", "StableLayout", "DemoSession", "serve",
]

DEFAULT_CLUSTER = "jeonju_machinery"
"""Cluster shown in free play (861 firms in 2020; shown at about 300)."""
DEFAULT_FIRMS = 300
"""Firms of the chosen cluster at the start (the scale is set from it)."""
DEFAULT_SEED = 1
MAX_FIRMS = 2000

#: Environment variables through which ``clustersim demo`` configures the page.
ENV = {"cluster": "CLUSTERSIM_DEMO_CLUSTER", "firms": "CLUSTERSIM_DEMO_FIRMS",
       "seed": "CLUSTERSIM_DEMO_SEED", "lesson": "CLUSTERSIM_DEMO_LESSON"}

#: Parameters without a slider: the scale follows from the firm count, the shift year from the shock button.
NO_SLIDER = ("scale", "shock_year")

STAGE_TEXT: dict[str, str] = {
    "nascent": f"Nascent: fewer than {NASCENT_FIRMS} firms, or hardly any network yet "
               f"(under {NASCENT_INCLUSIVENESS:.0%} of firms linked)",
    "growing": f"Growing: the number of firms rises by more than {GROWTH_RATE:.0%} a year",
    "featureless": f"Featureless: no specialisation (location quotient below {FEATURELESS_LQ:g})",
    "resilient": "Resilient: mature, centripetal and centrifugal forces in balance",
    "path_locked": f"Path-locked: mature, centripetal forces dominate (lock-in gap above {LOCK_IN_GAP:g})",
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

INDEX_LABELS = {
    "specialization": "specialisation", "hierarchy": "hierarchy", "internal_cohesion": "internal cohesion",
    "related_variety": "related variety", "heterophily": "heterophily", "external_linkage": "external linkage",
}

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


# ----------------------------------------------------------------------------- sliders from the schema
@dataclass(frozen=True)
class SliderSpec:
    """A slider generated from one :class:`sim.model.params.Param`.

    ``min``/``max`` are the parameter's sensitivity-analysis range
    (``Param.sa_bounds``) widened to include its default and the current value,
    and never beyond its admissible bounds; ``live`` says whether a change acts
    on the running model (every group but set-up) or at the next reset.
    """

    name: str
    label: str
    kind: str
    min: float
    max: float
    step: float
    value: float
    default: float
    group: str
    doc: str
    live: bool


def _nice_step(span: float, kind: str) -> float:
    if kind == "int":
        return 1.0
    raw = span / 100.0
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 0.01
    for m in (1, 2, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag  # pragma: no cover


def slider_spec(name: str, value=None) -> SliderSpec:
    """The slider of parameter ``name`` (at ``value``, default: the parameter's default)."""
    p = SCHEMA[name]
    if p.kind == "bool":
        raise ParameterError(f"parameter '{name}' is a switch, not a slider")
    value = p.default if value is None else p.check(value, "slider")
    lo, hi = p.sa_bounds
    lo = max(p.low, min(lo, p.default, value))
    hi = min(p.high, max(hi, p.default, value))
    if hi <= lo:  # pragma: no cover - no parameter is declared like this
        hi = lo + 1.0
    step = _nice_step(hi - lo, p.kind)
    return SliderSpec(name=name, label=name.replace("_", " "), kind=p.kind, min=float(lo), max=float(hi),
                      step=step, value=float(value), default=float(p.default), group=p.group, doc=p.doc,
                      live=p.group != "setup")


def slider_specs(values: dict | None = None, exclude=NO_SLIDER) -> list[SliderSpec]:
    """Sliders of every schema parameter (in schema order) except ``exclude``."""
    values = values or {}
    return [slider_spec(n, values.get(n)) for n, p in SCHEMA.items() if n not in exclude and p.kind != "bool"]


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


# ----------------------------------------------------------------------------- stable layout
class StableLayout:
    """A force-directed (Fruchterman-Reingold) layout that persists between frames.

    Positions are kept per permanent node id (``pop.uid``).  :meth:`update`
    places new nodes at the mean position of their already placed partners (or
    at random near the rim if they have none), forgets nodes that left, and
    relaxes the layout by a few small steps; each node moves at most
    ``temperature`` per step, so consecutive frames look alike.  Linked nodes
    stay inside :attr:`CORE_RADIUS`; nodes without a partner in the cluster sit on
    a rim outside it (the share on the rim is what inclusiveness measures).
    """

    def __init__(self, seed: int = 0):
        self.pos: dict[int, np.ndarray] = {}
        self._rim: dict[int, float] = {}
        self.rng = np.random.default_rng(seed)

    def update(self, uids: np.ndarray, i: np.ndarray, j: np.ndarray, iterations: int = 3,
               temperature: float = 0.02, cooling: bool = False) -> np.ndarray:
        """Positions (n x 2) of nodes ``uids`` with edges ``(i[k], j[k])`` (indices into ``uids``)."""
        n = len(uids)
        P = np.zeros((n, 2))
        known = np.zeros(n, bool)
        for a, u in enumerate(uids.tolist()):
            p = self.pos.get(u)
            if p is not None:
                P[a] = p
                known[a] = True
        new = np.flatnonzero(~known)
        if len(new):
            acc = np.zeros((n, 2))
            cnt = np.zeros(n)
            for s, t in ((i, j), (j, i)):
                ok = known[t] & ~known[s]
                np.add.at(acc, s[ok], P[t[ok]])
                np.add.at(cnt, s[ok], 1.0)
            has = new[cnt[new] > 0]
            P[has] = acc[has] / cnt[has, None] + self.rng.normal(0, 0.04, (len(has), 2))
            lone = new[cnt[new] == 0]
            ang = self.rng.uniform(0, 2 * np.pi, len(lone))
            if known.any():
                rad = self.rng.uniform(0.75, 0.95, len(lone))
            else:
                rad = np.sqrt(self.rng.uniform(0, 0.8, len(lone)))
            P[lone] = np.column_stack([rad * np.cos(ang), rad * np.sin(ang)])
        P = self._relax(P, uids, i, j, iterations, temperature, cooling)
        self.pos = {int(u): P[a].copy() for a, u in enumerate(uids.tolist())}
        self._rim = {u: r for u, r in self._rim.items() if u in self.pos}
        return P

    #: Radius inside which the linked nodes are laid out; unlinked nodes sit on a rim outside it.
    CORE_RADIUS = 0.82
    SPRING = 0.7      # ideal edge length as a share of the mean spacing of the linked nodes
    # Pull towards the centre.  With 1/d repulsion a uniform disc of linked nodes is in balance
    # with this pull at radius sqrt(pi / GRAVITY) (2-D Gauss law): 0.75, inside CORE_RADIUS, so
    # the nodes do not pile up against the edge of the core.
    GRAVITY = 5.6

    def _rim_radius(self, uid: int) -> float:
        r = self._rim.get(uid)
        if r is None:
            r = self._rim[uid] = float(self.rng.uniform(0.9, 1.0))
        return r

    def _relax(self, P, uids, i, j, iterations, temperature, cooling):
        n = len(P)
        if n == 0:
            return P
        deg = np.bincount(i, minlength=n) + np.bincount(j, minlength=n)
        linked = deg > 0
        # nodes without a partner in the cluster: onto the rim (each at its own radius), keeping their angle
        lone = ~linked
        if lone.any():
            ang = np.arctan2(P[lone, 1], P[lone, 0])
            r = np.array([self._rim_radius(u) for u in uids[lone].tolist()])
            P[lone] = np.column_stack([r * np.cos(ang), r * np.sin(ang)])
        idx = np.flatnonzero(linked)
        m = len(idx)
        if m < 2 or iterations <= 0:
            return P
        loc = np.full(n, -1, dtype=np.int64)
        loc[idx] = np.arange(m)
        ii, jj = loc[i], loc[j]
        Q = P[idx].copy()
        R = self.CORE_RADIUS
        k = self.SPRING * math.sqrt(math.pi * R * R / m)
        for it in range(iterations):
            temp = temperature * (1.0 - it / iterations) if cooling else temperature
            if m > 800:  # repulsion from a random sample of nodes, rescaled: O(m * 800)
                cols = self.rng.choice(m, 800, replace=False)
                w = m / 800.0
            else:
                cols, w = None, 1.0
            qx, qy = Q[:, 0], Q[:, 1]
            ox, oy = (qx, qy) if cols is None else (qx[cols], qy[cols])
            dx = qx[:, None] - ox[None, :]
            dy = qy[:, None] - oy[None, :]
            inv = k * k / np.maximum(dx * dx + dy * dy, 1e-4)
            if cols is None:
                np.fill_diagonal(inv, 0.0)
            else:
                inv[cols, np.arange(len(cols))] = 0.0
            fx = w * (dx * inv).sum(1)
            fy = w * (dy * inv).sum(1)
            if len(ii):
                ex, ey = qx[ii] - qx[jj], qy[ii] - qy[jj]
                el = np.sqrt(ex * ex + ey * ey) / k
                ax_, ay_ = ex * el, ey * el
                fx += np.bincount(jj, ax_, m) - np.bincount(ii, ax_, m)
                fy += np.bincount(jj, ay_, m) - np.bincount(ii, ay_, m)
            g = self.GRAVITY * m * k * k / math.pi
            fx -= g * qx
            fy -= g * qy
            length = np.sqrt(fx * fx + fy * fy)
            step = np.minimum(length, temp) / np.maximum(length, 1e-12)
            Q = np.column_stack([qx + fx * step, qy + fy * step])
            r = np.sqrt((Q ** 2).sum(1))
            over = r > R
            Q[over] *= (R / r[over])[:, None]
        P[idx] = Q
        return P


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

    Every method that changes the model holds a lock, so the play loop and the
    buttons can run in different threads.  Lever methods act on the running
    model from the next quarter on; parameter changes of the set-up group wait
    for :meth:`reset`.
    """

    def __init__(self, cluster: str = DEFAULT_CLUSTER, firms: int = DEFAULT_FIRMS, seed: int = DEFAULT_SEED,
                 lesson: str | None = None, colour_by: str = "sector", render: bool = True):
        self._lock = threading.RLock()
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
        self.render_enabled = render
        self.network_png = b""
        self.plots_png = b""
        self.reset()

    # ---------------------------------------------------------------- set-up
    @property
    def base_params(self) -> dict:
        """Parameters before the teacher's slider changes (the lesson's, or the defaults at the cluster's scale)."""
        if self.lesson is not None:
            return validate_lesson(self.lesson)
        return validate({"scale": self.scale})

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
                    self.log.append((int(round(spec.get("start", 0.0) * 4)),
                                     f"scheduled by the lesson: {spec['policy'].replace('_', ' ')}"))
            self.layout = StableLayout(seed=self.seed)
            self._home_hist: dict[int, int] = {}
            self._record_home()
            self._refresh(initial=True)

    # ---------------------------------------------------------------- running
    def step(self, n: int = 1) -> None:
        """Advance ``n`` quarters and redraw."""
        with self._lock:
            for _ in range(int(n)):
                self.model.step()
                self._record_home()
            self._refresh()

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
                if v != self.model.p[name]:
                    self.pending.add(name)
                else:
                    self.pending.discard(name)
                return False
            old = self.model.p[name]
            self.model.p[name] = v
            self.model.cpar[name][:] = float(v)
            if v != old:
                self._note(f"{name.replace('_', ' ')} = {v:g}")
            return True

    def _new_policy(self, key: str, **kw):
        cls = _policy_class(key)
        if cls is None:
            raise ParameterError(f"no policy for the '{key}' lever is registered in scenarios.policies")
        pol = cls(start=(self.model.t + 1) / 4.0, target="all", **kw)
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
        return float(self.model.p["external_cost"])

    def add_broker(self) -> None:
        """A broker between old and new firms opens from the next quarter on.

        The first broker also starts the collective programme (brokerage x5,
        recombination x10; see the ``broker`` lesson); later ones add a broker each.
        """
        with self._lock:
            cls = _policy_class("broker")
            if cls is not None and cls.name == "living_lab":
                first = self.brokers == 0
                kw = dict(brokers=1.0, members=0.5, intensity=5.0 if first else 1.0,
                          recombination=10.0 if first else 1.0)
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

        pop, m = self.model.pop, self.model
        mask = pop.alive & (pop.cluster == 0) & (pop.role <= SPINOFF) & (pop.coarse == m.home[0])
        self._home_hist[m.t] = int(mask.sum())

    @property
    def critical_mass(self) -> float:
        """Home-sector firms above which agglomeration feeds back on entry (``critical_mass * scale``)."""
        p = self.model.p
        return max(p["critical_mass"] * p["scale"], 1.0)

    def history(self) -> dict[str, np.ndarray]:
        """Recorded indicators of the shown cluster by quarter (plus ``t`` and ``home_firms``)."""
        with self._lock:
            recs = self.model._records
            out = {"t": np.array([t for t, _ in recs], dtype=float)}
            for name in recs[-1][1]:
                out[name] = np.array([ind[name][0] for _, ind in recs], dtype=float)
            out["home_firms"] = np.array([self._home_hist.get(int(t), np.nan) for t in out["t"]], dtype=float)
            return out

    def network(self) -> dict:
        """The shown cluster's network now: node ids, roles, sectors, degrees, internal edges."""

        m = self.model
        pop, E = m.pop, m.edges
        in_set = pop.alive & (pop.cluster == 0)
        nodes = np.flatnonzero(in_set)
        local = np.full(pop.n, -1, dtype=np.int64)
        local[nodes] = np.arange(len(nodes))
        u, v = E.u, E.v
        internal = in_set[u] & in_set[v]
        i, j = local[u[internal]], local[v[internal]]
        deg = np.bincount(i, minlength=len(nodes)) + np.bincount(j, minlength=len(nodes))
        cross = (in_set[u] ^ in_set[v]) & pop.alive[u] & pop.alive[v]
        ends = np.concatenate([u[cross & in_set[u]], v[cross & in_set[v]]])
        ext = np.bincount(local[ends], minlength=len(nodes)) if len(ends) else np.zeros(len(nodes), np.int64)
        role = pop.role[nodes].astype(np.int64)
        return {"uid": pop.uid[nodes].copy(), "role": role, "coarse": pop.coarse[nodes].astype(np.int64),
                "is_inst": np.isin(role, INSTITUTION_ROLES), "degree": deg, "external": ext, "i": i, "j": j}

    def status(self) -> dict:
        """What the read-out shows: quarter, year, counts, stage and typology in words, scores, levers."""
        with self._lock:
            m = self.model
            ind = m._records[-1][1]
            net = self.network()
            st = int(ind["stage"][0])
            ty = int(ind["typology"][0])
            return {
                "quarter": int(m.t), "years": m.t / 4.0,
                "firms": int(ind["firms"][0]), "institutions": int(net["is_inst"].sum()),
                "ties": int(len(net["i"])), "home_firms": self._home_hist.get(m.t, 0),
                "critical_mass": self.critical_mass,
                "stage": STAGES[st] if st >= 0 else "", "typology": TYPOLOGIES[ty] if ty >= 0 else "",
                "stage_text": STAGE_TEXT.get(STAGES[st], "") if st >= 0 else "not defined (no firms)",
                "typology_text": TYPOLOGY_TEXT.get(TYPOLOGIES[ty], "") if ty >= 0 else "not defined (no firms)",
                "centripetal": float(ind["centripetal"][0]), "centrifugal": float(ind["centrifugal"][0]),
                "startup_inflow": self.startup_mult, "incubator": self.incubator,
                "external_cost": self.external_cost, "hubs": self.hubs, "brokers": self.brokers,
                "shocks": self.shocks, "pending": sorted(self.pending), "log": list(self.log[-8:]),
                "seed": self.seed, "lesson": self.lesson.key if self.lesson else None,
            }

    # ---------------------------------------------------------------- pictures
    def _refresh(self, initial: bool = False) -> None:
        net = self.network()
        if initial:
            self._xy = self.layout.update(net["uid"], net["i"], net["j"], iterations=120, temperature=0.1,
                                          cooling=True)
        else:
            self._xy = self.layout.update(net["uid"], net["i"], net["j"], iterations=4, temperature=0.015)
        self._net = net
        if self.render_enabled:
            self.network_png = draw_network(self)
            self.plots_png = draw_plots(self)

    def set_colour_by(self, what: str) -> None:
        if what not in ("sector", "role"):
            raise ParameterError(f"colour by 'sector' or 'role', got {what!r}")
        with self._lock:
            self.colour_by = what
            if self.render_enabled:
                self.network_png = draw_network(self)

    def pictures(self) -> tuple[bytes, bytes]:
        with self._lock:
            return self.network_png, self.plots_png


# ----------------------------------------------------------------------------- drawing (matplotlib, no pyplot)
ROLE_COLOURS = {
    "anchor": "#b2182b", "sme": "#6b8fb3", "startup": "#2ca02c", "spinoff": "#ff7f0e",
    "university": "#542788", "research_institute": "#8e6bbf", "intermediary": "#111111", "gatekeeper": "#d6278a",
}


def _png(fig, dpi=100) -> bytes:

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def draw_network(session: DemoSession) -> bytes:
    """PNG of the shown cluster's network (fixed axes, layout of :class:`StableLayout`)."""


    net, P = session._net, session._xy
    st_q = session.model.t
    fig = Figure(figsize=(7.2, 7.2))
    ax = fig.add_axes([0.0, 0.1, 1.0, 0.84])
    ax.set_xlim(-1.05, 1.05)
    ax.set_ylim(-1.05, 1.05)
    ax.set_aspect("equal")
    ax.axis("off")
    if len(net["i"]):
        segs = np.stack([P[net["i"]], P[net["j"]]], axis=1)
        ax.add_collection(LineCollection(segs, colors="#555555", linewidths=0.5, alpha=0.35, zorder=1))
    roles = [ROLE_NAMES[r] for r in net["role"]]
    firm = ~net["is_inst"]
    if session.colour_by == "sector":

        cmap = matplotlib.colormaps["tab10"]
        colours = np.array([cmap(c % 10) for c in net["coarse"]]) if len(roles) else np.zeros((0, 4))
    else:
        colours = np.array([ROLE_COLOURS.get(r, "#999999") for r in roles], dtype=object)
    deg = net["degree"]
    size = 10 + 14 * np.sqrt(deg)
    ring = net["external"] > 0
    if firm.any():
        fc = colours[firm] if session.colour_by == "sector" else list(colours[firm])
        ax.scatter(P[firm, 0], P[firm, 1], s=size[firm], c=fc,
                   edgecolors=np.where(ring[firm], "#000000", "#ffffff").tolist(),
                   linewidths=np.where(ring[firm], 1.3, 0.4), zorder=2)
    inst = net["is_inst"]
    if inst.any():
        ax.scatter(P[inst, 0], P[inst, 1], s=90 + 10 * np.sqrt(deg[inst]), marker="s",
                   c=[ROLE_COLOURS.get(r, "#000000") for r, k in zip(roles, inst) if k],
                   edgecolors="#ffd700", linewidths=1.5, zorder=3)
    s = session.status()
    fig.text(0.02, 0.965, f"{session.title}", fontsize=12, weight="bold", va="center")
    fig.text(0.02, 0.935, f"Quarter {st_q} (year {st_q / 4:.2f}): {s['firms']} firms, "
             f"{s['institutions']} institutions, {s['ties']} ties", fontsize=10.5, va="center")
    # legend
    handles = []
    if session.colour_by == "sector":
        present = sorted(set(net["coarse"][firm].tolist()))

        cmap = matplotlib.colormaps["tab10"]
        for c in present:
            handles.append(Line2D([], [], ls="", marker="o", color=cmap(c % 10),
                                  label=SECTOR_FAMILIES[c].replace("_", " ")))
    else:
        for r in ("anchor", "sme", "startup", "spinoff"):
            handles.append(Line2D([], [], ls="", marker="o", color=ROLE_COLOURS[r], label=r.replace("sme", "SME")))
    for r in ("university", "research_institute", "intermediary", "gatekeeper"):
        if r in roles:
            handles.append(Line2D([], [], ls="", marker="s", color=ROLE_COLOURS[r], markeredgecolor="#ffd700",
                                  label=r.replace("_", " ")))
    handles.append(Line2D([], [], ls="", marker="o", color="#ffffff", markeredgecolor="#000000",
                          markeredgewidth=1.3, label="ties outside the cluster"))
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=8.5, frameon=False,
               bbox_to_anchor=(0.5, 0.0), title="size = number of partners", title_fontsize=8.5)
    return _png(fig, dpi=100)


def _stable_ylim(ax, half: float) -> None:
    """At least [-half, half], so that small wiggles do not fill the panel; wider if the data need it."""
    lo, hi = ax.get_ylim()
    ax.set_ylim(min(lo, -half), max(hi, half))


def draw_plots(session: DemoSession) -> bytes:
    """PNG of the live plots: six indices, the two scores, firms against critical mass, the typology plane."""

    h = session.history()
    s = session.status()
    years = h["t"] / 4.0
    horizon = max(session.lesson.years if session.lesson else 10.0, float(years[-1]) if len(years) else 0.0)
    sc = session.model.scale_ref
    fig = Figure(figsize=(7.6, 7.2))
    gs = fig.add_gridspec(2, 2, left=0.08, right=0.98, top=0.86, bottom=0.07, hspace=0.55, wspace=0.28)
    fig.text(0.02, 0.965, f"Stage: {s['stage_text']}", fontsize=11, weight="bold", va="center")
    fig.text(0.02, 0.93, f"Typology: {s['typology_text']}", fontsize=10.5, va="center")

    ax = fig.add_subplot(gs[0, 0])
    warm = ("#b2182b", "#e6550d", "#8c510a")
    cool = ("#2166ac", "#1b9e77", "#6a51a3")
    for names, cols, ls in ((CENTRIPETAL, warm, "-"), (CENTRIFUGAL, cool, "--")):
        for name, col in zip(names, cols):
            ax.plot(years, sc.z(name, h[name]), color=col, ls=ls, lw=1.6, label=INDEX_LABELS[name])
    ax.axhline(0, color="#999999", lw=0.8)
    ax.set_title("Six indices (z-score against the 38 clusters)", fontsize=9.5)
    ax.set_xlim(-0.02 * horizon, horizon)
    _stable_ylim(ax, 3.0)
    ax.legend(fontsize=7.5, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.08), frameon=False,
              handlelength=2.2, columnspacing=1.0)
    ax.tick_params(labelsize=8)

    ax = fig.add_subplot(gs[0, 1])
    ax.plot(years, h["centripetal"], color="#b2182b", lw=2.2, label="centripetal")
    ax.plot(years, h["centrifugal"], color="#2166ac", lw=2.2, label="centrifugal")
    ax.fill_between(years, h["centripetal"], h["centrifugal"], color="#999999", alpha=0.15)
    ax.scatter(years[-1:].repeat(2), [h["centripetal"][-1], h["centrifugal"][-1]], s=18,
               color=["#b2182b", "#2166ac"], zorder=3)
    ax.axhline(0, color="#999999", lw=0.8)
    ax.set_title("Centripetal and centrifugal scores", fontsize=9.5)
    ax.set_xlim(-0.02 * horizon, horizon)
    _stable_ylim(ax, 1.5)
    ax.legend(fontsize=8, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.08), frameon=False)
    ax.tick_params(labelsize=8)

    ax = fig.add_subplot(gs[1, 0])
    ax.plot(years, h["firms"], color="#222222", lw=2.0, label="firms")
    ax.plot(years, h["home_firms"], color="#6b8fb3", lw=1.6, label="home-sector firms")
    ax.scatter(years[-1:].repeat(2), [h["firms"][-1], h["home_firms"][-1]], s=14,
               color=["#222222", "#6b8fb3"], zorder=3)
    ax.axhline(s["critical_mass"], color="#d62728", lw=1.2, ls="--", label="critical mass")
    ax.set_title("Firms", fontsize=9.5)
    ax.set_xlim(-0.02 * horizon, horizon)
    top = np.nanmax(np.concatenate([h["firms"], [s["critical_mass"]]]))
    ax.set_ylim(0, 1.3 * top if np.isfinite(top) and top > 0 else 1)
    ax.set_xlabel("years", fontsize=8.5)
    ax.legend(fontsize=7.5, loc="upper left", frameon=False, ncol=3, handlelength=1.6, columnspacing=0.8)
    ax.tick_params(labelsize=8)

    ax = fig.add_subplot(gs[1, 1])
    tx, ty = sc.thresholds[1], sc.thresholds[0]
    cf, cp = h["centrifugal"], h["centripetal"]
    lim = max(1.5, float(np.nanmax(np.abs(np.concatenate([cf - tx, cp - ty, [0.0]])))) * 1.1)
    ax.set_xlim(tx - lim, tx + lim)
    ax.set_ylim(ty - lim, ty + lim)
    ax.axvline(tx, color="#999999", lw=0.8)
    ax.axhline(ty, color="#999999", lw=0.8)
    for x, y, name, ha, va in ((-1, 1, "path-locked", "left", "top"), (1, 1, "resilient", "right", "top"),
                               (1, -1, "centrifugal-\ndominant", "right", "bottom"),
                               (-1, -1, "other", "left", "bottom")):
        ax.text(tx + x * 0.95 * lim, ty + y * 0.95 * lim, name, ha=ha, va=va, fontsize=8, color="#777777")
    ax.plot(cf, cp, color="#888888", lw=1.0)
    if len(cf):
        ax.scatter(cf[-1:], cp[-1:], s=60, color="#000000", zorder=3)
    ax.set_title("Typology plane (the path of the cluster)", fontsize=9.5)
    ax.set_xlabel("centrifugal", fontsize=8.5)
    ax.set_ylabel("centripetal", fontsize=8.5)
    ax.tick_params(labelsize=8)
    return _png(fig, dpi=100)


# ----------------------------------------------------------------------------- the Solara page (lazy)
def _config_from_env() -> dict:
    """Session arguments from the environment set by ``clustersim demo``."""
    cfg: dict = {}
    if os.environ.get(ENV["cluster"]):
        cfg["cluster"] = os.environ[ENV["cluster"]]
    if os.environ.get(ENV["firms"]):
        cfg["firms"] = int(os.environ[ENV["firms"]])
    if os.environ.get(ENV["seed"]):
        cfg["seed"] = int(os.environ[ENV["seed"]])
    if os.environ.get(ENV["lesson"]):
        cfg["lesson"] = os.environ[ENV["lesson"]]
    return cfg


_PAGE = None


def md_to_html(text: str) -> str:
    """The little Markdown the page uses (paragraphs, ``## heading``, ``**bold**``, ``*italic*``) as HTML.

    The page shows text through plain HTML rather than ``solara.Markdown``, which
    always loads KaTeX from a CDN (a failing request on a computer without internet).
    """

    out = []
    for para in text.strip().split("\n\n"):
        body = html.escape(para.strip(), quote=False)
        body = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", body)
        body = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"<i>\1</i>", body)
        m = re.match(r"^(#{1,4})\s+(.*)$", body, flags=re.S)
        if m:
            lvl = len(m.group(1)) + 1
            out.append(f"<h{lvl}>{m.group(2)}</h{lvl}>")
        else:
            out.append(f"<p>{body}</p>")
    return "\n".join(out)


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def readout(status: dict) -> str:
    """The read-out line of the page (Markdown): quarter, year, counts, stage, typology, scores."""
    stage = status["stage"].replace("_", "-") or "none"
    typ = status["typology"].replace("_", "-") or "none"
    return (f"## Quarter {status['quarter']} · year {status['years']:.2f} · "
            f"{_count(status['firms'], 'firm', 'firms')} · "
            f"{_count(status['institutions'], 'institution', 'institutions')} · "
            f"{_count(status['ties'], 'tie', 'ties')}\n\n"
            f"**Stage: {stage}** ({status['stage_text']}) · **Typology: {typ}** · "
            f"centripetal {status['centripetal']:+.2f}, centrifugal {status['centrifugal']:+.2f}")


def _build_page():
    """Create the Solara components (imports Solara)."""

    import solara

    FREE = "Free play"
    lesson_titles = {lesson.title: key for key, lesson in LESSONS.items()}

    def Text(md: str, classes=(), style=""):
        return solara.HTML(tag="div", unsafe_innerHTML=md_to_html(md), classes=list(classes), style=style)

    @solara.component
    def ParamSliders(session: DemoSession, params_version):
        """One slider per schema parameter, grouped; re-rendered only when the parameters change."""
        _ = params_version.value
        groups: dict[str, list[SliderSpec]] = {}
        for spec in slider_specs(session.params, exclude=NO_SLIDER + ("external_cost",)):
            groups.setdefault(spec.group, []).append(spec)
        for group, specs in groups.items():
            title = "set-up (applies at Reset)" if group == "setup" else f"{group} (act now)"
            with solara.Details(summary=f"Parameters: {title}", expand=False):
                for spec in specs:
                    def on_value(v, name=spec.name):
                        session.set_param(name, v)
                        params_version.value += 1
                    with solara.Tooltip(spec.doc):
                        with solara.Column(gap="0px", classes=[f"cs-param-{spec.name}"]):
                            label = f"{spec.label}: {spec.value:g}"
                            if spec.kind == "int":
                                solara.SliderInt(label, value=int(spec.value), min=int(spec.min),
                                                 max=int(spec.max), step=1, on_value=on_value)
                            else:
                                solara.SliderFloat(label, value=spec.value, min=spec.min, max=spec.max,
                                                   step=spec.step, on_value=on_value)

    @solara.component
    def Levers(session: DemoSession, act, lever_version, shock_size):
        """The policy levers; re-rendered only when a lever moves (or at reset)."""
        _ = lever_version.value
        status = session.status()
        solara.HTML(tag="h4", unsafe_innerHTML="Policy levers (act now, no reset)")
        with solara.Tooltip(LEVER_TEXT["hub"]):
            solara.Button(f"Add hub institution ({status['hubs']})", icon_name="mdi-school",
                          on_click=act(session.add_hub), block=True, classes=["cs-hub"])
        with solara.Tooltip(LEVER_TEXT["startup"]):
            with solara.Column(gap="0px", classes=["cs-startup"]):
                solara.SliderFloat(f"Startup inflow: x{status['startup_inflow']:g}",
                                   value=status["startup_inflow"], min=STARTUP_RANGE[0],
                                   max=STARTUP_RANGE[1], step=0.5, on_value=act(session.set_startup_inflow))
        with solara.Tooltip(LEVER_TEXT["incubator"]):
            solara.Checkbox(label="Incubator: link startups to incumbents", value=status["incubator"],
                            on_value=act(session.set_incubator))
        ext = slider_spec("external_cost", status["external_cost"])
        with solara.Tooltip(LEVER_TEXT["external_cost"]):
            with solara.Column(gap="0px", classes=["cs-external"]):
                solara.SliderFloat(f"External-linkage cost: {status['external_cost']:g}", value=ext.value,
                                   min=SCHEMA["external_cost"].low, max=ext.max, step=ext.step,
                                   on_value=act(session.set_external_cost))
        with solara.Tooltip(LEVER_TEXT["broker"]):
            solara.Button(f"Add broker old-new ({status['brokers']})", icon_name="mdi-handshake",
                          on_click=act(session.add_broker), block=True, classes=["cs-broker"])
        with solara.Tooltip(LEVER_TEXT["shock"]):
            solara.Button(f"Technology shock ({status['shocks']})", icon_name="mdi-flash", color="error",
                          on_click=lambda: act(session.technology_shock, float(shock_size.value))(),
                          block=True, classes=["cs-shock"])
        solara.SliderFloat(f"Shock size: {shock_size.value:g}", value=shock_size, min=0.5, max=5.0, step=0.5)

    @solara.component
    def LiveView(session: DemoSession, frame, error):
        """Read-out, network, plots, levers and lesson; re-rendered every frame."""
        _ = frame.value
        status = session.status()
        net_png, plots_png = session.pictures()
        if error.value:
            solara.Error(error.value)
        Text(readout(status), classes=["cs-readout"], style="font-size: 1.1em")
        with solara.Columns([1, 1]):
            with solara.Column(classes=["cs-network"]):
                if net_png:
                    solara.Image(net_png, width="100%")
            with solara.Column(classes=["cs-plots"]):
                if plots_png:
                    solara.Image(plots_png, width="100%")
        levers = [f"startup inflow x{status['startup_inflow']:g}",
                  f"incubator {'on' if status['incubator'] else 'off'}",
                  f"external-linkage cost {status['external_cost']:g}",
                  f"hubs {status['hubs']}", f"brokers {status['brokers']}", f"shocks {status['shocks']}"]
        Text("**Levers:** " + " · ".join(levers), classes=["cs-levers"])
        if status["pending"]:
            solara.Warning("Changed set-up parameters apply at the next Reset: " + ", ".join(status["pending"]))
        if status["log"]:
            Text("**Interventions:** " + "; ".join(f"quarter {q}: {t}" for q, t in status["log"]),
                 classes=["cs-log"])
        if session.lesson is not None:
            with solara.Card(f"Lesson: {session.lesson.title}", subtitle=session.lesson.summary):
                Text(session.lesson.text)
        else:
            Text("Free play. Pick a **lesson** in the sidebar for a guided story, or press **Play** and "
                 "pull the levers. Hover over a lever or a parameter to see what it does.")

    @solara.component
    def Page():
        session: DemoSession = solara.use_memo(lambda: DemoSession(**_config_from_env()), [])
        frame = solara.use_reactive(0)            # bumped after every step or change of the picture
        lever_version = solara.use_reactive(0)    # bumped when a lever moves, at reset and lesson change
        params_version = solara.use_reactive(0)   # bumped at reset and lesson change
        playing = solara.use_reactive(False)
        speed = solara.use_reactive(1)
        shock_size = solara.use_reactive(SHOCK_DEFAULT)
        seed = solara.use_reactive(session.seed)
        error = solara.use_reactive("")

        def play_loop(cancel: threading.Event):
            while playing.value and not cancel.is_set():
                t0 = time.monotonic()
                try:
                    session.step(speed.value)
                except Exception as exc:  # shown on the page; the loop stops
                    error.value = f"the model stopped: {exc}"
                    playing.value = False
                    return
                frame.value += 1
                cancel.wait(max(0.05, 0.25 - (time.monotonic() - t0)))

        solara.use_thread(play_loop, dependencies=[playing.value], intrusive_cancel=False)

        def act(fn, *args, everything=False):
            def run(*more):
                try:
                    fn(*args, *more)
                    error.value = ""
                except ParameterError as exc:
                    error.value = str(exc)
                frame.value += 1
                lever_version.value += 1
                if everything:
                    params_version.value += 1
            return run

        def stop_then(fn, *args):
            def run(*more):
                playing.value = False
                act(fn, *args, everything=True)(*more)
            return run

        solara.Title("clustersim classroom")
        with solara.Sidebar():
            current = session.lesson.title if session.lesson else FREE
            solara.Select("Lesson", values=[FREE, *lesson_titles], value=current,
                          on_value=lambda t: stop_then(session.choose_lesson, lesson_titles.get(t))())
            with solara.Row(gap="6px"):
                solara.Button("Pause" if playing.value else "Play",
                              icon_name="mdi-pause" if playing.value else "mdi-play", color="primary",
                              on_click=lambda: playing.set(not playing.value), classes=["cs-play"])
                solara.Button("Step", icon_name="mdi-step-forward", disabled=playing.value,
                              on_click=act(session.step, 1), classes=["cs-step"])
                solara.Button("Reset", icon_name="mdi-restart",
                              on_click=lambda: stop_then(session.reset, int(seed.value or 0))(),
                              classes=["cs-reset"])
            solara.InputInt("Seed (applies at Reset)", value=seed, continuous_update=False, classes=["cs-seed"])
            solara.SliderInt(f"Quarters per frame: {speed.value}", value=speed, min=1, max=8)
            Levers(session, act, lever_version, shock_size)
            solara.HTML(tag="h4", unsafe_innerHTML="Display")
            solara.ToggleButtonsSingle(value=session.colour_by, values=["sector", "role"],
                                       on_value=act(session.set_colour_by))
            solara.HTML(tag="h4", unsafe_innerHTML="Model parameters")
            ParamSliders(session, params_version)

        with solara.Column(gap="8px"):
            LiveView(session, frame, error)

    return Page


def __getattr__(name):
    global _PAGE
    if name == "Page":
        if _PAGE is None:
            _PAGE = _build_page()
        return _PAGE
    raise AttributeError(f"module 'sim.face.app' has no attribute {name!r}")


# ----------------------------------------------------------------------------- the server
def serve(host: str = "127.0.0.1", port: int = 8765, *, cluster: str = DEFAULT_CLUSTER,
          firms: int = DEFAULT_FIRMS, seed: int = DEFAULT_SEED, lesson: str | None = None,
          open_browser: bool = False, on_ready=None) -> None:
    """Serve the page with Solara's server (uvicorn) until interrupted.

    The session settings travel through environment variables (:data:`ENV`),
    which every browser tab reads when it creates its own :class:`DemoSession`.
    Telemetry is switched off and assets come from ``solara-assets`` (no
    network access is needed).
    """
    os.environ[ENV["cluster"]] = cluster
    os.environ[ENV["firms"]] = str(int(firms))
    os.environ[ENV["seed"]] = str(int(seed))
    os.environ[ENV["lesson"]] = lesson or ""
    os.environ["SOLARA_APP"] = "sim.face.app"
    os.environ["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] = "False"
    os.environ.setdefault("SOLARA_MODE", "production")
    os.environ["SERVER_NAME"] = host
    os.environ["SERVER_PORT"] = str(port)
    import uvicorn
    from solara.server import settings

    settings.main.mode = "production"
    settings.telemetry.mixpanel_enable = False
    config = uvicorn.Config("solara.server.starlette:app", host=host, port=port, log_level="warning",
                            access_log=False)
    server = uvicorn.Server(config)

    def announce():

        while not server.started and not server.should_exit:
            time.sleep(0.05)
        if server.started:
            if on_ready is not None:
                on_ready()
            if open_browser:

                webbrowser.open(f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}")

    threading.Thread(target=announce, daemon=True).start()
    server.run()
