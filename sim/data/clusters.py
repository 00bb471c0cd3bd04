"""The default cluster set: the 38 observed Korean clusters, sized from 2020 data.

Firm counts and mean firm size come from ``economics_2020.csv`` ([KRIHS-2020],
tables 3-3 to 3-5, shipped in ``sim/data/korea_clusters``); the home
sector of each cluster is its ``sector_family`` in ``clusters.csv``.
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd

from sim.core.schema import ParameterError
from sim.data.observed import load_clusters, load_economics


@lru_cache(maxsize=4)
def _table(data_dir: str | None) -> pd.DataFrame:

    cl = load_clusters(None if data_dir is None else f"{data_dir}/clusters.csv")
    ec = load_economics(None if data_dir is None else f"{data_dir}/economics_2020.csv",
                        known_ids=cl["id"])
    tab = cl[["id", "name_en", "sector_family"]].merge(
        ec[["id", "firms", "employees_per_firm"]], on="id", how="left", validate="one_to_one")
    return tab


def in_canonical_order(table: pd.DataFrame) -> pd.DataFrame:
    """The cluster table's rows sorted by cluster id.

    The model processes clusters in the order of its table's rows, and that order is part of its
    random streams. The experiment engine runs every model on a table in this order, so that a
    cluster's results never depend on the order in which the clusters were listed (they may
    still depend on which clusters are simulated together: they share the national pool and
    the outside world).
    """
    return table.sort_values("id", kind="stable").reset_index(drop=True)


def cluster_table(data_dir: str | None = None) -> pd.DataFrame:
    """Per-cluster set-up table: ``id, name_en, sector_family, firms, employees_per_firm``.

    Add a ``firms0`` column to set initial firm counts directly, or a column named
    after a per-cluster model parameter (:data:`sim.model.params.PER_CLUSTER`) to give that
    cluster its own value.
    """
    return _table(data_dir).copy()


def cluster_ids() -> list[str]:
    """Ids of the default clusters, in data order."""
    return list(_table(None)["id"])


def check_ids(ids, table: pd.DataFrame | None = None) -> list[str]:
    """Return ``ids`` as a list; raise :class:`~sim.model.params.ParameterError` naming any repeated
    or unknown id (every command checks its clusters here).

    ``table`` is the cluster table the ids must be in (default: the embedded clusters).
    """

    ids = [ids] if isinstance(ids, str) else list(ids)
    twice = list(dict.fromkeys(str(c) for c in ids if ids.count(c) > 1))
    if twice:
        raise ParameterError(f"cluster id(s) given more than once: {', '.join(twice)} (list each cluster once)")
    known = set((cluster_table() if table is None else table)["id"])
    unknown = [str(c) for c in ids if c not in known]
    if unknown:
        raise ParameterError(f"unknown cluster id(s): {', '.join(unknown)} "
                             f"(run 'clustersim clusters' to list the {len(known)} known ids)")
    return ids
