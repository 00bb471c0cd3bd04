"""Model v2 at rest: a realistic network scale and a stationary system, as in the observed data.

* Network scale: with the schema defaults every cluster's inclusiveness lies inside the range
  observed in [KRIHS-2020] table 3-2 (0.295-0.808) and its internal links per firm inside the
  observed range of links per establishment (0.04-1.16).
* Stationary at rest: with no policy and no shock, 50 simulated years keep every cluster's
  firm count within x0.5-x2 of its start, the median cluster's employment within x0.8-x1.25 and
  that of three clusters in five within x0.5-x2 (employment swings with a cluster's few anchors), and the rank order of specialisation and related
  variety across clusters between year 0 and year 10 stays close to the start (Spearman >= 0.8;
  the published 2010 -> 2020 rank correlations are 0.89 and 0.93).  The clusters differ in
  their initial home-sector share, set from the rank of their published specialisation
  (2020, else 2010) between 0.2 and 0.8, as the data differ.

Both are marked ``slow`` (about a minute together); CI runs them.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from sim.data.clusters import cluster_table
from sim.data.observed import load_indices_wide
from sim.model.model import ClusterModel

pytestmark = pytest.mark.slow

INCLUSIVENESS = (0.295, 0.808)
LINKS_PER_FIRM = (0.04, 1.16)


def _heterogeneous_table():
    """The 38 clusters with an initial home-sector share that follows their published specialisation rank."""
    tab = cluster_table()
    wide = load_indices_wide().set_index("id")
    spec = wide["specialization_2020"].fillna(wide["specialization_2010"]).reindex(tab["id"])
    rank = spec.rank(method="average").fillna(spec.rank().median()).to_numpy()
    tab["init_home_share"] = 0.2 + 0.6 * (rank - rank.min()) / (rank.max() - rank.min())
    return tab


def test_network_scale_is_inside_the_observed_ranges():
    m = ClusterModel(params={"scale": 0.25}, rng=1, handles=False, record_every=12)
    for _ in range(12):
        m.step()
    last = m.indicators_frame()
    last = last[last.step == last.step.max()].pivot_table(index="cluster", columns="indicator", values="value")
    big = last[last.firms >= 40]
    assert len(big) >= 30
    incl = big["inclusiveness"]
    lpf = big["links"] / big["firms"]
    assert incl.between(*INCLUSIVENESS).all(), incl[~incl.between(*INCLUSIVENESS)]
    assert lpf.between(*LINKS_PER_FIRM).all(), lpf[~lpf.between(*LINKS_PER_FIRM)]


def test_fifty_years_at_rest_are_stationary():
    m = ClusterModel(params={"scale": 0.1}, cluster_table=_heterogeneous_table(), rng=3, handles=False,
                     record_every=40)
    for _ in range(200):
        m.step()
    df = m.indicators_frame()
    piv = {t: df[df.step == t].pivot_table(index="cluster", columns="indicator", values="value")
           for t in (0, 40, 200)}
    ratio = piv[200]["firms"] / piv[0]["firms"]
    assert ratio.between(0.5, 2.0).all(), ratio[~ratio.between(0.5, 2.0)]
    # employment too: new firms grow into their target size and departed anchors are replaced by
    # branch plants (docs/odd.md 7.2, 7.7); before that rule the median cluster lost half its jobs
    # (a cluster's own employment swings with its few anchors' comings and goings: only the median and
    # three clusters in five are bounded; without the two rules, seed 3: median x0.35, 29 % within x0.5-x2)
    emp = piv[200]["employment"] / piv[0]["employment"]
    assert 0.8 <= emp.median() <= 1.25 and emp.between(0.5, 2.0).mean() >= 0.6, emp.describe()
    for name in ("specialization", "related_variety"):
        rho = spearmanr(piv[0][name], piv[40][name], nan_policy="omit")[0]
        assert rho >= 0.8, (name, rho)
    assert np.isfinite(ratio).all()
