"""The classroom app: a live view of one cluster's firm network, with levers.

Start it with ``clustersim demo`` (see ``docs/app.md``); it serves a web page on
``http://127.0.0.1:8765`` that a teacher projects in class:

* the firm network of one cluster, drawn live: colour = sector or role, size =
  degree, institutions as squares, a ring on firms with ties outside the
  cluster; the layout is a force-directed layout that is *kept* from frame to
  frame and only relaxed a little each quarter (new firms start next to their
  partners), so the picture does not jump;
* live plots of the six structural indices, of the centripetal and centrifugal
  scores, of the firm count against critical mass and of the path through the
  typology plane, with the development stage and the typology in words;
* play / pause / step / reset, the seed, and the policy levers, which act on the
  running model without a reset: add a hub institution, a startup inflow, the
  cost of external ties, a broker between old and new firms, a technology shock
  (the policies of :data:`scenarios.policies.REGISTRY`); every model parameter has a
  slider generated from :data:`sim.model.params.SCHEMA`;
* the preset lessons of :mod:`sim.face.lessons`;
* a projector mode (``clustersim demo --projector``, or the Display switch): larger
  type in the pictures, shown one under the other (:data:`sim.face.drawing.PROJECTOR`).

This module is the page only; the work is done below it:
:class:`sim.face.demo.DemoSession` (the model, the levers, the layout and the
pictures; plain Python, what the tests drive), :mod:`sim.face.drawing` (layout
and pictures) and :mod:`sim.face.sliders` (sliders from the schema).  The page
is built with `Solara <https://solara.dev>`_ from small components; they are
created lazily on first access to ``sim.face.app.Page``, so importing this
module never needs Solara; :func:`serve` runs the Solara server.

All browser tabs share one server process.  Each tab has its own
:class:`~sim.face.demo.DemoSession` (own model and lock); Solara handles each
tab's websocket in its own thread and Play steps in a further thread per tab;
the classroom limits (:class:`~sim.face.demo.Limits`: firms, nodes drawn,
seconds per quarter) keep every quarter short, so one tab cannot stall the
others, and the page says when a limit paused the run.  :class:`OriginGuard`
lets only the app's own page (and configured origins) open the websocket.

Why Solara directly and not Mesa's ``SolaraViz``: in Mesa 3.3.1 SolaraViz
re-creates the model whenever a model parameter changes (the levers here must
act on the running model), recomputes the network layout at every frame (nodes
jump), and its Altair backend breaks on pandas 3.
"""

from __future__ import annotations

import html
import os
import re
import socket
import threading
import time
import webbrowser

from sim.face.demo import (
    DEFAULT_CLUSTER,
    DEFAULT_FIRMS,
    DEFAULT_SEED,
    LEVER_TEXT,
    LIMIT_ENV,
    SHOCK_DEFAULT,
    STARTUP_RANGE,
    DemoSession,
    Limits,
)
from sim.face.lessons import LESSONS
from sim.face.sliders import NO_SLIDER, SliderSpec, slider_spec, slider_specs
from sim.model.params import SCHEMA, ParameterError

__all__ = [
    "ENV",
    "OriginGuard",
    "allowed_origins",
    "lever_summary",
    "md_to_html",
    "parse_origin",
    "readout",
    "serve",
]

#: Environment variables through which ``clustersim demo`` configures the page (and the classroom limits,
#: :data:`sim.face.demo.LIMIT_ENV`, and the extra origins allowed to open the page's websocket).
ENV = {"cluster": "CLUSTERSIM_DEMO_CLUSTER", "firms": "CLUSTERSIM_DEMO_FIRMS",
       "seed": "CLUSTERSIM_DEMO_SEED", "lesson": "CLUSTERSIM_DEMO_LESSON", "projector": "CLUSTERSIM_DEMO_PROJECTOR",
       **LIMIT_ENV, "allow_origins": "CLUSTERSIM_DEMO_ALLOW_ORIGINS"}

FREE = "Free play"
PROJECTOR_TEXT = ("Projector: larger text in the pictures, shown one under the other, so that a class can read "
                  "them on a projector (1280 x 720 and up).")
