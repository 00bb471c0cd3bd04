"""Hostile files and folders (issue 15): every file the program reads must be a regular file of
bounded size, every folder it writes must be a folder it may write, and bad ones stop the
command with one line ``clustersim: error: ...`` and exit code 2 -- no traceback, no hang, no
unbounded memory, nothing already computed lost.

The fuzz (:func:`test_fuzz_file_arguments`) feeds every command's file arguments with special
files (FIFO, ``/dev/zero``, a folder, a sparse file larger than the limit, binary bytes, JSON or
TOML of the wrong types, deep nesting, huge integers) in forked children of one subprocess that
runs under a memory limit (``RLIMIT_AS``) and a timeout (``files_fuzz_driver.py``).
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pandas as pd
import pytest
from robustness_helpers import ROOT, SMALL, cli_env, one_line_error, run_cli_subprocess
from robustness_helpers import main_in_process as _main

from calibration.shipped import load_params
from scenarios.projection import OUTPUT_COLUMNS, load_projection
from scenarios.scenario import ScenarioError
from sim.core.io import InputFileError, read_small_json, read_small_text
from sim.engine.store import Store
from sim.model.params import ParameterError

CALIBRATED = ROOT / "calibration" / "calibrated.json"
MEMORY_LIMIT = 2 * 1024 ** 3  # bytes of address space for the fuzz subprocess
HUGE = 100 * 1024 * 1024      # a sparse file larger than every limit




def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


TINY_RUN = ["--params", "defaults", "--clusters", SMALL[0], "--scale", "0.02", "--years", "0.5",
            "--no-figure", "--quiet"]
SCENARIO = """[scenario]
name = "base"
start_year = 2020
end_year = 2021
replicates = 2
seed = 3
clusters = ["wonju_medical_devices"]

