"""Settings of a calibration: :class:`Config`, the presets ``QUICK`` and ``FULL``, and their checks.

A :class:`Config` names the set-up (scale, spin-up, years), the initial-state fit, the
estimator's budget and the estimated and fixed parameters; :meth:`Config.updated` applies
overrides (``clustersim calibrate --settings FILE.json``) and checks every value, so a bad
setting fails with a :class:`~sim.model.params.ParameterError` that names its source.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, replace
from typing import Any, Mapping

import numpy as np

from calibration import engine
from calibration import initial as ini
from sim.model.params import SCHEMA, ParameterError, validate

__all__ = ["Config", "QUICK", "FULL", "log"]


@dataclass(frozen=True)
class Config:
    """Settings of a calibration (``QUICK`` and ``FULL`` are the two presets).

    Set-up: ``scale`` (fraction of real firm counts), ``min_firms``, ``backcast``,
    ``nascent_share`` (see :mod:`calibration.initial`), ``spinup`` (years simulated before
    2010), ``years`` (2010 -> 2020). Initial states: ``setup_runs`` design runs,
    ``setup_checks`` correction rounds of ``setup_replicates`` replicates. Estimator:
    ``estimate`` (names; model parameters or run parameters such as ``network_persistence``), ``n_initial`` Sobol
    points, ``rounds`` x ``batch`` surrogate-guided points, ``replicates`` per point,
    ``final_replicates`` at the estimate, ``bootstrap`` cluster-bootstrap samples, ``kappa``
    (exploration of the lower confidence bound), ``seed``. ``refit_setup``: refit the 2010
    set-up at the estimate before the final ensemble (the set-up of the estimation is fitted
    at the default parameter values; the spin-up depends on them).
    """

    mode: str = "full"
    scale: float = 0.05
    min_firms: int = 30
    backcast: float = 1.0
    nascent_share: float = 0.25
    spinup: float = 5.0
    years: float = 10.0
    setup_runs: int = 32
    setup_checks: int = 3
    setup_replicates: int = 3
    setup_local: int = 6
    estimate: tuple[str, ...] = ("sector_persistence", "network_persistence", "decay_rate", "startup_rate",
                                 "exit_rate", "external_learning", "beta_tri", "beta_inst")
    n_initial: int = 32
    rounds: int = 3
    batch: int = 12
    replicates: int = 3
    final_replicates: int = 8
    bootstrap: int = 200
    kappa: float = 1.0
    seed: int = 1
    fixed: tuple[tuple[str, float], ...] = ()
    refit_setup: bool = True

    def bounds(self, source: str = "calibration settings") -> dict[str, tuple[float, float]]:
        out = {}
        if isinstance(self.estimate, str) or not len(self.estimate):
            raise ParameterError(f"{source}: 'estimate' must be a non-empty list of parameter names")
        for k in self.estimate:
            if k in engine.RUN_PARAMS:
                _, lo, hi, _ = engine.RUN_PARAMS[k]
                out[k] = (float(lo), float(hi))
            elif k in ini.KNOBS:
                raise ParameterError(f"{source}: {k!r} is set cluster by cluster in the 2010 initial states "
                                     f"(a knob of calibration.initial), so a global value would act on no "
                                     f"cluster; estimate another parameter (knobs: {', '.join(ini.KNOBS)})")
            elif k in SCHEMA and SCHEMA[k].kind != "bool" and SCHEMA[k].group != "setup":
                out[k] = SCHEMA[k].sa_bounds
            else:
                raise ParameterError(f"{source}: cannot estimate unknown parameter {k!r} (model parameters outside "
                                     f"the set-up group: 'clustersim params'; run parameters: "
                                     f"{', '.join(engine.RUN_PARAMS)})")
        if len(set(self.estimate)) != len(self.estimate):
            raise ParameterError(f"{source}: 'estimate' lists a parameter twice")
        return out

    def base_params(self, source: str = "calibration settings") -> dict:
        """Model parameters held fixed (scale and ``fixed``), validated."""
        over = {"scale": self.scale, **dict(self.fixed)}
        clash = sorted(set(dict(self.fixed)) & set(self.estimate))
        if clash:
            raise ParameterError(f"{source}: {', '.join(clash)} cannot be both fixed and estimated")
        validate(over, source=source)
        return over

    def to_dict(self) -> dict:
        d = asdict(self)
        d["estimate"] = list(self.estimate)
        d["fixed"] = dict(self.fixed)
        return d

    def updated(self, overrides: Mapping[str, Any], source: str = "settings") -> "Config":
        """A copy with ``overrides`` (field -> value) applied and checked; errors name ``source``."""
        fields = set(asdict(self))
        bad = sorted(map(str, set(overrides) - fields))
        if bad:
            raise ParameterError(f"{source}: unknown calibration setting(s) {', '.join(map(repr, bad))}; "
                                 f"allowed: {', '.join(sorted(fields))}")
        kw = {}
        for k, v in overrides.items():
            cur = getattr(self, k)
            try:
                if k == "estimate":
                    if isinstance(v, str) or not isinstance(v, (list, tuple)) or not all(isinstance(x, str) for x in v):
                        raise TypeError
                    v = tuple(v)
                elif k == "fixed":
                    if not isinstance(v, Mapping):
                        raise TypeError
                    validate(dict(v), source=f"{source}: fixed")
                    v = tuple(sorted(dict(v).items()))
                elif isinstance(cur, bool):
                    if not isinstance(v, bool):
                        raise TypeError
                elif isinstance(cur, int):
                    if isinstance(v, bool) or not isinstance(v, (int, float)) or int(v) != v:
                        raise TypeError
                    v = int(v)
                    lo, hi = _INT_LIMITS.get(k, (0, 10_000))
                    if not lo <= v <= hi:
                        raise ValueError(f"must be a whole number in [{lo}, {hi}]")
                elif isinstance(cur, float):
                    if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
                        raise TypeError
                    v = float(v)
                    lo, hi, open_lo = _FLOAT_LIMITS.get(k, (0.0, 1e6, False))
                    if v > hi or v < lo or (open_lo and v == lo):
                        raise ValueError(f"must be in {'(' if open_lo else '['}{lo:g}, {hi:g}]")
                elif isinstance(cur, str) and not isinstance(v, str):
                    raise TypeError
            except ParameterError:
                raise
            except (TypeError, OverflowError):
                raise ParameterError(f"{source}: setting {k!r} has an invalid value {_short(v)} "
                                     f"(expected {type(cur).__name__}, like the default {cur!r})") from None
            except ValueError as exc:
                raise ParameterError(f"{source}: setting {k!r} = {_short(v)} {exc}") from None
            kw[k] = v
        cfg = replace(self, **kw)
        cfg.bounds(source)
        cfg.base_params(source)
        return cfg


def _short(v: Any, n: int = 60) -> str:
    try:
        t = repr(v)
    except Exception:  # noqa: BLE001 - e.g. an int with too many digits to print
        t = f"<{type(v).__name__}>"
    return t if len(t) <= n else t[: n - 3] + "..."


#: Ranges of the integer settings (inclusive).
_INT_LIMITS: dict[str, tuple[int, int]] = {
    "min_firms": (1, 100_000), "setup_runs": (1, 10_000), "setup_checks": (0, 100), "setup_replicates": (1, 10_000),
    "setup_local": (0, 10_000), "n_initial": (1, 10_000), "rounds": (0, 1_000), "batch": (1, 10_000),
    "replicates": (1, 10_000), "final_replicates": (1, 10_000), "bootstrap": (0, 100_000), "seed": (0, 2 ** 63 - 1),
}
#: Ranges of the float settings: (low, high, low is open).
_FLOAT_LIMITS: dict[str, tuple[float, float, bool]] = {
    "scale": (0.0, 1.0, True), "backcast": (0.0, 10.0, True), "nascent_share": (0.0, 1.0, True),
    "spinup": (0.0, 200.0, False), "years": (0.0, 200.0, True), "kappa": (0.0, 100.0, False),
}


QUICK = Config(mode="quick", scale=0.03, setup_runs=12, setup_checks=1, setup_replicates=3, setup_local=4,
               estimate=("sector_persistence", "network_persistence", "decay_rate", "startup_rate", "exit_rate"),
               n_initial=10, rounds=2, batch=5, replicates=2, final_replicates=4, bootstrap=50)
FULL = Config()


def log(progress: bool, msg: str) -> None:
    """Print a progress line of the calibration to stderr (if ``progress``)."""
    if progress:
        print(f"[calibrate] {msg}", file=sys.stderr, flush=True)
