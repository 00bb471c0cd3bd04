"""Calibration and validation of the cluster model against the observed Korean cluster data.

Modules: :mod:`calibration.measurement` (affine measurement map), :mod:`calibration.initial`
(2010 initial states), :mod:`calibration.engine` (simulation runs through the resumable
experiment store), :mod:`calibration.surrogate` (GP surrogate), :mod:`calibration.estimate`
(the estimator, ``calibrate``, ``predict``, parameter recovery), :mod:`calibration.validate`
(cross-validation), :mod:`calibration.typology` (the 2020 typology classifier). The observed
data and their loaders are below the model, in :mod:`sim.data.observed`; the command line is
:mod:`sim.face.cli_calibration`.
"""
