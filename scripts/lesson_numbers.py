"""Regenerate the numbers the classroom lessons quote (``sim/face/lessons.py``, ``docs/app.md``).

The broker lesson says by how much the brokers raise the centrifugal score in years 8-12 against the
lock-in lesson at the same seed, over seeds 1-10. Run it after a change of the model's behaviour::

    python scripts/lesson_numbers.py            # print the phrase the texts should contain
    python scripts/lesson_numbers.py --write    # rewrite it in the lesson text and in docs/app.md

``tests/test_app.py`` checks that both texts contain the phrase this script computes.
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

SEEDS = tuple(range(1, 11))
QUARTERS = 48          # the broker lesson's twelve years
WINDOW = slice(32, None)  # years 8-12
FILES = (ROOT / "sim" / "face" / "lessons.py", ROOT / "docs" / "app.md")
#: The phrase in both texts; the numbers are what this script computes.
PHRASE = re.compile(r"on \d+ of seeds 1-10 by more than 0\.1 \(-?[0-9.]+ to -?[0-9.]+; -?[0-9.]+ on the default seed\)")
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


def phrase(gains: np.ndarray) -> str:
    """The sentence fragment the texts quote."""
    up = gains[gains > VISIBLE]
    lo, hi = (up.min(), up.max()) if len(up) else (0.0, 0.0)
    return f"on {len(up)} of seeds 1-10 by more than {VISIBLE} ({lo:.2f} to {hi:.2f}; {gains[0]:.2f} on the default seed)"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="rewrite the phrase in the lesson text and docs/app.md")
    a = ap.parse_args(argv)
    text = phrase(broker_gains())
    print(text)
    if a.write:
        for f in FILES:
            old = f.read_text(encoding="utf-8")
            if len(PHRASE.findall(old)) != 1:
                print(f"lesson_numbers: {f} must contain the phrase exactly once", file=sys.stderr)
                return 2
            f.write_text(PHRASE.sub(text, old), encoding="utf-8")
            print(f"wrote {f.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
