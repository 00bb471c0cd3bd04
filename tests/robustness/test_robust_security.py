"""Security of a research tool (issue #8, part 5).

* Scenario, parameter and data files are data, never code: no ``eval``/``exec``/``compile``
  of strings, no ``pickle``/``marshal``/``shelve``/``dill``/``joblib.load`` of files, no
  ``yaml.load`` without a safe loader, no ``numpy.load(allow_pickle=True)``, no
  ``pandas.read_pickle``, no ``shell=True``, no ``os.system``/``os.popen`` anywhere in
  ``sim/``, ``scenarios/`` and ``calibration/``.  The check reads the source with
  :mod:`ast` (comments and strings do not count; ``import x as y`` aliases do).
* The classroom web app listens on localhost unless told otherwise.
"""

from __future__ import annotations

import ast
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from robustness_helpers import CLI, ROOT, cli_commands, cli_env

PACKAGES = ("sim", "scenarios", "calibration")

#: Builtins that execute strings as code.
EXEC_BUILTINS = {"eval", "exec", "compile", "__import__", "execfile"}
#: Qualified callables that deserialise code or run a shell.
FORBIDDEN = {
    "pickle.load", "pickle.loads", "pickle.Unpickler", "_pickle.load", "_pickle.loads", "cPickle.load",
    "cPickle.loads", "dill.load", "dill.loads", "cloudpickle.load", "cloudpickle.loads", "marshal.load",
    "marshal.loads", "shelve.open", "joblib.load", "pandas.read_pickle", "pd.read_pickle",
    "yaml.unsafe_load", "yaml.full_load", "yaml.unsafe_load_all", "yaml.full_load_all", "torch.load",
    "os.system", "os.popen", "os.execl", "os.execle", "os.execlp", "os.execv", "os.execve", "os.execvp",
    "os.spawnl", "os.spawnlp", "os.spawnv", "os.spawnvp", "commands.getoutput", "code.interact",
    "runpy.run_path", "runpy.run_module", "importlib.machinery.SourceFileLoader",
}
SAFE_YAML_LOADERS = {"SafeLoader", "CSafeLoader", "BaseLoader", "CBaseLoader"}


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def scan_source(text: str, filename: str = "<string>") -> list[str]:
    """Findings ``file:line: what`` for one Python source."""
    tree = ast.parse(text, filename)
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"
    defined = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        where = f"{filename}:{node.lineno}"
        kw = {k.arg: k.value for k in node.keywords if k.arg}
        if isinstance(kw.get("shell"), ast.Constant) and kw["shell"].value is True:
            out.append(f"{where}: shell=True")
        elif "shell" in kw and not isinstance(kw["shell"], ast.Constant):
            out.append(f"{where}: shell=<expression>")
        if name is None:
            continue
        head, _, rest = name.partition(".")
        qual = aliases.get(head, head) + ("." + rest if rest else "")
        if name in EXEC_BUILTINS and name not in aliases and name not in defined:
            out.append(f"{where}: {name}()")
        if qual in FORBIDDEN or name in FORBIDDEN:
            out.append(f"{where}: {qual}()")
        if qual in ("yaml.load", "yaml.load_all"):
            loader = kw.get("Loader") or (node.args[1] if len(node.args) > 1 else None)
            lname = _dotted(loader) if loader is not None else None
            if lname is None or lname.split(".")[-1] not in SAFE_YAML_LOADERS:
                out.append(f"{where}: {qual}() without a safe Loader")
        if qual in ("numpy.load", "np.load"):
            ap = kw.get("allow_pickle")
            if ap is not None and not (isinstance(ap, ast.Constant) and ap.value is False):
                out.append(f"{where}: numpy.load(allow_pickle=...)")
    return out


def source_files() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))


def test_checker_finds_every_pattern():
    """The scanner itself must catch each forbidden pattern (so a refactor cannot blind it)."""
    bad = """
import pickle, pickle as pk, subprocess, os, yaml, numpy as np, pandas as pd, marshal, joblib
from pickle import loads as ld
from shelve import open as shopen
eval("1"); exec("x=1"); compile("1", "f", "eval"); __import__("os")
pickle.load(f); pk.loads(b); ld(b); marshal.loads(b); joblib.load("f"); shopen("db")
yaml.load(s); yaml.load(s, Loader=yaml.Loader); yaml.full_load(s); yaml.unsafe_load(s)
np.load("f", allow_pickle=True); pd.read_pickle("f")
subprocess.run("ls", shell=True); subprocess.Popen(["ls"], shell=flag); os.system("ls"); os.popen("ls")
"""
    found = scan_source(bad)
    for needle in ["eval()", "exec()", "compile()", "__import__()", "pickle.load()", "pickle.loads()",
                   "marshal.loads()", "joblib.load()", "shelve.open()", "yaml.load() without",
                   "yaml.full_load()", "yaml.unsafe_load()", "numpy.load(allow_pickle", "pandas.read_pickle()",
                   "shell=True", "shell=<expression>", "os.system()", "os.popen()"]:
        assert any(needle in f for f in found), (needle, found)
    assert len([f for f in found if "yaml.load() without" in f]) == 2
    ok = """
import yaml, re, subprocess, numpy as np, json, tomllib
yaml.load(s, Loader=yaml.SafeLoader); yaml.safe_load(s); re.compile("x"); json.loads(s); tomllib.loads(s)
subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True); np.load("f.npy")
def evaluate(x): return x
model.eval(); df.eval("a + b")
"""
    assert scan_source(ok) == []


def test_no_code_execution_or_unsafe_deserialisation_in_the_package():
    files = source_files()
    assert len(files) > 10, files
    findings = [f for p in files for f in scan_source(p.read_text(encoding="utf-8"), str(p.relative_to(ROOT)))]
    assert not findings, "unsafe calls in the package:\n" + "\n".join(findings)