#: Widest the pictures are shown in projector mode (pixels): about their own width, never blown up further.
PROJECTOR_WIDTH = 900
LESSON_TITLES = {lesson.title: key for key, lesson in LESSONS.items()}


# ----------------------------------------------------------------------------- helpers (no Solara)
def _config_from_env() -> dict:
    """Session arguments from the environment set by ``clustersim demo``."""
    cfg: dict = {}
    if os.environ.get(ENV["cluster"]):
        cfg["cluster"] = os.environ[ENV["cluster"]]
    if os.environ.get(ENV["firms"]):
        cfg["firms"] = int(os.environ[ENV["firms"]])
    if os.environ.get(ENV["seed"]):
        cfg["seed"] = int(os.environ[ENV["seed"]])
    if os.environ.get(ENV["lesson"]):
        cfg["lesson"] = os.environ[ENV["lesson"]]
    if os.environ.get(ENV["projector"], "").strip().lower() in ("1", "true", "yes", "on"):
        cfg["projector"] = True
    cfg["limits"] = Limits.from_env()
    return cfg


# ----------------------------------------------------------------------------- the websocket's origin
_ORIGIN = re.compile(r"^(https?)://(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?/?$", re.IGNORECASE)
_LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def parse_origin(text: str) -> str:
    """``text`` as a normalised web origin ``scheme://host:port`` (lower case, port always given).

    Raises :class:`ValueError` for anything that is not ``http(s)://host[:port]``
    (no path, no user, no wildcard).
    """
    m = _ORIGIN.match(text.strip())
    if not m:
        raise ValueError(f"not an origin of the form http://host:port: {text!r}")
    scheme, host, port = m.group(1).lower(), m.group(2).lower(), m.group(3)
    port_n = int(port) if port else (443 if scheme == "https" else 80)
    if not 0 < port_n <= 65535:
        raise ValueError(f"bad port in origin {text!r}")
    return f"{scheme}://{host}:{port_n}"


def _host_in_url(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def allowed_origins(host: str, port: int, extra=()) -> frozenset[str]:
    """The origins whose pages may open the app's websocket: the app's own, plus ``extra``.

    The app's own origin is ``http://<host>:<port>`` of the address the server
    listens on.  On a loopback address the other names of this computer's
    loopback (``127.0.0.1``, ``localhost``, ``[::1]``) count too; on a wildcard
    address (``0.0.0.0``, ``::``) the loopback names, this computer's host name
    and the addresses it resolves to.  Any other name or address must be given
    in ``extra`` (``--allow-origin``).
    """
    names = {_host_in_url(host.lower())}
    loopback = host in ("localhost", "::1") or host.startswith("127.")
    if loopback or host in ("0.0.0.0", "::", ""):
        names.update(_LOOPBACK_NAMES)
    if host in ("0.0.0.0", "::", ""):
        hostname = socket.gethostname()
        names.update({hostname.lower(), socket.getfqdn().lower()})
        try:
            names.update(_host_in_url(info[4][0].lower()) for info in socket.getaddrinfo(hostname, None))
        except OSError:
            pass
    names.discard("")
    out = {f"http://{name}:{int(port)}" for name in names}
    out.update(parse_origin(o) for o in extra)
    return frozenset(out)


class OriginGuard:
    """ASGI middleware: refuse a websocket handshake unless its ``Origin`` header is in ``allowed``.

    A refused handshake is closed before it is accepted, so the client gets
    ``403 Forbidden`` instead of ``101 Switching Protocols``; a handshake without
    ``Origin`` is refused too.  Plain HTTP requests pass unchanged.  This stops
    a page from another site (cross-site websocket hijacking, DNS rebinding)
    from driving a session of the app from a visitor's browser.
    """

    def __init__(self, app, allowed):
        self.app = app
        self.allowed = frozenset(allowed)

    def origin_ok(self, origin: str | None) -> bool:
        if not origin:
            return False
        try:
            return parse_origin(origin) in self.allowed
        except ValueError:
            return False

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket":
            origin = None
            for k, v in scope.get("headers", ()):
                if k.lower() == b"origin":
                    origin = v.decode("latin-1")
                    break
            if not self.origin_ok(origin):
                message = await receive()
                if message["type"] == "websocket.connect":
                    await send({"type": "websocket.close", "code": 1008})
                return
        await self.app(scope, receive, send)


def md_to_html(text: str) -> str:
    """The little Markdown the page uses (paragraphs, ``## heading``, ``**bold**``, ``*italic*``) as HTML.

    The page shows text through plain HTML rather than ``solara.Markdown``, which
    always loads KaTeX from a CDN (a failing request on a computer without internet).
    """

    out = []
    for para in text.strip().split("\n\n"):
        body = html.escape(para.strip(), quote=False)
        body = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", body)
        body = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"<i>\1</i>", body)
        m = re.match(r"^(#{1,4})\s+(.*)$", body, flags=re.DOTALL)
        if m:
            lvl = len(m.group(1)) + 1
            out.append(f"<h{lvl}>{m.group(2)}</h{lvl}>")
        else:
            out.append(f"<p>{body}</p>")
    return "\n".join(out)


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def readout(status: dict) -> str:
    """The read-out line of the page (Markdown): quarter, year, counts, stage, typology, scores."""
    stage = status["stage"].replace("_", "-") or "none"
    typ = status["typology"].replace("_", "-") or "none"
    return (f"## Quarter {status['quarter']} · year {status['years']:.2f} · "
            f"{_count(status['firms'], 'firm', 'firms')} · "
            f"{_count(status['institutions'], 'institution', 'institutions')} · "
            f"{_count(status['ties'], 'tie', 'ties')}\n\n"
            f"**Stage: {stage}** ({status['stage_text']}) · **Typology: {typ}** · "
            f"centripetal {status['centripetal']:+.2f}, centrifugal {status['centrifugal']:+.2f}")


