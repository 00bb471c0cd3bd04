"""Build hook: stamp the git commit of the source tree into the built package (``sim/_build.json``).

Everything else about the package is declared in ``pyproject.toml``. An installed (non-editable)
copy of the package is not a git checkout, so :func:`sim.core.provenance.git_commit` reads the commit
recorded here to put it in every output's manifest.
"""

import json
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


def _commit(root: Path) -> str | None:
    try:
        r = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        if r.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return r.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


class BuildPyWithCommit(build_py):
    def run(self):
        super().run()
        out = Path(self.build_lib) / "sim" / "_build.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"git_commit": _commit(Path(__file__).resolve().parent)}) + "\n")


setup(cmdclass={"build_py": BuildPyWithCommit})
