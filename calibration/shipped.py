"""The shipped calibration: load it, check it, and turn it into the base of 2020 scenarios.

A small module on purpose: scenarios, the command line and the app load the calibrated model
through it without importing the estimator (:mod:`calibration.estimate`).

``calibration/calibrated.json`` holds the fitted global parameter values, the per-cluster
2010 set-up table and the measurement map; :func:`load_params` reads and checks any such
file, :func:`load_calibrated` returns it ready for use, :func:`scenario_base` returns the base
of the 2020 scenarios of ``clustersim project`` (global values and each cluster's own set-up
values).
"""

from __future__ import annotations

import json
import os
import warnings
from importlib import resources
from typing import Mapping

import numpy as np
import pandas as pd

from calibration import engine
from calibration.initial_states import InitialStates
from calibration.measurement import MeasurementMap
from sim.core.io import MB, InputFileError, read_small_json
from sim.engine import baseline
from sim.indices.scores import Labeller
from sim.indices.typology import TypologyClassifier, load_classifier, shipped_classifier
from sim.model.params import ParameterError, validate

__all__ = ["FORMAT", "CALIBRATED_FILE", "CALIBRATION_LIMIT", "load_params", "load_calibrated", "scenario_base",
           "scenario_labeller", "load_scenario", "calibration_classifier", "StaleCalibrationWarning",
           "check_calibration", "check_baseline", "current_baseline"]

FORMAT = "clustersim.calibration/1"
#: The largest calibration file read (the shipped one is about 40 KB).
CALIBRATION_LIMIT = 16 * MB
CALIBRATED_FILE = "calibrated.json"


# ----------------------------------------------------------------------------- baseline
class StaleCalibrationWarning(UserWarning):
    """The model behaves differently from the one the calibration was fitted on: re-run ``clustersim calibrate``."""


def current_baseline() -> str:
    """The run hash of the model as it behaves now (:func:`sim.engine.baseline.run_hash`, under a second).

    ``clustersim calibrate`` records it as the ``"baseline"`` member of a new calibration file.
    """
    return baseline.run_hash()


# ----------------------------------------------------------------------------- load
def load_params(path: str | os.PathLike | None = None) -> dict:
    """A calibration's ``params.json`` (default: the shipped ``calibration/calibrated.json``), checked.

    Raises :class:`~sim.model.params.ParameterError` if the file is missing, not JSON, of another
    format, or holds invalid parameter values.
    """
    if path is None:
        try:
            text = resources.files("calibration").joinpath(CALIBRATED_FILE).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ParameterError("no shipped calibration (calibration/calibrated.json is missing); "
                                 "run 'clustersim calibrate' and pass --params DIR/params.json") from None
        where = CALIBRATED_FILE
    else:
        try:
            d = read_small_json(path, limit=CALIBRATION_LIMIT, what="calibration file")
        except InputFileError as exc:
            raise ParameterError(str(exc)) from None
        return check_calibration(d, str(path))
    try:
        d = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParameterError(f"{where}: not valid JSON: {exc.msg} (line {exc.lineno})") from None
    return check_calibration(d, where)