[params]
scale = 0.02
"""


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("files_run") / "out"
    rc, err = _main(["run", *TINY_RUN, "--out", str(out)])
    assert rc == 0, err
    return out


@pytest.fixture(scope="module")
def projection(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("files_proj")
    (d / "base.toml").write_text(SCENARIO)
    rc, err = _main(["project", str(d / "base.toml"), "--params", "defaults", "--no-figures", "--quiet",
                     "--out", str(d / "out")])
    assert rc == 0, err
    return d / "out"


def _copy(folder: Path, dest: Path) -> Path:
    shutil.copytree(folder, dest, symlinks=True)
    return dest


# ============================================================================ 1. file type and size
def test_read_small_text_refuses_special_and_large_files(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    huge = tmp_path / "huge.json"
    with open(huge, "wb") as fh:
        fh.truncate(HUGE)
    (tmp_path / "bin").write_bytes(b"\xff\xfe\x00\x9c" * 10)
    (tmp_path / "ok.json").write_text('\ufeff{"a": 1}', encoding="utf-8")
    cases = {fifo: "FIFO", "/dev/zero": "device", tmp_path: "folder", huge: "too large",
             tmp_path / "bin": "UTF-8", tmp_path / "missing": "no such file"}
    for path, needle in cases.items():
        t0 = time.perf_counter()
        with pytest.raises(InputFileError, match=needle) as exc:
            read_small_text(path, limit=1024, what="test file")
        assert time.perf_counter() - t0 < 5
        assert "\n" not in str(exc.value)
    assert read_small_json(tmp_path / "ok.json", limit=1024) == {"a": 1}
    for text, needle in (("[" * 100_000 + "]" * 100_000, "nesting"), ("1" * 5000, "JSON"), ("{", "JSON")):
        (tmp_path / "x.json").write_text(text)
        with pytest.raises(InputFileError, match=needle):
            read_small_json(tmp_path / "x.json", limit=10 ** 6)


def _limited():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


@pytest.mark.parametrize("args", [
    ["calibrate", "--quick", "--settings", "/dev/zero"],
    ["predict", "--params", "/dev/zero"],
    ["run", "--params", "{fifo}"],
    ["calibrate", "--quick", "--settings", "{fifo}"],
], ids=["calibrate-settings-devzero", "predict-params-devzero", "run-params-fifo", "calibrate-settings-fifo"])
def test_special_files_stop_with_one_line(tmp_path, args):
    os.mkfifo(tmp_path / "fifo")
    argv = [a.format(fifo=tmp_path / "fifo") for a in args] + ["--out", str(tmp_path / "out")]
    r = subprocess.run([sys.executable, "-m", "sim.face.cli", *argv], capture_output=True, text=True, timeout=90,
                       cwd=ROOT, env=cli_env(), preexec_fn=_limited)
    assert r.returncode == 2, r.stderr[-2000:]
    line = one_line_error(r.stderr)
    assert "regular file" in line


# ============================================================================ 2. duplicate cluster ids
@pytest.mark.parametrize("args", [
    ["run", "--params", "defaults", "--years", "0.5", "--scale", "0.02", "--no-figure", "--quiet"],
    ["project", "baseline", "--params", "defaults", "--quick", "--no-figures", "--quiet"],
    ["sensitivity", "--method", "morris", "--outcomes", "centripetal", "--n", "2", "--scale", "0.02",
     "--years", "0.5", "--quiet"],
    ["predict", "--replicates", "1", "--quiet"],
], ids=["run", "project", "sensitivity", "predict"])
def test_duplicate_cluster_ids_are_refused(tmp_path, args):
    out = tmp_path / "out"
    rc, err = _main([*args, "--clusters", f"{SMALL[0]},{SMALL[1]},{SMALL[0]}", "--out", str(out)])
    assert rc == 2, err
    line = one_line_error(err)
    assert "more than once" in line and SMALL[0] in line
    assert not out.exists()  # bad input leaves no folder behind


# ============================================================================ 3. report: scenario names
def _edit_manifest(folder: Path, edit) -> None:
    mf = folder / "manifest.json"
    d = json.loads(mf.read_text())
    edit(d)
    mf.write_text(json.dumps(d))


def test_report_refuses_scenario_names_outside_the_folder(projection, tmp_path):
    secret = tmp_path / "secret.toml"
    secret.write_text("# SECRET-MARKER\n")
    d = _copy(projection, tmp_path / "proj")

    def edit(m):
        m["scenarios"][0]["name"] = "../../secret"
        m["baseline"] = "../../secret"
    _edit_manifest(d, edit)
    rc, err = _main(["report", str(d), "--quiet"])
    assert rc == 2, err
    assert "invalid name" in one_line_error(err)
    assert not (d / "report.html").exists()
    with pytest.raises(ScenarioError):
        load_projection(d)


def test_report_refuses_scenario_copies_linked_outside(projection, tmp_path):
    secret = tmp_path / "secret.toml"
    secret.write_text("# SECRET-MARKER\n")
    d = _copy(projection, tmp_path / "proj")
    copy = d / "scenarios" / "base.toml"
    copy.unlink()
    copy.symlink_to(secret)
    rc, err = _main(["report", str(d), "--quiet"])
    assert rc == 2, err
    assert "outside" in one_line_error(err)
    assert not (d / "report.html").exists()


# ============================================================================ 4. tracebacks -> one line
@pytest.mark.parametrize("args", [
    ["run", *TINY_RUN],
    ["project", "baseline", "--params", "defaults", "--quick", "--quiet"],
    ["calibrate", "--quick", "--quiet"],
    ["predict", "--quiet"],
    ["sensitivity", "--method", "morris", "--outcomes", "centripetal", "--n", "2", "--quiet"],
], ids=["run", "project", "calibrate", "predict", "sensitivity"])
@pytest.mark.parametrize("where", ["file", "read-only"])
def test_out_that_cannot_be_a_folder(tmp_path, args, where):
    if where == "file":
        out = tmp_path / "a_file"
        out.write_text("keep me\n")
    else:
        out = Path("/proc/clustersim-no-such/out")  # a location no one can create
    rc, err = _main([*args, "--out", str(out)])
    assert rc == 2, err
    line = one_line_error(err)
    assert "--out" in line
    if where == "file":
        assert out.read_text() == "keep me\n"
    else:
        assert not out.parent.exists()


def _calibration(edit) -> str:
    d = json.loads(CALIBRATED.read_text())
    edit(d)
    return json.dumps(d)


CORRUPT_CALIBRATIONS = {
    "no-table": _calibration(lambda d: d["setup"].pop("table")),                      # KeyError
    "knobs-number": _calibration(lambda d: d["setup"].update(knobs=5)),               # TypeError
    "params-list": _calibration(lambda d: d.update(params=[1, 2])),
    "setup-string": _calibration(lambda d: d.update(setup="x")),
    "map-years-list": _calibration(lambda d: d["measurement_map"].update(years=[1])),
    "map-fit-text": _calibration(lambda d: d["measurement_map"]["years"].update({"2020": {"x": {"a": "q"}}})),
    "run-params-text": _calibration(lambda d: d.update(run_params={"network_persistence": "high"})),
    "relax-number": _calibration(lambda d: d["setup"].update(relax={"network_persistence": 3})),
    "deep": '{"format": "clustersim.calibration/1", "params": ' + "[" * 100_000 + "]" * 100_000 + "}",  # Recursion
    "huge-int": '{"format": "clustersim.calibration/1", "params": {"startup_rate": ' + "7" * 5000 + "}}",
}


@pytest.mark.parametrize("name", list(CORRUPT_CALIBRATIONS))
def test_corrupted_calibration_file(tmp_path, name):
    f = tmp_path / "params.json"
    f.write_text(CORRUPT_CALIBRATIONS[name])
    with pytest.raises(ParameterError):
        load_params(f)
    rc, err = _main(["predict", "--params", str(f), "--replicates", "1", "--quiet", "--out", str(tmp_path / "o")])
    assert rc == 2, err
    assert str(f) in one_line_error(err)


CORRUPT_MANIFESTS = {
    "scenarios-number": lambda m: m.update(scenarios=5),
    "scenario-name-number": lambda m: m["scenarios"][0].update(name=5),
    "policies-text": lambda m: m["scenarios"][0].update(policies="x"),
    "settings-list": lambda m: m.update(settings=[]),
    "start-year-text": lambda m: m["settings"].update(start_year="2020"),
    "clusters-number": lambda m: m["settings"].update(clusters=3),
    "baseline-missing": lambda m: m.update(baseline="nobody"),
    "params-file-list": lambda m: m.update(params_file=[1]),
    "manifest-list": lambda m: (m.clear(), m.update(format="clustersim.projection/1")),
}


@pytest.mark.parametrize("name", list(CORRUPT_MANIFESTS))
def test_corrupted_projection_folder(projection, tmp_path, name):
    d = _copy(projection, tmp_path / "proj")
    _edit_manifest(d, CORRUPT_MANIFESTS[name])
    rc, err = _main(["report", str(d), "--quiet"])
    assert rc == 2, err
    assert "manifest.json" in one_line_error(err)
    assert not (d / "report.html").exists()


def test_corrupted_projection_table(projection, tmp_path):
    d = _copy(projection, tmp_path / "proj")
    (d / "indicators.parquet").write_bytes(b"PAR1 not really")
    rc, err = _main(["report", str(d), "--quiet"])
    assert rc == 2, err
    assert "indicators.parquet" in one_line_error(err)


STORE_MANIFESTS = ['{"seed": [1, 2], "constants": 5}', '{"seed": {"entropy": "x"}}', '[1, 2]',
                   '{"replicates": "many"}', '{"constants": {}, "sessions": 4}', "[" * 100_000]


@pytest.mark.parametrize("text", STORE_MANIFESTS, ids=range(len(STORE_MANIFESTS)))
def test_store_manifest_with_wrong_types(tmp_path, text):
    (tmp_path / "manifest.json").write_text(text)
    with pytest.warns(UserWarning, match="checking run files individually"):
        assert Store(tmp_path).read_manifest() is None


def test_resume_over_a_store_manifest_with_wrong_types(finished_run, tmp_path):
    d = _copy(finished_run, tmp_path / "out")
    (d / "store" / "manifest.json").write_text('{"seed": [1, 2], "constants": 5, "design_hash": 7}')
    before = pd.read_parquet(d / "indicators.parquet")
    rc, err = _main(["run", *TINY_RUN, "--out", str(d), "--resume"])
    assert rc == 0, err
    assert "Traceback" not in err
    pd.testing.assert_frame_equal(pd.read_parquet(d / "indicators.parquet"), before)


# ============================================================================ 5. report --out
def test_report_out_a_folder_or_empty(projection, tmp_path, monkeypatch):
    d = _copy(projection, tmp_path / "proj")
    target = tmp_path / "somewhere"
    target.mkdir()
    rc, err = _main(["report", str(d), "--out", str(target), "--quiet"])
    assert rc == 2, err
    assert "is a folder" in one_line_error(err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["proj", "somewhere"]  # no stray .tmp file
    assert not any(target.iterdir())
    monkeypatch.chdir(tmp_path)
    rc, err = _main(["report", str(d), "--out", "", "--quiet"])
    assert rc == 2, err
    assert "empty" in one_line_error(err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["proj", "somewhere"]


# ============================================================================ 6. who wrote a folder
def test_run_refuses_finished_folder_without_store(finished_run, tmp_path):
    d = _copy(finished_run, tmp_path / "out")
    shutil.rmtree(d / "store")
    before = _digest(d)
    for extra in ([], ["--resume"]):
        rc, err = _main(["run", *TINY_RUN, "--seed", "7", "--out", str(d), *extra])
        assert rc == 2, err
        assert "--force" in one_line_error(err)
        assert _digest(d) == before
    rc, err = _main(["run", *TINY_RUN, "--seed", "7", "--out", str(d), "--force"])
    assert rc == 0, err
    assert _digest(d) != before


def test_commands_refuse_a_folder_of_another_command(finished_run, projection, tmp_path):
    cal = tmp_path / "cal"
    cal.mkdir()
    shutil.copy(CALIBRATED, cal / "params.json")
    before = _digest(cal)
    rc, err = _main(["run", *TINY_RUN, "--out", str(cal)])
    assert rc == 2, err
    assert "clustersim calibrate" in one_line_error(err)
    assert _digest(cal) == before
    for folder, args in ((finished_run, ["project", "baseline", "--params", "defaults", "--quick", "--quiet"]),
                         (projection, ["run", *TINY_RUN])):
        before = _digest(folder)
        rc, err = _main([*args, "--out", str(folder)])
        assert rc == 2, err
        assert "holds the output of" in one_line_error(err)
        assert _digest(folder) == before


# ============================================================================ 7. messages
def test_resume_mismatch_names_the_differing_key(finished_run, tmp_path):
    d = _copy(finished_run, tmp_path / "out")
    rc, err = _main(["run", *[a if a != "0.5" else "0.75" for a in TINY_RUN], "--out", str(d), "--resume"])
    assert rc == 2, err
    line = one_line_error(err)
    assert "years" in line and len(line) < 300, line


def test_warnings_are_one_line(finished_run, tmp_path):
    stale = tmp_path / "stale.json"
    stale.write_text(_calibration(lambda d: d.update(baseline="0" * 64)))
    r = run_cli_subprocess(["run", *TINY_RUN[2:], "--params", str(stale), "--out", str(tmp_path / "o")],
                           timeout=180)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("clustersim: warning: "), r.stderr
    assert "calibrated on a model that behaves differently" in lines[0]


def test_warning_hook_is_restored():
    before = warnings.showwarning
    _main(["params"])
    assert warnings.showwarning is before


# ============================================================================ 8. the fuzz
KINDS = ["fifo", "devzero", "folder", "huge", "binary", "wrong-types", "deep", "huge-int"]

WRONG = {
    "params": '{"startup_rate": {"x": [1]}, "format": 3}',
    "calibration": '{"format": "clustersim.calibration/1", "params": {}, "measurement_map": [], "setup": {"table": 5}}',
    "settings": '{"scale": [0.1], "estimate": {"a": 1}}',
    "toml": '[scenario]\nname = 5\nreplicates = "x"\n',
    "manifest": '{"format": "clustersim.projection/1", "scenarios": [{"name": "../../x", "policies": 5}], '
                '"settings": [], "baseline": 3}',
}
DEEP = {"toml": "a = " + "[" * 100_000 + "]" * 100_000 + "\n"}
BIGINT = {"toml": "[params]\nscale = " + "9" * 5000 + "\n"}


def _special(base: Path, kind: str, fmt: str, name: str) -> str:
    """A file of ``kind`` (its contents in format ``fmt``) named ``name`` in ``base``; its path."""
    p = base / name
    p.parent.mkdir(parents=True, exist_ok=True)
    if kind == "devzero":
        if p.name == "manifest.json" or p.parent.name == "scenarios":
            p.symlink_to("/dev/zero")
            return str(p)
        return "/dev/zero"
    if kind == "fifo":
        os.mkfifo(p)
    elif kind == "folder":
        p.mkdir()
    elif kind == "huge":
        with open(p, "wb") as fh:
            fh.truncate(HUGE)
    elif kind == "binary":
        p.write_bytes(bytes(range(256)) * 8 + b"\xff\xfe\xfd")
    elif kind == "wrong-types":
        p.write_text(WRONG[fmt])
    elif kind == "deep":
        p.write_text(DEEP.get(fmt, "[" * 100_000 + "]" * 100_000))
    elif kind == "huge-int":
        p.write_text(BIGINT.get(fmt, '{"startup_rate": ' + "9" * 5000 + "}"))
    return str(p)


def _fake_projection(d: Path, scenario_copy_kind: str | None = None) -> Path:
    """A minimal projection folder (manifest, table, scenarios/) for the report's fuzz cases."""
    d.mkdir(parents=True)
    (d / "scenarios").mkdir()
    pd.DataFrame({c: pd.Series(dtype="float64" if c == "value" else "object") for c in OUTPUT_COLUMNS}) \
        .to_parquet(d / "indicators.parquet")
    manifest = {"format": "clustersim.projection/1", "baseline": "base",
                "scenarios": [{"name": "base", "policies": [], "params": {}}],
                "settings": {"start_year": 2020, "end_year": 2021, "years": 1, "replicates": 1, "seed": 1,
                             "record_every": 1, "clusters": None}}
    (d / "manifest.json").write_text(json.dumps(manifest))
    return d


