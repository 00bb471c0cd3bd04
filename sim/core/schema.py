"""The declaration type of every parameter: ``Param``, and the one error it raises.

Model parameters (:mod:`sim.model.params`), policy parameters (:mod:`scenarios.policies`),
calibration settings and run settings are all declared with :class:`Param` (name, default,
bounds, kind, meaning) and checked by :meth:`Param.check`, so that every bad value gets the
same kind of one-line message naming the parameter, the allowed range and the value given.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

__all__ = ["Param", "ParameterError", "fmt", "show"]


class ParameterError(ValueError):
    """A parameter name or value is not acceptable (the message says why and how to fix it)."""


@dataclass(frozen=True)
class Param:
    """Declaration of one model parameter.

    Attributes
    ----------
    name : str
        Identifier used in Python, on the command line and in scenario files.
    default : float | int | bool
        Value used when nothing else is given.
    low, high : float
        Inclusive bounds of admissible values (also the sensitivity-analysis range
        unless ``sa_low``/``sa_high`` narrow it).
    kind : {"float", "int", "bool"}
        Value type.
    group : str
        Which process the parameter belongs to (ODD submodel).
    doc : str
        Meaning and unit.
    sa_low, sa_high : float or None
        Narrower range used for sensitivity analysis and sliders.
    """

    name: str
    default: float | int | bool
    low: float
    high: float
    kind: str
    group: str
    doc: str
    sa_low: float | None = None
    sa_high: float | None = None

    @property
    def sa_bounds(self) -> tuple[float, float]:
        lo = self.low if self.sa_low is None else self.sa_low
        hi = self.high if self.sa_high is None else self.sa_high
        return float(lo), float(hi)

    def check(self, value: Any, source: str = "") -> float | int | bool:
        """Coerce and validate ``value``; raise :class:`ParameterError` naming the problem."""
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            value = int(value)        # numpy integers
        elif isinstance(value, numbers.Real) and not isinstance(value, (int, float)):
            value = float(value)      # numpy floats other than float64
        where = f" ({source})" if source else ""
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in {"true", "false", "1", "0", "yes", "no"}:
                return value.lower() in {"true", "1", "yes"}
            if isinstance(value, (int, float)) and value in (0, 1):
                return bool(value)
            raise ParameterError(
                f"parameter '{self.name}'{where} must be true or false, got {show(value)}"
            )
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            if isinstance(value, str):
                try:
                    value = float(value)
                except ValueError:
                    raise ParameterError(
                        f"parameter '{self.name}'{where} must be a number in "
                        f"[{fmt(self.low)}, {fmt(self.high)}], got {show(value)}"
                    ) from None
            else:
                raise ParameterError(
                    f"parameter '{self.name}'{where} must be a number in "
                    f"[{fmt(self.low)}, {fmt(self.high)}], got {show(value)}"
                )
        if isinstance(value, int) and not -1e308 < value < 1e308:  # beyond float range
            raise ParameterError(
                f"parameter '{self.name}'{where} = {show(value)} is out of range: "
                f"allowed [{fmt(self.low)}, {fmt(self.high)}] ({self.doc})"
            )
        if not math.isfinite(value):
            raise ParameterError(
                f"parameter '{self.name}'{where} must be a finite number in "
                f"[{fmt(self.low)}, {fmt(self.high)}], got {show(value)}"
            )
        if self.kind == "int":
            if float(value) != int(value):
                raise ParameterError(
                    f"parameter '{self.name}'{where} must be a whole number in "
                    f"[{fmt(self.low)}, {fmt(self.high)}], got {show(value)}"
                )
            value = int(value)
        else:
            value = float(value)
        if not (self.low <= value <= self.high):
            raise ParameterError(
                f"parameter '{self.name}'{where} = {fmt(value)} is out of range: "
                f"allowed [{fmt(self.low)}, {fmt(self.high)}] ({self.doc})"
            )
        return value


def fmt(x: float) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def show(value: Any, limit: int = 60) -> str:
    """``repr(value)`` for an error message: one line, at most ``limit`` characters, never raising."""
    try:
        text = repr(value)
    except Exception:  # e.g. an int with more digits than sys.get_int_max_str_digits()
        text = f"<{type(value).__name__} that cannot be shown>"
    return text if len(text) <= limit else text[: limit - 3] + "..."
