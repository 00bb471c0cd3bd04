"""clustersim: an agent-based model of industrial cluster evolution.

``sim.run`` and ``sim.simulate`` (see :mod:`sim.engine.runner`) and ``sim.ClusterModel``
(:mod:`sim.model`) are imported lazily, so ``import sim`` does no work.
"""

__version__ = "0.1.0"
__all__ = ["run", "simulate", "ClusterModel"]


def __getattr__(name):
    if name in ("run", "simulate"):
        from sim.engine import runner

        return getattr(runner, name)
    if name == "ClusterModel":
        from sim.model.model import ClusterModel

        return ClusterModel
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