# ----------------------------------------------------------------------------- the web app
def _demo_parser():
    from sim.face.cli import build_parser

    ap = build_parser()
    sub = next(a for a in ap._actions if a.__class__.__name__ == "_SubParsersAction")
    return sub.choices.get("demo")


def _require_demo():
    assert "demo" in cli_commands(), "'clustersim demo' is not in 'clustersim --help'"


def test_demo_defaults_to_localhost():
    _require_demo()
    p = _demo_parser()
    host = [a for a in p._actions if "--host" in a.option_strings]
    assert host, "'clustersim demo' has no --host option, so the listening address cannot be chosen"
    assert host[0].default in ("127.0.0.1", "localhost", "::1"), (
        f"'clustersim demo' listens on {host[0].default!r} by default; it must be localhost unless told otherwise")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int) -> list[str]:
    """Local addresses listening on ``port`` (Linux /proc/net/tcp and tcp6)."""
    out = []
    for f, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        try:
            lines = Path(f).read_text().splitlines()[1:]
        except OSError:
            continue
        for ln in lines:
            cols = ln.split()
            local, state = cols[1], cols[3]
            addr, p = local.split(":")
            if state == "0A" and int(p, 16) == port:  # LISTEN
                if v6:
                    out.append("::" if set(addr) == {"0"} else ("::1" if addr.endswith("01000000") and
                                                                  set(addr[:24]) == {"0"} else addr))
                else:
                    out.append(socket.inet_ntoa(bytes.fromhex(addr)[::-1]))
    return out


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/net/tcp")
def test_demo_server_binds_localhost_only(tmp_path):
    """Start the real server with default host and check the socket it listens on."""
    _require_demo()
    p = _demo_parser()
    opts = {o for a in p._actions for o in a.option_strings}
    assert "--port" in opts, "'clustersim demo' has no --port option; cannot start it on a free port"
    port = _free_port()
    args = ["demo", "--port", str(port)] + (["--no-browser"] if "--no-browser" in opts else [])
    proc = subprocess.Popen(CLI + args, cwd=ROOT, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        deadline = time.perf_counter() + 90
        addrs: list[str] = []
        while time.perf_counter() < deadline and proc.poll() is None:
            addrs = _listening(port)
            if addrs:
                break
            time.sleep(0.25)
        if not addrs:
            err = proc.stderr.read() if proc.poll() is not None else ""
            pytest.fail(f"'clustersim demo' did not listen on port {port} within 90 s (exit {proc.poll()}): {err[-1500:]}")
        assert all(a in ("127.0.0.1", "::1") for a in addrs), f"demo listens on {addrs}, not only on localhost"
    finally:
        import os
        import signal

        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


# ----------------------------------------------------------------------------- the websocket's Origin (issue 15)
TEACHER_ORIGIN = "http://teacher.example:8000"


def _stop(proc: subprocess.Popen) -> None:
    import os
    import signal

    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.fixture(scope="module")
def demo_server():
    """``clustersim demo`` on a free port of 127.0.0.1, with one extra allowed origin; yields the port.

    The extra origin comes through ``CLUSTERSIM_DEMO_ALLOW_ORIGINS`` (the same path as ``--allow-origin``,
    which ``tests/test_app.py`` checks), so the server also starts with a version that knows neither.
    """
    _require_demo()
    port = _free_port()
    env = {**cli_env(), "CLUSTERSIM_DEMO_ALLOW_ORIGINS": TEACHER_ORIGIN}
    proc = subprocess.Popen(CLI + ["demo", "--port", str(port)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.perf_counter() + 90
        while time.perf_counter() < deadline and proc.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=2):
                    break
            except OSError:
                time.sleep(0.25)
        else:
            err = proc.stderr.read() if proc.poll() is not None else ""
            pytest.fail(f"'clustersim demo' did not listen on port {port} within 90 s (exit {proc.poll()}): "
                        f"{err[-1500:]}")
        yield port
    finally:
        _stop(proc)


def ws_handshake(port: int, origin: str | None, path: str = "/jupyter/api/kernels/k-test/channels?session_id=s") -> str:
    """The status line the server answers to a raw websocket upgrade request with ``Origin: origin``."""
    import base64
    import os

    key = base64.b64encode(os.urandom(16)).decode()
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Upgrade: websocket", "Connection: Upgrade",
             f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
    if origin is not None:
        lines.append(f"Origin: {origin}")
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    return data.split(b"\r\n", 1)[0].decode("latin-1")


@pytest.mark.parametrize("origin", ["http://evil.example.com", None, "null", "http://127.0.0.1.evil.example.com",
                                    "https://127.0.0.1:{port}", "http://127.0.0.1:{other}"])
def test_demo_websocket_refuses_a_foreign_origin(demo_server, origin):
    """A page of another site must not open the app's websocket (cross-site websocket hijacking): on main,
    ``Origin: http://evil.example.com`` got ``101 Switching Protocols``."""
    if origin is not None:
        origin = origin.format(port=demo_server, other=demo_server + 1)
    status = ws_handshake(demo_server, origin)
    assert status.startswith("HTTP/1.1 403"), f"Origin {origin!r} got {status!r}"


@pytest.mark.parametrize("origin", ["http://127.0.0.1:{port}", "http://localhost:{port}", TEACHER_ORIGIN])
def test_demo_websocket_accepts_its_own_origin_and_configured_ones(demo_server, origin):
    origin = origin.format(port=demo_server)
    status = ws_handshake(demo_server, origin)
    assert status.startswith("HTTP/1.1 101"), f"Origin {origin!r} got {status!r}"