# ----------------------------------------------------------------------------- the Solara page (lazy)
# The components are plain functions here, marked with @_component; _build_page imports Solara on
# first access to ``Page`` and wraps them with ``solara.component``.  Until then the names below are None.
solara = None
ParamSliders = Levers = LiveView = None
_PAGE = None


def _component(fn):
    """Mark ``fn`` as a Solara component, wrapped by :func:`_build_page`.

    (It also keeps the decorator line in the function's source, which Solara's
    hook validator needs to parse a module-level function.)
    """
    fn.is_component = True
    return fn


def _pictures(net_png: bytes, plots_png: bytes) -> None:
    """The network picture and the plots, each in its own column (laid out by the caller)."""
    with solara.Column(classes=["cs-network"]):
        if net_png:
            solara.Image(net_png, width="100%")
    with solara.Column(classes=["cs-plots"]):
        if plots_png:
            solara.Image(plots_png, width="100%")


def _text(md: str, classes=(), style=""):
    return solara.HTML(tag="div", unsafe_innerHTML=md_to_html(md), classes=list(classes), style=style)


class _Controls:
    """The page's reactive state and the callbacks of its buttons (created in every render of the page)."""

    def __init__(self, session: DemoSession):
        self.session = session
        self.frame = solara.use_reactive(0)            # bumped after every step or change of the picture
        self.lever_version = solara.use_reactive(0)    # bumped when a lever moves, at reset and lesson change
        self.params_version = solara.use_reactive(0)   # bumped at reset and lesson change
        self.playing = solara.use_reactive(False)
        self.speed = solara.use_reactive(1)
        self.shock_size = solara.use_reactive(SHOCK_DEFAULT)
        self.seed = solara.use_reactive(session.seed)
        self.error = solara.use_reactive("")

    def play_loop(self, cancel: threading.Event):
        """Runs in its own thread per session (``solara.use_thread``) while Play is on.

        The session checks ``stop`` before every quarter and its limits after
        every quarter, so Pause and a limit stop the run within one quarter.
        """
        def stop():
            return cancel.is_set() or not self.playing.value

        while not stop():
            t0 = time.monotonic()
            try:
                self.session.step(self.speed.value, stop=stop)
            except Exception as exc:  # shown on the page; the loop stops
                self.error.value = f"the model stopped: {exc}"
                self.playing.value = False
                return
            self.frame.value += 1
            if self.session.halted:
                self.playing.value = False
                return
            cancel.wait(max(0.05, 0.25 - (time.monotonic() - t0)))

    def act(self, fn, *args, everything=False):
        """A callback that runs ``fn(*args, *more)``, shows a refused value as an error and redraws."""
        def run(*more):
            try:
                fn(*args, *more)
                self.error.value = ""
            except ParameterError as exc:
                self.error.value = str(exc)
            self.frame.value += 1
            self.lever_version.value += 1
            if everything:
                self.params_version.value += 1
        return run

    def stop_then(self, fn, *args):
        """Like :meth:`act`, but pauses first and re-renders everything (reset, lesson change)."""
        def run(*more):
            self.playing.value = False
            self.act(fn, *args, everything=True)(*more)
        return run


