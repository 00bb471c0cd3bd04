"""``clustersim demo``: serve the classroom app on this computer.

Registered by :func:`register` (``sim.face.cli`` calls it).  Solara is imported only
when the command runs, so ``import sim`` and every other command work without
the ``app`` extra.
"""

from __future__ import annotations

import argparse
import ipaddress
import socket
import sys

from sim.face.app import ENV, allowed_origins, origins_from_env, parse_origin, serve
from sim.face.demo import (
    DEFAULT_CLUSTER,
    DEFAULT_FIRMS,
    DEFAULT_SEED,
    MAX_FIRMS,
    DemoSession,
    Limits,
)
from sim.face.lessons import LESSONS
from sim.face.options import UserError, add_options, positive
from sim.model.params import ParameterError

INSTALL_HINT = 'the classroom app needs its optional dependencies: pip install "clustersim[app]"'


def _port(text: str) -> int:

    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= v <= 65535:
        raise argparse.ArgumentTypeError(f"must be between 0 and 65535 (0 = any free port), got {text!r}")
    return v


def register(subparsers) -> None:
    """Add the ``demo`` sub-command."""

    p = subparsers.add_parser(
        "demo", help="serve the classroom app (live network, plots, levers, lessons) on localhost",
        description="Serve the classroom app: the firm network of one cluster drawn live, plots of its indices, "
                    "stage and typology, play/pause/step/reset, policy levers and preset lessons. "
                    "Open the printed address in a browser; stop with Ctrl+C.")
    p.add_argument("--port", type=_port, default=8765,
                   help="port to listen on (default %(default)s; 0 = any free port)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default %(default)s, this computer only; another address lets "
                        "other computers on the network control the model)")
    p.add_argument("--cluster", default=DEFAULT_CLUSTER,
                   help="cluster shown in free play (default %(default)s; see 'clustersim clusters')")
    p.add_argument("--firms", type=int, default=DEFAULT_FIRMS,
                   help=f"firms of that cluster at the start; the scale follows (default %(default)s, 5-{MAX_FIRMS})")
    add_options(p, "seed", seed=DEFAULT_SEED)
    p.add_argument("--lesson", choices=sorted(LESSONS), help="open with this preset lesson instead of free play")
    p.add_argument("--open", action="store_true", help="also open the page in the default web browser")
    p.add_argument("--projector", action="store_true",
                   help="start in projector mode: larger text in the pictures, shown one under the other "
                        f"(readable on a 1280 x 720 classroom projector; a switch on the page too; ${ENV['projector']})")
    lim = Limits()
    g = p.add_argument_group(
        "classroom limits", "All browser tabs share one server process; a session that reaches a limit pauses "
                            "with a message on its page. Unset options come from the environment variables "
                            "shown, else the defaults.")
    g.add_argument("--max-firms", type=positive(int), metavar="N",
                   help=f"most firms and institutions of the live cluster; growing past it pauses the run "
                        f"until Reset (${ENV['max_firms']}, default {lim.max_firms})")
    g.add_argument("--max-drawn", type=positive(int), metavar="N",
                   help=f"most nodes drawn in the network picture; a larger network shows its N best-connected "
                        f"nodes (${ENV['max_drawn']}, default {lim.max_drawn})")
    g.add_argument("--max-step-seconds", type=positive(float), metavar="S",
                   help=f"longest one quarter (model step, or layout and drawing) may take before the run "
                        f"pauses (${ENV['max_step_seconds']}, default {lim.max_step_seconds:g})")
    p.add_argument("--allow-origin", action="append", default=[], metavar="URL",
                   help=f"also accept the page's websocket from this origin, e.g. http://teacher-pc.local:8765 "
                        f"(repeatable; also ${ENV['allow_origins']}). By default only the page's own address "
                        f"(--host and --port; on a loopback host also localhost/127.0.0.1) may connect")
    p.set_defaults(func=cmd_demo)


def _limits(a) -> Limits:
    """The classroom limits: the options, else the environment, else the defaults (a bad value: one line)."""
    try:
        env = Limits.from_env()
        given = {k: getattr(a, k) for k in ("max_firms", "max_drawn", "max_step_seconds")
                 if getattr(a, k) is not None}
        return Limits(**{**env.__dict__, **given})
    except ParameterError as exc:
        raise UserError(f"classroom limits: {exc}") from None


def _check_bind(host: str, port: int) -> int:
    """Fail early, in one line, if the address cannot be used; returns the port (a free one for 0)."""

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise UserError(f"--host {host!r} is not an address of this computer; use 127.0.0.1") from None
    family, _, _, _, addr = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(addr)
        except OSError as exc:
            if port:
                raise UserError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); "
                                f"pick another port with --port, or --port 0 for any free one") from None
            raise UserError(f"cannot listen on {host} ({exc.strerror or exc}); use --host 127.0.0.1") from None
        return s.getsockname()[1]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def cmd_demo(a) -> int:

    if not 5 <= a.firms <= MAX_FIRMS:
        raise UserError(f"--firms must be between 5 and {MAX_FIRMS}, got {a.firms}")
    try:
        import solara  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise UserError(INSTALL_HINT) from None
    limits = _limits(a)
    extra = [*a.allow_origin, *origins_from_env()]
    for origin in extra:
        try:
            parse_origin(origin)
        except ValueError as exc:
            raise UserError(f"--allow-origin: {exc}") from None
    # check the settings once here, so that a bad cluster id fails in the terminal, not in the browser
    first = DemoSession(cluster=a.cluster, firms=a.firms, seed=a.seed, lesson=a.lesson, render=False,
                        limits=limits)
    if first.capped:
        raise UserError(f"--max-firms {limits.max_firms} is below the starting size of the cluster "
                        f"({first.status()['firms']} firms); raise --max-firms or lower --firms")
    port = _check_bind(a.host, a.port)
    shown = f"[{a.host}]" if ":" in a.host else a.host
    url = f"http://{'127.0.0.1' if a.host in ('0.0.0.0', '::') else shown}:{port}"
    if not _is_loopback(a.host):
        print(f"clustersim demo: warning: listening on {a.host}: other computers on the network can open "
              f"the page and control the model", file=sys.stderr)
        print("clustersim demo: the page works only at these addresses (add others with --allow-origin): "
              + ", ".join(sorted(allowed_origins(a.host, port, extra))), file=sys.stderr)

    def ready():
        print(f"clustersim demo: open {url} in a web browser (Ctrl+C to stop)", flush=True)


    serve(a.host, port, cluster=a.cluster, firms=a.firms, seed=a.seed, lesson=a.lesson, limits=limits,
          allow_origins=a.allow_origin, open_browser=a.open, on_ready=ready, projector=a.projector)
    return 0
