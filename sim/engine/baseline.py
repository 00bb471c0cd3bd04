"""The behavioural baseline: a golden record of what the model does, not of how its code reads.

:func:`record` runs a small fixed, seeded simulation (:data:`RUN`: a few clusters, a few
years, default parameters, through :func:`sim.engine.runner.simulate`) and returns

* ``run``: sha256 of its indicator table without the labeller's rows (:data:`LABELS`): the
  model's dynamics, raw indices and flows (:func:`table_hash`); a calibration fits these;
* ``labels``: sha256 of the labeller's rows (scores, typology, stage), which change when the
  scores or the typology classifier change, not the model;
* ``data``: sha256 of each shipped data file (``sim/data/korea_clusters/*.csv``);
* ``versions``: the versions of the key packages (numpy, pandas, pyarrow, scipy, mesa, Python),
  recorded for the reader, never compared: the same model gives the same numbers under
  other versions, or it does not, and the run hash says which.

**Portable arithmetic.**  numpy and OpenBLAS pick code paths by CPU: on a machine with
AVX-512, numpy's float64 ``exp``/``log`` and OpenBLAS's matrix kernels round some results
differently in the last bit, and a seeded run, whose random decisions compare such numbers
with uniform draws, then takes another path.  The same code therefore gives different
tables on different CPUs.  The hashes are computed in a fresh Python process whose
environment (:data:`PORTABLE_ENV`, x86-64 only) switches the AVX-512 paths of numpy off and
pins OpenBLAS to its AVX2 (Haswell) kernels, so that the record names the model's behaviour,
not the machine's.  Runs outside this module use the machine's fastest paths.

The golden record ships as ``sim/engine/baseline.json`` (:func:`golden`); the test
``tests/test_baseline.py`` fails when the current record differs from it, and
``python scripts/regenerate_baseline.py`` rewrites it on purpose after a deliberate change
of the model's behaviour or data. A calibration file records the run hash it was fitted on
(``"baseline"``), so :mod:`calibration.shipped` can warn when the model behaves differently.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import pandas as pd

from sim.core.io import atomic_write_json
from sim.core.provenance import package_versions
from sim.engine.runner import simulate

__all__ = ["RUN", "FORMAT", "GOLDEN_FILE", "LABELS", "VERSION_PACKAGES", "run_table", "table_hash", "run_hash",
           "labels_hash", "data_hashes", "record", "golden", "write_golden", "compare", "equivalent_runs", "current_runs", "PORTABLE_ENV",
           "portable_env", "portable_hashes", "is_portable", "run_portably"]

FORMAT = "clustersim.baseline/1"

#: The fixed run of the baseline: default parameters, seeded, small (well under a second).
RUN: dict = {"seed": 1, "years": 10, "scale": 0.1,
             "clusters": ("wonju_medical_devices", "jeonju_machinery", "daegu_gumi_chemicals",
                          "gangnam_services")}

#: Packages whose versions the record reports (not compared).
VERSION_PACKAGES: tuple[str, ...] = ("numpy", "pandas", "pyarrow", "scipy", "mesa")

#: Indicators computed by the labeller (:class:`sim.indices.scores.Labeller`) and the stage rule,
#: not by the model's dynamics.
LABELS: tuple[str, ...] = ("centripetal", "centrifugal", "typology", "stage")

GOLDEN_FILE = Path(__file__).resolve().with_name("baseline.json")
DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "korea_clusters"


def run_table() -> pd.DataFrame:
    """The indicator table of the baseline run (:data:`RUN`)."""
    return simulate({"scale": RUN["scale"]}, RUN["seed"], years=RUN["years"], clusters=list(RUN["clusters"]))


#: Environment of the portable process on x86-64: numpy without its AVX-512 code paths (the old
#: and the new names of the feature groups; names a numpy does not know are ignored) and OpenBLAS
#: on its AVX2 kernels, each on one thread.
PORTABLE_ENV: dict[str, str] = {
    "NPY_DISABLE_CPU_FEATURES": "AVX512F AVX512CD AVX512_KNL AVX512_KNM AVX512_SKX AVX512_CLX AVX512_CNL "
                                "AVX512_ICL AVX512_SPR X86_V4",
    "OPENBLAS_CORETYPE": "Haswell",
    "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
}
#: The folder that holds the ``sim`` package (put on the portable process's path).
_ROOT = Path(__file__).resolve().parents[2]


def _x86() -> bool:
    """Whether this machine is x86-64, the only one :data:`PORTABLE_ENV` applies to."""
    return platform.machine().lower() in ("x86_64", "amd64")


def portable_env() -> dict[str, str]:
    """The environment of the portable process: this one's, plus :data:`PORTABLE_ENV` on x86-64."""
    env = dict(os.environ)
    if _x86():
        env.update(PORTABLE_ENV)
    env["PYTHONPATH"] = os.pathsep.join([str(_ROOT)] + [x for x in [env.get("PYTHONPATH")] if x])
    return env


