"""The classroom app without a browser: lessons, sliders, levers, layout, pictures, command.

The browser test is ``tests/e2e/test_app_browser.py``.  Tests that build the
Solara page skip when Solara is not installed (the ``app`` extra); everything
else needs only the core dependencies.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from sim.face.app import (
    OriginGuard,
    allowed_origins,
    lever_summary,
    md_to_html,
    parse_origin,
    readout,
)
from sim.face.demo import (
    DEFAULT_CLUSTER,
    LIMIT_ENV,
    STAGE_TEXT,
    TYPOLOGY_TEXT,
    DemoSession,
    Limits,
    scale_for,
)
from sim.face.drawing import DPI, StableLayout, text_sizes_px
from sim.face.lessons import LESSONS, Lesson, lesson_policies, validate_lesson
from sim.face.sliders import NO_SLIDER, slider_spec, slider_specs
from sim.indices.scores import STAGES, TYPOLOGIES
from sim.model.params import SCHEMA, ParameterError
from sim.plots.plane import PLANE_AXES


def _run(session: DemoSession, quarters: int) -> dict:
    """Advance without drawing (fast) and return the history."""
    session.step(quarters, redraw=False)
    return session.history()


# ----------------------------------------------------------------------------- lessons
@pytest.mark.parametrize("key", sorted(LESSONS))
def test_lessons_are_valid_against_the_schema_and_registry(key):
    lesson = LESSONS[key]
    assert lesson.key == key and lesson.title and lesson.summary and len(lesson.text) > 200
    params = validate_lesson(lesson)
    assert set(params) == set(SCHEMA)
    for name, value in lesson.params.items():
        assert params[name] == SCHEMA[name].check(value)
    pols = lesson_policies(lesson)
    assert len(pols) == len(lesson.policies)
    assert lesson_policies(lesson)[0] is not pols[0] if pols else True   # fresh objects each run
    s = DemoSession(lesson=key, render=False)
    recorded = set(s.model.latest())
    assert set(lesson.watch) <= recorded, set(lesson.watch) - recorded
    assert s.model.cluster_ids == ["demo_cluster"]
    assert abs(s.status()["firms"] - lesson.firms) <= max(3, lesson.firms // 10)


def test_bad_lessons_are_refused():
    good = LESSONS["lock_in"]
    for bad, needle in (
        (Lesson("x", "t", "s", "text", params={"no_such_param": 1}), "unknown parameter"),
        (Lesson("x", "t", "s", "text", params={"startup_rate": 99.0}), "out of range"),
        (Lesson("x", "t", "s", "text", policies=({"policy": "no_such_policy"},)), "unknown policy"),
        (Lesson("x", "t", "s", "text", policies=({"policy": "living_lab", "bogus": 1},)), "unknown key"),
        (Lesson("x", "t", "s", "text", sector="space"), "unknown sector"),
        (Lesson("x", "t", "s", "text", firms=2), "at least 5"),
    ):
        with pytest.raises(ParameterError, match=needle):
            validate_lesson(bad)
    assert validate_lesson(good)


def test_lesson_claims_hold_for_seed_1():
    """What the lesson texts promise, checked on the default seed (the class sees seed 1 first)."""
    # lock-in: related variety drains (how far, over seeds 1-10, is the lesson numbers' test below), ties stay
    # inside, the lock-in gap stays wide and the stage is path-locked
    h = _run(DemoSession(lesson="lock_in", render=False), 40)
    cp, cf = h["centripetal"], h["centrifugal"]
    assert h["related_variety"][-8:].mean() < h["related_variety"][:4].mean()
    assert h["external_linkage"].max() < 5.0
    assert (cp - cf).min() > 1.4
    assert STAGES[int(h["stage"][-1])] == "path_locked"
    # broker: the same seed, with brokers from year 3: in years 8-12 a higher centrifugal and a lower
    # centripetal score than without them, and path-locked in at least half of those quarters
    base = _run(DemoSession(lesson="lock_in", render=False), 48)
    brok = _run(DemoSession(lesson="broker", render=False), 48)
    assert np.allclose(base["firms"][:12], brok["firms"][:12])          # identical until the broker opens
    assert brok["centrifugal"][32:].mean() > base["centrifugal"][32:].mean() + 0.1
    assert brok["centripetal"][32:].mean() < base["centripetal"][32:].mean()
    assert np.mean([STAGES[int(x)] == "path_locked" for x in brok["stage"][32:]]) >= 0.5
    # critical mass: stays small without help; after a three-year x10 startup push it is larger and has
    # grown since the push stopped (how often over seeds 1-10, and whether the stage reads growing, is
    # what the lesson numbers' test below checks)
    still = _run(DemoSession(lesson="critical_mass", render=False), 40)
    assert still["firms"][-1] < 70
    s = DemoSession(lesson="critical_mass", render=False)
    s.set_startup_inflow(10.0)
    _run(s, 12)
    s.set_startup_inflow(1.0)
    pushed = _run(s, 36)
    assert pushed["firms"][-1] > pushed["firms"][12] and pushed["firms"][-1] > still["firms"][-1] + 30


@pytest.mark.slow
def test_lesson_numbers_are_the_ones_the_script_measures():
    """The numbers the three lessons quote (lesson texts and docs/app.md) are what
    scripts/lesson_numbers.py measures on the current model: run it with --write after a change of the
    model's behaviour."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scripts" / "lesson_numbers.py"
    spec = importlib.util.spec_from_file_location("lesson_numbers", path)
    ln = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ln)
    for _, text in ln.phrases():
        for f in ln.FILES:
            assert text in f.read_text(encoding="utf-8"), (f.name, text)


