"""Preset lessons for the classroom app (``clustersim demo``).

A lesson is a short explanation for the class plus a parameter preset: values
of model parameters (names and ranges from :mod:`sim.model.params`), the cluster it
runs on (a synthetic "demo cluster" of ``firms`` firms, home sector
``sector``), and optionally policies that switch on by themselves at a given
year (specifications for :func:`scenarios.policies.build_policies`).  The app loads a
lesson with one click; the teacher then presses play and uses the levers as
the text suggests.

The claims in each text were checked by running the preset over several
seeds (``tests/test_app.py`` re-checks the main one for seed 1):

* ``lock_in``: the centripetal score climbs from about 1.5 to about 2.2 within
  ten years, the centrifugal score stays near -1.5, and the stage settles on
  path-locked;
* ``broker``: the same cluster with a brokerage office from year 3 ends
  (years 8-12) with a centripetal score lower by about 0.9 and more related
  variety than without;
* ``critical_mass``: without help the cluster stays near its 45 firms; a
  two-year startup push (x10) tips it above critical mass and it keeps growing
  after the push ends, in most seeds.

Example
-------
>>> from sim.face.lessons import LESSONS, validate_lesson
>>> sorted(LESSONS)
['broker', 'critical_mass', 'lock_in']
>>> validate_lesson(LESSONS["lock_in"])["convergence_rate"]
0.1
"""

from __future__ import annotations

from dataclasses import dataclass, field

from scenarios.policies import build_policies
from sim.model.params import ParameterError, validate
from sim.model.technology import SECTOR_FAMILIES

__all__ = ["Lesson", "LESSONS", "validate_lesson", "lesson_policies"]


@dataclass(frozen=True)
class Lesson:
    """One preset lesson.

    Attributes
    ----------
    key : str
        Identifier (``clustersim demo --lesson KEY``).
    title : str
        Title shown in the lesson menu.
    summary : str
        One sentence: what the class will see.
    text : str
        Markdown for the teacher and the class: what to do, what to watch, why.
    params : dict
        Model parameter values (validated against :data:`sim.model.params.SCHEMA`).
    firms : int
        Initial firms of the synthetic demo cluster.
    sector : str
        Home sector family of the demo cluster (:data:`sim.model.technology.SECTOR_FAMILIES`).
    policies : tuple of dict
        Policies that switch on by themselves (``build_policies`` specifications;
        ``start``/``end`` in years from the start of the run; the target is the
        demo cluster).
    years : float
        Suggested length of the run.
    watch : tuple of str
        Indicators the text asks the class to watch (names of recorded indicators).
    """

    key: str
    title: str
    summary: str
    text: str
    params: dict = field(default_factory=dict)
    firms: int = 300
    sector: str = "machinery"
    policies: tuple = ()
    years: float = 10.0
    watch: tuple = ()


# Settings shared by every lesson: the demo cluster is simulated at full scale in a
# national system three times its size, with enough institutions to see them.
_COMMON = {"scale": 1.0, "outside_ratio": 3.0, "institutions_per_1000": 10.0}

# A cluster that closes in on itself: firms imitate their local partners, ties to the
# outside are costly, nobody recombines into new fields, few brokers introduce strangers.
_CLOSING = {
    **_COMMON,
    "init_home_share": 0.45, "convergence_rate": 0.3, "lock_in": 4.0, "recombination_rate": 0.03,
    "external_learning": 0.0, "external_cost": 2.5, "beta_local": 2.0, "beta_pop": 2.0,
    "broker_intros": 1.0, "startup_rate": 0.03, "critical_mass": 50.0, "decay_rate": 0.06,
}

# A brokerage office with two brokers: they recruit young and old firms (half each), introduce
# them to each other five times as often as usual and run a collective diversification
# programme (recombination into related sectors ten times as frequent).
_BROKER = {"policy": "living_lab", "start": 3.0, "intensity": 5.0, "brokers": 2.0,
           "members": 0.5, "recombination": 10.0}

