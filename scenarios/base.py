"""The base model under runs and scenarios: the shipped calibration, the schema defaults or a file.

:func:`resolve_base` turns ``"calibrated"``, ``"defaults"`` or a JSON file into a
:class:`sim.engine.runner.BaseModel` (global values, per-cluster values, provenance), which
:func:`sim.engine.runner.run` applies and :func:`scenarios.projection.project` builds on;
:func:`load_params_file` reads a JSON object of parameter values.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
from importlib import resources
from pathlib import Path

from calibration.shipped import CALIBRATED_FILE, scenario_base, scenario_labeller
from calibration.shipped import FORMAT as CAL_FORMAT
from sim.engine.runner import (
    BaseModel,
    base_cluster_table,
    column_records,
    records_table,
)
from sim.model.params import SCHEMA, ParameterError

__all__ = ["CALIBRATED", "DEFAULTS", "BaseModel", "resolve_base", "load_params_file", "base_cluster_table",
           "column_records", "records_table"]

#: ``params_file`` / ``--params`` values that name a base instead of a file.
CALIBRATED, DEFAULTS = "calibrated", "defaults"


def load_params_file(path: str | os.PathLike) -> dict:
    """Parameter values from a JSON file, validated against :mod:`sim.model.params`.

    The file holds a JSON object ``{"name": value, ...}``, or an object whose
    ``"params"`` member is such an object (other members, e.g. metadata of a
    calibration, are then ignored).  Returns only the values given.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ParameterError(f"{p}: cannot read the parameter file ({exc})") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParameterError(f"{p}: not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except (ValueError, RecursionError) as exc:  # integers of > 4300 digits, very deep nesting
        what = "nesting too deep" if isinstance(exc, RecursionError) else str(exc).splitlines()[0]
        raise ParameterError(f"{p}: not valid JSON: {what}") from None
    if isinstance(obj, dict) and isinstance(obj.get("params"), dict):
        obj = obj["params"]
    if not isinstance(obj, dict):
        raise ParameterError(f"{p}: must hold a JSON object of parameter values, e.g. {{\"startup_rate\": 0.04}}")
    out = {}
    for k, v in obj.items():
        if k not in SCHEMA:
            close = difflib.get_close_matches(k, list(SCHEMA), n=2)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise ParameterError(f"{p}: unknown parameter {k!r}{hint} (run 'clustersim params' to list "
                                 f"all {len(SCHEMA)} parameters)")
        try:
            out[k] = SCHEMA[k].check(v, str(p))
        except OverflowError:
            raise ParameterError(f"{p}: parameter {k!r} is beyond the range of numbers") from None
    return out


def resolve_base(source: str | os.PathLike | None = CALIBRATED) -> BaseModel:
    """The base model under every run or scenario: global values, per-cluster values, provenance.

    Parameters
    ----------
    source : {"calibrated", "defaults"} or path
        ``"calibrated"`` (the default): the shipped calibration
        (``calibration/calibrated.json``, :func:`calibration.shipped.scenario_base`): the fitted
        global values and each cluster's own calibrated set-up values.
        ``"defaults"`` or ``None``: the parameter schema's defaults, the same for every
        cluster. A path: a calibration's ``params.json`` (read as the shipped one) or a
        JSON object of parameter values (:func:`load_params_file`).

    Returns
    -------
    BaseModel
        ``params`` (dict), ``columns`` (``id`` and one column per per-cluster parameter, see
        :data:`sim.model.params.PER_CLUSTER`, or None) and ``record`` (for the manifest: the
        source, its sha256 and the values used; None for the defaults).
    """
    if source is None or str(source) == DEFAULTS:
        return BaseModel({}, None, None)
    if str(source) == CALIBRATED:
        text = resources.files("calibration").joinpath(CALIBRATED_FILE).read_bytes()
        params, cols = scenario_base()
        labeller = scenario_labeller()
        where = f"calibration/{CALIBRATED_FILE} (shipped)"
    else:
        p = Path(source)
        if not p.is_file():
            raise ParameterError(f"--params {source}: no such file (use 'calibrated', 'defaults' or a JSON file)")
        text = p.read_bytes()
        try:
            fmt = json.loads(text).get("format")
        except (ValueError, AttributeError, RecursionError):
            fmt = None
        if fmt == CAL_FORMAT:
            params, cols = scenario_base(p)
            labeller = scenario_labeller(p)
        else:
            params, cols, labeller = load_params_file(p), None, None
        where = str(source)
    prov = {"path": where, "sha256": hashlib.sha256(text).hexdigest(), "values": dict(params),
            "per_cluster": None if cols is None else sorted(c for c in cols.columns if c != "id")}
    return BaseModel(dict(params), cols, prov, labeller)