# ----------------------------------------------------------------------------- sliders from the schema
def test_slider_specs_are_generated_from_the_schema():
    specs = slider_specs()
    names = [s.name for s in specs]
    assert names == [n for n, p in SCHEMA.items() if n not in NO_SLIDER and p.kind != "bool"]
    for s in specs:
        p = SCHEMA[s.name]
        lo, hi = p.sa_bounds
        assert p.low <= s.min <= s.max <= p.high
        assert s.min <= min(lo, p.default) + 1e-12 or s.min == p.low
        assert s.max >= max(hi, p.default) - 1e-12 or s.max == p.high
        assert s.min <= s.value == p.default <= s.max
        assert s.doc == p.doc and s.group == p.group and s.kind == p.kind
        assert s.live == (p.group != "setup")
        assert 0 < s.step <= (s.max - s.min) / 10 or s.kind == "int"
        if s.kind == "int":
            assert s.step == 1


def test_slider_range_widens_to_the_current_value_but_not_beyond_the_bounds():
    p = SCHEMA["external_cost"]
    s = slider_spec("external_cost", 6.0)            # beyond the SA range (0.5, 4), inside the bounds
    assert s.max == 6.0 and s.value == 6.0 and s.min == p.sa_bounds[0]
    with pytest.raises(ParameterError, match="out of range"):
        slider_spec("external_cost", p.high + 1)
    # a lesson's values all fit on their sliders
    for lesson in LESSONS.values():
        for spec in slider_specs(validate_lesson(lesson)):
            assert spec.min <= spec.value <= spec.max


def test_stage_and_typology_texts_cover_every_code():
    assert set(STAGE_TEXT) == set(STAGES)
    assert set(TYPOLOGY_TEXT) == set(TYPOLOGIES)


# ----------------------------------------------------------------------------- the session and its levers
@pytest.fixture(scope="module")
def fresh():
    def make(**kw):
        return DemoSession(render=False, **kw)
    return make


def test_default_session_shows_a_few_hundred_firms_of_one_cluster(fresh):
    s = fresh()
    assert s.model.cluster_ids == [DEFAULT_CLUSTER]
    assert s.model.p["scale"] == pytest.approx(scale_for(DEFAULT_CLUSTER, 300))
    st = s.status()
    assert 250 <= st["firms"] <= 350 and st["institutions"] >= 1 and st["ties"] > 50
    assert st["quarter"] == 0 and st["stage"] in STAGES and st["typology"] in TYPOLOGIES
    s.step(3)
    assert s.status()["quarter"] == 3
    h = s.history()
    assert list(h["t"]) == [0, 1, 2, 3] and np.isfinite(h["home_firms"]).all()


def test_bad_session_settings_are_refused(fresh):
    with pytest.raises(ParameterError, match="unknown cluster"):
        fresh(cluster="atlantis")
    with pytest.raises(ParameterError, match="firms"):
        fresh(firms=1)
    with pytest.raises(ParameterError, match="unknown lesson"):
        fresh(lesson="nope")
    s = fresh()
    with pytest.raises(ParameterError, match="seed"):
        s.reset(seed=-1)
    with pytest.raises(ParameterError, match="unknown parameter"):
        s.set_param("no_such", 1)
    with pytest.raises(ParameterError, match="out of range"):
        s.set_param("decay_rate", 5.0)
    with pytest.raises(ParameterError, match="startup inflow"):
        s.set_startup_inflow(100.0)


def test_same_seed_same_run_and_reset_with_a_new_seed(fresh):
    a, b = fresh(seed=7), fresh(seed=7)
    ha, hb = _run(a, 6), _run(b, 6)
    assert np.array_equal(ha["firms"], hb["firms"]) and np.array_equal(ha["links"], hb["links"])
    a.reset(seed=8)
    assert a.seed == 8 and a.quarter == 0
    assert not np.array_equal(_run(a, 6)["links"], ha["links"])


