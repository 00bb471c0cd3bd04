"""ClusterModel: the Mesa model of many regional clusters and an outside world.

The model itself (set-up, schedule, indicators) is :class:`sim.model.system.ClusterSystem`;
this class makes it a Mesa ``Model``: every firm and institution has an agent handle
(:mod:`sim.model.agents`) in ``model.agents`` and ``model.agents_by_type``, the outside
world is an agent, ``model.steps`` counts steps, and ``model.datacollector`` is a
:class:`mesa.DataCollector` whose model reporters are the cluster indicators, so
:func:`mesa.batch_run` works.  With the same seed it draws the same random numbers as
``ClusterSystem`` and gives the same run (tested).

One step is one quarter; :data:`SCHEDULE` lists its phases and ``docs/odd.md`` repeats
them word for word.

Example
-------
>>> from sim.model import ClusterModel
>>> m = ClusterModel(scale=0.02, rng=1)
>>> for _ in range(8):
...     m.step()
>>> df = m.indicators_frame()
"""

from __future__ import annotations

import collections
import itertools

import mesa
import numpy as np

from sim.indices.structure import INDEX_NAMES
from sim.model.agents import Firm, Institution, OutsideWorld, registry_of, remove_many
from sim.model.system import (
    DEFAULT_FIRM_SIZE,
    FLOWS,
    LEVERS,
    RECOVERY_SHARE,
    RECOVERY_YEARS,
    REORIENTATION,
    SCHEDULE,
    SIZE_LOG_SD,
    STAGE_WINDOW,
    ClusterSystem,
)

__all__ = ["DEFAULT_FIRM_SIZE", "FLOWS", "LEVERS", "RECOVERY_SHARE", "RECOVERY_YEARS", "REORIENTATION",
           "SCHEDULE", "SIZE_LOG_SD", "STAGE_WINDOW", "ClusterModel", "ClusterSystem", "IndicatorCollector"]

#: Handle class of each kind of node that :class:`ClusterSystem` adds.
HANDLE_CLASSES = {"firm": Firm, "institution": Institution}
#: The kinds, numbered (the code of an owed handle's kind).
HANDLE_KINDS = tuple(HANDLE_CLASSES)


class IndicatorCollector(mesa.DataCollector):
    """Mesa's DataCollector for the model's indicators, without the defensive deep copy.

    Every model reporter returns a freshly built number or ``{cluster id: value}`` dict, so
    the copy Mesa makes of each value (to protect against later mutation) only costs time;
    agent reporters, if a user adds any, are collected by Mesa as usual.
    """

    def collect(self, model):
        for var, reporter in self.model_reporters.items():
            self.model_vars[var].append(reporter(model))
        if self.agent_reporters or self.agenttype_reporters:
            reporters, self.model_reporters = self.model_reporters, {}
            try:
                super().collect(model)
            finally:
                self.model_reporters = reporters