def check_calibration(d, where: str) -> dict:
    """``d`` if it is a calibration (format, members and their types, parameter values, set-up
    table and measurement map); a one-line :class:`~sim.model.params.ParameterError` otherwise."""
    if not isinstance(d, dict) or d.get("format") != FORMAT:
        raise ParameterError(f"{where}: not a calibration file (expected \"format\": \"{FORMAT}\"); "
                             f"write one with 'clustersim calibrate --out DIR'")
    for key in ("params", "measurement_map", "setup"):
        if key not in d:
            raise ParameterError(f"{where}: missing the '{key}' member")
    for key in ("params", "measurement_map", "setup", "run_params", "estimates", "typology"):
        if key in d and not isinstance(d[key], dict):
            raise ParameterError(f"{where}: the '{key}' member must be a JSON object, got {type(d[key]).__name__}; "
                                 f"write the file again with 'clustersim calibrate --out DIR'")
    validate(d["params"], source=where)
    for k, v in d.get("run_params", {}).items():
        if k not in engine.RUN_PARAMS or isinstance(v, bool) or not isinstance(v, (int, float)) \
                or not np.isfinite(float(v)):
            raise ParameterError(f"{where}: run_params.{k} must be a known run parameter with a finite number, "
                                 f"got {str(v)[:40]!r}")
    setup, mm = d["setup"], d["measurement_map"]
    if not isinstance(setup.get("relax", {}), dict) or not all(
            isinstance(g, str) and g in engine.RUN_PARAMS and isinstance(n, list) and all(isinstance(x, str) for x in n)
            for g, n in setup.get("relax", {}).items()):
        raise ParameterError(f"{where}: setup.relax must map run parameters to lists of set-up knob names")
    sp = setup.get("spinup", 0.0)
    if isinstance(sp, bool) or not isinstance(sp, (int, float)) or not 0 <= float(sp) <= 1000:
        raise ParameterError(f"{where}: setup.spinup must be a number of years in [0, 1000], got {str(sp)[:40]!r}")
    if not isinstance(mm.get("years", {}), dict):
        raise ParameterError(f"{where}: measurement_map.years must be a JSON object of years")
    try:  # the set-up table and the measurement map as the model reads them
        states = InitialStates.from_dict(setup)
        states.table[list(states.knobs)].to_numpy(float)
        if not all(isinstance(c, str) for c in states.table["id"]):
            raise ValueError("setup.table ids must be strings")
        states.model_table()
        for g, names in setup.get("relax", {}).items():
            missing = [n for n in names if n not in states.table.columns]
            if missing:
                raise ValueError(f"setup.relax names unknown knob(s) {', '.join(missing[:3])}")
        MeasurementMap.from_dict(mm)
    except ParameterError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError, RecursionError) as exc:
        what = f"missing member {exc}" if isinstance(exc, KeyError) else str(exc).splitlines()[0][:200] if str(exc) \
            else type(exc).__name__
        raise ParameterError(f"{where}: not a readable calibration ({what}); write the file again with "
                             f"'clustersim calibrate --out DIR'") from None
    return d


def check_baseline(d: Mapping, path=None) -> bool:
    """Warn (:class:`StaleCalibrationWarning`) if ``d`` was fitted on another model behaviour; True if current.

    Compares the file's ``"baseline"`` (the run hash of :mod:`sim.engine.baseline` when it was
    calibrated) with the shipped golden record ``sim/engine/baseline.json``: its run hash or one of
    its ``"equivalent"`` hashes (the same code hashed another way; :func:`sim.engine.baseline.equivalent_runs`).
    A file without a ``"baseline"`` member (written before it existed) cannot be checked and passes.
    """
    fitted = d.get("baseline")
    golden = baseline.golden().get("run")
    if fitted is None or golden is None or fitted in baseline.current_runs():
        return True
    warnings.warn(f"{path or CALIBRATED_FILE} was calibrated on a model that behaves differently (baseline run "
                  f"{str(fitted)[:12]}..., the model now gives {golden[:12]}..., sim/engine/baseline.json); "
                  f"its values may no longer reproduce the data: re-run 'clustersim calibrate' "
                  f"(see docs/calibration.md)", StaleCalibrationWarning, stacklevel=3)
    return False


#: The former name, still imported by :mod:`calibration.estimate`.


def load_calibrated(path: str | os.PathLike | None = None) -> dict:
    """The calibrated model, ready for scenarios.

    Returns
    -------
    dict with
        ``params``: global model parameter values (a dict for ``ClusterModel(params=...)``
        or ``sim.engine.runner.run(base_params=...)``);
        ``run_params``: calibration-level values (``sector_persistence``,
        ``network_persistence``);
        ``cluster_table``: the per-cluster 2010 set-up (a DataFrame for ``cluster_table=``;
        start the model at ``2010 - spinup`` and, at 2010, relax each group of ``relax``
        columns by its persistence value, as :func:`calibration.engine.run_task` does);
        ``measurement_map``: :class:`calibration.measurement.MeasurementMap`;
        ``spinup``, ``relax``, ``estimates`` and the raw ``file`` dict.

    Warns (:class:`StaleCalibrationWarning`) when the model behaves differently from the one
    the calibration was fitted on (its ``"baseline"`` against ``sim/engine/baseline.json``).
    """
    d = load_params(path)
    check_baseline(d, path)
    states = InitialStates.from_dict(d["setup"])
    return {"params": dict(d["params"]), "run_params": dict(d.get("run_params", {})),
            "cluster_table": states.model_table(), "measurement_map": MeasurementMap.from_dict(d["measurement_map"]),
            "spinup": float(d["setup"].get("spinup", 0.0)), "relax": dict(d["setup"].get("relax", {})),
            "estimates": d.get("estimates", {}), "file": d}