LESSONS: dict[str, Lesson] = {lesson.key: lesson for lesson in (
    Lesson(
        key="lock_in",
        title="How a cluster locks in",
        summary="A cluster that only talks to itself becomes ever more specialised and ever less varied.",
        text=(
            "**The story.** 300 machinery firms. Each quarter firms look for partners; they prefer "
            "neighbours in the same cluster and big, well-connected firms, and ties to the outside are "
            "costly. Partners learn from each other, so their technologies converge, and hardly anyone "
            "recombines into a new field.\n\n"
            "**Do.** Press **Play** and let it run for about ten years.\n\n"
            "**Watch.** In the network the sectors merge into one dense core around a few hubs. "
            "*Specialisation* and *hierarchy* climb while *related variety* falls; ties to the outside "
            "are so rare that *external linkage* stays near zero and *internal cohesion* at its maximum. "
            "The **centripetal** score climbs from about 1.5 to about 2.2 while the **centrifugal** score "
            "stays far below the published average (about -1.5): the cluster sits in the path-locked "
            "corner of the typology plane and the stage settles on **path-locked**.\n\n"
            "**Ask.** Each firm acted sensibly. Why is the result risky for the region? "
            "(Try the **technology shock** button once it is locked in.)"
        ),
        params=dict(_CLOSING),
        firms=300,
        years=10.0,
        watch=("specialization", "hierarchy", "related_variety", "external_linkage",
               "centripetal", "centrifugal"),
    ),
    Lesson(
        key="broker",
        title="How a broker renews a locked cluster",
        summary="The same closing cluster, but in year 3 a broker starts introducing old firms to new ones.",
        text=(
            "**The story.** The cluster of *How a cluster locks in* (same rules, same seed), but at "
            "**year 3** a brokerage office with two brokers (intermediaries, drawn as squares) opens. "
            "They recruit young and old firms alike, introduce them to each other and run a joint "
            "programme that helps firms move into related fields.\n\n"
            "**Do.** Press **Play**. Compare with the first lesson at the same seed: up to year 3 the two "
            "runs are identical.\n\n"
            "**Watch.** After year 3 the centripetal score stops climbing and falls back (to about 1.3 in "
            "years 8-12, against about 2.2 without the brokers), and *related variety* recovers. The "
            "centrifugal score does not rise: the scores are the factor scores of the published 2020 "
            "clusters, and in those data related variety goes with low heterophily and low external "
            "linkage, so more related variety counts against the centrifugal side. "
            "The stage still reads *path-locked*: brokers alone rarely unlock a "
            "cluster. Add **cheaper external ties** (lower the external-linkage cost) or a **startup "
            "inflow** and see what the package does.\n\n"
            "**Ask.** Why does a broker have to bring *different* firms together? "
            "(Introductions between similar firms only make them more similar.)"
        ),
        params=dict(_CLOSING),
        firms=300,
        policies=(dict(_BROKER),),
        years=12.0,
        watch=("centripetal", "centrifugal", "related_variety", "specialization"),
    ),
    Lesson(
        key="critical_mass",
        title="Critical mass",
        summary="A small cluster stays small, unless a push takes it past critical mass; then it grows by itself.",
        text=(
            "**The story.** 45 firms, most of them in the home sector. Above a **critical mass** of 60 "
            "home-sector firms every firm attracts more newcomers (suppliers, skilled workers and "
            "customers are already there), and entry becomes four times as strong. Below it, exits "
            "outweigh entries.\n\n"
            "**Do.** 1. Press **Play** for three years: the cluster hovers around 40 firms. "
            "2. Press **Reset**, set **Startup inflow** to **x10**, play for about **two years**, then set "
            "it back to **x1** and keep playing.\n\n"
            "**Watch.** The *home-sector firms* line in the firms panel against the dashed *critical "
            "mass* line. Once it is above the line, the cluster keeps growing on its own, long after the "
            "push has stopped; the stage reads **growing**.\n\n"
            "**Ask.** The same rules gave two different futures. What decided which one happened? "
            "Why do many small support programmes spread over many places often achieve less than one "
            "concentrated push?"
        ),
        params={**_COMMON, "init_home_share": 0.8, "critical_mass": 60.0, "critical_mass_gain": 3.0,
                "startup_rate": 0.06, "space_headroom": 10.0, "exit_rate": 0.1},
        firms=45,
        years=12.0,
        watch=("firms", "startups"),
    ),
)}
"""The preset lessons, by key."""


def validate_lesson(lesson: Lesson) -> dict:
    """Check a lesson; return its complete, validated parameter set.

    Raises :class:`~sim.model.params.ParameterError` naming the lesson and the problem
    (an unknown or out-of-range parameter, an unknown policy or policy key, an
    unknown sector, a non-positive firm count or length).
    """

    where = f"lesson '{lesson.key}'"
    params = validate(lesson.params, source=where)
    if not isinstance(lesson.firms, int) or lesson.firms < 5:
        raise ParameterError(f"{where}: firms must be a whole number of at least 5, got {lesson.firms!r}")
    if lesson.sector not in SECTOR_FAMILIES:
        raise ParameterError(f"{where}: unknown sector {lesson.sector!r}; known: {', '.join(SECTOR_FAMILIES)}")
    if not lesson.years > 0:
        raise ParameterError(f"{where}: years must be positive, got {lesson.years!r}")
    lesson_policies(lesson)
    return params


def lesson_policies(lesson: Lesson) -> list:
    """Fresh policy objects for one run of the lesson (targeting the demo cluster)."""

    specs = [{"target": "all", **spec} for spec in lesson.policies]
    try:
        return build_policies(specs)
    except ParameterError as exc:
        raise ParameterError(f"lesson '{lesson.key}': {exc}") from None
