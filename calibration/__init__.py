"""Calibration and validation of the cluster model against the observed Korean cluster data.

Modules: :mod:`calibration.observed` (data loaders), :mod:`calibration.typology` (the 2020
typology classifier), :mod:`calibration.measurement` (affine measurement map),
:mod:`calibration.initial` (2010 initial states), :mod:`calibration.engine` (simulation runs
through the resumable experiment store), :mod:`calibration.surrogate` (GP surrogate),
:mod:`calibration.estimate` (the estimator, ``calibrate``, ``predict``, parameter recovery),
:mod:`calibration.validate` (cross-validation), :mod:`calibration.cli` (``clustersim
calibrate | predict | validate | recover``).

``calibration.load_calibrated()`` returns the shipped calibrated model
(``calibration/calibrated.json``): global parameter values, the per-cluster 2010 set-up table
and the measurement map; ``calibration.scenario_base()`` the same as the base of the 2020
scenarios of ``clustersim project`` (global values and each cluster's own set-up values).
"""

__all__ = ["load_calibrated", "load_params", "scenario_base"]


def __getattr__(name):  # lazy: importing calibration.observed stays light
    if name in __all__:
        from calibration import estimate

        return getattr(estimate, name)
    raise AttributeError(f"module 'calibration' has no attribute {name!r}")
