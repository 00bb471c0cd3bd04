"""Runs ``clustersim`` command lines in forked children of one process (the fuzz of issue 15).

Started by ``tests/robustness/test_robust_files.py`` as a subprocess under a memory limit
(``RLIMIT_AS``, set by the test) and a timeout.  It imports the command line once, then runs
every case of the JSON list in ``argv[1]`` (``{"argv": [...], "cwd": ...}``) in its own forked
child: stdout discarded, stderr captured, an alarm of ``argv[2]`` seconds (a child blocked on a
FIFO is killed by it).  It prints one JSON list: per case the exit code (negative: killed by
that signal), the stderr text, the peak resident memory in kB and the wall time.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import time
import traceback


def _child(argv: list[str], cwd: str, err_path: str, timeout: int) -> None:
    from sim.face.cli import main

    fd = os.open(err_path, os.O_WRONLY | os.O_TRUNC)
    os.dup2(fd, 2)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    signal.alarm(timeout)
    rc = 1
    try:
        os.chdir(cwd)
        rc = main(argv)
    except SystemExit as exc:  # argparse
        rc = exc.code if isinstance(exc.code, int) else 2
    except BaseException:  # noqa: BLE001 - what a user would see
        traceback.print_exc()
        rc = 1
    finally:
        sys.stderr.flush()
        sys.stdout.flush()
        os._exit(int(rc or 0) & 0xFF)


def main() -> None:
    import sim.face.cli  # noqa: F401 - imported once, shared by the forked children

    cases = json.loads(open(sys.argv[1], encoding="utf-8").read())
    timeout = int(sys.argv[2])
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, case in enumerate(cases):
            err_path = os.path.join(tmp, f"err{i}")
            open(err_path, "w").close()
            t0 = time.perf_counter()
            pid = os.fork()
            if pid == 0:
                _child(case["argv"], case["cwd"], err_path, timeout)
            _, status, usage = os.wait4(pid, 0)
            rc = os.waitstatus_to_exitcode(status)
            with open(err_path, encoding="utf-8", errors="replace") as fh:
                err = fh.read()
            results.append({"rc": rc, "stderr": err, "maxrss_kb": usage.ru_maxrss, "seconds": time.perf_counter() - t0})
    print(json.dumps(results))


if __name__ == "__main__":
    main()