def test_hub_lever_places_institutions_in_the_running_model(fresh):
    s = fresh()
    _run(s, 4)
    before = s.status()["institutions"]
    s.add_hub()
    assert s.quarter == 4                                   # no reset
    s.step()
    st = s.status()
    assert st["institutions"] == before + 2 and st["hubs"] == 1
    assert any("hub" in text for _, text in st["log"])


def test_startup_inflow_lever_raises_startups(fresh):
    base, pushed = fresh(seed=3), fresh(seed=3)
    _run(base, 2)
    _run(pushed, 2)
    pushed.set_startup_inflow(6.0)
    pushed.set_incubator(True)
    hb, hp = _run(base, 8), _run(pushed, 8)
    # the national pool is finite: x6 attractiveness draws a larger share of it, not six times the startups
    assert hp["startups"][2:].sum() > 1.3 * max(hb["startups"][2:].sum(), 1)
    assert pushed.status()["startup_inflow"] == 6.0 and pushed._startup_policy.incubator_link == 0.5
    pushed.set_startup_inflow(1.0)                           # back to no policy: the lever is neutral
    pushed.step()
    assert pushed.model.levers["entry_mult"][0] == 1.0


def test_external_cost_lever_acts_now(fresh):
    s = fresh()
    assert s.set_param("external_cost", 0.0) is True
    assert s.model.p["external_cost"] == 0.0 and (s.model.cpar["external_cost"] == 0.0).all()
    s.set_external_cost(6.0)
    assert s.external_cost == 6.0
    cheap, dear = fresh(seed=5), fresh(seed=5)
    cheap.set_external_cost(0.0)
    dear.set_external_cost(6.0)
    assert _run(cheap, 12)["external_linkage"][-4:].mean() > _run(dear, 12)["external_linkage"][-4:].mean()


def test_broker_lever_opens_a_broker_between_old_and_new_firms(fresh):
    s = fresh()
    _run(s, 2)
    before = s.status()["institutions"]
    s.add_broker()
    s.step()
    assert s.status()["institutions"] >= before + 1
    assert s.model.levers["broker_mult"][0] > 1.0           # brokerage raised this quarter
    s.add_broker()
    s.step()
    assert s.status()["brokers"] == 2 and s.status()["institutions"] >= before + 2


def test_technology_shock_button(fresh):
    s = fresh()
    _run(s, 2)
    assert s.model.shock[0] == 0
    s.technology_shock(3.0)
    s.step()
    assert s.model.shock[0] > 2.0 and s.status()["shocks"] == 1
    s.step()
    assert 0 < s.model.shock[0] < 3.0                         # it fades


def test_setup_parameters_wait_for_reset(fresh):
    s = fresh()
    assert s.set_param("init_home_share", 0.9) is False
    assert s.model.p["init_home_share"] == 0.45 and s.status()["pending"] == ["init_home_share"]
    s.reset()
    assert s.model.p["init_home_share"] == 0.9 and s.status()["pending"] == []
    s.choose_lesson("critical_mass")                           # a lesson drops the teacher's changes
    assert s.model.p["init_home_share"] == LESSONS["critical_mass"].params["init_home_share"]
    s.choose_lesson(None)
    assert s.lesson is None and s.model.cluster_ids == [DEFAULT_CLUSTER]


def test_levers_are_neutral_again_after_reset(fresh):
    s = fresh()
    s.add_hub()
    s.set_startup_inflow(4.0)
    s.set_external_cost(3.0)
    s.step()
    s.reset()
    st = s.status()
    assert (st["hubs"], st["startup_inflow"], st["brokers"], st["shocks"]) == (0, 1.0, 0, 0)
    assert st["external_cost"] == 3.0        # a parameter the teacher set stays set
    assert s.model.policies == []


# ----------------------------------------------------------------------------- classroom limits (issue 15)
#: Slider values inside their ranges that make the default cluster double every quarter (with inflow x10).
RUNAWAY = {"startup_rate": 0.3, "spinoff_rate": 0.2, "critical_mass": 30.0, "critical_mass_gain": 5.0,
           "exit_rate": 0.02, "space_headroom": 20.0}


def _runaway(limits: Limits, render: bool = False) -> DemoSession:
    """Valid values that make the demo cluster grow fast: a large pool, strong pull and twenty times its space."""
    s = DemoSession(render=render, limits=limits)
    for name, value in RUNAWAY.items():
        s.set_param(name, value)
    s.reset()
    s.set_startup_inflow(10.0)
    return s


