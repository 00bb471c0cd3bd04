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

from calibration import engine
from calibration import initial as ini
from sim.core.schema import Param
from sim.model.params import SCHEMA, ParameterError, validate

__all__ = ["Config", "SETTINGS", "QUICK", "FULL", "log"]


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
    at the default parameter values; the spin-up depends on them). ``information``: the
    information set of the set-up sizes (:data:`calibration.initial.INFORMATION_SETS`).
    """

    mode: str = "full"
    scale: float = 0.3
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
                                 "exit_rate", "external_learning", "beta_tri", "cross_accept")
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
    information: str = "with_2020_size"

    def bounds(self, source: str = "calibration settings") -> dict[str, tuple[float, float]]:
        out = {}
        if isinstance(self.estimate, str) or not len(self.estimate):
            raise ParameterError(f"{source}: 'estimate' must be a non-empty list of parameter names")
        for k in self.estimate:
            if k in engine.RUN_PARAMS:
                out[k] = engine.RUN_PARAMS[k].sa_bounds
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
                elif k in SETTINGS:
                    v = SETTINGS[k].check(v, source)
                elif isinstance(cur, str) and not isinstance(v, str):
                    raise TypeError
            except ParameterError:
                raise
            except (TypeError, OverflowError):
                raise ParameterError(f"{source}: setting {k!r} has an invalid value {_short(v)} "
                                     f"(expected {type(cur).__name__}, like the default {cur!r})") from None
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


def _setting(name: str, default, low, high, kind: str, doc: str) -> Param:
    return Param(name=name, default=default, low=low, high=high, kind=kind, group="calibration", doc=doc)


#: Declarations of the numeric and boolean settings (bounds inclusive; :meth:`Config.updated` checks with them).
SETTINGS: dict[str, Param] = {p.name: p for p in (
    _setting("scale", 0.3, 0.001, 1.0, "float", "fraction of the real firm counts simulated"),
    _setting("min_firms", 30, 1, 100_000, "int", "smallest simulated cluster (firms)"),
    _setting("backcast", 1.0, 0.01, 10.0, "float", "factor on the 2020 firm counts for the 2010 sizes"),
    _setting("nascent_share", 0.25, 0.001, 1.0, "float", "share of a nascent cluster's 2020 size present in 2010"),
    _setting("spinup", 5.0, 0.0, 200.0, "float", "years simulated before 2010"),
    _setting("years", 10.0, 0.25, 200.0, "float", "years from the 2010 to the second snapshot"),
    _setting("setup_runs", 32, 1, 10_000, "int", "design runs of the initial-state fit"),
    _setting("setup_checks", 3, 0, 100, "int", "correction rounds of the initial-state fit"),
    _setting("setup_replicates", 3, 1, 10_000, "int", "replicates per correction round"),
    _setting("setup_local", 6, 0, 10_000, "int", "local design points per correction round"),
    _setting("n_initial", 32, 1, 10_000, "int", "Sobol points of the estimator"),
    _setting("rounds", 3, 0, 1_000, "int", "surrogate-guided rounds"),
    _setting("batch", 12, 1, 10_000, "int", "points per round"),
    _setting("replicates", 3, 1, 10_000, "int", "replicates per point"),
    _setting("final_replicates", 8, 1, 10_000, "int", "replicates at the estimate"),
    _setting("bootstrap", 200, 0, 100_000, "int", "cluster-bootstrap samples"),
    _setting("kappa", 1.0, 0.0, 100.0, "float", "exploration weight of the lower confidence bound"),
    _setting("seed", 1, 0, 2 ** 63 - 1, "int", "root seed"),
    _setting("refit_setup", True, 0, 1, "bool", "refit the 2010 set-up at the estimate"),
    Param(name="information", default="with_2020_size", low=None, high=None, kind="str", group="calibration",
          doc="what the set-up sizes may use (calibration.initial.INFORMATION_SETS)", choices=ini.INFORMATION_SETS,
          strict=True),
)}


QUICK = Config(mode="quick", scale=0.03, setup_runs=12, setup_checks=1, setup_replicates=3, setup_local=4,
               estimate=("sector_persistence", "network_persistence", "decay_rate", "startup_rate", "exit_rate",
                         "cross_accept"),
               n_initial=10, rounds=2, batch=5, replicates=2, final_replicates=4, bootstrap=50)
FULL = Config()


def log(progress: bool, msg: str) -> None:
    """Print a progress line of the calibration to stderr (if ``progress``)."""
    if progress:
        print(f"[calibrate] {msg}", file=sys.stderr, flush=True)
