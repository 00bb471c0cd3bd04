"""The base model under runs and scenarios: the shipped calibration, the schema defaults or a file.

:func:`resolve_base` turns ``"calibrated"``, ``"defaults"`` or a JSON file into a
:class:`sim.engine.runner.BaseModel` (global values, per-cluster values, provenance), which
:func:`sim.engine.runner.run` applies and :func:`scenarios.projection.project` builds on;
:func:`load_params_file` reads a JSON object of parameter values.
"""

from __future__ import annotations

import difflib
import hashlib
import os
from importlib import resources
from pathlib import Path

from calibration.shipped import CALIBRATED_FILE, CALIBRATION_LIMIT, load_scenario
from calibration.shipped import FORMAT as CAL_FORMAT
from sim.core.io import InputFileError, parse_json, read_small_json, read_small_text
from sim.engine.runner import (
    BaseModel,
    base_cluster_table,
    column_records,
    records_table,
)
from sim.model.params import SCHEMA, ParameterError

__all__ = ["CALIBRATED", "DEFAULTS", "DEFAULT_BASE", "BaseModel", "resolve_base", "load_params_file", "base_cluster_table",
           "column_records", "records_table"]

#: ``params_file`` / ``--params`` values that name a base instead of a file.
CALIBRATED, DEFAULTS = "calibrated", "defaults"
#: The base model of ``run``, ``project`` and ``sensitivity`` when none is named: the shipped
#: calibration (``calibration/calibrated.json``, fitted on model v2; ``tests/test_baseline.py``
#: checks that it was fitted on the model as it behaves now).
DEFAULT_BASE = CALIBRATED


def load_params_file(path: str | os.PathLike) -> dict:
    """Parameter values from a JSON file, validated against :mod:`sim.model.params`.

    The file holds a JSON object ``{"name": value, ...}``, or an object whose
    ``"params"`` member is such an object (other members, e.g. metadata of a
    calibration, are then ignored).  Returns only the values given.
    """
    p = Path(path)
    try:
        obj = read_small_json(p, limit=CALIBRATION_LIMIT, what="parameter file")
    except InputFileError as exc:
        raise ParameterError(str(exc)) from None
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


def resolve_base(source: str | os.PathLike | None = DEFAULT_BASE) -> BaseModel:
    """The base model under every run or scenario: global values, per-cluster values, provenance.

    Parameters
    ----------
    source : {"calibrated", "defaults"} or path
        ``"calibrated"`` (the default, :data:`DEFAULT_BASE`): the shipped calibration
        (``calibration/calibrated.json``, :func:`calibration.shipped.scenario_base`): the fitted
        global values and each cluster's own calibrated set-up values.
        ``"defaults"`` or ``None``: the parameter schema's defaults, the same for every cluster. A path: a calibration's ``params.json`` (read as the shipped one) or a
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
        params, cols, labeller = load_scenario()
        where = f"calibration/{CALIBRATED_FILE} (shipped)"
    else:
        p = Path(source)
        try:
            raw = read_small_text(p, limit=CALIBRATION_LIMIT, what="--params file")
            obj = parse_json(raw, source=p, what="--params file")
        except InputFileError as exc:
            raise ParameterError(f"--params {exc} (or use 'calibrated' or 'defaults')") from None
        fmt = obj.get("format") if isinstance(obj, dict) else None
        text = raw.encode("utf-8")
        if fmt == CAL_FORMAT:
            params, cols, labeller = load_scenario(p)
        else:
            params, cols, labeller = load_params_file(p), None, None
        where = str(source)
    prov = {"path": where, "sha256": hashlib.sha256(text).hexdigest(), "values": dict(params),
            "per_cluster": None if cols is None else sorted(c for c in cols.columns if c != "id")}
    return BaseModel(dict(params), cols, prov, labeller)