class ClusterModel(ClusterSystem, mesa.Model):
    """Agent-based model of industrial cluster evolution, as a Mesa model.

    Parameters
    ----------
    params, clusters, cluster_table, policies, rng, start_year, labeller, record_every
        As for :class:`~sim.model.system.ClusterSystem`.
    handles : bool
        Give every node a Mesa agent handle (default).  ``False`` skips them (the
        model is then a Mesa model without agents but the outside world); the dynamics
        are identical.

    Notes
    -----
    Handles are made on demand.  Until something reads Mesa's registries (``agents``,
    ``agents_by_type``, ``agent_types``, ``remove_all_agents``, ``_handles``), registers or
    deregisters an agent, a node that enters only takes its ``unique_id`` from Mesa's counter
    (the outside world's agent too) and its type's entry in ``agents_by_type``; its handle is
    made at that first read, and a node that leaves before then never gets one.  From then on
    handles are made at entry, as they always were.  So what a reader sees is what handles made
    at entry would give: the same handles with the same ids, in the same order, and types in the
    same order.  A run that never looks (a batch run) pays almost nothing for them.
    """

    def __init__(self, *args, handles: bool = True, **kwargs):
        self._use_handles = handles
        self._made: dict[int, mesa.Agent] = {}  # handles made so far, by population row
        # rows whose handle is owed: the unique_id reserved for it (-1: none) and the kind (HANDLE_KINDS)
        self._owed_uid = np.full(0, -1, dtype=np.int64)
        self._owed_kind = np.zeros(0, dtype=np.int8)
        self._owed_agents: list[mesa.Agent] = []  # made but not registered yet (the outside world)
        self._watched = False  # the registries have been read: make handles at entry from now on
        self._owing = False  # a handle or agent may be owed (else every read of the registries is O(1))
        super().__init__(*args, **kwargs)

    def _init_streams(self, rng) -> None:
        mesa.Model.__init__(self, rng=rng)  # rng, random, steps, the agent registries

    def _start_records(self) -> None:
        self.datacollector = IndicatorCollector(model_reporters=self._reporters())
        super()._start_records()

    def record(self) -> dict[str, np.ndarray]:
        ind = super().record()
        collector = getattr(self, "datacollector", None)
        if collector is not None:
            collector.collect(self)
        return ind

    # ------------------------------------------------------------------ handles (made on demand)
    def _look(self) -> None:
        """Someone uses the registries: make the owed handles now, and every handle at entry from now on."""
        self._watched = True
        self._make_owed_handles()

    @property
    def _handles(self) -> dict[int, mesa.Agent]:
        """Every node's handle, by population row (made now if owed)."""
        self._look()
        return self._made

    @property
    def agents(self) -> mesa.agent.AgentSet:
        self._look()
        return mesa.Model.agents.fget(self)

    @agents.setter
    def agents(self, value) -> None:
        mesa.Model.agents.fset(self, value)

    @property
    def agent_types(self) -> list[type]:
        self._look()
        return mesa.Model.agent_types.fget(self)

    @property
    def agents_by_type(self) -> dict[type, mesa.agent.AgentSet]:
        self._look()
        return mesa.Model.agents_by_type.fget(self)

    def register_agent(self, agent) -> None:
        self._look()  # owed handles have smaller ids: they come first in the registries
        super().register_agent(agent)

    def deregister_agent(self, agent) -> None:
        self._look()  # the agent may be owed (the outside world, reachable as model.outside)
        super().deregister_agent(agent)

    def remove_all_agents(self) -> None:
        self._look()
        super().remove_all_agents()

    def _take_ids(self, k: int) -> int:
        """Take the next ``k`` ids of Mesa's per-model counter; returns the first."""
        counter = mesa.Agent._ids[self]
        first = next(counter)
        collections.deque(itertools.islice(counter, k - 1), maxlen=0)  # consume the rest at C speed
        return first

    def _new_handles(self, kind: str, ids: np.ndarray) -> None:
        """Take the next ``len(ids)`` ids of Mesa's counter for the rows' handles, made later."""
        ids = np.asarray(ids, dtype=np.int64)
        if not self._use_handles or len(ids) == 0:
            return
        first = self._take_ids(len(ids))
        need = int(ids.max()) + 1
        if need > len(self._owed_uid):
            grow = max(need, 2 * len(self._owed_uid)) - len(self._owed_uid)
            self._owed_uid = np.concatenate([self._owed_uid, np.full(grow, -1, dtype=np.int64)])
            self._owed_kind = np.concatenate([self._owed_kind, np.zeros(grow, dtype=np.int8)])
        self._owed_uid[ids] = first + np.arange(len(ids))
        self._owed_kind[ids] = HANDLE_KINDS.index(kind)
        self._owe(HANDLE_CLASSES[kind])

    def _owe(self, cls) -> None:
        """Something of type ``cls`` is owed: give the type its entry (in the order a handle made now would
        give) and, once the registries have been read, make the owed now."""
        self._owing = True
        registry_of(self, cls)
        if self._watched:
            self._make_owed_handles()

    def _make_owed_handles(self) -> None:
        """Make the owed handles and register them, and the owed agents, with Mesa in the order of their ids."""
        if not self._owing:
            return
        self._owing = False
        rows = np.flatnonzero(self._owed_uid >= 0)
        if len(rows) == 0 and not self._owed_agents:
            return
        uids = self._owed_uid[rows]
        o = np.argsort(uids, kind="stable")
        rows, uids, kinds = rows[o], uids[o], self._owed_kind[rows[o]]
        self._owed_uid[rows] = -1
        agents, self._owed_agents = sorted(self._owed_agents, key=lambda a: a.unique_id), []
        at = np.searchsorted(uids, [a.unique_id for a in agents]).tolist()  # where each agent goes among the rows
        cuts = sorted({0, len(rows), *(np.flatnonzero(np.diff(kinds)) + 1).tolist(), *at})  # runs of one kind
        for lo, hi in zip(cuts[:-1], cuts[1:]):
            while agents and at[0] <= lo:
                mesa.Model.register_agent(self, agents.pop(0)); at.pop(0)
            cls = HANDLE_CLASSES[HANDLE_KINDS[int(kinds[lo])]]
            for h in cls.create_many(self, rows[lo:hi], unique_ids=uids[lo:hi]):
                self._made[h.idx] = h
        for a in agents:
            mesa.Model.register_agent(self, a)

    def _drop_handles(self, ids: np.ndarray) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        if len(self._owed_uid):
            self._owed_uid[ids[ids < len(self._owed_uid)]] = -1
        if self._made:
            pop = self._made.pop
            remove_many(self, [h for h in (pop(int(i), None) for i in ids) if h is not None])

    def _renumber_handles(self, new: np.ndarray) -> None:
        for h in self._made.values():
            h.idx = int(new[h.idx])
        self._made = {h.idx: h for h in self._made.values()}
        rows = np.flatnonzero(self._owed_uid[: len(new)] >= 0)
        rows = rows[new[rows] >= 0]
        uid, kind = np.full_like(self._owed_uid, -1), np.zeros_like(self._owed_kind)
        uid[new[rows]], kind[new[rows]] = self._owed_uid[rows], self._owed_kind[rows]
        self._owed_uid, self._owed_kind = uid, kind

    def _outside_world(self, members: np.ndarray):
        w = OutsideWorld.unregistered(self, members, self._take_ids(1))
        self._owed_agents.append(w)  # registered with the owed handles, in id order
        self._owe(OutsideWorld)
        return w

    # ------------------------------------------------------------------ Mesa's DataCollector
    def _reporters(self) -> dict:
        names = list(INDEX_NAMES) + list(FLOWS) + ["centripetal", "centrifugal", "typology", "resilience", "stage"]
        return {name: (lambda m, k=name: m._report(k)) for name in names}

    def _report(self, name: str):
        """A Mesa model reporter: the indicator of the single cluster, or ``{cluster id: value}``."""
        vals = self._records[-1][1][name]
        if self.n_clusters == 1:
            return float(vals[0])
        return dict(zip(self.cluster_ids, np.asarray(vals, dtype=float).tolist()))
