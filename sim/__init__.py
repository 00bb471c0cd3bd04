"""clustersim: an agent-based model of industrial cluster evolution.

The public facade: ``sim.run`` (an ensemble, see :func:`sim.engine.runner.run`),
``sim.simulate`` (one replicate, :func:`sim.engine.runner.simulate`) and ``sim.ClusterModel``
(:class:`sim.model.model.ClusterModel`, the Mesa model). They are imported lazily, so ``import sim`` does no
work. ``sim.run`` also accepts a base model by name: ``base="calibrated"``, ``"defaults"`` or
the path of a calibration or parameter file (resolved by :func:`scenarios.base.resolve_base`).
This facade is the one place allowed to reach every floor (see ``tests/test_architecture.py``).
"""

__version__ = "0.1.0"
__all__ = ["run", "simulate", "ClusterModel"]


def run(*args, base=None, **kwargs):
    """Run an ensemble (:func:`sim.engine.runner.run`); ``base`` may be a name or a path.

    ``base="calibrated"`` (the shipped calibration; the default, as for ``clustersim run``:
    :data:`scenarios.base.DEFAULT_BASE`), ``"defaults"`` (the schema defaults) or the path of a
    JSON file are resolved with :func:`scenarios.base.resolve_base`; a resolved
    :class:`sim.engine.runner.BaseModel` is passed through unchanged. Given a ``cluster_table``
    and no ``base``, the run uses that table with the schema defaults.
    """
    from scenarios.base import DEFAULT_BASE, resolve_base
    from sim.engine import runner

    if base is None and kwargs.get("cluster_table") is None:
        base = DEFAULT_BASE
    if base is not None and not isinstance(base, runner.BaseModel):
        base = resolve_base(base)
    return runner.run(*args, base=base, **kwargs)


def __getattr__(name):
    if name == "simulate":
        from sim.engine import runner

        return runner.simulate
    if name == "ClusterModel":
        from sim.model.model import ClusterModel

        return ClusterModel
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
