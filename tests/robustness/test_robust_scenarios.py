"""Fuzzing the scenario loader (``scenarios.load``): scenario files are data, and bad data
gives one line naming the file and the key -- never a traceback.

Three generators:

* *mutations* of the built-in scenario files: a key deleted, an unknown key added, a value
  replaced by a random TOML value (wrong type, huge or negative number, NaN/inf, unicode,
  empty array, inline table...);
* *token soup*: random lines of table headers, known and unknown keys and (often malformed)
  TOML values;
* *damage*: truncation, flipped bytes, inserted quotes/brackets, byte-order marks, empty and
  non-UTF-8 files.

Property: ``scenarios.load(path)`` returns a ``Scenario`` or raises ``ScenarioError`` whose
message is one line and names the file; a value of the wrong type is reported with its key.
"""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from robustness_helpers import examples

import scenarios
from sim.model import params as P

ScenarioError = scenarios.ScenarioError
SCEN_DIR = Path(scenarios.__file__).resolve().parent
BUILTIN = sorted(SCEN_DIR.glob("*.toml"))
assert BUILTIN, f"no scenario files in {SCEN_DIR}"
DOCS = {p.name: tomllib.loads(p.read_text(encoding="utf-8")) for p in BUILTIN}

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                      HealthCheck.filter_too_much, HealthCheck.too_slow])


# ----------------------------------------------------------------------------- a small TOML writer
def _str(s: str) -> str:
    out = []
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return _str(v)
    if isinstance(v, (dt.datetime, dt.date, dt.time)):
        return v.isoformat()
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_str(str(k))} = {toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(type(v))


def _is_table_array(v) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)


def toml_dumps(doc: dict) -> str:
    lines = []
    for k, v in doc.items():
        if not isinstance(v, dict) and not _is_table_array(v):
            lines.append(f"{_str(k)} = {toml_value(v)}")
    for k, v in doc.items():
        if isinstance(v, dict):
            lines.append(f"[{_str(k)}]")
            lines += [f"{_str(kk)} = {toml_value(vv)}" for kk, vv in v.items()]
        elif _is_table_array(v):
            for t in v:
                lines.append(f"[[{_str(k)}]]")
                lines += [f"{_str(kk)} = {toml_value(vv)}" for kk, vv in t.items()]
    return "\n".join(lines) + "\n"


def test_toml_writer_round_trips():
    for name, doc in DOCS.items():
        assert tomllib.loads(toml_dumps(doc)) == doc, name


# ----------------------------------------------------------------------------- regressions
# Crashes and bad messages found by the fuzzers below, all fixed in scenarios/ and scenarios/policies.py.
def test_policy_name_of_wrong_type():
    """Was TypeError (unhashable) in scenarios._policy."""
    for v in ('["hub_institution"]', "{a = 1}"):
        with pytest.raises(ScenarioError, match=r"probe\.toml: policy #1"):
            scenarios.loads(f"[[policy]]\npolicy = {v}\n", source="probe.toml")


def test_pathological_toml():
    """tomllib raises ValueError (integer of more than 4300 digits) or RecursionError (deep nesting)."""
    for text in ("x = " + "9" * 5000 + "\n", "x = " + "[" * 3000 + "]" * 3000 + "\n",
                 "x = " + "{a = " * 2000 + "1" + "}" * 2000 + "\n"):
        with pytest.raises(ScenarioError, match=r"^probe\.toml: "):
            scenarios.loads(text, source="probe.toml")


def test_policy_number_beyond_float_range():
    """Was TypeError in scenarios.policies._check_value (np.isfinite on an int beyond int64)."""
    with pytest.raises(ScenarioError, match="intensity"):
        scenarios.loads('[[policy]]\npolicy = "hub_institution"\nintensity = ' + "9" * 400 + "\n",
                        source="probe.toml")


def test_byte_order_mark_is_accepted(tmp_path):
    """Found by fuzzing (a BOM gave 'malformed TOML ... line 1, column 1'); fixed in scenarios/."""
    p = tmp_path / "bom.toml"
    p.write_bytes(b"\xef\xbb\xbf" + (SCEN_DIR / "baseline.toml").read_bytes())
    assert scenarios.load(p).name == "baseline"