def _slider(spec: SliderSpec, on_value):
    with solara.Tooltip(spec.doc):
        with solara.Column(gap="0px", classes=[f"cs-param-{spec.name}"]):
            label = f"{spec.label}: {spec.value:g}"
            if spec.kind == "int":
                solara.SliderInt(label, value=int(spec.value), min=int(spec.min),
                                 max=int(spec.max), step=1, on_value=on_value)
            else:
                solara.SliderFloat(label, value=spec.value, min=spec.min, max=spec.max,
                                   step=spec.step, on_value=on_value)


@_component
def _param_sliders(session: DemoSession, params_version):
    """One slider per schema parameter, grouped; re-rendered only when the parameters change."""
    _ = params_version.value
    groups: dict[str, list[SliderSpec]] = {}
    for spec in slider_specs(session.params, exclude=NO_SLIDER + ("external_cost",)):
        groups.setdefault(spec.group, []).append(spec)
    for group, specs in groups.items():
        title = "set-up (applies at Reset)" if group == "setup" else f"{group} (act now)"
        with solara.Details(summary=f"Parameters: {title}", expand=False):
            for spec in specs:
                def on_value(v, name=spec.name):
                    session.set_param(name, v)
                    params_version.value += 1
                _slider(spec, on_value)


@_component
def _levers(session: DemoSession, act, lever_version, shock_size):
    """The policy levers; re-rendered only when a lever moves (or at reset)."""
    _ = lever_version.value
    status = session.status()
    solara.HTML(tag="h4", unsafe_innerHTML="Policy levers (act now, no reset)")
    with solara.Tooltip(LEVER_TEXT["hub"]):
        solara.Button(f"Add hub institution ({status['hubs']})", icon_name="mdi-school",
                      on_click=act(session.add_hub), block=True, classes=["cs-hub"])
    with solara.Tooltip(LEVER_TEXT["startup"]):
        with solara.Column(gap="0px", classes=["cs-startup"]):
            solara.SliderFloat(f"Startup inflow: x{status['startup_inflow']:g}",
                               value=status["startup_inflow"], min=STARTUP_RANGE[0],
                               max=STARTUP_RANGE[1], step=0.5, on_value=act(session.set_startup_inflow))
    with solara.Tooltip(LEVER_TEXT["incubator"]):
        solara.Checkbox(label="Incubator: link startups to incumbents", value=status["incubator"],
                        on_value=act(session.set_incubator))
    ext = slider_spec("external_cost", status["external_cost"])
    with solara.Tooltip(LEVER_TEXT["external_cost"]):
        with solara.Column(gap="0px", classes=["cs-external"]):
            solara.SliderFloat(f"External-linkage cost: {status['external_cost']:g}", value=ext.value,
                               min=SCHEMA["external_cost"].low, max=ext.max, step=ext.step,
                               on_value=act(session.set_external_cost))
    with solara.Tooltip(LEVER_TEXT["broker"]):
        solara.Button(f"Add broker old-new ({status['brokers']})", icon_name="mdi-handshake",
                      on_click=act(session.add_broker), block=True, classes=["cs-broker"])
    with solara.Tooltip(LEVER_TEXT["shock"]):
        solara.Button(f"Technology shock ({status['shocks']})", icon_name="mdi-flash", color="error",
                      on_click=lambda: act(session.technology_shock, float(shock_size.value))(),
                      block=True, classes=["cs-shock"])
    solara.SliderFloat(f"Shock size: {shock_size.value:g}", value=shock_size, min=0.5, max=5.0, step=0.5)


