"""Run settings: what a run is set up with, as one scalar cell of a design table.

The experiment engine's designs and constants hold scalars only (the resumable store hashes
and checks them), so the settings of a run travel through them as one JSON string.
:class:`RunSettings` is that string's one type: every caller builds a :class:`RunSettings`
and writes it with :meth:`RunSettings.to_cell`; every model function reads it back with
:meth:`RunSettings.from_cell`.

Format of a cell: one JSON object, keys sorted, compact separators (``","`` and ``":"``), no
whitespace. Its members are the fields that are set (a field at its default -- ``None``, no
policies, no extra members -- is left out, so equal settings give equal text):

* ``years`` (number), ``clusters`` (list of ids), ``start_year`` (number), ``record_every``
  (integer): the run's length, clusters, calendar and recording interval;
* ``params``: model parameter values, where they travel with the settings (projections,
  the policy measurements) rather than as the design's own columns;
* ``policies``: plain-data policy specifications (dicts as in scenario files);
* ``cluster_columns``: per-cluster parameter values as records (``[{"id": ..., name: value}]``);
* the caller's own members (:attr:`RunSettings.extra`: e.g. the calibration's ``spinup``,
  ``relax`` and ``table``, the sensitivity's ``cluster``) at the top level beside them.

Numbers are written by :func:`json.dumps` (shortest round-trip ``repr``), so a decoded cell
gives the same values bit for bit. ``to_cell(lenient=True)`` writes values JSON cannot hold
as their ``str()`` (for records that are only compared, such as the resume check of
:func:`sim.engine.runner.run`); such a cell does not decode to the same settings.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

__all__ = ["RunSettings"]


@dataclass(frozen=True)
class RunSettings:
    """The settings of a run, encoded canonically as one design-table cell.

    Attributes
    ----------
    years : float, optional
        Simulated years.
    clusters : tuple of str, optional
        Cluster ids (``None``: the default set).
    start_year : float, optional
        Calendar year of the first step.
    record_every : int, optional
        Recording interval in steps.
    params : dict, optional
        Model parameter values carried with the settings.
    policies : tuple of dict
        Plain-data policy specifications (built by the caller's floor, e.g.
        :func:`scenarios.policies.build_policies`).
    cluster_columns : tuple of dict, optional
        Per-cluster parameter values as records (:func:`sim.engine.runner.column_records`).
    extra : dict
        The caller's own members, written at the top level of the cell; their names must
        differ from the fields'.

    Values are kept as given (an integer ``years`` stays an integer); only sequences become
    tuples. ``None`` fields (and empty ``policies``/``extra``) are not written.
    """

    years: float | None = None
    clusters: tuple[str, ...] | None = None
    start_year: float | None = None
    record_every: int | None = None
    params: dict | None = None
    policies: tuple = ()
    cluster_columns: tuple | None = None
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("clusters", "cluster_columns"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, tuple(value))
        object.__setattr__(self, "policies", tuple(self.policies or ()))
        object.__setattr__(self, "extra", dict(self.extra or {}))
        clash = sorted(set(self.extra) & _FIELDS)
        if clash:
            raise ValueError(f"extra members {clash} clash with RunSettings fields")

    # ------------------------------------------------------------------ encoding
    def to_dict(self) -> dict:
        """The cell's object: the fields that are set, then the extra members."""
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name == "extra":
                continue
            value = getattr(self, f.name)
            if value is None or (f.name == "policies" and not value):
                continue
            out[f.name] = list(value) if isinstance(value, tuple) else value
        out.update(self.extra)
        return out

    def to_cell(self, *, lenient: bool = False) -> str:
        """The canonical JSON text (see the module docstring); ``lenient``: ``default=str``."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"),
                          default=str if lenient else None)

    to_json = to_cell

    def digest(self, *, lenient: bool = False) -> str:
        """sha256 (hex) of :meth:`to_cell`."""
        return hashlib.sha256(self.to_cell(lenient=lenient).encode()).hexdigest()

    # ------------------------------------------------------------------ decoding
    @classmethod
    def from_dict(cls, d: Mapping) -> RunSettings:
        """Settings from a cell's object: known members fill the fields, the rest is ``extra``."""
        if not isinstance(d, Mapping):
            raise ValueError(f"run settings must be a JSON object, got {type(d).__name__}")
        known = {k: v for k, v in d.items() if k in _FIELDS}
        return cls(**known, extra={k: v for k, v in d.items() if k not in _FIELDS})

    @classmethod
    def from_cell(cls, cell: str | bytes | Mapping | RunSettings) -> RunSettings:
        """Decode a cell written by :meth:`to_cell` (an object or settings pass through)."""
        if isinstance(cell, RunSettings):
            return cell
        if isinstance(cell, (str, bytes)):
            cell = json.loads(cell)
        return cls.from_dict(cell)

    from_json = from_cell

    def simulate_kwargs(self) -> dict:
        """``years``, ``clusters`` (a list), ``start_year`` and ``record_every`` where set, as
        keyword arguments of :func:`sim.engine.runner.simulate`."""
        out = {k: getattr(self, k) for k in ("years", "clusters", "start_year", "record_every")
               if getattr(self, k) is not None}
        if "clusters" in out:
            out["clusters"] = list(out["clusters"])
        return out


_FIELDS = frozenset(f.name for f in fields(RunSettings)) - {"extra"}
