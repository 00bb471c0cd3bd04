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
import stat
import tempfile
from collections.abc import Callable
from glob import escape as glob_escape
from pathlib import Path
from typing import Any

__all__ = ["atomic_write", "atomic_write_bytes", "atomic_write_text", "atomic_write_json",
           "atomic_write_csv", "atomic_write_parquet", "atomic_savefig", "json_default", "remove_stale_tmp",
           "InputFileError", "read_small_bytes", "read_small_text", "read_small_json", "parse_json", "KB", "MB"]

KB, MB = 1024, 1024 * 1024


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
                with contextlib.suppress(OSError):  # another process's file, or one already gone
                    p.unlink()


# --------------------------------------------------------------------------------------------- reading
class InputFileError(ValueError):
    """An input file that is not a readable regular file of sensible size and encoding.

    The message is one line naming the file, the problem and the fix; ``clustersim`` prints it
    with exit code 2.
    """


def _shown(path) -> str:
    text = str(path)
    return text if text.isprintable() else "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def read_small_bytes(path: str | os.PathLike, *, limit: int, what: str = "file") -> bytes:
    """The bytes of a small input file, read safely.

    The path must name a regular file (not a FIFO, device, socket or folder; checked with
    :func:`os.stat` before opening, and again on the open descriptor, which is opened
    non-blocking) of at most ``limit`` bytes; at most ``limit + 1`` bytes are read, so a file
    growing or lying about its size cannot exhaust memory. Anything else raises
    :class:`InputFileError` with one line naming ``what``, the path, the problem and the fix.
    """
    shown = _shown(path)
    fix = f"pass a {what} that is a regular file of at most {_size(limit)}"
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise InputFileError(f"{shown}: cannot read the {what}: no such file") from None
    except (OSError, ValueError) as exc:
        raise InputFileError(f"{shown}: cannot open the {what} ({_shown(getattr(exc, 'strerror', None) or exc)})"
                             ) from None
    if not stat.S_ISREG(st.st_mode):
        kind = ("a folder" if stat.S_ISDIR(st.st_mode) else "a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode)
                else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
                else "a socket" if stat.S_ISSOCK(st.st_mode) else "not a regular file")
        raise InputFileError(f"{shown}: the {what} is {kind}, not a regular file; {fix}")
    if st.st_size > limit:
        raise InputFileError(f"{shown}: the {what} is too large ({_size(st.st_size)}); {fix}")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise InputFileError(f"{shown}: cannot read the {what} ({_shown(exc.strerror or exc)})") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped between the two checks
            raise InputFileError(f"{shown}: the {what} is not a regular file; {fix}")
        chunks, n = [], 0
        while n <= limit:
            b = os.read(fd, min(1 << 20, limit + 1 - n))
            if not b:
                break
            chunks.append(b)
            n += len(b)
    except OSError as exc:
        raise InputFileError(f"{shown}: cannot read the {what} ({_shown(exc.strerror or exc)})") from None
    finally:
        os.close(fd)
    if n > limit:
        raise InputFileError(f"{shown}: the {what} is too large (over {_size(limit)}); {fix}")
    return b"".join(chunks)


def read_small_text(path: str | os.PathLike, *, limit: int, what: str = "file", encoding: str = "utf-8") -> str:
    """The text of a small input file, read safely (:func:`read_small_bytes`), decoded as
    ``encoding`` (a UTF-8 byte-order mark is dropped); undecodable bytes raise
    :class:`InputFileError` too."""
    data = read_small_bytes(path, limit=limit, what=what)
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise InputFileError(f"{_shown(path)}: the {what} is not {encoding.upper()} text (byte {exc.start}); "
                             f"save it as {encoding.upper()} text") from None
    return text[1:] if text.startswith("\ufeff") else text


def read_small_json(path: str | os.PathLike, *, limit: int, what: str = "JSON file") -> Any:
    """The JSON value of a small input file (:func:`read_small_text`); malformed JSON, nesting
    too deep to parse and integers too long to convert raise :class:`InputFileError`."""
    return parse_json(read_small_text(path, limit=limit, what=what), source=path, what=what)


def parse_json(text: str, *, source: str | os.PathLike, what: str = "JSON file") -> Any:
    """``json.loads(text)``; malformed JSON, nesting too deep to parse and integers too long to
    convert raise :class:`InputFileError` naming ``source``."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputFileError(f"{_shown(source)}: the {what} is not valid JSON: {exc.msg} "
                             f"(line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise InputFileError(f"{_shown(source)}: the {what} is not valid JSON: nesting too deep") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise InputFileError(f"{_shown(source)}: the {what} is not valid JSON: "
                             f"{_shown(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)}") from None


def _size(n: int) -> str:
    return f"{n / MB:.3g} MB" if n >= MB else f"{n / KB:.3g} KB" if n >= KB else f"{n} bytes"
