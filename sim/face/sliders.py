"""Sliders of the classroom app, generated from the parameter schema (:data:`sim.model.params.SCHEMA`).

Plain data (:class:`SliderSpec`); the page turns them into Solara sliders.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sim.model.params import SCHEMA, ParameterError

__all__ = ["NO_SLIDER", "SliderSpec", "slider_spec", "slider_specs"]

#: Parameters without a slider: the scale follows from the firm count, the shift year from the shock button,
#: and the waiting time acts only on estate units, which the classroom cluster has none of.
NO_SLIDER = ("scale", "shock_year", "wait_years")


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
