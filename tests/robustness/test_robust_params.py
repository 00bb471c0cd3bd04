"""Bad parameter input: property-based fuzzing of the parameter schema and of the command line.

Properties (issue #8, part 1):

* ``Param.check`` / ``validate`` / ``parse_override`` either accept a value (and then it
  has the declared type and lies within the declared bounds) or raise ``ParameterError``
  with a one-line message naming the parameter -- never another exception;
* ``clustersim run`` with a bad ``--set`` or a bad option exits with code 2 and one line
  ``clustersim: error: ...`` naming the key, without a traceback, and leaves an existing
  result folder byte-for-byte unchanged.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from robustness_helpers import (
    SMALL,
    examples,
    one_line_error,
    run_cli_subprocess,
)
from robustness_helpers import main_in_process as _main

from sim.face.cli import main
from sim.model import params as P

NAMES = sorted(P.SCHEMA)

#: Values of every shape a user (or a buggy caller) could pass.
ANY_VALUE = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-2.0, max_value=25.0),  # often inside some parameter's range
    st.integers(min_value=-(10 ** 30), max_value=10 ** 30),
    st.integers(min_value=-3, max_value=25),
    st.sampled_from([10 ** 400, -(10 ** 400), 10 ** 5000, 2 ** 63, -(2 ** 63) - 1]),
    st.booleans(),
    st.none(),
    st.text(max_size=30),
    st.from_regex(r"\s*[+-]?(\d{0,6}(\.\d{0,6})?([eE][+-]?\d{1,4})?|nan|inf|-inf|NaN|Infinity)\s*",
                  fullmatch=True),
    st.lists(st.floats(allow_nan=False), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.complex_numbers(max_magnitude=10),
    st.binary(max_size=8),
)


def _assert_valid(name: str, value) -> None:
    p = P.SCHEMA[name]
    if p.kind == "int":
        assert type(value) is int, (name, value)
    elif p.kind == "float":
        assert type(value) is float and math.isfinite(value), (name, value)
    else:
        assert type(value) is bool, (name, value)
    if p.kind != "bool":
        assert p.low <= value <= p.high, (name, value)


def _assert_names(exc: P.ParameterError, name: str) -> str:
    msg = str(exc)
    assert name in msg, msg
    assert len(msg.splitlines()) == 1, f"multi-line message: {msg!r}"
    assert len(msg) < 1000, f"message of {len(msg)} characters"
    return msg


# ----------------------------------------------------------------------------- the schema
@settings(max_examples=examples(400), deadline=None)
@given(name=st.sampled_from(NAMES), value=ANY_VALUE)
def test_check_accepts_in_range_or_raises_parameter_error(name, value):
    try:
        out = P.validate({name: value}, source="fuzz.toml")
    except P.ParameterError as exc:
        msg = _assert_names(exc, name)
        assert "fuzz.toml" in msg
        return
    _assert_valid(name, out[name])
    assert {k: v for k, v in out.items() if k != name} == {k: v for k, v in P.defaults().items() if k != name}


@settings(max_examples=examples(300), deadline=None)
@given(text=st.one_of(
    st.text(max_size=40),
    st.builds(lambda n, v: f"{n}={v}", st.sampled_from(NAMES), st.text(max_size=20)),
    st.builds(lambda n, v: f" {n} = {v} ", st.sampled_from(NAMES),
              st.floats(allow_nan=True, allow_infinity=True).map(repr)),
    st.builds(lambda n, v: f"{n}={v}", st.text(max_size=12), st.integers().map(str)),
))
def test_parse_override_never_crashes(text):
    try:
        key, value = P.parse_override(text)
    except P.ParameterError as exc:
        msg = str(exc)
        assert len(msg.splitlines()) == 1, f"multi-line message: {msg!r}"
        if "=" in text:
            key = text.partition("=")[0].strip()
            if key in P.SCHEMA:
                assert key in msg
        return
    assert key in P.SCHEMA
    _assert_valid(key, value)


@settings(max_examples=examples(150), deadline=None)
@given(key=st.text(min_size=0, max_size=25).filter(lambda k: k not in P.SCHEMA), value=ANY_VALUE)
def test_unknown_keys_are_named(key, value):
    with pytest.raises(P.ParameterError) as ei:
        P.validate({key: value}, source="fuzz.toml")
    msg = _assert_names(ei.value, "fuzz.toml")
    assert "unknown parameter" in msg
    assert repr(key)[:20] in msg  # the key, quoted and escaped (long keys are shortened)


def test_huge_integers_are_a_parameter_error_not_an_overflow():
    """Found by fuzzing: ``math.isfinite(10**400)`` raised OverflowError (fixed in sim/model/params.py)."""
    for value in (10 ** 400, -(10 ** 400), 10 ** 5000):
        for name in ("n_local", "scale"):
            with pytest.raises(P.ParameterError, match=name):
                P.validate({name: value})


def test_key_with_newline_gives_one_line_message():
    """Found by fuzzing: an unknown key containing a newline produced a two-line message."""
    with pytest.raises(P.ParameterError) as ei:
        P.parse_override("sca\nle=0.5")
    assert len(str(ei.value).splitlines()) == 1


def test_numpy_scalars_are_accepted():
    assert P.validate({"n_local": np.int64(4)})["n_local"] == 4
    assert P.validate({"scale": np.float32(0.5)})["scale"] == 0.5


# ----------------------------------------------------------------------------- the command line
@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """A finished result folder that bad commands must leave untouched."""
    out = tmp_path_factory.mktemp("finished") / "out"
    assert main(["run", "--years", "0.5", "--scale", "0.02", "--clusters", SMALL[0], "--out", str(out),
                 "--quiet", "--no-figure"]) == 0
    return out


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}




def _invalid(name: str, raw: str) -> bool:
    try:
        P.SCHEMA[name].check(raw.strip())
    except P.ParameterError:
        return True
    return False


BAD_SET_VALUE = st.one_of(
    st.text(max_size=15),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10 ** 40), max_value=10 ** 40).map(str),
    st.sampled_from(["", " ", "nan", "-inf", "1e400", "1e-400", "0x10", "1,5", "½", "١٢", "true", "None",
                     "[1]", "{}", "__import__('os').system('echo pwned')", "1; rm -rf /", "$(id)"]),
)


@settings(max_examples=examples(120), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much])
@given(name=st.sampled_from(NAMES), raw=BAD_SET_VALUE)
def test_cli_bad_set_value(finished_run, name, raw):
    assume(_invalid(name, raw))
    before = _digest(finished_run)
    rc, err = _main(["run", "--years", "1", "--out", str(finished_run), "--quiet", f"--set={name}={raw}"])
    assert rc == 2
    line = one_line_error(err)
    assert f"'{name}'" in line
    assert _digest(finished_run) == before


@settings(max_examples=examples(80), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.text(max_size=20).filter(lambda k: "=" not in k and k.strip() not in P.SCHEMA),
       raw=st.text(max_size=8))
def test_cli_unknown_set_key(finished_run, key, raw):
    before = _digest(finished_run)
    rc, err = _main(["run", "--years", "1", "--out", str(finished_run), "--quiet", f"--set={key}={raw}"])
    assert rc == 2
    line = one_line_error(err)
    assert "unknown parameter" in line
    assert _digest(finished_run) == before


# Every numeric option of 'run' with the values it must refuse (the oracle is the help text:
# years > 0, seed a non-negative integer, replicates and jobs positive integers, scale in the
# schema's range).
def _bad_for(option: str, text: str) -> bool:
    try:
        x = float(text) if option in ("--years", "--scale") else int(text)
    except (ValueError, OverflowError):
        return True
    if option == "--years":
        return not (0 < x <= 1000)
    if option == "--seed":
        return x < 0
    if option == "--scale":
        lo, hi = P.SCHEMA["scale"].low, P.SCHEMA["scale"].high
        return not (lo <= x <= hi)
    if option == "--jobs":
        return not (0 < x <= 1_000_000)
    return x <= 0  # --replicates


OPTION_VALUE = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10 ** 30), max_value=10 ** 30).map(str),
    st.text(max_size=10),
    st.sampled_from(["0", "-0", "-1", "1e308", "1e309", "nan", "inf", "1e9", "99999999999999999999", "0.0",
                     "1.5", "", " ", "2**10", "١"]),
)


@settings(max_examples=examples(200), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much])
@given(option=st.sampled_from(["--years", "--seed", "--replicates", "--jobs", "--scale"]), text=OPTION_VALUE)
def test_cli_bad_numeric_options(finished_run, option, text):
    assume(_bad_for(option, text))
    before = _digest(finished_run)
    rc, err = _main(["run", "--out", str(finished_run), "--quiet", "--no-figure",
                     "--clusters", SMALL[0], f"{option}={text}"])
    assert rc == 2, (option, text, err)
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("clustersim"), err
    assert option in last or option.lstrip("-") in last, err
    assert _digest(finished_run) == before


CLI_CASES = [
    (["--set", "scale=nan"], "'scale'"),
    (["--set", "n_local=1e400"], "'n_local'"),
    (["--set", "n_local=" + "9" * 5000], "'n_local'"),
    (["--set", "\u00e9chelle=0.5"], "unknown parameter"),
    (["--set", "=1"], "unknown parameter"),
    (["--set", "startup_rate"], "name=value"),
    (["--seed", "-1"], "--seed"),
    (["--years", "1e308"], "--years"),
    (["--jobs", "1000000000"], "--jobs"),
    (["--years=--"], "--years"),
    (["--set=--"], "--set"),
    (["--clusters", ",,"], "cluster"),
    (["--clusters", "wonju_medical_devices,\u2603"], "unknown cluster id"),
    (["--clusters", "wonju_medical_devices\nx"], "unknown cluster id"),
]
SUBPROCESS_CASES = [CLI_CASES[i] for i in (0, 2, 3, 6, 9, 12)]


@pytest.mark.parametrize("args, needle", CLI_CASES)
def test_cli_bad_input_in_process(tmp_path, args, needle):
    rc, err = _main(["run", "--years", "0.25", "--scale", "0.01", "--out", str(tmp_path / "o"), "--quiet",
                     "--no-figure"] + args)
    assert rc == 2, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("clustersim") and needle in last, err
    assert not (tmp_path / "o" / "indicators.parquet").exists()


@pytest.mark.parametrize("args, needle", SUBPROCESS_CASES)
def test_cli_subprocess_no_traceback(tmp_path, args, needle):
    r = run_cli_subprocess(["run", "--years", "0.25", "--scale", "0.01", "--out", str(tmp_path / "o"),
                            "--quiet", "--no-figure"] + args)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    assert needle in r.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "o" / "indicators.parquet").exists()


def test_python_api_rejects_absurd_years():
    """``sim.run(years=1e308)`` overflowed inside the worker (RunError with a traceback)."""
    from sim.engine.runner import run

    for years in (float("nan"), float("inf"), -1.0, 0.0):
        with pytest.raises(P.ParameterError, match="years"):
            run(years=years, clusters=SMALL[:1], scale=0.01, progress=False)


def test_python_api_rejects_overflowing_years():
    from sim.engine.runner import run

    with pytest.raises(P.ParameterError, match="years"):
        run(years=1e308, clusters=SMALL[:1], scale=0.01, progress=False)