def test_limits_have_safe_defaults_come_from_the_environment_and_refuse_bad_values():
    d = Limits()
    assert 2000 < d.max_firms <= 20000 and 500 <= d.max_drawn <= d.max_firms and 0 < d.max_step_seconds <= 30
    assert Limits.from_env({}) == d
    env = {LIMIT_ENV["max_firms"]: "800", LIMIT_ENV["max_drawn"]: "300", LIMIT_ENV["max_step_seconds"]: "2.5"}
    lim = Limits.from_env(env)
    assert (lim.max_firms, lim.max_drawn, lim.max_step_seconds) == (800, 300, 2.5)
    assert Limits.from_env(lim.to_env()) == lim
    for bad in ({"max_firms": 0}, {"max_firms": 10**9}, {"max_drawn": 2.5}, {"max_step_seconds": 0},
                {"max_step_seconds": float("nan")}, {"max_firms": True}):
        with pytest.raises(ParameterError):
            Limits(**bad)
    with pytest.raises(ParameterError, match=LIMIT_ENV["max_firms"]):
        Limits.from_env({LIMIT_ENV["max_firms"]: "lots"})


def test_session_reads_its_limits_from_the_environment(monkeypatch):
    monkeypatch.setenv(LIMIT_ENV["max_firms"], "777")
    assert DemoSession(render=False).limits.max_firms == 777


def test_a_runaway_cluster_pauses_at_the_firm_cap_until_reset():
    """Valid values plus startup inflow x10 make the cluster grow fast (in model v1 it reached 395,790 firms at
    quarter 10 and the layout failed to allocate 1 GiB); the session must stop at the cap."""
    cap = 400
    s = _runaway(Limits(max_firms=cap))
    t0 = time.monotonic()
    done = s.step(40, redraw=False)
    assert done < 6, f"ran {done} quarters past a cap of {cap} nodes"
    assert time.monotonic() - t0 < 30
    st = s.status()
    assert s.capped and st["capped"] and f"grew past {cap:,} firms" in st["halted"] and "Reset" in st["halted"]
    nodes = st["firms"] + st["institutions"]
    assert cap < nodes <= 3 * cap                              # stopped in the quarter it crossed the cap
    q = s.quarter
    assert s.step(5) == 0 and s.quarter == q                   # no further quarter, whatever is pressed
    s.set_startup_inflow(1.0)
    assert s.step(1) == 0 and s.quarter == q and s.halted      # lowering a lever does not shrink it
    s.reset()
    assert s.quarter == 0 and not s.capped and s.halted == ""
    assert s.step(1) == 1


def test_a_slow_quarter_pauses_the_run_but_play_can_go_on():
    s = DemoSession(render=False, limits=Limits(max_step_seconds=1e-6))
    assert s.step(5, redraw=False) == 1                        # every quarter takes longer than a microsecond
    assert "took" in s.halted and "classroom limit" in s.halted and not s.capped
    assert s.step(2, redraw=False) == 1 and s.quarter == 2     # not sticky: Play or Step goes on
    s.limits = Limits()
    assert s.step(2, redraw=False) == 2 and s.halted == ""


def test_stop_callback_ends_a_multi_quarter_step_between_quarters():
    s = DemoSession(render=False)
    calls = []

    def stop():
        calls.append(1)
        return len(calls) > 2

    assert s.step(8, redraw=False, stop=stop) == 2 and s.quarter == 2


def test_the_network_picture_draws_at_most_max_drawn_nodes():
    s = DemoSession(limits=Limits(max_drawn=120))
    st = s.status()
    nodes = st["firms"] + st["institutions"]
    assert nodes > 120
    assert len(s._net["uid"]) == 120 and len(s._xy) == 120 and len(s.layout.pos) == 120
    assert s._net["is_inst"].sum() == st["institutions"]        # institutions are always drawn
    assert "120" in st["drawn_note"] and f"{nodes:,}" in st["drawn_note"]
    assert s.pictures()[0][:8] == b"\x89PNG\r\n\x1a\n"
    s.step()
    assert len(s._net["uid"]) == 120
    assert (s._net["i"] < 120).all() and (s._net["j"] < 120).all()
    small = DemoSession(render=False)
    assert small.status()["drawn_note"] == "" and len(small._net["uid"]) == nodes


