"""The model's clock: one step is a quarter.

Rates in the parameter schema are per year; the model converts them to its quarterly step.
Every conversion between years and steps goes through :data:`STEPS_PER_YEAR` or the two
helpers here.
"""

from __future__ import annotations

__all__ = ["STEPS_PER_YEAR", "steps_in", "years_of"]

#: Steps (quarters) per simulated year.
STEPS_PER_YEAR: int = 4


def steps_in(years: float) -> int:
    """Number of whole steps in ``years`` (rounded to the nearest step)."""
    return int(round(years * STEPS_PER_YEAR))


def years_of(steps: float) -> float:
    """Years spanned by ``steps`` steps."""
    return steps / STEPS_PER_YEAR
