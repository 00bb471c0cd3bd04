"""The import structure: layers that hold, no cycles, no hidden imports.

The project's modules sit on floors, from the bottom up (the README's "Structure" section
says the same):

====  =================  ==========================================================
 0    ``sim.core``       plumbing: parameter declarations, atomic writes, provenance
 1    ``sim.data``       the shipped observed data and its validated loaders
 2    ``sim.indices``    pure index, score, typology and stage functions
 3    ``sim.plots``      figures: data in, a matplotlib figure out
 4    ``sim.model``      the agent-based model
 5    ``sim.engine``     experiments: runs, designs, the resumable store, backends
 6    ``calibration``    fitting the model to the observed data, validation
 7    ``scenarios``      policies, scenario files, projections
 8    ``sim.face``       the command line, the classroom app, the report
====  =================  ==========================================================

A module may import modules of its own floor and of the floors below it, never above
(an "upward import"), and the imports between modules must not form a cycle. Imports are
read from the source with :mod:`ast`: only module-level imports count, and a function-local
import of a project module, or of anything but an optional heavy dependency
(:data:`OPTIONAL`), is itself a failure, since it would hide the real graph. The package
``sim/__init__.py`` is the one exception: its lazy attributes (``sim.run``, ``sim.simulate``,
``sim.ClusterModel``) are the public facade over the floors.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("sim", "calibration", "scenarios")

#: The floors, bottom first: a module belongs to the first prefix it starts with.
FLOORS: tuple[str, ...] = ("sim.core", "sim.data", "sim.indices", "sim.plots", "sim.model", "sim.engine",
                           "calibration", "scenarios", "sim.face")

#: Third-party modules that may be imported inside a function: optional extras and heavy
#: dependencies needed by one command only.
OPTIONAL: frozenset[str] = frozenset({"solara", "ipyvuetify", "ipywidgets", "reacton", "dask", "distributed",
                                      "ray", "playwright", "uvicorn", "starlette",
                                      "ema_workbench", "networkx"})

#: Package facades whose lazy attributes are allowed to import from any floor.
FACADES: frozenset[str] = frozenset({"sim"})

#: Project modules a module may import inside a function, on demand: the command line imports only
#: the module of the command it runs (``sim.face.cli.COMMAND_MODULES``).  They count as edges of
#: the import graph like module-level imports.
ON_DEMAND: dict[str, frozenset[str]] = {
    "sim.engine.runner": frozenset({"sim.model.model"}),  # the Mesa model, for runs with agent handles
    "sim.face.cli": frozenset({"sim.face.cli_app", "sim.face.cli_calibration", "sim.face.cli_scenarios",
                               "sim.face.cli_sensitivity"}),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def floor_of(module: str) -> int | None:
    for i, prefix in enumerate(FLOORS):
        if module == prefix or module.startswith(prefix + "."):
            return i
    return None


def project_modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}


def _absolute(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(module: str, path: Path, known: set[str]) -> tuple[set[str], list[tuple[int, str]]]:
    """(project modules imported at module level, [(line, name) of function-local imports])."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    top: set[str] = set()
    local: list[tuple[int, str]] = []

    def targets(node) -> list[str]:
        if isinstance(node, ast.Import):
            return [a.name for a in node.names]
        base = _absolute(module, is_package, node)
        out = [base]
        for a in node.names:  # "from pkg import submodule"
            if f"{base}.{a.name}" in known:
                out.append(f"{base}.{a.name}")
        return out

    def walk(node, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                for name in targets(child):
                    if in_function:
                        local.append((child.lineno, name))
                    else:
                        top.add(name)
            walk(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    walk(tree, False)
    project = {n for n in top if n.split(".")[0] in PACKAGES}
    return project, local


def graph() -> tuple[dict[str, set[str]], dict[str, list[tuple[int, str]]]]:
    mods = project_modules()
    known = set(mods)
    edges, locals_ = {}, {}
    for m, p in mods.items():
        top, local = imports_of(m, p, known)
        on_demand = {name for _, name in local if name in ON_DEMAND.get(m, ())}
        edges[m] = {t for t in top | on_demand if t in known and t != m}
        locals_[m] = [(line, name) for line, name in local if name not in on_demand]
    return edges, locals_


def upward_imports(edges: dict[str, set[str]]) -> list[str]:
    bad = []
    for m, targets in sorted(edges.items()):
        if m in FACADES:
            continue
        fm = floor_of(m)
        for t in sorted(targets):
            ft = floor_of(t)
            if t in FACADES or ft is None:
                continue
            if fm is None:
                bad.append(f"{m} is on no floor (add its package to FLOORS)")
            elif ft > fm:
                bad.append(f"{m} (floor {fm}, {FLOORS[fm]}) imports {t} (floor {ft}, {FLOORS[ft]})")
    return bad


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w in FACADES:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index and v not in FACADES:
            visit(v)
    return out


def hidden_imports(locals_: dict[str, list[tuple[int, str]]]) -> list[str]:
    bad = []
    for m, items in sorted(locals_.items()):
        if m in FACADES:
            continue
        for line, name in items:
            if name.split(".")[0] not in OPTIONAL:
                bad.append(f"{m}:{line} imports {name} inside a function")
    return bad


def test_every_module_is_on_a_floor():
    missing = [m for m in project_modules() if m not in FACADES and floor_of(m) is None
               and m not in PACKAGES]
    assert not missing, f"modules on no floor: {missing}"


def test_no_upward_import():
    bad = upward_imports(graph()[0])
    assert not bad, "upward imports (a lower floor must not know a higher one):\n" + "\n".join(bad)


def test_no_import_cycle():
    found = cycles(graph()[0])
    assert not found, "import cycles: " + "; ".join(" -> ".join(c) for c in found)


def test_no_function_local_imports():
    bad = hidden_imports(graph()[1])
    assert not bad, ("function-local imports hide the import graph; move them to the top of the module "
                     "(only optional extras may be imported late: " + ", ".join(sorted(OPTIONAL)) + "):\n"
                     + "\n".join(bad))


@pytest.mark.parametrize("source, expected", [
    ("from sim.engine.runner import run\n", "upward"),          # the model importing the engine
    ("from scenarios.projection import resolve_base\n", "upward"),
    ("def f():\n    from sim.model.model import ClusterModel\n", "hidden"),
])
def test_the_checks_catch_a_violation(tmp_path, source, expected):
    """Each check fails on a deliberately bad module (so the checks themselves can fail)."""
    edges, locals_ = graph()
    mod = "sim.model.bad_example"
    path = tmp_path / "bad_example.py"
    path.write_text(source)
    top, local = imports_of(mod, path, set(project_modules()))
    edges = {**edges, mod: top}
    locals_ = {**locals_, mod: local}
    if expected == "upward":
        assert any(line.startswith(mod) for line in upward_imports(edges))
    else:
        assert any(line.startswith(mod) for line in hidden_imports(locals_))


def test_a_cycle_is_caught():
    edges = {"sim.model.a": {"sim.model.b"}, "sim.model.b": {"sim.model.a"}}
    assert cycles(edges) == [["sim.model.a", "sim.model.b"]]