def test_overlong_file_name():
    """Found by fuzzing (OSError from Path.is_file); fixed in scenarios/."""
    with pytest.raises(ScenarioError):
        scenarios.load("x" * 5000 + ".toml")


def test_key_with_newline_gives_one_line_message():
    """Found by fuzzing (the raw key went into the message); fixed in scenarios/."""
    with pytest.raises(ScenarioError) as ei:
        scenarios.loads('[scenario]\n"na\\nme" = 1\n', source="probe.toml")
    assert len(str(ei.value).splitlines()) == 1


# ----------------------------------------------------------------------------- checking one file
def load_file(tmp_path: Path, text: str | bytes, name: str = "fuzz.toml"):
    path = tmp_path / name
    if isinstance(text, str):
        path.write_text(text, encoding="utf-8")
    else:
        path.write_bytes(text)
    try:
        return scenarios.load(path), None, path
    except ScenarioError as exc:
        msg = " ".join(str(exc).splitlines())  # as 'clustersim' prints it (see test_key_with_newline)
        assert "Traceback" not in msg
        assert str(path) in msg or path.name in msg, f"message does not name the file: {msg}"
        assert len(msg) < 2000, f"message of {len(msg)} characters"
        return None, msg, path


def check_scenario(sc) -> None:
    assert sc.end_year > sc.start_year
    assert sc.replicates >= 1 and sc.seed >= 0 and sc.record_every >= 1
    P.validate(sc.params)  # the overrides are a valid parameter set
    from scenarios.policies import build_policies

    build_policies(sc.policies)


# ----------------------------------------------------------------------------- value strategies
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=15)
FLOATS = st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                   st.sampled_from([0.0, -0.0, 1e308, -1e308, 5e-324, float("nan"), float("inf")]))
INTS = st.one_of(st.integers(-(2 ** 63), 2 ** 63 - 1), st.integers(-5, 3000),
                 st.sampled_from([0, -1, 2 ** 63 - 1, -(2 ** 63), 10 ** 30]))
DATES = st.one_of(st.dates(), st.datetimes(), st.times())
SCALAR = st.one_of(TEXT, FLOATS, INTS, st.booleans(), DATES)
VALUE = st.recursive(SCALAR, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                      st.dictionaries(TEXT, inner, max_size=2)), max_leaves=6)

TYPE_SAMPLES = {
    "str": TEXT,
    "int": INTS,
    "float": FLOATS,
    "bool": st.booleans(),
    "date": DATES,
    "array": st.lists(SCALAR, max_size=3),
    "table": st.dictionaries(TEXT, SCALAR, max_size=2),
}
NUMBER = {"int", "float"}
SCENARIO_TYPES = {"name": {"str"}, "description": {"str"}, "start_year": {"int"}, "end_year": {"int"},
                  "replicates": {"int"}, "seed": {"int"}, "record_every": {"int"},
                  "clusters": {"str", "array"}}
POLICY_KIND_TYPES = {"float": NUMBER, "float?": NUMBER, "int": NUMBER, "bool": {"bool"}, "str": {"str"},
                     "kinds": {"str", "array"}, "target": {"str", "array"}}


def accepted_types(section: str, key: str, policy: str | None = None) -> set[str] | None:
    """TOML types a key accepts (None = not known to this test)."""
    if section == "scenario":
        return SCENARIO_TYPES.get(key)
    if section == "params":
        p = P.SCHEMA.get(key)
        return None if p is None else ({"bool"} if p.kind == "bool" else NUMBER)
    if section == "policy":
        from scenarios.policies import REGISTRY

        if key == "policy":
            return {"str"}
        if policy not in REGISTRY:
            return None
        meta = REGISTRY[policy].parameter_meta().get(key)
        if key in ("start", "end"):
            return NUMBER
        return None if meta is None else POLICY_KIND_TYPES.get(meta["kind"])
    return None


# ----------------------------------------------------------------------------- mutations
def _sections(doc: dict) -> list[tuple[str, dict, str | None]]:
    out = []
    for sec in ("scenario", "params"):
        if isinstance(doc.get(sec), dict):
            out.append((sec, doc[sec], None))
    for t in doc.get("policy", []) if _is_table_array(doc.get("policy")) else []:
        out.append(("policy", t, t.get("policy")))
    return out