def test_two_sessions_progress_independently_and_a_capped_session_stops_promptly():
    """Each session has its own model and lock: while one runs away in its play thread (and is held at its
    cap), another keeps stepping and taking lever clicks at its own pace."""
    runaway = _runaway(Limits(max_firms=400), render=True)
    calm = DemoSession(render=False)
    stopped = threading.Event()
    quarters = []

    def play():                                      # what the page's play loop does, in its own thread
        while not runaway.halted:
            quarters.append(runaway.step(2))
        stopped.set()

    worker = threading.Thread(target=play, daemon=True)
    t0 = time.monotonic()
    worker.start()
    lever_waits = []
    while not stopped.is_set() and time.monotonic() - t0 < 60:
        t1 = time.monotonic()
        calm.set_external_cost(2.0 + (calm.quarter % 2))
        lever_waits.append(time.monotonic() - t1)
        calm.step(1, redraw=False)
    assert stopped.wait(60), "the capped session did not stop"
    worker.join(5)
    assert runaway.capped and sum(quarters) < 8 and time.monotonic() - t0 < 60
    # while the runaway session's lock is held (a long quarter), the other session is not held up
    with runaway._lock:
        done = threading.Event()

        def other():
            calm.add_hub()
            calm.step(2, redraw=False)
            done.set()

        threading.Thread(target=other, daemon=True).start()
        assert done.wait(30), "a session waited for another session's lock"
    assert max(lever_waits) < 5.0
    assert calm.quarter >= 2 and not calm.halted


def test_origin_rules():
    assert parse_origin("HTTP://LocalHost:8765/") == "http://localhost:8765"
    assert parse_origin("https://teacher.example") == "https://teacher.example:443"
    assert parse_origin("http://[::1]:80") == "http://[::1]:80"
    for bad in ("evil.example.com", "http://x.example/path", "http://user@x.example", "null", "http://*:80",
                "ftp://x.example"):
        with pytest.raises(ValueError):
            parse_origin(bad)
    own = allowed_origins("127.0.0.1", 8765)
    assert {"http://127.0.0.1:8765", "http://localhost:8765", "http://[::1]:8765"} <= own
    assert "http://127.0.0.1:8766" not in own and "http://evil.example.com:80" not in own
    assert allowed_origins("192.0.2.7", 80, ["http://teacher.example:8000"]) == {
        "http://192.0.2.7:80", "http://teacher.example:8000"}


def test_origin_guard_refuses_foreign_websockets_and_passes_the_rest():
    calls = []

    async def inner(scope, receive, send):
        calls.append(scope["type"])

    guard = OriginGuard(inner, {"http://127.0.0.1:8765"})

    def handshake(headers, kind="websocket"):
        sent = []

        async def receive():
            return {"type": "websocket.connect"}

        async def send(msg):
            sent.append(msg)

        calls.clear()
        asyncio.run(guard({"type": kind, "headers": headers}, receive, send))
        return sent, list(calls)

    assert handshake([(b"origin", b"http://evil.example.com")]) == ([{"type": "websocket.close", "code": 1008}], [])
    assert handshake([]) == ([{"type": "websocket.close", "code": 1008}], [])
    assert handshake([(b"origin", b"http://127.0.0.1:8765")]) == ([], ["websocket"])
    assert handshake([], kind="http") == ([], ["http"])


# ----------------------------------------------------------------------------- layout and pictures
def test_layout_is_stable_between_frames():
    s = DemoSession(render=False)
    pos0, linked0 = dict(s.layout.pos), dict(zip(s._net["uid"].tolist(), s._net["degree"] > 0))
    s.step()
    pos1, linked1 = s.layout.pos, dict(zip(s._net["uid"].tolist(), s._net["degree"] > 0))
    same = [u for u in pos0 if u in pos1 and linked0[u] == linked1[u]]   # did not join or leave the network
    moves = np.array([np.linalg.norm(pos1[u] - pos0[u]) for u in same])
    assert len(same) > 200
    assert np.median(moves) < 0.04 and moves.max() <= 4 * 0.015 + 1e-9   # 4 relaxation steps of at most 0.015
    xy = np.array(list(pos1.values()))
    assert (np.sqrt((xy ** 2).sum(1)) <= 1.0 + 1e-9).all()
    # nodes without partners sit on the rim, linked nodes inside it
    net = s._net
    r = np.sqrt((s._xy ** 2).sum(1))
    assert (r[net["degree"] == 0] >= 0.9 - 1e-9).all()
    assert (r[net["degree"] > 0] <= StableLayout.CORE_RADIUS + 1e-9).all()


def test_layout_places_new_nodes_next_to_their_partners():
    lay = StableLayout(seed=0)
    uids = np.arange(10)
    i, j = np.arange(9), np.arange(1, 10)
    P = lay.update(uids, i, j, iterations=50, temperature=0.1, cooling=True)
    assert P.shape == (10, 2)
    uids2 = np.arange(11)
    P2 = lay.update(uids2, np.append(i, 10), np.append(j, 0), iterations=0)
    assert np.linalg.norm(P2[10] - P2[0]) < 0.3
    P3 = lay.update(np.arange(1, 11), i[1:] - 1, j[1:] - 1, iterations=1)   # node 0 left
    assert 0 not in lay.pos and len(P3) == 10


