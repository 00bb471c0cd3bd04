"""``clustersim calibrate | predict | validate | recover | exam``: the calibration sub-commands.

Registered by :func:`register` (``sim/face/cli.py`` calls it when this module exists). Bad input
raises :class:`sim.model.params.ParameterError`, :class:`sim.data.observed.DataError` or
:class:`sim.face.cli.UserError`, which ``clustersim`` reports as one line with exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from calibration.config import FULL, QUICK
from calibration.estimate import calibrate
from calibration.exam import exam_exclusions, final_exam
from calibration.initial import INFORMATION_SETS
from calibration.predict import predict
from calibration.recovery import parameter_recovery
from calibration.validate import cross_validate
from scenarios.base import CALIBRATED, DEFAULTS
from sim.core.io import MB, InputFileError, read_small_json
from sim.data.observed import load_all
from sim.face.options import (  # the command line's converters and checks
    MAX_REPLICATES,
    Default,
    UserError,
    add_force_option,
    add_options,
    add_yes,
    check_backend,
    confirm_size,
    csv_list,
    firm_steps,
    positive,
    prepare_output,
)
from sim.model.params import ParameterError

__all__ = ["register"]

#: The largest ``--settings`` file read (a handful of settings is a few hundred bytes).
SETTINGS_LIMIT = 1 * MB


def _year(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a year such as 2020, got {text!r}") from None


def _config(a):
    cfg = QUICK if a.quick else FULL
    if getattr(a, "settings", None):
        path = Path(a.settings)
        try:
            over = read_small_json(path, limit=SETTINGS_LIMIT, what="settings file")
        except InputFileError as exc:
            raise ParameterError(f"--settings {exc}") from None
        if not isinstance(over, dict):
            raise ParameterError(f"--settings {path}: must hold a JSON object of calibration settings")
        cfg = cfg.updated(over, source=f"--settings {path}")
    if getattr(a, "seed", None) is not None:
        cfg = replace(cfg, seed=a.seed)
    return cfg


def _exclude(a) -> list[str] | None:
    """``--exclude`` plus, with ``--exam``, the frozen exam clusters of :mod:`calibration.exam`."""
    ex = csv_list(a.exclude, "--exclude")
    return exam_exclusions(ex) if getattr(a, "exam", False) else ex


def _calibration_file(a, why: str):
    """The calibration file ``--params`` names (None: the shipped one); ``--params defaults`` stops
    with one line saying ``why`` a calibration is needed."""
    if a.params == DEFAULTS:
        raise UserError(f"--params defaults: {why}")
    return None if a.params == CALIBRATED else a.params


def cmd_exam(a) -> int:
    params = _calibration_file(a, "the exam predicts with a calibration (its 2010 set-up, measurement map and fit "
                                  "clusters); pass the params.json of 'clustersim calibrate --exam'")
    check_backend(a.backend, a.jobs, a.scheduler, quiet=a.quiet)
    prepare_output(a.out, "exam", resume=a.resume, force=a.force, overwrite=a.overwrite)
    res = final_exam(params, a.out, replicates=a.replicates, seed=a.seed,
                     n_jobs=a.jobs, backend=a.backend, scheduler=a.scheduler, resume=a.resume,
                     progress=not a.quiet, data=_data(a))
    if not a.quiet:
        print(res["table"].to_string(index=False, float_format=lambda x: f"{x:.3f}"))
        print(f"wrote {Path(a.out) / 'scorecard.md'} and scorecard.csv")
    return 0


def _data(a):
    return load_all(getattr(a, "data", None))


def _command() -> str:
    return " ".join(["clustersim"] + sys.argv[1:])


def _design_runs(cfg, folds: int = 0) -> int:
    """Model runs of a calibration (``folds`` = 0) or a cross-validation over ``folds`` folds (roughly:
    the 2010 set-up, the estimator's design and the final ensemble, see :mod:`calibration.states`)."""
    setup = cfg.setup_runs + (cfg.setup_checks + 1) * cfg.setup_replicates + cfg.setup_checks * cfg.setup_local
    fit = (cfg.n_initial + cfg.rounds * cfg.batch) * cfg.replicates + cfg.final_replicates
    fit += setup if cfg.refit_setup else 0
    return setup + fit * max(1, folds)


def _confirm(a, cfg, what: str, folds: int = 0) -> None:
    check_backend(a.backend, a.jobs, a.scheduler, quiet=a.quiet)
    confirm_size(what, _design_runs(cfg, folds), firm_steps(cfg.spinup + cfg.years, cfg.scale,
                                                      csv_list(getattr(a, "clusters", None))),
                 a.jobs, a.yes, "--quick, or a --settings file with a smaller design", quiet=a.quiet)


def cmd_calibrate(a) -> int:
    cfg = _config(a)
    _confirm(a, cfg, "calibrate")
    prepare_output(a.out, "calibrate", resume=a.resume, force=a.force, overwrite=a.overwrite)
    p = calibrate(cfg, a.out, clusters=csv_list(a.clusters), exclude=_exclude(a),
                  n_jobs=a.jobs, backend=a.backend, scheduler=a.scheduler, resume=a.resume, progress=not a.quiet,
                  figures=not a.no_figures, data=_data(a), command=_command())
    if not a.quiet:
        est = ", ".join(f"{k}={v['value']:.4g}" for k, v in p["estimates"].items())
        print(f"calibrated ({p['mode']}): {est}; loss {p['loss']['total_at_estimate']:.3f}; "
              f"wrote {Path(a.out) / 'params.json'}, fit.csv, typology.csv, figures")
    return 0


def cmd_predict(a) -> int:
    params = _calibration_file(a, "predict starts from a calibration's 2010 set-up and measurement map, which the "
                                  "schema defaults do not have; pass --params calibrated or the params.json of "
                                  "'clustersim calibrate'")
    check_backend(a.backend, a.jobs, a.scheduler, quiet=a.quiet)
    prepare_output(a.out, "predict", resume=a.resume, force=a.force, overwrite=a.overwrite)
    pred, _ = predict(params, csv_list(a.clusters), year_from=a.year_from,
                      year_to=a.year_to, replicates=a.replicates, seed=a.seed, out=a.out, n_jobs=a.jobs,
                      backend=a.backend, scheduler=a.scheduler, resume=a.resume, progress=not a.quiet,
                      data=_data(a))
    if not a.quiet:
        print(pred.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
        print(f"wrote {Path(a.out) / 'predicted.csv'} and {Path(a.out) / 'predicted_replicates.csv'}")
    return 0


def cmd_validate(a) -> int:
    cfg = _config(a)
    if a.information is not None:
        cfg = cfg.updated({"information": a.information}, source="--information")
    _confirm(a, cfg, "validate", a.folds)
    prepare_output(a.out, "validate", resume=a.resume, force=a.force, overwrite=a.overwrite)
    s = cross_validate(cfg, a.out, folds=a.folds, n_jobs=a.jobs, backend=a.backend, scheduler=a.scheduler,
                       resume=a.resume,
                       progress=not a.quiet, data=_data(a), clusters=csv_list(a.clusters),
                       exclude=_exclude(a))
    if not a.quiet:
        print(s["metrics"].to_string(index=False, float_format=lambda x: f"{x:.3f}"))
        print(f"typology hits: {s['typology_hits']}")
        print(f"wrote {Path(a.out) / 'cv_metrics.csv'} and friends")
    return 0


def cmd_recover(a) -> int:
    cfg = _config(a)
    _confirm(a, cfg, "recover")
    prepare_output(a.out, "recover", resume=a.resume, force=a.force, overwrite=a.overwrite)
    res = parameter_recovery(cfg, a.out, n_jobs=a.jobs, backend=a.backend, scheduler=a.scheduler,
                             resume=a.resume, progress=not a.quiet, data=_data(a))
    if not a.quiet:
        print(res.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
        print(f"wrote {Path(a.out) / 'recovery.csv'}")
    return 0


def _common(p, quick: bool = True, clusters: bool = True) -> None:
    # --out --jobs --backend --scheduler, and --seed of the calibration settings (predict adds its own)
    add_options(p, "out", "jobs", "backend", "scheduler", *(["seed"] if quick else []),
                seed=Default(None, "the preset's, 1"))
    if quick:
        p.add_argument("--quick", action="store_true",
                       help="reduced settings that run in a few minutes on 2 cores (see docs/calibration.md)")
        p.add_argument("--settings", metavar="FILE.json",
                       help="JSON object overriding settings of the preset (e.g. {\"scale\": 0.1, "
                            "\"replicates\": 4}); see calibration.config.Config")
    if clusters:
        p.add_argument("--clusters", help="comma-separated ids of the clusters to fit (default: every cluster "
                                          "with published 2020 values)")
        p.add_argument("--exclude", help="comma-separated ids to leave out of the fit (still simulated)")
        p.add_argument("--exam", action="store_true",
                       help="also leave out the frozen final-exam clusters (calibration/exam.py), for "
                            "'clustersim exam' to examine the result on")
    p.add_argument("--resume", action="store_true", help="reuse the finished runs in OUT/store")
    p.add_argument("--data", help=argparse.SUPPRESS)  # folder of the observed data files (tests, own copies)
    p.add_argument("--quiet", action="store_true", help="no progress output")
    if quick:
        add_yes(p)
    add_force_option(p)


def register(sub) -> None:
    """Add ``calibrate``, ``predict``, ``validate`` and ``recover`` to ``clustersim``."""
    p = sub.add_parser("calibrate", help="calibrate the model on the observed 2010->2020 indices; writes "
                                         "params.json, fit.csv and figures",
                       description="Fit the 2010 initial states, the measurement map and the global parameters "
                                   "(surrogate-based simulated minimum distance). See docs/calibration.md.")
    _common(p)
    p.add_argument("--no-figures", action="store_true", help="do not draw fit.png and arrows.png")
    p.set_defaults(func=cmd_calibrate)

    p = sub.add_parser("predict", help="predict published-scale indices and typology of clusters from 2010 "
                                       "with a calibration",
                       description="Ensemble prediction from the 2010 initial states with calibrated parameters; "
                                   "writes predicted.csv and predicted_replicates.csv.")
    p.add_argument("--clusters", help="comma-separated cluster ids (default: all 38)")
    p.add_argument("--from", dest="year_from", type=_year, default=2010, help="start year (only 2010)")
    p.add_argument("--to", dest="year_to", type=_year, default=2020, help="target year (default %(default)s)")
    p.add_argument("--replicates", type=positive(int, maximum=MAX_REPLICATES), default=8,
                   help="replicates (default %(default)s)")
    add_options(p, "params", "seed", params=Default(CALIBRATED, "calibrated; predict needs a calibration: "
                                                                "'calibrated' or the params.json of 'clustersim "
                                                                "calibrate'"))
    _common(p, quick=False, clusters=False)
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("validate", help="k-fold cross-validation over clusters against persistence and "
                                        "sector-family forecasts",
                       description="Refit on k-1 folds, predict the held-out clusters' 2020 indices and typology.")
    _common(p)
    p.add_argument("--folds", type=positive(int, maximum=38), default=5,
                   help="number of folds (default %(default)s, at most the 38 clusters)")
    p.add_argument("--information", choices=INFORMATION_SETS, default=None,
                   help="what the held-out clusters' set-up may use: with_2020_size (their 2020 establishment "
                        "count and mean firm size set their simulated size; the settings' default) or 2010_only "
                        "(every cluster starts at the median size: no cluster's own 2020 count enters)")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("exam", help="the frozen final exam: predict the clusters a calibration was not fitted "
                                    "on and write scorecard.md and scorecard.csv",
                       description="Predict, with a calibration fitted with --exam, the clusters it was not fitted "
                                   "on, and score the model against persistence, training mean, family mean, "
                                   "linear persistence and a size-augmented regression (docs/calibration.md).")
    p.add_argument("--replicates", type=positive(int, maximum=MAX_REPLICATES), default=8,
                   help="replicates (default %(default)s)")
    add_options(p, "params", "seed", params=Default(CALIBRATED, "calibrated; a calibration's params.json"))
    _common(p, quick=False, clusters=False)
    p.set_defaults(func=cmd_exam)

    p = sub.add_parser("recover", help="parameter-recovery check: simulate from known parameters, re-estimate")
    _common(p, clusters=False)
    p.set_defaults(func=cmd_recover)
