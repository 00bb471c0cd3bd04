"""Regenerate the numbers the classroom lessons quote (``sim/face/lessons.py``, ``docs/app.md``).

Each lesson quotes what it shows over seeds 1-10 (and on the default seed, the one the class sees
first): the lock-in lesson how far related variety falls in its ten years (the mean of the first year
against the mean of the last two); the broker lesson by how much the brokers raise the centrifugal
score in years 8-12 against the lock-in lesson at the same seed; the critical-mass lesson the firm
counts without a push (ten years) and with a three-year x10 startup push (twelve years), how often
the cluster goes on growing by more than a fifth after the push and how often the stage then reads
growing.
Run it after a change of the model's behaviour::

    python scripts/lesson_numbers.py            # print the phrase the texts should contain
    python scripts/lesson_numbers.py --write    # rewrite it in the lesson text and in docs/app.md

``tests/test_app.py`` checks that both texts contain the phrases this script computes.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the model of this checkout, not of an installed copy
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from sim.face.demo import DemoSession  # noqa: E402
from sim.indices.scores import STAGES  # noqa: E402

SEEDS = tuple(range(1, 11))
QUARTERS = 48          # the broker lesson's twelve years
WINDOW = slice(32, None)  # years 8-12
TEN_YEARS = 40         # the lock-in lesson, and the critical-mass lesson without a push
PUSH = (12, 36)        # the critical-mass lesson: three years at x10 startups, then nine at x1
FILES = (ROOT / "sim" / "face" / "lessons.py", ROOT / "docs" / "app.md")
_NUM = r"-?[0-9.]+"
#: The phrases in both texts; the numbers are what this script computes.
PHRASE = re.compile(rf"on \d+ of seeds 1-10 by more than 0\.1 \({_NUM} to {_NUM}; {_NUM} on the default seed\)")
MASS_PHRASE = re.compile(rf"without the push it has {_NUM} to {_NUM} firms after ten years on seeds 1-10 \({_NUM} on the "
                         rf"default seed\); with it, more after twelve years on \d+ of them \({_NUM} on the default "
                         rf"seed, {_NUM} when the push stopped\), grown by more than a fifth since the push stopped on "
                         r"\d+, and the stage then reads \*growing\* on \d+")
LOCK_PHRASE = re.compile(rf"falls in ten years on \d+ of seeds 1-10 \(by {_NUM} to {_NUM}; from {_NUM} to {_NUM} "
                         r"on the default seed\)")
#: A gain the class can see on the plot (the lesson test asks the default seed for as much).
VISIBLE = 0.1


def _centrifugal(lesson: str, seed: int) -> np.ndarray:
    s = DemoSession(lesson=lesson, seed=seed, render=False)
    s.step(QUARTERS, redraw=False)
    return np.asarray(s.history()["centrifugal"], float)


def broker_gains(seeds=SEEDS) -> np.ndarray:
    """Mean centrifugal score in years 8-12 with the brokers minus without them, per seed."""
    return np.array([_centrifugal("broker", s)[WINDOW].mean() - _centrifugal("lock_in", s)[WINDOW].mean()
                     for s in seeds])


def related_variety_drain(seeds=SEEDS) -> np.ndarray:
    """Related variety of the lock-in lesson per seed: mean of the first year and of the last two (rows)."""
    out = []
    for s in seeds:
        d = DemoSession(lesson="lock_in", seed=s, render=False)
        d.step(TEN_YEARS, redraw=False)
        rv = np.asarray(d.history()["related_variety"], float)
        out.append((rv[:4].mean(), rv[-8:].mean()))
    return np.array(out)


def lock_phrase(levels: np.ndarray) -> str:
    """The sentence fragment the lock-in texts quote: on how many seeds related variety falls, and by how much."""
    drop = levels[:, 0] - levels[:, 1]
    down = drop[drop > 0]
    lo, hi = (down.min(), down.max()) if len(down) else (0.0, 0.0)
    return (f"falls in ten years on {len(down)} of seeds 1-10 (by {lo:.2f} to {hi:.2f}; "
            f"from {levels[0, 0]:.2f} to {levels[0, 1]:.2f} on the default seed)")


def critical_mass_runs(seeds=SEEDS) -> np.ndarray:
    """Per seed: firms after ten years without a push; with the push, firms when it stops and after twelve
    years, and whether the stage then reads growing (rows)."""
    out = []
    for s in seeds:
        still = DemoSession(lesson="critical_mass", seed=s, render=False)
        still.step(TEN_YEARS, redraw=False)
        pushed = DemoSession(lesson="critical_mass", seed=s, render=False)
        pushed.set_startup_inflow(10.0)
        pushed.step(PUSH[0], redraw=False)
        pushed.set_startup_inflow(1.0)
        pushed.step(PUSH[1], redraw=False)
        h = pushed.history()
        out.append((still.history()["firms"][-1], h["firms"][PUSH[0]], h["firms"][-1],
                    STAGES[int(h["stage"][-1])] == "growing"))
    return np.array(out, float)


def mass_phrase(runs: np.ndarray) -> str:
    """The sentence fragment the critical-mass texts quote."""
    still, stop, end, growing = runs.T
    return (f"without the push it has {still.min():.0f} to {still.max():.0f} firms after ten years on seeds 1-10 "
            f"({still[0]:.0f} on the default seed); with it, more after twelve years on {(end > still).sum()} of "
            f"them ({end[0]:.0f} on the default seed, {stop[0]:.0f} when the push stopped), grown by more than a "
            f"fifth since the push stopped on {(end > 1.2 * stop).sum()}, and the stage then reads *growing* on "
            f"{int(growing.sum())}")


def phrases() -> list:
    """(pattern, text) of every phrase the texts quote, measured now."""
    return [(LOCK_PHRASE, lock_phrase(related_variety_drain())), (PHRASE, phrase(broker_gains())),
            (MASS_PHRASE, mass_phrase(critical_mass_runs()))]


def phrase(gains: np.ndarray) -> str:
    """The sentence fragment the texts quote."""
    up = gains[gains > VISIBLE]
    lo, hi = (up.min(), up.max()) if len(up) else (0.0, 0.0)
    return f"on {len(up)} of seeds 1-10 by more than {VISIBLE} ({lo:.2f} to {hi:.2f}; {gains[0]:.2f} on the default seed)"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="rewrite the phrase in the lesson text and docs/app.md")
    a = ap.parse_args(argv)
    found = phrases()
    for _, text in found:
        print(text)
    if a.write:
        for f in FILES:
            old = f.read_text(encoding="utf-8")
            for pattern, text in found:
                if len(pattern.findall(old)) != 1:
                    print(f"lesson_numbers: {f} must contain the phrase {pattern.pattern!r} exactly once",
                          file=sys.stderr)
                    return 2
                old = pattern.sub(text, old)
            f.write_text(old, encoding="utf-8")
            print(f"wrote {f.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