def test_pictures_are_pngs_that_change():
    s = DemoSession()
    net0, plots0 = s.pictures()
    assert net0[:8] == b"\x89PNG\r\n\x1a\n" and plots0[:8] == b"\x89PNG\r\n\x1a\n"
    s.step(2)
    net1, plots1 = s.pictures()
    assert net1 != net0 and plots1 != plots0
    s.set_colour_by("role")
    assert s.pictures()[0] != net1
    with pytest.raises(ParameterError):
        s.set_colour_by("rainbow")


def test_app_plane_puts_centripetal_on_x_like_every_figure():
    """One convention (issue 16, item 9): the app's typology plane has the axes of sim.plots.plane.PLANE_AXES."""
    s = DemoSession()
    s.step(3)
    plane = s.figures()[1].axes[3]
    assert (plane.get_xlabel(), plane.get_ylabel()) == PLANE_AXES == ("centripetal", "centrifugal")
    h = s.history()
    path = [line for line in plane.lines if len(line.get_xdata()) == len(h["t"])]
    assert len(path) == 1
    assert np.allclose(path[0].get_xdata(), h["centripetal"]) and np.allclose(path[0].get_ydata(), h["centrifugal"])
    corner = {t.get_text(): t.get_position() for t in plane.texts}
    assert corner["path-locked"][0] > 0.5 > corner["path-locked"][1]      # centripetal high: right; low: bottom


def test_projector_mode_draws_larger_text(monkeypatch):
    """Issue 16, item 9: the pictures' text is 11 PNG pixels at the smallest by default (6-7 screen pixels once
    the page shrinks them to half of a 1280-pixel screen); the projector mode draws 15 and more."""
    from sim.face.app import ENV, _config_from_env
    from sim.face.cli import build_parser

    s = DemoSession()
    s.step(1)
    before = s.pictures()
    small = min(min(text_sizes_px(f)) for f in s.figures())
    s.set_projector(True)
    assert s.projector and s.quarter == 1                  # the same model, redrawn
    figs = s.figures()
    big = min(min(text_sizes_px(f)) for f in figs)
    assert big >= 15 > small
    assert all(f.get_figwidth() * DPI <= 900 for f in figs)   # about as wide as the page shows them
    assert s.pictures()[0] != before[0] and s.pictures()[1] != before[1]
    s.set_projector(False)
    assert s.pictures() == before
    assert DemoSession(render=False, projector=True).projector
    # from the command line (clustersim demo --projector) through the environment to every new tab's session
    assert build_parser().parse_args(["demo", "--projector"]).projector
    assert not build_parser().parse_args(["demo"]).projector
    monkeypatch.delenv(ENV["projector"], raising=False)
    assert "projector" not in _config_from_env()
    monkeypatch.setenv(ENV["projector"], "1")
    assert _config_from_env()["projector"] is True


def test_readout_and_markdown_helpers():
    st = DemoSession(render=False).status()
    text = readout(st)
    assert text.startswith(f"## Quarter 0 · year 0.00 · {st['firms']} firms")
    assert "Stage: " in text and "Typology: " in text
    assert lever_summary(st) == ("**Levers:** startup inflow x1 · incubator off · external-linkage cost "
                                 f"{st['external_cost']:g} · hubs 0 · brokers 0 · shocks 0")
    html = md_to_html("## Head\n\n**bold** and *it* <script>")
    assert "<h3>Head</h3>" in html and "<b>bold</b>" in html and "<i>it</i>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html


# ----------------------------------------------------------------------------- the page (needs Solara)
def test_page_builds_and_its_buttons_drive_the_model():
    solara = pytest.importorskip("solara", reason='the page needs the app extra: pip install ".[app]"')
    import ipyvuetify as v

    import sim.face.app

    @solara.component
    def Wrapped():
        with solara.AppLayout():
            sim.face.app.Page()

    box, rc = solara.render(Wrapped(), handle_error=False)
    try:
        def button(cls):
            found = [b for b in rc.find(v.Btn).widgets if cls in (b.class_ or "").split()]
            assert len(found) == 1, cls
            return found[0]

        def html(cls):
            import solara.widgets
            found = [w for w in rc.find(solara.widgets.HTML).widgets if cls in w.attributes.get("class", "")]
            assert len(found) == 1, cls
            return found[0].unsafe_innerHTML

        assert "Quarter 0 " in html("cs-readout")
        button("cs-step").click()
        assert "Quarter 1 " in html("cs-readout")
        slider = [s for s in rc.find(v.Slider).widgets if s.label.startswith("Startup inflow")]
        assert len(slider) == 1
        slider[0].v_model = 4.0
        assert "startup inflow x4" in html("cs-levers")
        button("cs-hub").click()
        button("cs-step").click()
        assert "Quarter 2 " in html("cs-readout") and "hubs 1" in html("cs-levers")
        labels = [s.label for s in rc.find(v.Slider).widgets]
        for name in ("decay_rate", "startup_rate", "init_home_share"):
            assert any(lab.startswith(name.replace("_", " ") + ":") for lab in labels), name
        button("cs-reset").click()
        assert "Quarter 0 " in html("cs-readout") and "hubs 0" in html("cs-levers")
    finally:
        rc.close()