def is_portable() -> bool:
    """Whether this process runs with the portable arithmetic (:data:`PORTABLE_ENV`; always true off x86-64)."""
    if not _x86():
        return True
    return all(os.environ.get(k) == v for k, v in PORTABLE_ENV.items())


def run_portably(argv: list[str]) -> None:
    """Run ``python ARGV...`` again with the portable arithmetic in a child process and exit with its code,
    unless this process already has it.

    For the commands that write numbers a test later recomputes (the EMA worked example, the
    archetypes' shock table): written and checked in the same arithmetic, they agree on any
    x86-64 CPU.  The child shares this process's standard streams.  Returns only if nothing had
    to change.
    """
    if is_portable():
        return
    sys.stdout.flush()
    sys.stderr.flush()
    raise SystemExit(subprocess.run([sys.executable, *argv], env=portable_env()).returncode)


def portable_hashes() -> dict[str, str]:
    """``{"run": ..., "labels": ...}`` of the baseline run, computed in a portable process (module docstring)."""
    r = subprocess.run([sys.executable, "-m", "sim.engine.baseline"], env=portable_env(), cwd=str(_ROOT),
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise RuntimeError(f"the portable baseline process failed ({r.returncode}): {r.stderr.strip()[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def table_hash(df: pd.DataFrame) -> str:
    """sha256 of a table's CSV text (columns in order, floats at full precision, ``\\n`` line ends)."""
    text = df.to_csv(index=False, lineterminator="\n", float_format=repr, na_rep="")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def run_hash(df: pd.DataFrame | None = None) -> str:
    """sha256 of the baseline run's indicator table without the labeller's rows (the dynamics).

    Without ``df``, of the baseline run made in the portable process (:func:`portable_hashes`).
    """
    if df is None:
        return portable_hashes()["run"]
    return table_hash(df[~df["indicator"].isin(LABELS)])


def labels_hash(df: pd.DataFrame | None = None) -> str:
    """sha256 of the baseline run's scores, typology and stage rows (without ``df``: portable, as :func:`run_hash`)."""
    if df is None:
        return portable_hashes()["labels"]
    return table_hash(df[df["indicator"].isin(LABELS)])


def data_hashes(data_dir: str | os.PathLike = DATA_DIR) -> dict[str, str]:
    """sha256 of each shipped data file (``*.csv``), by file name."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(Path(data_dir).glob("*.csv"))}


def record() -> dict:
    """The current baseline record: ``format``, ``run``, ``data``, ``versions`` and the run set-up."""
    versions = package_versions(VERSION_PACKAGES)
    h = portable_hashes()
    return {"format": FORMAT, "run": h["run"], "labels": h["labels"], "data": data_hashes(),
            "versions": versions,
            "setup": {**RUN, "clusters": list(RUN["clusters"])}}


@lru_cache(maxsize=1)
def golden() -> dict:
    """The shipped golden record (``sim/engine/baseline.json``); an empty dict if it is missing."""
    try:
        d = json.loads(GOLDEN_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return d if isinstance(d, dict) else {}


def equivalent_runs(gold: dict | None = None) -> set[str]:
    """Run hashes the golden record declares equivalent to its own: the same model code, hashed another way.

    ``"equivalent"`` is a list of ``{"run": hash, "why": text}``; ``python scripts/regenerate_baseline.py
    --same-dynamics WHY`` adds the previous run hash when only the way of hashing changed (for
    example when the hash became portable across CPUs), so that a calibration stamped with it
    is still current.  A regeneration without that flag drops the list.
    """
    gold = golden() if gold is None else gold
    return {e["run"] for e in gold.get("equivalent", []) if isinstance(e, dict) and "run" in e}


def current_runs(gold: dict | None = None) -> set[str]:
    """The run hashes of the model as it behaves now: the golden one and its :func:`equivalent_runs`."""
    gold = golden() if gold is None else gold
    return {gold["run"]} | equivalent_runs(gold) if gold.get("run") else set()


def write_golden(rec: dict | None = None, path: str | os.PathLike = GOLDEN_FILE) -> dict:
    """Write ``rec`` (default: the current :func:`record`) as the golden record; returns it."""
    rec = record() if rec is None else rec
    atomic_write_json(path, rec)
    golden.cache_clear()
    return rec


def compare(current: dict, gold: dict) -> list[str]:
    """The differences between two records that matter (the run hash and the data hashes), as text lines.

    Package versions are not compared; an empty list means the same behaviour.
    """
    out = []
    for key, what in (("run", "run hash (dynamics)"), ("labels", "labels hash (scores, typology, stage)")):
        if current.get(key) != gold.get(key):
            out.append(f"{what} {current.get(key)} != golden {gold.get(key)}")
    cur, old = current.get("data", {}), gold.get("data", {})
    for name in sorted(set(cur) | set(old)):
        if cur.get(name) != old.get(name):
            out.append(f"data file {name}: {cur.get(name) or 'missing'} != golden {old.get(name) or 'missing'}")
    return out


if __name__ == "__main__":  # the portable process of portable_hashes(): one line of JSON
    _df = run_table()
    print(json.dumps({"run": run_hash(_df), "labels": labels_hash(_df)}))
