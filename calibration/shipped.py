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

import ast
import hashlib
import json
import os
import warnings
from importlib import resources
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from calibration import engine
from calibration import initial as ini
from calibration.measurement import MeasurementMap
from sim.model.params import ParameterError, validate

__all__ = ["FORMAT", "CALIBRATED_FILE", "load_params", "load_calibrated", "scenario_base",
           "StaleCalibrationWarning", "check_fingerprint", "model_fingerprint"]

FORMAT = "clustersim.calibration/1"
CALIBRATED_FILE = "calibrated.json"


# ----------------------------------------------------------------------------- model fingerprint
#: Model source files whose content decides the simulated dynamics and indices.
MODEL_FILES: tuple[str, ...] = ("model.py", "processes.py", "indices.py", "params.py", "technology.py",
                                "population.py", "clusters.py")


class StaleCalibrationWarning(UserWarning):
    """The model code changed since the calibration was made: re-run ``clustersim calibrate``."""


def model_fingerprint() -> str:
    """sha256 over the code of the model (:data:`MODEL_FILES`) and of the calibration's runs.

    Each file enters as its syntax tree without docstrings (``ast.dump``), so edits of
    comments, docstrings and layout leave the fingerprint unchanged, while any change of the
    code, even one that happens to give the same numbers, makes a calibration stale.
    """

    h = hashlib.sha256()
    for pkg, names in (("sim", MODEL_FILES), ("calibration", ("engine.py", "initial.py"))):
        for name in names:
            try:
                text = resources.files(pkg).joinpath(name).read_text(encoding="utf-8")
            except FileNotFoundError:
                text = ""
            data = code_signature(text).encode()
            h.update(f"{pkg}/{name}:{len(data)}:".encode())
            h.update(data)
    return h.hexdigest()


def code_signature(text: str) -> str:
    """The syntax tree of Python source ``text`` without docstrings, as text (``ast.dump``)."""

    tree = ast.parse(text)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                and body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


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
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ParameterError(f"{p}: cannot read the calibration file ({exc})") from None
        where = str(p)
    try:
        d = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParameterError(f"{where}: not valid JSON: {exc.msg} (line {exc.lineno})") from None
    if not isinstance(d, dict) or d.get("format") != FORMAT:
        raise ParameterError(f"{where}: not a calibration file (expected \"format\": \"{FORMAT}\"); "
                             f"write one with 'clustersim calibrate --out DIR'")
    for key in ("params", "measurement_map", "setup"):
        if key not in d:
            raise ParameterError(f"{where}: missing the '{key}' member")
    validate(d["params"], source=where)
    return d


def check_fingerprint(d: Mapping, path=None) -> bool:
    """Warn (:class:`StaleCalibrationWarning`) if ``d`` was calibrated with other model code; True if current."""
    fp = d.get("model_fingerprint")
    if fp is None or fp == model_fingerprint():
        return True

    warnings.warn(f"{path or CALIBRATED_FILE} was calibrated with a different version of the model code "
                  f"(sim/{', sim/'.join(MODEL_FILES)}); its values may no longer reproduce the data: "
                  f"re-run 'clustersim calibrate' (see docs/calibration.md)", StaleCalibrationWarning, stacklevel=3)
    return False


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

    Warns (:class:`StaleCalibrationWarning`) when the model source changed since the
    calibration (``model_fingerprint``).
    """
    d = load_params(path)
    check_fingerprint(d, path)
    states = ini.InitialStates.from_dict(d["setup"])
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
    check_fingerprint(d, path)
    states = ini.InitialStates.from_dict(d["setup"])
    persist = {k: float(v[0]) for k, v in engine.RUN_PARAMS.items()}
    persist.update({k: float(v) for k, v in d.get("run_params", {}).items()})
    cols = states.table[["id", *states.knobs]].copy()
    for group, names in dict(d["setup"].get("relax", {})).items():
        for k in names:
            med = float(np.median(cols[k].to_numpy(float)))
            cols[k] = med + persist[group] * (cols[k].to_numpy(float) - med)
    params = {k: v for k, v in d["params"].items() if k != "scale"}
    return params, cols.reset_index(drop=True)