@settings(max_examples=examples(250), **SETTINGS)
@given(data=st.data())
def test_mutated_scenario_files(tmp_path, data):
    fname = data.draw(st.sampled_from(sorted(DOCS)), label="base file")
    doc = tomllib.loads(toml_dumps(DOCS[fname]))  # a deep copy
    doc.setdefault("params", {})
    sections = _sections(doc)
    sec, table, pol = data.draw(st.sampled_from(sections), label="section")
    op = data.draw(st.sampled_from(["delete", "unknown_key", "random_value", "wrong_type", "number",
                                    "top_level"]), label="op")
    key = None
    if op == "delete" and table:
        key = data.draw(st.sampled_from(sorted(table)), label="key")
        del table[key]
    elif op == "unknown_key":
        key = data.draw(TEXT.filter(lambda k: k not in table), label="new key")
        allowed = {"scenario": SCENARIO_TYPES.keys(), "params": P.SCHEMA.keys()}.get(sec)
        if allowed is not None:
            assume(key not in allowed)
        if sec == "policy":
            from scenarios.policies import REGISTRY

            assume(pol not in REGISTRY or key not in {"policy", *REGISTRY[pol].parameter_meta()})
        table[key] = data.draw(VALUE, label="value")
    elif op in ("random_value", "wrong_type", "number"):
        candidates = sorted(table) if sec != "params" else sorted(set(table) | set(P.SCHEMA))
        if not candidates:
            return
        key = data.draw(st.sampled_from(candidates), label="key")
        if op == "random_value":
            value = data.draw(VALUE, label="value")
        elif op == "number":
            value = data.draw(st.one_of(FLOATS, INTS), label="value")
        else:
            ok = accepted_types(sec, key, pol)
            assume(ok is not None)
            kind = data.draw(st.sampled_from(sorted(set(TYPE_SAMPLES) - ok - {"int" if "float" in ok else ""})),
                             label="wrong type")
            value = data.draw(TYPE_SAMPLES[kind], label="value")
        table[key] = value
    else:  # a top-level table replaced by a value of another type, or an unknown top-level key
        key = data.draw(st.sampled_from(["scenario", "params", "policy", "scenarios", "param", "base"]), label="key")
        value = data.draw(VALUE, label="value")
        doc[key] = value
    if not doc["params"]:
        del doc["params"]
    sc, msg, path = load_file(tmp_path, toml_dumps(doc))
    if sc is not None:
        check_scenario(sc)
    elif op in ("wrong_type", "unknown_key") and key:
        escaped = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in key)
        shown = (repr(key)[1:-1][:15], " ".join(key.splitlines())[:15], escaped[:15])
        assert any(k in msg for k in shown), f"message does not name key {key!r}: {msg}"


# ----------------------------------------------------------------------------- token soup
KEYS = (["name", "description", "start_year", "end_year", "replicates", "seed", "clusters", "record_every",
         "policy", "start", "end", "target", "intensity", "kind"] + sorted(P.SCHEMA)[:10])
RAW_VALUES = st.one_of(
    VALUE.map(toml_value),
    st.sampled_from(['"unterminated', "[1, 2", "{a = }", "1__0", "0x", "1e", "+nan", "--1", "2020-13-45",
                     "'''", '"""', "tru", "[,]", "1.", ".5", "0b102", "inf.0", "=", "", "\\u0000", '"\\uD800"']),
)
LINE = st.one_of(
    st.sampled_from(["[scenario]", "[params]", "[[policy]]", "[policy]", "[[scenario]]", "[scenario.sub]",
                     "[]", "[[]]", "# comment", "", "[params", "]]"]),
    st.builds(lambda k, v: f"{k} = {v}", st.one_of(st.sampled_from(KEYS), TEXT.map(_str)), RAW_VALUES),
    TEXT,
)


@settings(max_examples=examples(250), **SETTINGS)
@given(lines=st.lists(LINE, max_size=12))
def test_token_soup(tmp_path, lines):
    text = "\n".join(lines) + "\n"
    sc, msg, path = load_file(tmp_path, text)
    if sc is not None:
        check_scenario(sc)


