"""The C allocator keeps freed memory: fewer page faults, the same numbers (sim.core.allocator)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Ten 2 MiB arrays alive at once, freed together, fifty times over (the shape of a model
#: quarter's temporaries); prints whether the settings are in force and the minor page faults.
_CHURN = textwrap.dedent("""
    import json, resource, sys
    import numpy as np
    from sim.core.allocator import keep_freed_memory
    on = keep_freed_memory() if sys.argv[1] == "tuned" else False
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(50):
        arrays = [np.ones(1 << 18) for _ in range(10)]
        del arrays
    print(json.dumps({"on": on, "faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0}))
""")


def _python(code: str, *args: str, **env) -> str:
    """Standard output of ``code`` run in a fresh interpreter, the allocator settings of this
    environment removed and ``env`` added."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT,
                          env={**clean, "PYTHONPATH": str(ROOT), **env}, check=True).stdout


def _churn(mode: str, **env) -> dict:
    return json.loads(_python(_CHURN, mode, **env))


def _glibc() -> bool:
    return platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


def test_freed_memory_is_reused_without_new_page_faults():
    plain, tuned = _churn("plain"), _churn("tuned")
    assert tuned["on"] is _glibc()
    if _glibc():  # 50 rounds x 20 MiB of fresh pages (~250,000 faults) against the first round's only
        assert plain["faults"] > 100_000, plain
        assert tuned["faults"] < plain["faults"] / 10, (plain, tuned)


def test_the_environment_keeps_its_own_allocator_settings():
    assert _churn("tuned", MALLOC_ARENA_MAX="2")["on"] is False
    assert _churn("tuned", GLIBC_TUNABLES="glibc.malloc.trim_threshold=131072")["on"] is False


def test_every_engine_run_sets_the_allocator():
    code = textwrap.dedent("""
        import sim.core.allocator as allocator
        from sim.engine.experiments import _run_one
        import pandas as pd
        assert allocator._applied is None
        _run_one(lambda params, seed: pd.DataFrame({"x": [1.0]}), {}, 1, 0, 0)
        print(allocator._applied)
    """)
    assert _python(code).split() == [str(_glibc())]


def test_an_engine_run_gives_the_kept_memory_back():
    """Freed memory is kept within a run but not after it: a worker's size after a run is what it holds."""
    code = textwrap.dedent("""
        import json, os
        import numpy as np
        import pandas as pd
        from sim.core.allocator import keep_freed_memory
        from sim.engine.experiments import _run_one

        def rss():
            return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

        def work(params, seed):
            arrays = [np.ones(1 << 18) for _ in range(40)]  # 80 MiB in 2 MiB arrays, all freed
            del arrays
            return pd.DataFrame({"x": [1.0]})

        on = keep_freed_memory()
        r0 = rss()
        work({}, 1)
        kept = rss() - r0
        _run_one(work, {}, 1, 0, 0)
        print(json.dumps({"on": on, "kept": kept, "after": rss() - r0}))
    """)
    got = json.loads(_python(code))
    assert got["on"] is _glibc()
    if _glibc():
        assert got["kept"] > 60, got    # kept for reuse outside a run
        assert got["after"] < 20, got   # given back at the run's end
