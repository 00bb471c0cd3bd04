"""Preset lessons for the classroom app (``clustersim demo``).

A lesson is a short explanation for the class plus a parameter preset: values
of model parameters (names and ranges from :mod:`sim.model.params`), the cluster it
runs on (a synthetic "demo cluster" of ``firms`` firms, home sector
``sector``), and optionally policies that switch on by themselves at a given
year (specifications for :func:`scenarios.policies.build_policies`).  The app loads a
lesson with one click; the teacher then presses play and uses the levers as
the text suggests.

The numbers in each text are measured over seeds 1-10 by ``scripts/lesson_numbers.py``
(``tests/test_app.py`` checks that the texts quote what it measures, and re-checks the other claims
for seed 1, the seed the class sees first):

* ``lock_in``: related variety drains (on most seeds of 1-10; ``scripts/lesson_numbers.py``
  measures how far, and the text quotes it) as firms convert to the sector of their trusted
  partners, external linkage stays under 5 %, the centripetal score stays more than 1.4 above
  the centrifugal one and the stage reads path-locked;
* ``broker``: the same cluster with a brokerage platform from year 3 ends (years 8-12)
  with a higher centrifugal score (by 0.1-0.6) and a lower centripetal one (by about
  0.1-0.2); the stage reads path-locked in at least half of the quarters of years 8-12 (it
  may flicker to mature);
* ``critical_mass``: a small cluster in a large country stays small without help; a
  three-year startup push (x10) leaves it larger, and often still growing after the push
  (reputation and free space): the text quotes how often over seeds 1-10, as
  ``scripts/lesson_numbers.py`` measures it.

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


# Settings shared by every lesson: the demo cluster is simulated at full scale in a national
# system eleven times its size (the national pool of entrants comes from it), with enough
# institutions to see them.
_COMMON = {"scale": 1.0, "outside_ratio": 10.0, "institutions_per_1000": 10.0}

# A cluster that closes in on itself: firms convert to the sector of their trusted local partners
# (cognitive lock-in) and seldom branch, ties to the outside are costly, few brokers.
_CLOSING = {
    **_COMMON,
    "init_home_share": 0.45, "convergence_rate": 0.3, "lock_in": 4.0, "recombination_rate": 0.03,
    "external_learning": 0.0, "external_cost": 2.5, "beta_local": 2.0, "beta_pop": 2.0,
    "broker_intros": 1.0, "startup_rate": 0.03, "critical_mass": 50.0, "decay_rate": 0.06,
}

# A brokerage platform with two brokers: they recruit young and old firms (half each), introduce
# them to each other five times as often as usual (lifting the barrier between the groups), build
# trust among their members twice as fast, lower the coordination threshold of a joint move and
# pursue a mission.
_BROKER = {"policy": "living_lab", "start": 3.0, "intensity": 5.0, "brokers": 2.0,
           "members": 0.5, "recombination": 3.0}

LESSONS: dict[str, Lesson] = {lesson.key: lesson for lesson in (
    Lesson(
        key="lock_in",
        title="How a cluster locks in",
        summary="A cluster that only talks to itself gathers in fewer fields: ever less varied, locked in.",
        text=(
            "**The story.** 300 machinery firms. Each quarter firms look for partners within a small tie "
            "budget; they prefer neighbours in the same cluster and big, well-connected firms, and ties to "
            "the outside are costly. A firm whose trusted partners work in another fine sector tends to "
            "convert to it (cognitive lock-in), and such ties make it less likely to branch out.\n\n"
            "**Do.** Press **Play** and let it run for about ten years.\n\n"
            "**Watch.** *Related variety* drains away as firms gather in fewer fine sectors: it "
            "falls in ten years on 8 of seeds 1-10 (by 0.01 to 0.29; from 2.15 to 2.05 on the default seed). "
            "Ties to the outside are so rare that *external linkage* stays under 5 %. "
            "The **centripetal** score stays far above the **centrifugal** one, in the path-locked corner of "
            "the typology plane, and the stage reads **path-locked**.\n\n"
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
            "**year 3** a brokerage platform with two brokers (intermediaries, drawn as squares; their "
            "members are joined to them by dotted lines) opens. Young and old firms do not naturally "
            "trade with each other; the brokers recruit both, introduce them to each other, help trust "
            "grow and organise a joint move into a new related field.\n\n"
            "**Do.** Press **Play**. Compare with the first lesson at the same seed: up to year 3 the two "
            "runs are identical.\n\n"
            "**Watch.** After year 3 young and old firms trade with each other, and in years 8-12 the "
            "**centrifugal** score is higher than without the brokers "
            "(on 8 of seeds 1-10 by more than 0.1 (0.22 to 0.68; 0.46 on the default seed)) "
            "and the **centripetal** score a little lower. "
            "The stage mostly still reads *path-locked* (now and then *mature*): brokers alone rarely unlock "
            "a cluster for good. Add **cheaper "
            "external ties** (lower the external-linkage cost) or a **startup inflow** and see what the "
            "package does.\n\n"
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
        title="Critical mass and the virtuous circle",
        summary="A small cluster stays small; a three-year push leaves it growing by itself.",
        text=(
            "**The story.** 45 firms, most of them in the home sector, in a country of about 500 firms. "
            "Every year new firms and relocating firms choose where to go: towards a related base, "
            "institutions, a reputation for growth and free space. A small cluster gets few of them.\n\n"
            "**Do.** 1. Press **Play** for ten years: the cluster stays small. "
            "2. Press **Reset**, set **Startup inflow** to **x10**, play for **three years**, then set "
            "it back to **x1** and keep playing.\n\n"
            "**Watch.** The *firms* line. During the push the cluster takes a larger share of the "
            "country's entrants; after it, its growth record (reputation) and its free space keep drawing "
            "entrants, so it can keep growing after the push has stopped: "
            "without the push it has 25 to 81 firms after ten years on seeds 1-10 (43 on the default seed); with it, more after twelve years on 10 of them (104 on the default seed, 71 when the push stopped), grown by more than a fifth since the push stopped on 4, and the stage then reads *growing* on 4. "
            "Above the dashed *critical mass* line of home-sector firms, agglomeration adds "
            "to its pull.\n\n"
            "**Ask.** The same rules gave two different futures. What decided which one happened? "
            "Why do many small support programmes spread over many places often achieve less than one "
            "concentrated push? (The country's pool of entrants is finite.)"
        ),
        params={**_COMMON, "init_home_share": 0.8, "critical_mass": 50.0, "critical_mass_gain": 1.5,
                "space_headroom": 10.0},
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
