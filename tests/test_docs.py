"""The documentation states what the code does: ODD schedule and README structure."""

from __future__ import annotations

import re
from pathlib import Path

from test_architecture import FLOORS

from sim.model.model import SCHEDULE

ROOT = Path(__file__).resolve().parents[1]


def test_odd_schedule_matches_code_word_for_word():
    text = (ROOT / "docs" / "odd.md").read_text()
    block = text.split("<!-- schedule:start -->")[1].split("<!-- schedule:end -->")[0]
    lines = [ln.strip() for ln in block.strip().splitlines()]
    expected = [f"{i}. **{name}**: {what}" for i, (name, what) in enumerate(SCHEDULE, 1)]
    assert lines == expected


def test_readme_structure_lists_every_module():
    text = (ROOT / "README.md").read_text()
    section = text.split("## Structure")[1].split("\n## ")[0]
    listed = set(re.findall(r"`([\w/]+\.py)`", section))
    modules = {str(p.relative_to(ROOT)) for pkg in ("sim", "scenarios", "calibration")
               for p in (ROOT / pkg).rglob("*.py") if p.name != "__init__.py"}
    missing = sorted(modules - listed)
    assert not missing, f"README structure section misses: {missing}"


def test_readme_floors_match_the_architecture_test():
    """The allowed import order is written once in tests/test_architecture.py and shown in the README."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Structure")[1].split("\n## ")[0]
    shown = re.findall(r"^\| (\d+) \| `([\w.]+)` \|", section, flags=re.M)
    assert [name for _, name in shown] == list(FLOORS)
    assert [int(i) for i, _ in shown] == list(range(len(FLOORS)))
