"""Policy plug-ins (starsim-style interventions).

A policy is an object with three small hooks:

* ``initialize(model)`` once, after the population is built (e.g. resolve targets);
* ``active(model)`` whether it acts this quarter (start/end years);
* ``apply(model)`` at the start of each active quarter, before entry: it sets the
  quarter's *levers* (``model.levers[name][cluster]``, reset to neutral every step)
  or changes the population (e.g. places an institution).

No process tests for a policy by name: processes read levers only.  Concrete
policies live in this module's registry :data:`REGISTRY`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Policy:
    """Base class.

    Parameters
    ----------
    start, end : float
        Years from the start of the run between which the policy is active
        (``end`` exclusive; ``None`` = until the end of the run).
    target : str or list of str
        ``"all"``, a cluster id, a list of ids, or ``"family:<sector_family>"``.
    intensity : float
        Strength of the policy (meaning per policy).
    """

    start: float = 0.0
    end: float | None = None
    target: str | list = "all"
    intensity: float = 1.0
    _mask: np.ndarray | None = field(default=None, init=False, repr=False)

    name = "policy"

    def initialize(self, model) -> None:
        self._mask = resolve_target(model, self.target)

    def active(self, model) -> bool:
        years = model.t / 4.0
        return years >= self.start and (self.end is None or years < self.end)

    @property
    def clusters(self) -> np.ndarray:
        """Cluster numbers targeted (after ``initialize``)."""
        return np.flatnonzero(self._mask)

    def apply(self, model) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


def resolve_target(model, target) -> np.ndarray:
    """Boolean mask over the model's clusters for a policy target."""
    from .params import ParameterError

    C = model.n_clusters
    if target in (None, "all"):
        return np.ones(C, bool)
    if isinstance(target, str) and target.startswith("family:"):
        fam = target.split(":", 1)[1]
        mask = (model.table["sector_family"] == fam).to_numpy()
        if not mask.any():
            raise ParameterError(f"policy target '{target}' matches no simulated cluster")
        return mask
    ids = [target] if isinstance(target, str) else list(target)
    unknown = [i for i in ids if i not in model.cluster_ids]
    if unknown:
        raise ParameterError(f"policy target names unknown or unsimulated cluster(s): {', '.join(map(str, unknown))}")
    mask = np.zeros(C, bool)
    mask[[model.cluster_ids.index(i) for i in ids]] = True
    return mask


REGISTRY: dict[str, type[Policy]] = {}


def build_policies(specs) -> list[Policy]:
    """Policy objects from a list of policies or specification dicts.

    A specification is ``{"policy": <name in REGISTRY>, "start": ..., "end": ...,
    "target": ..., "intensity": ..., <policy-specific keys>}``; unknown policy
    names and unknown keys raise :class:`~sim.params.ParameterError`.
    """
    import dataclasses

    from .params import ParameterError

    out = []
    for i, spec in enumerate(specs or ()):
        if isinstance(spec, Policy):
            out.append(spec)
            continue
        if not isinstance(spec, dict):
            raise ParameterError(f"policy #{i + 1} must be a table/dict, got {type(spec).__name__}")
        spec = dict(spec)
        name = spec.pop("policy", None)
        if name not in REGISTRY:
            known = ", ".join(sorted(REGISTRY)) or "(none registered)"
            raise ParameterError(f"policy #{i + 1}: unknown policy {name!r}; known policies: {known}")
        cls = REGISTRY[name]
        fields = {f.name for f in dataclasses.fields(cls) if f.init}
        unknown = sorted(set(spec) - fields)
        if unknown:
            raise ParameterError(f"policy #{i + 1} ({name}): unknown key(s) {', '.join(unknown)}; "
                                 f"allowed: {', '.join(sorted(fields))}")
        try:
            out.append(cls(**spec))
        except (TypeError, ValueError) as exc:
            raise ParameterError(f"policy #{i + 1} ({name}): {exc}") from None
    return out