def scenario_base(path: str | os.PathLike | None = None) -> tuple[dict, pd.DataFrame]:
    """The calibrated model as the starting point of 2020 scenarios (:func:`scenarios.projection.project`).

    Returns
    -------
    params : dict
        The fitted global parameter values, without ``scale`` (a scenario sets its own).
    columns : pandas.DataFrame
        One row per cluster: ``id`` and one column per knob of :mod:`calibration.initial`,
        the cluster's own calibrated set-up value. Every group of relaxed knobs is moved
        towards its cross-cluster median by its persistence estimate,
        :math:`v_c \\leftarrow m + p\\,(v_c - m)`, as every calibration run does at 2010
        (:func:`calibration.engine.relax_traits`), so a scenario starts with the character
        each cluster carried through 2010-2020. ``init_home_share`` is the fitted 2010 value
        (the best estimate of a cluster's sector mix the data allow; the 2020 composition
        is not published).

    The knobs were fitted at the calibration's ``scale`` (``config.scale``); at other scales
    they carry over as utilities and rates, not as fitted index values.
    """
    d = load_params(path)
    check_baseline(d, path)
    return _base_of(d)


def _base_of(d: Mapping) -> tuple[dict, pd.DataFrame]:
    """:func:`scenario_base` of a loaded calibration."""
    states = InitialStates.from_dict(d["setup"])
    persist = {k: float(v.default) for k, v in engine.RUN_PARAMS.items()}
    persist.update({k: float(v) for k, v in d.get("run_params", {}).items()})
    cols = states.table[["id", *states.knobs]].copy()
    for group, names in dict(d["setup"].get("relax", {})).items():
        for k in names:
            med = float(np.median(cols[k].to_numpy(float)))
            cols[k] = med + persist[group] * (cols[k].to_numpy(float) - med)
    params = {k: v for k, v in d["params"].items() if k != "scale"}
    return params, cols.reset_index(drop=True)


def calibration_classifier(d: Mapping) -> TypologyClassifier:
    """The typology classifier a calibration file carries (``typology.fit``); the shipped one otherwise."""
    fit = d.get("typology", {}).get("fit") if isinstance(d.get("typology"), dict) else None
    return load_classifier(fit) if fit else shipped_classifier()


def scenario_labeller(path: str | os.PathLike | None = None, *, year: int = 2020) -> Labeller:
    """The scores and typology that go with a calibration (default: the shipped one).

    Raw indices go onto the published scale by the calibration's measurement map of ``year``
    (2020, the start of the scenarios); the typology classifier is the one the calibration
    file carries (member ``typology.fit``), or the shipped classifier for an older file.
    """
    return _labeller_of(load_params(path), path, year)


def load_scenario(path: str | os.PathLike | None = None) -> tuple[dict, pd.DataFrame, Labeller]:
    """:func:`scenario_base` and :func:`scenario_labeller` of one calibration, read and checked once."""
    d = load_params(path)
    check_baseline(d, path)
    params, cols = _base_of(d)
    return params, cols, _labeller_of(d, path)


def _labeller_of(d: Mapping, path=None, year: int = 2020) -> Labeller:
    """:func:`scenario_labeller` of a loaded calibration."""
    years = d["measurement_map"].get("years", {})
    if str(year) not in years:
        raise ParameterError(f"{path or CALIBRATED_FILE}: the measurement map has no {year} maps "
                             f"(it has {', '.join(sorted(years)) or 'none'})")
    return Labeller.from_measurement(years[str(year)], calibration_classifier(d),
                                     source=f"{path or CALIBRATED_FILE}: {year} measurement map and typology classifier")
