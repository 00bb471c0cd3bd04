"""Policy scenarios and projections: the layer above the model, the experiment engine and the calibration.

Modules: :mod:`scenarios.scenario` (scenario files read as data and validated),
:mod:`scenarios.policies` (the policy plug-ins), :mod:`scenarios.base` (the base model:
``resolve_base``, the shipped calibration, the schema defaults or a file),
:mod:`scenarios.settings` (loading scenarios, the baseline, shared settings),
:mod:`scenarios.projection` (running scenarios from the 2020 state), :mod:`scenarios.effects`
(scenario-vs-baseline effects, typology transitions, cluster outcomes), :mod:`scenarios.figures`
(the projection's figures, drawn by :mod:`sim.plots.projection`), :mod:`scenarios.measure`
(the measured effect of every policy, ``python scripts/measure_effects.py``),
:mod:`scenarios.archetypes` (parameter sets of the development types).
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