# ----------------------------------------------------------------------------- damage
@settings(max_examples=examples(120), **SETTINGS)
@given(data=st.data())
def test_damaged_scenario_files(tmp_path, data):
    raw = bytearray(data.draw(st.sampled_from(BUILTIN), label="file").read_bytes())
    kind = data.draw(st.sampled_from(["truncate", "flip", "insert", "duplicate_line"]), label="damage")
    if kind == "truncate":
        raw = raw[: data.draw(st.integers(0, len(raw)), label="at")]
    elif kind == "flip":
        for _ in range(data.draw(st.integers(1, 4), label="n")):
            i = data.draw(st.integers(0, len(raw) - 1), label="pos")
            raw[i] = data.draw(st.integers(0, 255), label="byte")
    elif kind == "insert":
        i = data.draw(st.integers(0, len(raw)), label="pos")
        raw[i:i] = data.draw(st.sampled_from([b'"', b"[", b"]", b"=", b"\n", b"\x00", b"\xef\xbb\xbf", b"#",
                                              b"'''", b"\\", b"{", b",", b"\xff\xfe"]), label="junk")
    else:
        lines = bytes(raw).split(b"\n")
        i = data.draw(st.integers(0, len(lines) - 1), label="line")
        lines.insert(i, lines[i])
        raw = bytearray(b"\n".join(lines))
    sc, msg, path = load_file(tmp_path, bytes(raw))
    if sc is not None:
        check_scenario(sc)


@pytest.mark.parametrize("content", [b"", b"   \n\n", b"# only a comment\n", b"\xff\xfe\x00\x00", b"\x00" * 64,
                                     "[scenario]\nname = \"caf\u00e9_\u00fc\"\n".encode(),
                                     "[params]\n\u00e9chelle = 0.5\n".encode(),
                                     b"[scenario]\nend_year = 1e400\n",
                                     b"[params]\nscale = nan\n", b"[params]\nscale = -inf\n",
                                     b"[scenario]\nreplicates = -5\n",
                                     b"[scenario]\nseed = 9223372036854775807\n",
                                     b"[scenario]\nend_year = 99999999999999999999\n"])
def test_edge_case_files(tmp_path, content):
    sc, msg, path = load_file(tmp_path, content, name="edge \u00e9\u00e8 case.toml")
    if sc is not None:
        check_scenario(sc)


def test_directory_and_missing_file(tmp_path):
    (tmp_path / "dir.toml").mkdir()
    for p in (tmp_path / "dir.toml", tmp_path / "missing.toml", tmp_path / "sub" / "x.toml"):
        with pytest.raises(ScenarioError) as ei:
            scenarios.load(p)
        assert p.name in str(ei.value) and len(str(ei.value).splitlines()) == 1


def test_unknown_key_named_in_each_section(tmp_path):
    base = (SCEN_DIR / "baseline.toml").read_text(encoding="utf-8")
    for text, key in [(base.replace("[scenario]", "[scenario]\nyears = 5"), "years"),
                      (base + "\n[params]\nstartup_rat = 0.1\n", "startup_rat"),
                      (base + '\n[[policy]]\npolicy = "hub_institution"\nstrength = 2\n', "strength"),
                      ("[scenarios]\nname = 'x'\n", "scenarios")]:
        sc, msg, path = load_file(tmp_path, text)
        assert sc is None and key in msg, (key, msg)


def test_scenario_files_are_never_executed(tmp_path):
    """Python, shell and TOML-injection payloads are just (bad) strings."""
    marker = tmp_path / "pwned"
    payloads = [f"__import__('os').system('touch {marker}')", f"$(touch {marker})", f"`touch {marker}`",
                f"{{{{ exec(\"open('{marker}','w')\") }}}}"]
    for pl in payloads:
        for text in (f'[scenario]\nname = {_str(pl)}\n', f"[params]\nscale = {_str(pl)}\n",
                     f'[[policy]]\npolicy = {_str(pl)}\n', f"[scenario]\nclusters = [{_str(pl)}]\n"):
            sc, msg, path = load_file(tmp_path, text)
            assert sc is None
    assert not marker.exists()