def _cases(base: Path) -> list[tuple[str, list[str]]]:
    cases = []
    for kind in KINDS:
        k = base / kind
        out = str(k / "out")
        cases += [
            (f"run --params {kind}", ["run", "--params", _special(k, kind, "params", "run.json"), "--out", out]),
            (f"project SCENARIO {kind}", ["project", _special(k, kind, "toml", "s.toml"), "--params", "defaults",
                                          "--out", out]),
            (f"project --params {kind}", ["project", "baseline", "--params",
                                          _special(k, kind, "params", "proj.json"), "--out", out]),
            (f"calibrate --settings {kind}", ["calibrate", "--quick", "--settings",
                                              _special(k, kind, "settings", "settings.json"), "--out", out]),
            (f"predict --params {kind}", ["predict", "--params", _special(k, kind, "calibration", "cal.json"),
                                          "--out", out]),
        ]
        if kind != "folder":
            cases.append((f"report DIR {kind}", ["report", _special(k, kind, "manifest", "dir")]))
        else:
            (k / "empty").mkdir()
            cases.append(("report DIR empty folder", ["report", str(k / "empty")]))
        mdir = k / "mproj"
        mdir.mkdir()
        pd.DataFrame({c: [] for c in OUTPUT_COLUMNS}).to_parquet(mdir / "indicators.parquet")
        _special(mdir, kind, "manifest", "manifest.json")
        cases.append((f"report manifest.json {kind}", ["report", str(mdir)]))
        if kind in ("fifo", "devzero", "folder", "huge", "binary"):
            pdir = _fake_projection(k / "sproj")
            _special(pdir, kind, "toml", "scenarios/base.toml")
            cases.append((f"report scenario copy {kind}", ["report", str(pdir)]))
        if kind in ("fifo", "devzero", "binary"):
            target = _special(k, kind, "params", "out_target")
            cases += [(f"run --out {kind}", ["run", "--params", "defaults", "--out", target]),
                      (f"sensitivity --out {kind}", ["sensitivity", "--method", "morris", "--outcomes",
                                                     "centripetal", "--n", "2", "--out", target]),
                      (f"calibrate --out {kind}", ["calibrate", "--quick", "--out", target])]
    return cases