def lever_summary(status: dict) -> str:
    """The lever line of the page (Markdown)."""
    levers = [f"startup inflow x{status['startup_inflow']:g}",
              f"incubator {'on' if status['incubator'] else 'off'}",
              f"external-linkage cost {status['external_cost']:g}",
              f"hubs {status['hubs']}", f"brokers {status['brokers']}", f"shocks {status['shocks']}"]
    return "**Levers:** " + " · ".join(levers)


@_component
def _live_view(session: DemoSession, frame, error):
    """Read-out, network, plots, levers and lesson; re-rendered every frame."""
    _ = frame.value
    status, net_png, plots_png = session.view()   # the read-out of the quarter the pictures show
    if error.value:
        solara.Error(error.value)
    if status["halted"]:
        solara.Warning(status["halted"], classes=["cs-limit"])
    _text(readout(status), classes=["cs-readout"], style="font-size: 1.1em")
    if session.projector:   # one under the other, each about as wide as its PNG: large type on a projector
        with solara.Column(classes=["cs-pictures", "cs-projector-view"], style=f"max-width: {PROJECTOR_WIDTH}px"):
            _pictures(net_png, plots_png)
    else:
        with solara.Columns([1, 1], classes=["cs-pictures"]):
            _pictures(net_png, plots_png)
    if status["drawn_note"]:
        _text(status["drawn_note"], classes=["cs-drawn"])
    _text(lever_summary(status), classes=["cs-levers"])
    if status["pending"]:
        solara.Warning("Changed set-up parameters apply at the next Reset: " + ", ".join(status["pending"]))
    if status["log"]:
        _text("**Interventions:** " + "; ".join(f"quarter {q}: {t}" for q, t in status["log"]),
              classes=["cs-log"])
    if session.lesson is not None:
        with solara.Card(f"Lesson: {session.lesson.title}", subtitle=session.lesson.summary):
            _text(session.lesson.text)
    else:
        _text("Free play. Pick a **lesson** in the sidebar for a guided story, or press **Play** and "
              "pull the levers. Hover over a lever or a parameter to see what it does.")


def _playback(ctl: _Controls):
    """Play / pause, step and reset."""
    session, playing = ctl.session, ctl.playing
    with solara.Row(gap="6px"):
        solara.Button("Pause" if playing.value else "Play",
                      icon_name="mdi-pause" if playing.value else "mdi-play", color="primary",
                      on_click=lambda: playing.set(not playing.value), classes=["cs-play"])
        solara.Button("Step", icon_name="mdi-step-forward", disabled=playing.value,
                      on_click=ctl.act(session.step, 1), classes=["cs-step"])
        solara.Button("Reset", icon_name="mdi-restart",
                      on_click=lambda: ctl.stop_then(session.reset, int(ctl.seed.value or 0))(),
                      classes=["cs-reset"])


def _sidebar(ctl: _Controls):
    """Lesson, playback, seed, speed, levers, display and the parameter sliders."""
    session = ctl.session
    current = session.lesson.title if session.lesson else FREE
    solara.Select("Lesson", values=[FREE, *LESSON_TITLES], value=current,
                  on_value=lambda t: ctl.stop_then(session.choose_lesson, LESSON_TITLES.get(t))())
    _playback(ctl)
    solara.InputInt("Seed (applies at Reset)", value=ctl.seed, continuous_update=False, classes=["cs-seed"])
    solara.SliderInt(f"Quarters per frame: {ctl.speed.value}", value=ctl.speed, min=1, max=8)
    Levers(session, ctl.act, ctl.lever_version, ctl.shock_size)
    solara.HTML(tag="h4", unsafe_innerHTML="Display")
    solara.ToggleButtonsSingle(value=session.colour_by, values=["sector", "role"],
                               on_value=ctl.act(session.set_colour_by))
    with solara.Tooltip(PROJECTOR_TEXT), solara.Column(gap="0px", classes=["cs-projector"]):
        solara.Checkbox(label="Projector: large text", value=session.projector,
                        on_value=ctl.act(session.set_projector))
    solara.HTML(tag="h4", unsafe_innerHTML="Model parameters")
    ParamSliders(session, ctl.params_version)


