"""Atomic writes: every output file appears whole or not at all.

Each writer puts the data in a temporary file beside the target (a hidden name ending in
``.tmp``, so that a folder scan can recognise and clean left-overs), flushes it to disk and
renames it over the target with :func:`os.replace`, which is atomic on POSIX and Windows.
A process killed mid-write leaves the previous file (or none) and at most a ``.tmp`` file,
which the next write of the same file removes (:func:`remove_stale_tmp` clears a whole folder).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from collections.abc import Callable
from glob import escape as glob_escape
from pathlib import Path
from typing import Any

__all__ = ["atomic_write", "atomic_write_bytes", "atomic_write_text", "atomic_write_json",
           "atomic_write_csv", "atomic_write_parquet", "atomic_savefig", "json_default", "remove_stale_tmp"]


def atomic_write(path: str | os.PathLike, write: Callable[[Any], None], *, binary: bool = True,
                 fsync: bool = True) -> None:
    """Call ``write(fh)`` on a temporary file beside ``path``, then rename it to ``path``.

    Parameters
    ----------
    path : path-like
        Target file; its folder must exist.
    write : callable
        Receives an open file object (binary unless ``binary=False``) and writes the content.
    binary : bool
        Open the temporary file in binary mode (default) or as UTF-8 text.
    fsync : bool
        Flush the data to disk before the rename (default True).
    """
    path = Path(path)
    _remove_own_leftovers(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with (os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="")) as fh:
            write(fh)
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _remove_own_leftovers(path: Path) -> None:
    """Delete temporary files that an interrupted earlier write of ``path`` left beside it."""
    for stale in path.parent.glob(f".{glob_escape(path.name)}.*.tmp"):
        with contextlib.suppress(OSError):
            stale.unlink()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    atomic_write(path, lambda fh: fh.write(data))


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write(path, lambda fh: fh.write(text), binary=False)


def json_default(o: Any) -> Any:
    """JSON encoder fallback: numpy scalars and arrays, paths, sets; anything else as ``str``."""
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, (set, frozenset)):
        return sorted(o)
    return str(o)


def atomic_write_json(path: str | os.PathLike, obj: Any, *, indent: int | None = 2) -> None:
    """Write ``obj`` as JSON (with a final newline) to ``path`` atomically."""
    atomic_write_text(path, json.dumps(obj, indent=indent, default=json_default) + "\n")


def atomic_write_csv(path: str | os.PathLike, frame, **kw) -> None:
    """Write a DataFrame as CSV to ``path`` atomically (``index=False`` unless given)."""
    kw.setdefault("index", False)
    atomic_write_text(path, frame.to_csv(**kw))


def atomic_write_parquet(path: str | os.PathLike, frame, **kw) -> None:
    """Write a DataFrame as Parquet to ``path`` atomically (``index=False`` unless given)."""
    kw.setdefault("index", False)
    buf = io.BytesIO()
    frame.to_parquet(buf, **kw)
    atomic_write_bytes(path, buf.getvalue())


def atomic_savefig(path: str | os.PathLike, fig, **kw) -> None:
    """Save a matplotlib figure to ``path`` atomically (format from the file suffix)."""
    kw.setdefault("format", Path(path).suffix.lstrip(".") or "png")
    buf = io.BytesIO()
    fig.savefig(buf, **kw)
    atomic_write_bytes(path, buf.getvalue())


def remove_stale_tmp(folder: str | os.PathLike) -> None:
    """Delete the temporary files (hidden, ``.tmp``) that an interrupted atomic write
    (:mod:`sim.core.io`) left directly in ``folder``; sub-folders are not touched."""
    folder = Path(folder)
    if folder.is_dir():
        for p in folder.glob(".*.tmp"):
            if p.is_file():
                p.unlink(missing_ok=True)
