"""Calibration and validation of the cluster model against the observed Korean cluster data.

Modules: :mod:`calibration.measurement` (affine measurement map), :mod:`calibration.initial`
(2010 initial states), :mod:`calibration.engine` (simulation runs through the resumable
experiment store), :mod:`calibration.surrogate` (GP surrogate), :mod:`calibration.config`
(settings), :mod:`calibration.loss` (targets and moments), :mod:`calibration.states` (fitting
the 2010 set-up), :mod:`calibration.estimator` (the estimator and its bootstrap),
:mod:`calibration.predict` (ensembles and ``predict``), :mod:`calibration.report` and
:mod:`calibration.files` (outputs), :mod:`calibration.recovery` (parameter recovery),
:mod:`calibration.estimate` (``calibrate``, the public entry point), :mod:`calibration.validate`
(cross-validation), :mod:`calibration.benchmarks` (its statistical baselines and scores), :mod:`calibration.exam`
(the frozen final exam), :mod:`calibration.typology` (fitting and loading the 2020 typology
classifier of :mod:`sim.indices.typology`). The observed
data and their loaders are below the model, in :mod:`sim.data.observed`; the command line is
:mod:`sim.face.cli_calibration`.
"""
