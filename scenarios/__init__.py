"""Policy scenarios and projections: the layer above the model, the experiment engine and the calibration.

Modules: :mod:`scenarios.scenario` (scenario files read as data and validated),
:mod:`scenarios.policies` (the policy plug-ins), :mod:`scenarios.projection` (running scenarios
from the 2020 state), :mod:`scenarios.archetypes` (parameter sets of the development types).
The scenario loader's names are re-exported here: ``scenarios.load``, ``scenarios.loads``,
``scenarios.Scenario``, ``scenarios.ScenarioError``, ``scenarios.list_builtin``,
``scenarios.builtin_path``, ``scenarios.DEFAULTS``.
"""

from scenarios.scenario import (
    DEFAULTS,
    Scenario,
    ScenarioError,
    builtin_path,
    list_builtin,
    load,
    loads,
)

__all__ = ["ScenarioError", "Scenario", "load", "loads", "list_builtin", "builtin_path", "DEFAULTS"]
