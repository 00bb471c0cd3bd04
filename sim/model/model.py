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

import mesa
import numpy as np

from sim.indices.structure import INDEX_NAMES
from sim.model.agents import Firm, Institution, OutsideWorld, remove_many
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
        Create Mesa agent handles for every node (default).  ``False`` skips them (the
        model is then a Mesa model without agents but the outside world); the dynamics
        are identical.
    """

    def __init__(self, *args, handles: bool = True, **kwargs):
        self._use_handles = handles
        self._handles: dict[int, mesa.Agent] = {}
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

    # ------------------------------------------------------------------ handles
    def _new_handles(self, kind: str, ids: np.ndarray) -> None:
        if self._use_handles:
            for h in HANDLE_CLASSES[kind].create_many(self, ids):
                self._handles[h.idx] = h

    def _drop_handles(self, ids: np.ndarray) -> None:
        if self._handles:
            pop = self._handles.pop
            remove_many(self, [h for h in (pop(int(i), None) for i in ids) if h is not None])

    def _renumber_handles(self, new: np.ndarray) -> None:
        for h in self._handles.values():
            h.idx = int(new[h.idx])
        self._handles = {h.idx: h for h in self._handles.values()}

    def _outside_world(self, members: np.ndarray):
        return OutsideWorld(self, members)

    # ------------------------------------------------------------------ Mesa's DataCollector
    def _reporters(self) -> dict:
        names = list(INDEX_NAMES) + list(FLOWS) + ["centripetal", "centrifugal", "typology", "resilience", "stage"]
        return {name: (lambda m, k=name: m._report(k)) for name in names}

    def _report(self, name: str):
        """A Mesa model reporter: the indicator of the single cluster, or ``{cluster id: value}``."""
        vals = self._records[-1][1][name]
        if self.n_clusters == 1:
            return float(vals[0])
        return {cid: float(v) for cid, v in zip(self.cluster_ids, vals)}