def test_readout_shows_the_quarter_of_the_pictures_while_a_step_runs(monkeypatch):
    """Issue 16, item 12: with several quarters per frame the pictures are drawn after the last one; a page
    rendered meanwhile (a lever pulled during Play) said 'Quarter 2' over pictures of quarter 0."""
    solara = pytest.importorskip("solara", reason='the page needs the app extra: pip install ".[app]"')
    import ipyvuetify as v
    import ipywidgets
    from solara.widgets import HTML as HTMLWidget

    import sim.face.app

    sessions: list[DemoSession] = []
    drawn_at: dict[bytes, int] = {}                        # network picture -> the quarter it shows

    class Recording(DemoSession):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            sessions.append(self)

        def _refresh(self, initial=False):
            super()._refresh(initial)
            drawn_at[self.network_png] = int(self.model.t)

    monkeypatch.setattr(sim.face.app, "DemoSession", Recording)

    @solara.component
    def Wrapped():
        with solara.AppLayout():
            sim.face.app.Page()

    _, rc = solara.render(Wrapped(), handle_error=False)
    try:
        (s,) = sessions

        def shown() -> tuple[int, int]:
            text = [w for w in rc.find(HTMLWidget).widgets if "cs-readout" in w.attributes.get("class", "")]
            quarter = int(text[0].unsafe_innerHTML.split("Quarter ")[1].split(" ")[0])
            images = [w for w in rc.find(ipywidgets.Image).widgets if w.value in drawn_at]
            return quarter, drawn_at[images[0].value]

        assert shown() == (0, 0)
        def button(cls):
            return next(b for b in rc.find(v.Btn).widgets if cls in (b.class_ or "").split())

        hub = button("cs-hub")
        seen = []

        def stop():                                        # between two quarters of a 3-quarter frame
            if s.model.t == 2 and not seen:
                hub.click()                                # a lever: the page renders now
                seen.append(shown())
                st, net, _ = s.view()
                seen.append((st["quarter"], drawn_at[net]))
                assert st["hubs"] == 1                     # the levers as they are now
            return False

        assert s.step(3, stop=stop) == 3
        assert seen == [(0, 0), (0, 0)]                    # the read-out of the quarter the pictures show
        button("cs-step").click()
        assert shown() == (4, 4)
    finally:
        rc.close()


def test_page_pauses_play_at_the_firm_cap_and_says_so_while_another_page_steps(monkeypatch):
    """Two pages (two browser tabs): the first runs away under Play and stops at the cap with a message on
    the page; the second page's Step button works meanwhile and afterwards."""
    solara = pytest.importorskip("solara", reason='the page needs the app extra: pip install ".[app]"')
    import ipyvuetify as v
    from solara.widgets import HTML as HTMLWidget

    import sim.face.app

    monkeypatch.setenv(LIMIT_ENV["max_firms"], "400")

    @solara.component
    def Wrapped():
        with solara.AppLayout():
            sim.face.app.Page()

    def find(rc, cls, kind=None):
        kind = kind or v.Btn
        return [w for w in rc.find(kind).widgets if cls in (getattr(w, "class_", None) or "").split()]

    def html(rc, cls):
        found = [w for w in rc.find(HTMLWidget).widgets if cls in w.attributes.get("class", "")]
        return found[0].unsafe_innerHTML if found else ""

    _, rc1 = solara.render(Wrapped(), handle_error=False)
    _, rc2 = solara.render(Wrapped(), handle_error=False)
    try:
        for w in rc1.find(v.Slider).widgets:
            name = w.label.split(":")[0].replace(" ", "_")
            if name in RUNAWAY:
                w.v_model = RUNAWAY[name]
            elif w.label.startswith("Startup inflow"):
                w.v_model = 10.0
        assert "startup inflow x10" in html(rc1, "cs-levers")
        play = find(rc1, "cs-play")[0]
        play.click()
        deadline = time.monotonic() + 90
        steps2 = 0
        while time.monotonic() < deadline:
            if steps2 < 3:
                find(rc2, "cs-step")[0].click()              # the other tab keeps working
                steps2 += 1
            alerts = [w for w in rc1.find(v.Alert).widgets if "cs-limit" in (w.class_ or "")]
            if alerts and find(rc1, "cs-play")[0].children[-1] == "Play":
                break
            time.sleep(0.2)
        else:
            pytest.fail("the page did not pause at the firm cap")
        text = str(alerts[0].children)
        assert "grew past 400 firms" in text and "Reset" in text
        m = int(html(rc1, "cs-readout").split("Quarter ")[1].split(" ")[0])
        assert 1 <= m <= 6
        find(rc1, "cs-step")[0].click()                        # Step cannot push it further
        assert f"Quarter {m} " in html(rc1, "cs-readout")
        find(rc2, "cs-step")[0].click()
        assert f"Quarter {steps2 + 1} " in html(rc2, "cs-readout") and not find(rc2, "cs-limit", v.Alert)
        find(rc1, "cs-reset")[0].click()
        assert "Quarter 0 " in html(rc1, "cs-readout") and not find(rc1, "cs-limit", v.Alert)
    finally:
        rc1.close()
        rc2.close()


