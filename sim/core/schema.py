"""The declaration type of every parameter: ``Param``, and the one error it raises.

Model parameters (:mod:`sim.model.params`), policy parameters (:mod:`scenarios.policies`),
calibration settings and run settings are all declared with :class:`Param` (name, default,
bounds, kind, meaning) and checked by :meth:`Param.check`, so that every bad value gets the
same kind of one-line message naming the parameter, the allowed range and the value given.
:meth:`Param.as_field` turns a declaration into a :func:`dataclasses.field` (policy classes).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass
from typing import Any

__all__ = ["Param", "ParameterError", "fmt", "show"]


class ParameterError(ValueError):
    """A parameter name or value is not acceptable (the message says why and how to fix it)."""


@dataclass(frozen=True)
class Param:
    """Declaration of one parameter.

    Attributes
    ----------
    name : str
        Identifier used in Python, on the command line and in scenario files.
    default : float | int | bool | str | list | None
        Value used when nothing else is given.
    low, high : float or None
        Inclusive bounds of admissible values (also the sensitivity-analysis range
        unless ``sa_low``/``sa_high`` narrow it). ``None`` (only with ``strict``) leaves
        that side open.
    kind : str
        Value type: ``"float"``, ``"int"``, ``"bool"``; with ``strict`` also ``"float?"`` (a
        number or None), ``"str"`` (one of ``choices`` if given), ``"kinds"`` (one of ``choices``
        or a non-empty list of them) and ``"target"`` (a non-empty string or a non-empty list
        of non-empty strings).
    group : str
        Which process the parameter belongs to (ODD submodel).
    doc : str
        Meaning and unit.
    sa_low, sa_high : float or None
        Narrower range used for sensitivity analysis and sliders.
    choices : tuple of str or None
        Admissible values of a ``"str"`` or ``"kinds"`` parameter.
    strict : bool
        Accept only values that already have the declared type (no numbers given as text,
        no 0/1 for booleans, no numpy scalars), and name the parameter as ``'name'`` in
        messages (policy parameters, whose messages the scenario loader re-labels).
    accepts : str
        How messages describe an acceptable value: for ``"kinds"`` the name of one choice
        (e.g. ``"institution kind"``), for ``"target"`` every accepted form.
    source : str
        Where the default or the rule comes from (a source item, a reference, or the
        observed table that fixes it); empty for purely technical parameters.
    """

    name: str
    default: Any
    low: float | None = None
    high: float | None = None
    kind: str = "float"
    group: str = ""
    doc: str = ""
    sa_low: float | None = None
    sa_high: float | None = None
    choices: tuple[str, ...] | None = None
    strict: bool = False
    accepts: str = ""
    source: str = ""

    def as_field(self) -> Any:
        """A :func:`dataclasses.field` with this default (lists copied) and ``metadata={"param": self}``."""
        if isinstance(self.default, list):
            return dataclasses.field(default_factory=lambda d=self.default: list(d), metadata={"param": self})
        return dataclasses.field(default=self.default, metadata={"param": self})

    @property
    def sa_bounds(self) -> tuple[float, float]:
        lo = self.low if self.sa_low is None else self.sa_low
        hi = self.high if self.sa_high is None else self.sa_high
        return float(lo), float(hi)

    def check(self, value: Any, source: str = "") -> Any:
        """Coerce and validate ``value``; raise :class:`ParameterError` naming the problem."""
        if self.strict:
            return self._check_strict(value)
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

    # ---- strict checks (policy parameters) --------------------------------
    def _range_text(self) -> str:
        if self.low is None and self.high is None:
            return ""
        lo = fmt(self.low) if self.low is not None else "-inf"
        hi = fmt(self.high) if self.high is not None else "inf"
        return f" in [{lo}, {hi}]"

    def _check_strict(self, value: Any) -> Any:
        if self.kind in ("float", "int", "float?"):
            return self._strict_number(value)
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise ParameterError(f"'{self.name}' must be true or false, got {value!r}")
            return value
        if self.kind == "str":
            if not isinstance(value, str):
                raise ParameterError(f"'{self.name}' must be a string, got {value!r}")
            if self.choices and value not in self.choices:
                raise ParameterError(f"'{self.name}' = {value!r} is not one of: {', '.join(self.choices)}")
            return value
        if self.kind == "kinds":
            return self._strict_kinds(value)
        if self.kind == "target":
            if isinstance(value, str) and value:
                return value
            if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) and v for v in value):
                return list(value)
            raise ParameterError(f"'{self.name}' must be {self.accepts}, got {value!r}")
        raise AssertionError(self.kind)  # pragma: no cover

    def _strict_number(self, value: Any) -> float | int | None:
        if value is None and self.kind == "float?":
            return None
        rng = self._range_text()
        what = "a whole number" if self.kind == "int" else "a number"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParameterError(f"'{self.name}' must be {what}{rng}, got {value!r}")
        try:
            finite = math.isfinite(value)
        except OverflowError:  # an int beyond the float range
            finite = False
        if not finite:
            shown = repr(value) if len(repr(value)) < 40 else repr(value)[:20] + "..."
            raise ParameterError(f"'{self.name}' must be a finite number{rng}, got {shown}")
        if self.kind == "int":
            if float(value) != int(value):
                raise ParameterError(f"'{self.name}' must be a whole number{rng}, got {value!r}")
            value = int(value)
        else:
            value = float(value)
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            raise ParameterError(f"'{self.name}' = {fmt(value)} is out of range{rng}: {self.doc}")
        return value

    def _strict_kinds(self, value: Any) -> list[str]:
        choices = ", ".join(self.choices or ())
        vals = [value] if isinstance(value, str) else value
        if not isinstance(vals, (list, tuple)) or not vals or not all(isinstance(v, str) for v in vals):
            article = "an" if self.accepts[:1].lower() in "aeiou" else "a"
            raise ParameterError(f"'{self.name}' must be {article} {self.accepts} or a list of them "
                                 f"({choices}), got {value!r}")
        bad = [v for v in vals if v not in (self.choices or ())]
        if bad:
            raise ParameterError(f"'{self.name}': unknown {self.accepts}(s) {', '.join(map(repr, bad))}; "
                                 f"known: {choices}")
        return list(vals)


def fmt(x: float) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def show(value: Any, limit: int = 60) -> str:
    """``repr(value)`` for an error message: one line, at most ``limit`` characters, never raising."""
    try:
        text = repr(value)
    except Exception:  # e.g. an int with more digits than sys.get_int_max_str_digits()
        text = f"<{type(value).__name__} that cannot be shown>"
    return text if len(text) <= limit else text[: limit - 3] + "..."
