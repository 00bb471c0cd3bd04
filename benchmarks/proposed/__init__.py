"""Proposed speed-ups for files this benchmark does not own, as unified diffs.

``model.diff``, ``processes.diff`` and ``technology.diff`` (against
``sim/model/model.py``, ``sim/model/processes.py``, ``sim/model/technology.py``) are the patches
proposed in ``docs/performance.md``; apply them to the source tree with
``patch -p1 < benchmarks/proposed/NAME.diff`` from the repository root.  None of
them changes any result: the indicator tables of a seeded run are identical.

:func:`apply` applies them in memory instead, to measure their effect with
``python -m benchmarks --proposed``: it patches the text of the installed
module, refusing if a hunk does not match exactly (the file changed since the
diff was made, or the patch is already in), and re-executes the module in
place, so that everything that looked functions up through the module sees the
new ones.  Call it before anything imports :class:`sim.model.model.ClusterModel`.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
PATCHES = ("model",)  # technology.diff and processes.diff were applied to the source
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


class PatchError(RuntimeError):
    """A proposed patch does not apply to the current source."""


def patch_text(source: str, diff: str, reverse: bool = False) -> str:
    """Apply a unified diff (one file) to ``source``; every context and removed line must match.

    ``reverse=True`` un-applies it (to recognise a file that already has the patch).
    """
    old = source.splitlines(keepends=True)
    out: list[str] = []
    pos = 0
    lines = diff.splitlines(keepends=True)
    i = 0
    while i < len(lines):
        m = _HUNK.match(lines[i])
        if not m:
            i += 1
            continue
        a, b = (3, 4) if reverse else (1, 2)
        start = int(m.group(a)) - 1 if (m.group(b) or "1") != "0" else int(m.group(a))
        if start < pos:
            raise PatchError("overlapping hunks")
        out.extend(old[pos:start])
        pos = start
        i += 1
        while i < len(lines) and not lines[i].startswith("@@"):
            ln = lines[i]
            tag, body = ln[:1], ln[1:]
            if reverse and tag in "+-":
                tag = "+" if tag == "-" else "-"
            if tag in (" ", "-"):
                if pos >= len(old) or old[pos].rstrip("\n") != body.rstrip("\n"):
                    got = old[pos].rstrip("\n") if pos < len(old) else "<end of file>"
                    raise PatchError(f"line {pos + 1}: expected {body.rstrip()!r}, found {got!r}")
                if tag == " ":
                    out.append(old[pos])
                pos += 1
            elif tag == "+":
                out.append(body if body.endswith("\n") else body + "\n")
            elif ln.startswith("\\"):
                pass
            i += 1
    out.extend(old[pos:])
    return "".join(out)


def apply(names=PATCHES) -> list[str]:
    """Apply the named patches to the loaded ``sim`` modules.

    Returns the names of the patches applied; a patch that the source file
    already contains is skipped.
    """
    done = []
    for name in PATCHES:
        if name not in names:
            continue
        module = importlib.import_module(f"sim.{name}")
        src = Path(module.__file__).read_text()
        diff = (HERE / f"{name}.diff").read_text()
        try:
            new = patch_text(src, diff)
        except PatchError as e:
            try:
                patch_text(src, diff, reverse=True)
                continue  # already in the source
            except PatchError:
                pass
            raise PatchError(f"benchmarks/proposed/{name}.diff does not apply to sim/{name}.py: {e}") from None
        exec(compile(new, module.__file__, "exec"), module.__dict__)
        done.append(name)
    return done