def test_fuzz_file_arguments(tmp_path):
    cases = _cases(tmp_path)
    spec = tmp_path / "cases.json"
    spec.write_text(json.dumps([{"argv": argv, "cwd": str(tmp_path)} for _, argv in cases]))
    per_case = 20
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, str(Path(__file__).with_name("files_fuzz_driver.py")), str(spec),
                        str(per_case)], capture_output=True, text=True, cwd=ROOT, env=cli_env(),
                       preexec_fn=_limited, timeout=60 + per_case * len(cases))
    assert r.returncode == 0, r.stderr[-3000:]
    results = json.loads(r.stdout)
    bad = []
    for (name, argv), res in zip(cases, results):
        lines = [ln for ln in res["stderr"].splitlines() if ln.strip()]
        ok = (res["rc"] == 2 and len(lines) == 1 and lines[0].startswith("clustersim: error: ")
              and "Traceback" not in res["stderr"] and res["maxrss_kb"] < 1_500_000 and res["seconds"] < per_case)
        if not ok:
            bad.append(f"{name}: rc {res['rc']}, {res['seconds']:.1f}s, {res['maxrss_kb'] // 1024} MB: "
                       f"{res['stderr'][-400:]!r}")
    print(f"fuzzed {len(cases)} file arguments in {time.perf_counter() - t0:.1f}s")
    assert not bad, f"{len(bad)} of {len(cases)} cases failed:\n" + "\n".join(bad)


def test_resume_over_a_fifo_in_the_store(finished_run, tmp_path):
    d = _copy(finished_run, tmp_path / "out")
    runs = sorted((d / "store" / "runs").glob("*.parquet"))
    runs[0].unlink()
    os.mkfifo(runs[0])
    before = pd.read_parquet(d / "indicators.parquet")
    r = run_cli_subprocess(["run", *TINY_RUN, "--out", str(d), "--resume"], timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Traceback" not in r.stderr
    assert all(ln.startswith("clustersim: warning: ") for ln in r.stderr.splitlines() if ln.strip()), r.stderr
    assert runs[0].is_file()
    pd.testing.assert_frame_equal(pd.read_parquet(d / "indicators.parquet"), before)