# ----------------------------------------------------------------------------- the command
def test_import_sim_and_the_app_modules_do_not_import_solara():
    code = ("import sys, sim, sim.face.app, sim.face.demo, sim.face.drawing, sim.face.sliders, sim.face.cli_app, "
            "sim.face.lessons, sim.face.cli; sim.face.cli.build_parser(); "
            "assert 'solara' not in sys.modules, 'solara imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_demo_command_registered_with_localhost_default():
    from sim.face.cli import build_parser

    a = build_parser().parse_args(["demo"])
    assert a.host == "127.0.0.1" and a.port == 8765 and a.cluster == DEFAULT_CLUSTER and callable(a.func)
    a = build_parser().parse_args(["demo", "--port", "0", "--lesson", "broker", "--seed", "3"])
    assert (a.port, a.lesson, a.seed) == (0, "broker", 3)


def test_demo_without_the_app_extra_says_how_to_install(monkeypatch, capsys):
    import builtins

    from sim.face.cli import main

    real_import = builtins.__import__

    def no_solara(name, *args, **kw):
        if name.split(".")[0] in ("solara", "uvicorn"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kw)

    monkeypatch.setattr(builtins, "__import__", no_solara)
    assert main(["demo", "--port", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and 'pip install "clustersim[app]"' in err


def test_demo_command_takes_the_limits_and_extra_origins(monkeypatch):
    from sim.face.cli import build_parser
    from sim.face.cli_app import _limits

    for var in LIMIT_ENV.values():
        monkeypatch.delenv(var, raising=False)
    a = build_parser().parse_args(["demo"])
    assert _limits(a) == Limits() and a.allow_origin == []
    monkeypatch.setenv(LIMIT_ENV["max_drawn"], "400")
    a = build_parser().parse_args(["demo", "--max-firms", "900", "--max-step-seconds", "2",
                                   "--allow-origin", "http://a.example:1", "--allow-origin", "http://b.example:2"])
    assert _limits(a) == Limits(max_firms=900, max_drawn=400, max_step_seconds=2.0)
    assert a.allow_origin == ["http://a.example:1", "http://b.example:2"]
    help_text = build_parser()._subparsers._group_actions[0].choices["demo"].format_help()
    for opt in ("--max-firms", "--max-drawn", "--max-step-seconds", "--allow-origin", *LIMIT_ENV.values()):
        assert opt in help_text, opt


@pytest.mark.parametrize("argv, needle", [
    (["demo", "--allow-origin", "evil.example.com"], "--allow-origin: not an origin"),
    (["demo", "--max-firms", "50"], "--max-firms 50 is below the starting size"),
    (["demo", "--max-firms", "5"], "classroom limits: max_firms must be"),
    (["demo", "--cluster", "atlantis"], "unknown cluster id"),
    (["demo", "--firms", "1"], "--firms must be between"),
    (["demo", "--host", "no-such-host.invalid"], "not an address of this computer"),
])
def test_demo_bad_input_is_one_line(argv, needle, capsys):
    pytest.importorskip("solara", reason="the command checks for the app extra first")
    from sim.face.cli import main

    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and needle in err


def test_demo_refuses_a_port_in_use(capsys):
    pytest.importorskip("solara", reason="the command checks for the app extra first")
    import socket

    from sim.face.cli import main

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        assert main(["demo", "--port", str(port)]) == 2
    err = capsys.readouterr().err.strip()
    assert f"cannot listen on 127.0.0.1:{port}" in err and "--port" in err


# ----------------------------------------------------------------------------- the app uses the model's public API
def test_app_modules_use_only_the_public_model_api():
    import re
    from pathlib import Path

    face = Path(__file__).resolve().parents[1] / "sim" / "face"
    for name in ("app.py", "demo.py", "drawing.py", "sliders.py", "lessons.py", "cli_app.py"):
        src = (face / name).read_text()
        for pattern in (r"model\._\w", r"\.cpar\b", r"model\.p\[", r"\.pop\.", r"\.edges\b"):
            assert not re.search(pattern, src), (name, pattern)
