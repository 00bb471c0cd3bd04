"""Run ``clustersim`` and SIGKILL it at a chosen moment of writing an output file.

Usage (from the tests)::

    python killer.py MODE TARGET -- <clustersim arguments>

``TARGET`` is the absolute path of one output file.  ``MODE``:

``write``
    the process dies *while writing* ``TARGET`` in place: the first half of the bytes
    that ``DataFrame.to_csv`` / ``DataFrame.to_parquet`` / ``Path.write_text`` /
    ``Path.write_bytes`` / ``Figure.savefig`` would have written to that path are on disk,
    then SIGKILL (what a kill does to a file that is not written atomically).  A writer
    that writes a temporary file and renames it never triggers this mode.
``rename``
    the process dies just before ``os.replace``/``os.rename`` puts a file at ``TARGET``.
``first``
    ``write`` or ``rename``, whichever happens first (one run tells whether the file is
    written in place or published by a rename).
``after:<seconds>``
    the process dies ``seconds`` after it starts writing its final outputs (after the first
    call of any of the functions above or of ``os.replace`` on a file in ``TARGET``'s
    folder); used to spread kills over the whole write phase.
``sigint:<glob>``
    Ctrl-C at a fixed point: just after the first ``os.replace`` that publishes a file whose
    name matches ``glob`` (``fnmatch``) anywhere under ``TARGET`` (here a folder), SIGINT goes
    to the whole process group, as a terminal sends it.  The command then handles the
    interrupt as it would handle a user's Ctrl-C (the killer gives it Python's Ctrl-C handler first,
    as at a terminal, even if it was started with SIGINT ignored).

If the trigger never fires the command runs to its end and the exit code is its own.  When it
fires, ``killer: write``, ``killer: rename`` or ``killer: sigint`` is printed to stderr just before the kill.
"""

from __future__ import annotations

import fnmatch
import io
import os
import signal
import sys
import threading
from pathlib import Path


def _die(why: str = "") -> None:
    if why:
        print(f"killer: {why}", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def main() -> int:
    mode, target = sys.argv[1], Path(sys.argv[2]).resolve()
    write_mode = mode in ("write", "first")
    rename_mode = mode in ("rename", "first")
    assert sys.argv[3] == "--"
    argv = sys.argv[4:]
    folder = target.parent

    def is_target(p) -> bool:
        try:
            return Path(os.fspath(p)).resolve() == target
        except TypeError:  # a buffer, not a path
            return False

    def in_folder(p) -> bool:
        try:
            return Path(os.fspath(p)).resolve().parent == folder
        except TypeError:
            return False

    timer_started = threading.Event()

    def start_timer() -> None:
        if mode.startswith("after:") and not timer_started.is_set():
            timer_started.set()
            t = threading.Timer(float(mode.split(":", 1)[1]), _die)
            t.daemon = True
            t.start()

    def half_write(path, data: bytes) -> None:
        with open(path, "wb") as fh:
            fh.write(data[: max(1, len(data) // 2)])
        _die("write")

    import pandas as pd

    real_to_csv, real_to_parquet = pd.DataFrame.to_csv, pd.DataFrame.to_parquet
    real_write_text, real_write_bytes = Path.write_text, Path.write_bytes
    real_replace, real_rename = os.replace, os.rename

    def to_csv(self, path_or_buf=None, *a, **k):
        if path_or_buf is not None and in_folder(path_or_buf):
            start_timer()
        if write_mode and path_or_buf is not None and is_target(path_or_buf):
            buf = io.StringIO()
            real_to_csv(self, buf, *a, **k)
            half_write(path_or_buf, buf.getvalue().encode())
        return real_to_csv(self, path_or_buf, *a, **k)

    def to_parquet(self, path=None, *a, **k):
        if path is not None and in_folder(path):
            start_timer()
        if write_mode and path is not None and is_target(path):
            buf = io.BytesIO()
            real_to_parquet(self, buf, *a, **k)
            half_write(path, buf.getvalue())
        return real_to_parquet(self, path, *a, **k)

    def write_text(self, data, *a, **k):
        if in_folder(self):
            start_timer()
        if write_mode and is_target(self):
            half_write(self, data.encode(k.get("encoding") or "utf-8"))
        return real_write_text(self, data, *a, **k)

    def write_bytes(self, data):
        if in_folder(self):
            start_timer()
        if write_mode and is_target(self):
            half_write(self, bytes(data))
        return real_write_bytes(self, data)

    interrupted = threading.Event()

    def published_match(dst) -> bool:
        if not mode.startswith("sigint:") or interrupted.is_set():
            return False
        try:
            p = Path(os.fspath(dst)).resolve()
        except TypeError:
            return False
        return target in p.parents and fnmatch.fnmatch(p.name, mode.split(":", 1)[1])

    def replace(src, dst, *a, **k):
        if in_folder(dst):
            start_timer()
        if rename_mode and is_target(dst):
            _die("rename")
        out = real_replace(src, dst, *a, **k)
        if published_match(dst):
            interrupted.set()
            print("killer: sigint", file=sys.stderr)
            sys.stderr.flush()
            os.killpg(os.getpgid(0), signal.SIGINT)  # the Python handler raises KeyboardInterrupt here
        return out

    def rename(src, dst, *a, **k):
        if rename_mode and is_target(dst):
            _die("rename")
        return real_rename(src, dst, *a, **k)

    pd.DataFrame.to_csv, pd.DataFrame.to_parquet = to_csv, to_parquet
    Path.write_text, Path.write_bytes = write_text, write_bytes
    os.replace, os.rename = replace, rename
    try:
        from matplotlib.figure import Figure

        real_savefig = Figure.savefig

        def savefig(self, fname, *a, **k):
            if in_folder(fname):
                start_timer()
            if write_mode and is_target(fname):
                buf = io.BytesIO()
                real_savefig(self, buf, *a, **{**k, "format": k.get("format") or Path(fname).suffix[1:]})
                half_write(fname, buf.getvalue())
            return real_savefig(self, fname, *a, **k)

        Figure.savefig = savefig
    except ImportError:  # pragma: no cover
        pass

    if mode.startswith("sigint:"):
        # A command a user runs at a terminal has Python's Ctrl-C handler.  A process started in the
        # background by a non-interactive shell inherits SIGINT as ignored, and Python then leaves it
        # ignored: restore the terminal's situation, which is what this mode emulates.
        signal.signal(signal.SIGINT, signal.default_int_handler)

    from sim.face.cli import main as cli_main

    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
