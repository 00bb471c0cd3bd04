"""The source facts of [KRIHS-2020] (S4V-1 to S4V-23) that docs/facts.md judges reproduced or partly.

Each test runs the experiment of ``scripts/source_facts.py`` with the seeds the table was made
with and asserts the checks the table reports as passed (paired t statistics, rank criteria).
A check fails if the mechanism stops producing the pattern.  Facts judged *not reproduced*, *not
testable here* or left to the calibration have no test here (the table says why);
S4V-12 is also tested by ``tests/test_mechanisms.py``, whose set-up the Wonju experiments reuse.
The experiments on the 38 clusters take longer and are marked ``slow``.

Several facts read the same runs (the control arm of the 38 clusters serves four of them, S4V-11
reads S4V-2's platform runs, S4V-12 and S4V-18 share 64 Wonju-like runs).  ``national`` and
``wonju`` cache each run in the process; here each run is also kept on disk for the test session
(``_RunStore``), so that a run one pytest-xdist worker made is read, not made again, by the other.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import importlib.util
import os
import pickle
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("source_facts", ROOT / "scripts" / "source_facts.py")
sf = importlib.util.module_from_spec(_spec)
sys.modules["source_facts"] = sf
_spec.loader.exec_module(sf)

class _RunStore:
    """The runs of ``sf.national`` and ``sf.wonju`` of this test session, on disk, shared by the xdist workers.

    Each run is a pickle named by a hash of the script's cache key (the call with its defaults filled in,
    ``sf.run_cache``), in a folder of the session's base temporary directory that all its workers share (a
    fresh one every session, so code changes never read old runs).  A lock file per run makes the first worker
    to ask make it; another asking meanwhile waits and reads it.  Outside a session (``folder`` None) the
    functions run as they are.
    """

    folder: Path | None = None

    @classmethod
    def wrap(cls, fn):
        @functools.cache
        def by_key(key):
            if cls.folder is None:
                return fn.uncached(**dict(key[1]))
            name = hashlib.sha256(repr(key).encode()).hexdigest()[:32]
            path = cls.folder / f"{name}.pkl"
            with open(cls.folder / f"{name}.lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                if path.exists():
                    return pickle.loads(path.read_bytes())
                out = fn.uncached(**dict(key[1]))
                tmp = path.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_bytes(pickle.dumps(out))
                os.replace(tmp, path)
                return out

        @functools.wraps(fn)
        def stored(*args, **kwargs):
            return by_key(fn.call_key(*args, **kwargs))
        return stored


# the script's own calls (sf.s4v_2 calling national, ...) look the names up in its module: they read the store
sf.national = _RunStore.wrap(sf.national)
sf.wonju = _RunStore.wrap(sf.wonju)


@pytest.fixture(scope="module", autouse=True)
def _shared_runs(tmp_path_factory):
    base = tmp_path_factory.getbasetemp()
    # under xdist each worker's base is popen-gwN inside the session's folder, which the workers share
    folder = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "source_fact_runs"
    folder.mkdir(exist_ok=True)
    _RunStore.folder = folder
    yield
    _RunStore.folder = None


#: Checks of each tested fact that pass (the table's "yes"); a fact absent here has no test in this file.
CLAIMS: dict[str, tuple[str, ...]] = {
    "S4V-2": ("highest", "because of the brokerage"),
    "S4V-3": ("shrinks", "employment falls", "while renewal starts", "inclusiveness rank falls"),
    "S4V-5": ("low external ties", "low betweenness", "cohesive"),
    "S4V-6": ("high performance", "scores as locked within year"),
    "S4V-10": ("institution at the centre", "not a large firm"),
    "S4V-11": ("intermediary at the centre", "no anchor on top"),
    "S4V-12": ("fills its estate", "firms compete for the estate"),
    "S4V-14": ("mentoring ties lost", "skilled pool shrinks"),
    "S4V-15": ("entry suppressed", "growth stops"),
    "S4V-17": ("large-firm entry",),
    "S4V-18": ("fully let",),
    "S4V-20": ("related", "marginal share", "large effect"),
    "S4V-21": ("slow", "few participants"),
}


def _assert_claims(fact_id: str, out) -> None:
    passed = out.passed
    failing = [c for c in CLAIMS[fact_id] if not passed[c]]
    assert not failing, f"{fact_id}: checks no longer pass: {failing}; measured: {out.measured}"


# ----------------------------------------------------------------------------- the table
def _doc_rows() -> list[list[str]]:
    text = (ROOT / "docs" / "facts.md").read_text(encoding="utf-8")
    assert sf.START in text and sf.END in text
    block = text.split(sf.START)[1].split(sf.END)[0]
    return [[c.strip() for c in re.split(r"(?<!\\)\|", ln)[1:-1]] for ln in block.splitlines()
            if ln.startswith("| [KRIHS-2020]")]


def test_facts_doc_lists_every_fact_exactly_once():
    rows = _doc_rows()
    ids = [re.fullmatch(r"\[KRIHS-2020\] (S4V-\d+)", r[0]).group(1) for r in rows]
    assert sorted(ids, key=lambda s: int(s.split("-")[1])) == [f"S4V-{i}" for i in range(1, 24)], ids
    assert all(len(r) == 6 for r in rows), "every row has six columns"
    text = (ROOT / "docs" / "facts.md").read_text(encoding="utf-8")
    assert sf.COMMAND in text and re.search(r"git commit\) [0-9a-f]{7,}", text)


def test_facts_doc_verdicts_agree_with_the_tests():
    """Every fact tested here is reproduced or partly in the table; the others are not (or not tested)."""
    verdicts = {re.search(r"S4V-\d+", r[0]).group(0): r[5] for r in _doc_rows()}
    for fid, v in verdicts.items():
        tested = fid in CLAIMS or fid == "S4V-12"
        assert tested == bool(re.match(r"\*\*(reproduced|partly)\*\*", v)), (fid, v)
    assert sf.MECHANISM_TEST in verdicts["S4V-12"]


def test_facts_doc_checks_are_the_ones_asserted_here():
    """The checks the table marks "yes" are exactly the ones the tests below assert."""
    for r in _doc_rows():
        fid = re.search(r"S4V-\d+", r[0]).group(0)
        if fid not in CLAIMS:
            continue
        yes = tuple(m.group(1) for m in re.finditer(r"(?:Checks: |; )([^:;]+): (yes|no) \(", r[4]) if m.group(2) == "yes")
        assert yes == CLAIMS[fid], (fid, yes)


def test_s4v_12_is_judged_by_the_mechanism_test_with_the_same_set_up():
    """The Wonju experiments reuse the set-up of tests/test_mechanisms.py: same seed, same run."""
    import test_mechanisms

    assert callable(test_mechanisms.test_wonju_can_happen_and_needs_university_and_space)
    assert test_mechanisms._wonju(1) == sf.wonju(1)["firms"][18]


def test_s4v_14_is_the_anchor_loss_of_the_mechanism_test():
    """S4V-14's anchor loss is the set-up of the labour pool's mechanism test in tests/test_mechanisms.py (which adds
    the arm without the pool): same seed, same run."""
    import test_mechanisms

    for exit_ in (True, False):
        assert test_mechanisms._remaining_employment(2, exit_) == sf._anchor_loss(2, exit_)[6]["emp"]


# ----------------------------------------------------------------------------- Wonju-like set-up (fast)
def test_s4v_10():
    _assert_claims("S4V-10", sf.s4v_10())


def test_s4v_12():
    _assert_claims("S4V-12", sf.s4v_12(sensitivity=False))


def test_s4v_15():
    _assert_claims("S4V-15", sf.s4v_15())


def test_s4v_18():
    _assert_claims("S4V-18", sf.s4v_18(sensitivity=False))


# ----------------------------------------------------------------------------- synthetic clusters (fast)
def test_s4v_20():
    _assert_claims("S4V-20", sf.s4v_20())


def test_s4v_21():
    _assert_claims("S4V-21", sf.s4v_21())


# ----------------------------------------------------------------------------- the 38 clusters (slow)
@pytest.mark.slow
def test_s4v_2():
    _assert_claims("S4V-2", sf.s4v_2(sensitivity=False))


@pytest.mark.slow
def test_s4v_3():
    _assert_claims("S4V-3", sf.s4v_3())


@pytest.mark.slow
def test_s4v_5():
    _assert_claims("S4V-5", sf.s4v_5())


@pytest.mark.slow
def test_s4v_6():
    _assert_claims("S4V-6", sf.s4v_6())


@pytest.mark.slow
def test_s4v_14():
    _assert_claims("S4V-14", sf.s4v_14(sensitivity=False))


@pytest.mark.slow
def test_s4v_17():
    _assert_claims("S4V-17", sf.s4v_17())


@pytest.mark.slow
def test_s4v_11():
    _assert_claims("S4V-11", sf.s4v_11())