@_component
def _page():
    session: DemoSession = solara.use_memo(lambda: DemoSession(**_config_from_env()), [])
    ctl = _Controls(session)
    solara.use_thread(ctl.play_loop, dependencies=[ctl.playing.value], intrusive_cancel=False)
    solara.Title("clustersim classroom")
    with solara.Sidebar():
        _sidebar(ctl)
    with solara.Column(gap="8px"):
        LiveView(session, ctl.frame, ctl.error)


def _build_page():
    """Import Solara and create the components; returns the page component."""
    global solara, ParamSliders, Levers, LiveView
    import solara as solara_module

    solara = solara_module
    ParamSliders = solara.component(_param_sliders)
    Levers = solara.component(_levers)
    LiveView = solara.component(_live_view)
    return solara.component(_page)


def __getattr__(name):
    global _PAGE
    if name == "Page":
        if _PAGE is None:
            _PAGE = _build_page()
        return _PAGE
    raise AttributeError(f"module 'sim.face.app' has no attribute {name!r}")


# ----------------------------------------------------------------------------- the server
def origins_from_env() -> list[str]:
    """Extra allowed origins from :data:`ENV` ``allow_origins`` (separated by commas or spaces)."""
    return [o for o in re.split(r"[,\s]+", os.environ.get(ENV["allow_origins"], "")) if o]


def serve(host: str = "127.0.0.1", port: int = 8765, *, cluster: str = DEFAULT_CLUSTER,
          firms: int = DEFAULT_FIRMS, seed: int = DEFAULT_SEED, lesson: str | None = None,
          limits: Limits | None = None, allow_origins=(), open_browser: bool = False, on_ready=None,
          projector: bool = False) -> None:
    """Serve the page with Solara's server (uvicorn) until interrupted.

    The session settings (``projector``: every new tab starts in projector mode; without it
    the environment decides) and the classroom ``limits`` travel through
    environment variables (:data:`ENV`), which every browser tab reads when it
    creates its own :class:`DemoSession`.  The server is wrapped in
    :class:`OriginGuard`: only pages of :func:`allowed_origins` (the app's own
    address, plus ``allow_origins`` and :data:`ENV` ``allow_origins``) may open
    the websocket.  Telemetry is switched off and assets come from
    ``solara-assets`` (no network access is needed).
    """
    limits = limits if limits is not None else Limits.from_env()
    allowed = allowed_origins(host, port, [*allow_origins, *origins_from_env()])
    os.environ[ENV["cluster"]] = cluster
    os.environ[ENV["firms"]] = str(int(firms))
    os.environ[ENV["seed"]] = str(int(seed))
    os.environ[ENV["lesson"]] = lesson or ""
    if projector:
        os.environ[ENV["projector"]] = "1"
    os.environ.update(limits.to_env())
    os.environ["SOLARA_APP"] = "sim.face.app"
    os.environ["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] = "False"
    os.environ.setdefault("SOLARA_MODE", "production")
    os.environ["SERVER_NAME"] = host
    os.environ["SERVER_PORT"] = str(port)
    import uvicorn
    from solara.server import settings

    settings.main.mode = "production"
    settings.telemetry.mixpanel_enable = False
    from solara.server.starlette import app as solara_app

    config = uvicorn.Config(OriginGuard(solara_app, allowed), host=host, port=port, log_level="warning",
                            access_log=False)
    server = uvicorn.Server(config)

    def announce():

        while not server.started and not server.should_exit:
            time.sleep(0.05)
        if server.started:
            if on_ready is not None:
                on_ready()
            if open_browser:

                webbrowser.open(f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}")

    threading.Thread(target=announce, daemon=True).start()
    server.run()

