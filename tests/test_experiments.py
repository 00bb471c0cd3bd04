"""Tests for the experiment engine (sim.engine.design, .backends, .store, .experiments): designs, seeds,
backends, the resumable store."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pandas.testing import assert_frame_equal

from sim.engine.design import (
    Lever,
    Uncertainty,
    combine,
    design_from_array,
    design_hash,
    full_factorial,
    replicate_seeds,
)
from sim.engine.experiments import (
    ExperimentResult,
    RunError,
    load_results,
    run_experiments,
)
from sim.engine.sampling import latin_hypercube
from sim.engine.settings import RunSettings
from sim.engine.store import RUN_METADATA_KEY, ResumeMismatchError, read_run_record

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------
# Toy models (module level so that process backends can pickle them)
# --------------------------------------------------------------------------
def toy_model(params, seed):
    """Stochastic toy: three periods of a*t + b + c + noise, plus an int and a string column."""
    rng = np.random.default_rng(seed)
    t = np.arange(3)
    return pd.DataFrame({
        "period": t,
        "value": params["a"] * t + params["b"] + params.get("c", 0.0) + rng.normal(size=3),
        "draw": rng.integers(0, 1_000_000, size=3),
        "label": ["start", "middle", "end"],
    })


def slow_model(params, seed):
    time.sleep(0.05)
    return toy_model(params, seed)


def failing_model(params, seed):
    if params["a"] >= 2:
        raise ValueError("boom")
    return toy_model(params, seed)


INTERRUPT = {"at": None}


def interrupting_model(params, seed):
    if INTERRUPT["at"] is not None and params["a"] == INTERRUPT["at"]:
        raise KeyboardInterrupt
    return toy_model(params, seed)


def small_design():
    return full_factorial([Lever("a", [0.0, 1.0, 2.0, 3.0]), Lever("b", [0.0, 10.0])])


def kill_design():
    return full_factorial([Lever("a", [float(i) for i in range(10)]), Lever("b", [0.0, 1.0])])


def _quiet(**kw):
    return {"progress": False, **kw}


# --------------------------------------------------------------------------
# Design builders
# --------------------------------------------------------------------------
def test_full_factorial_order_and_numbering():
    d = full_factorial([Lever("a", [1, 2]), Lever("b", ["x", "y", "z"])])
    assert list(d.columns) == ["experiment", "a", "b"]
    assert d["experiment"].tolist() == list(range(6))
    assert d["a"].tolist() == [1, 1, 1, 2, 2, 2]
    assert d["b"].tolist() == ["x", "y", "z"] * 2


def test_latin_hypercube_seeded_stratified_and_typed():
    us = [Uncertainty("x", 0.0, 2.0), Uncertainty("k", 1, 5, kind="int")]
    d1 = latin_hypercube(us, 10, seed=3)
    assert_frame_equal(d1, latin_hypercube(us, 10, seed=3))
    assert not d1["x"].equals(latin_hypercube(us, 10, seed=4)["x"])
    # one point per stratum of width (high - low) / n
    assert sorted(np.floor(d1["x"] / 0.2).astype(int)) == list(range(10))
    assert pd.api.types.is_integer_dtype(d1["k"])
    assert d1["k"].between(1, 5).all()
    # 10 points over 5 integer values: each value exactly twice
    assert d1["k"].value_counts().tolist() == [2] * 5


def test_uncertainty_and_lever_validation():
    with pytest.raises(ValueError):
        Uncertainty("x", 1.0, 1.0)
    with pytest.raises(ValueError):
        Uncertainty("x", 0, 1, kind="str")
    with pytest.raises(ValueError):
        Lever("p", [])
    assert Lever("p", [1, 2]).values == (1, 2)


def test_combine_is_cartesian():
    a = full_factorial([Lever("p", [0, 1])])
    b = latin_hypercube([Uncertainty("u", 0, 1)], 3, seed=0)
    c = combine(a, b)
    assert len(c) == 6
    assert c["experiment"].tolist() == list(range(6))
    assert c["p"].tolist() == [0, 0, 0, 1, 1, 1]
    assert c["u"].tolist() == b["u"].tolist() * 2
    with pytest.raises(ValueError, match="share"):
        combine(a, a)


def test_design_hash_ignores_column_order_only():
    d = small_design()
    assert design_hash(d) == design_hash(d[["b", "experiment", "a"]])
    changed = d.copy()
    changed.loc[3, "a"] = 99.0
    assert design_hash(d) != design_hash(changed)


# --------------------------------------------------------------------------
# Seeds, common random numbers, determinism
# --------------------------------------------------------------------------
def test_replicate_seeds_spawn_and_prefix_stability():
    entropy, seeds = replicate_seeds(42, 3)
    assert entropy == 42
    children = np.random.SeedSequence(42).spawn(3)
    assert seeds == [int(c.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1)) for c in children]
    assert len(set(seeds)) == 3 and all(0 <= s < 2**63 for s in seeds)
    assert replicate_seeds(42, 5)[1][:3] == seeds


def test_common_random_numbers_and_seed_column():
    design = pd.DataFrame({"a": [0.5, 0.5, 2.0], "b": [1.0, 1.0, 1.0]})  # no experiment column
    res = run_experiments(toy_model, design, replicates=3, seed=11, **_quiet(backend="sequential"))
    out = res.outcomes
    assert list(out.columns[:3]) == ["experiment", "replicate", "seed"]
    assert res.design["experiment"].tolist() == [0, 1, 2]
    e0 = out[out.experiment == 0].drop(columns="experiment").reset_index(drop=True)
    e1 = out[out.experiment == 1].drop(columns="experiment").reset_index(drop=True)
    assert_frame_equal(e0, e1)  # identical params -> identical runs per replicate
    _, seeds = replicate_seeds(11, 3)
    assert out.groupby("replicate")["seed"].unique().map(lambda s: s[0]).tolist() == seeds
    # the same replicate uses the same seed (hence the same noise draw) in experiment 2
    draws = out.pivot_table(index="replicate", columns="experiment", values="draw", aggfunc="first")
    assert (draws[0] == draws[2]).all()
    assert draws[0].nunique() == 3  # replicates differ
    assert res.manifest["seed"]["entropy"] == 11 == res.entropy
    assert res.seeds == seeds


def test_seed_changes_outcomes_and_is_reproducible():
    d = small_design()
    a = run_experiments(toy_model, d, 2, seed=1, **_quiet(backend="sequential")).outcomes
    b = run_experiments(toy_model, d, 2, seed=1, **_quiet(backend="sequential")).outcomes
    c = run_experiments(toy_model, d, 2, seed=2, **_quiet(backend="sequential")).outcomes
    assert_frame_equal(a, b)
    assert not np.allclose(a["value"], c["value"])


def test_constants_are_passed_and_checked():
    d = small_design()
    base = run_experiments(toy_model, d, 1, **_quiet(backend="sequential")).outcomes
    shifted = run_experiments(toy_model, d, 1, constants={"c": 100.0}, **_quiet(backend="sequential")).outcomes
    np.testing.assert_allclose(shifted["value"] - base["value"], 100.0)
    with pytest.raises(ValueError, match="constants"):
        run_experiments(toy_model, d, 1, constants={"a": 1.0}, **_quiet(backend="sequential"))


# --------------------------------------------------------------------------
# Backends
# --------------------------------------------------------------------------
def test_loky_and_threading_equal_sequential():
    d = combine(small_design(), latin_hypercube([Uncertainty("c", 0, 1)], 2, seed=5))
    ref = run_experiments(toy_model, d, 3, seed=9, **_quiet(backend="sequential"))
    loky = run_experiments(toy_model, d, 3, seed=9, **_quiet(backend="loky", n_jobs=2, batch_size=1))
    thr = run_experiments(toy_model, d, 3, seed=9, **_quiet(backend="threading", n_jobs=2))
    assert len(ref.outcomes) == len(d) * 3 * 3
    assert_frame_equal(ref.outcomes, loky.outcomes)
    assert_frame_equal(ref.outcomes, thr.outcomes)
    assert_frame_equal(ref.design, loky.design)


def test_dask_local_cluster_equals_sequential():
    distributed = pytest.importorskip("distributed")
    d = small_design()
    ref = run_experiments(toy_model, d, 2, seed=4, **_quiet(backend="sequential"))
    got = run_experiments(toy_model, d, 2, seed=4, **_quiet(backend="dask", n_jobs=2))
    assert_frame_equal(ref.outcomes, got.outcomes)
    with pytest.raises(ValueError):  # the temporary LocalCluster and its client are closed
        distributed.default_client()


def test_dask_scheduler_address(tmp_path):
    distributed = pytest.importorskip("distributed")
    d = small_design()
    ref = run_experiments(toy_model, d, 1, seed=4, **_quiet(backend="sequential"))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        got = run_experiments(toy_model, d, 1, seed=4, out_dir=tmp_path,
                              **_quiet(backend="dask", scheduler=cluster.scheduler_address))
    assert_frame_equal(ref.outcomes, got.outcomes)


@pytest.mark.skipif(importlib.util.find_spec("ray") is not None, reason="ray is installed")
def test_ray_missing_gives_clear_import_error(tmp_path):
    with pytest.raises(ImportError, match=r'pip install "clustersim\[ray\]"'):
        run_experiments(toy_model, small_design(), out_dir=tmp_path / "x", **_quiet(backend="ray"))
    assert not (tmp_path / "x").exists()  # fails before touching the store


def test_unknown_backend():
    with pytest.raises(ValueError, match="unknown backend"):
        run_experiments(toy_model, small_design(), backend="mpi")


# --------------------------------------------------------------------------
# Result store
# --------------------------------------------------------------------------
def test_store_layout_manifest_and_run_metadata(tmp_path):
    d = small_design()
    res = run_experiments(toy_model, d, 2, seed=5, out_dir=tmp_path, **_quiet(backend="sequential"))
    files = sorted(p.name for p in (tmp_path / "runs").iterdir())
    assert files == [f"exp-{e:06d}_rep-{r:04d}.parquet" for e in range(8) for r in range(2)]
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["counts"]["done"] == manifest["counts"]["total"] == 16
    assert manifest["seed"]["entropy"] == 5 and manifest["seed"]["seeds"] == replicate_seeds(5, 2)[1]
    assert manifest["design_hash"] == design_hash(d)
    assert manifest["function"].endswith("toy_model")
    assert manifest["versions"]["numpy"] == np.__version__
    assert {"SALib", "joblib", "pandas", "mesa"} <= set(manifest["versions"])
    assert "git_commit" in manifest and "created" in manifest
    assert_frame_equal(pd.read_parquet(tmp_path / "design.parquet"), res.design)
    meta = read_run_record(tmp_path / "runs" / files[3])
    assert RUN_METADATA_KEY not in (pq.read_schema(tmp_path / "runs" / files[3]).metadata or {})
    assert (meta["experiment"], meta["replicate"]) == (1, 1)
    assert meta["seed"] == replicate_seeds(5, 2)[1][1]
    assert meta["params"] == {"a": 0.0, "b": 10.0}
    assert len(meta["sha256"]) == 64
    # the whole store reads back as the same result
    loaded = load_results(tmp_path)
    assert_frame_equal(loaded.outcomes, res.outcomes)
    assert isinstance(loaded, ExperimentResult)
    assert_frame_equal(res.merged()[["experiment", "a", "b"]].drop_duplicates().reset_index(drop=True), res.design)


def test_existing_runs_without_resume_is_an_error(tmp_path):
    run_experiments(toy_model, small_design(), out_dir=tmp_path, **_quiet(backend="sequential"))
    with pytest.raises(FileExistsError, match="resume=True"):
        run_experiments(toy_model, small_design(), out_dir=tmp_path, **_quiet(backend="sequential"))


def test_resume_with_different_design_seed_or_function_errors(tmp_path):
    d = small_design()
    run_experiments(toy_model, d, 2, seed=1, out_dir=tmp_path, **_quiet(backend="sequential"))
    other = d.copy()
    other.loc[0, "a"] = 0.5
    with pytest.raises(ResumeMismatchError, match="different design"):
        run_experiments(toy_model, other, 2, seed=1, out_dir=tmp_path, resume=True, **_quiet(backend="sequential"))
    with pytest.raises(ResumeMismatchError, match="seed"):
        run_experiments(toy_model, d, 2, seed=2, out_dir=tmp_path, resume=True, **_quiet(backend="sequential"))
    with pytest.raises(ResumeMismatchError, match="function"):
        run_experiments(slow_model, d, 2, seed=1, out_dir=tmp_path, resume=True, **_quiet(backend="sequential"))
    with pytest.raises(ResumeMismatchError, match="replicates"):
        run_experiments(toy_model, d, 1, seed=1, out_dir=tmp_path, resume=True, **_quiet(backend="sequential"))


def test_resume_complete_store_recomputes_nothing_and_more_replicates_extend_it(tmp_path):
    d = small_design()
    first = run_experiments(toy_model, d, 2, seed=3, out_dir=tmp_path, **_quiet(backend="sequential"))
    again = run_experiments(toy_model, d, 2, seed=3, out_dir=tmp_path, resume=True, **_quiet(backend="sequential"))
    assert again.manifest["counts"]["reused"] == 16 and again.manifest["counts"]["computed"] == 0
    assert_frame_equal(first.outcomes, again.outcomes)
    more = run_experiments(toy_model, d, 3, seed=3, out_dir=tmp_path, resume=True, **_quiet(backend="sequential"))
    assert more.manifest["counts"]["computed"] == 8
    ref = run_experiments(toy_model, d, 3, seed=3, **_quiet(backend="sequential"))
    assert_frame_equal(more.outcomes, ref.outcomes)


def test_corrupt_partial_and_mismatched_files_are_recomputed(tmp_path):
    d = small_design()
    ref = run_experiments(toy_model, d, 2, seed=8, out_dir=tmp_path, **_quiet(backend="sequential"))
    runs = tmp_path / "runs"
    truncated = runs / "exp-000001_rep-0000.parquet"
    garbled = runs / "exp-000002_rep-0001.parquet"
    tampered = runs / "exp-000003_rep-0000.parquet"
    wrong_params = runs / "exp-000004_rep-0001.parquet"
    missing = runs / "exp-000005_rep-0000.parquet"

    data = truncated.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    raw = bytearray(garbled.read_bytes())
    mid = len(raw) // 2
    raw[mid:mid + 16] = b"\xde\xad\xbe\xef" * 4
    garbled.write_bytes(bytes(raw))
    # valid Parquet with its original run record, but the data changed -> checksum mismatch
    table = pq.read_table(tampered)
    record = pq.read_metadata(tampered).metadata[RUN_METADATA_KEY]
    changed = table.set_column(table.schema.get_field_index("value"), "value",
                               pa.array(table.column("value").to_numpy() + 1.0))
    with pq.ParquetWriter(tampered, changed.schema) as writer:
        writer.write_table(changed)
        writer.add_key_value_metadata({RUN_METADATA_KEY: record})
    # a valid run file (correct checksum, same experiment/replicate/seed) made for other parameters
    other = d.copy()
    other.loc[other.experiment == 4, "a"] = 99.0
    run_experiments(toy_model, other, 2, seed=8, out_dir=tmp_path / "other", **_quiet(backend="sequential"))
    wrong_params.write_bytes((tmp_path / "other" / "runs" / wrong_params.name).read_bytes())
    missing.unlink()
    (runs / ".exp-000006_rep-0000.parquet.abc.tmp").write_bytes(b"partial")  # leftover temp file

    with pytest.warns(UserWarning) as record:
        res = run_experiments(toy_model, d, 2, seed=8, out_dir=tmp_path, resume=True, **_quiet(backend="sequential"))
    messages = "\n".join(str(w.message) for w in record)
    for bad in (truncated, garbled, tampered, wrong_params):
        assert bad.name in messages
    assert "params" in messages and "checksum" in messages
    assert res.manifest["counts"]["computed"] == 5
    assert res.manifest["counts"]["recomputed"] == 4
    assert_frame_equal(res.outcomes, ref.outcomes)
    assert not list(runs.glob(".*.tmp"))
    # every file is valid again
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_frame_equal(load_results(tmp_path).outcomes, ref.outcomes)


def test_resume_after_sigkill_matches_uninterrupted_run(tmp_path):
    out = tmp_path / "store"
    module = sys.modules[slow_model.__module__]
    code = (
        "import sys, importlib\n"
        f"sys.path[:0] = [{str(ROOT)!r}, {str(Path(__file__).parent)!r}]\n"
        f"m = importlib.import_module({slow_model.__module__!r})\n"
        "from sim.engine.experiments import run_experiments\n"
        f"run_experiments(m.slow_model, m.kill_design(), replicates=2, seed=7, out_dir={str(out)!r},\n"
        "                backend='sequential', progress=False)\n"
    )
    assert module.kill_design is kill_design
    err_path = tmp_path / "child.err"
    with open(err_path, "wb") as err:
        proc = subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=err)
    runs = out / "runs"
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if runs.is_dir() and len(list(runs.glob("exp-*.parquet"))) >= 6:
                break
            if proc.poll() is not None:
                pytest.fail(f"child exited early: {err_path.read_text()[-2000:]}")
            time.sleep(0.01)
        else:
            pytest.fail("child wrote no runs in time")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    n_done = len(list(runs.glob("exp-*.parquet")))
    assert 6 <= n_done < 40
    assert json.loads((out / "manifest.json").read_text())["status"] == "running"

    resumed = run_experiments(slow_model, kill_design(), 2, seed=7, out_dir=out, resume=True,
                              **_quiet(backend="loky", n_jobs=2))
    assert resumed.manifest["counts"]["reused"] >= n_done - 1  # a run may be caught mid-write
    assert resumed.manifest["status"] == "complete"
    ref = run_experiments(toy_model, kill_design(), 2, seed=7, **_quiet(backend="sequential"))
    assert_frame_equal(resumed.outcomes, ref.outcomes)


def test_keyboard_interrupt_keeps_finished_runs_and_says_how_to_resume(tmp_path, capsys):
    d = full_factorial([Lever("a", [0.0, 1.0, 2.0, 3.0]), Lever("b", [0.0])])
    INTERRUPT["at"] = 2.0
    try:
        with pytest.raises(KeyboardInterrupt):
            run_experiments(interrupting_model, d, 1, out_dir=tmp_path, **_quiet(backend="sequential"))
    finally:
        INTERRUPT["at"] = None
    err = capsys.readouterr().err
    assert "resume=True" in err and str(tmp_path) in err
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [
        "exp-000000_rep-0000.parquet", "exp-000001_rep-0000.parquet"]
    assert json.loads((tmp_path / "manifest.json").read_text())["status"] == "interrupted"
    res = run_experiments(interrupting_model, d, 1, out_dir=tmp_path, resume=True, **_quiet(backend="sequential"))
    assert res.manifest["counts"]["reused"] == 2
    assert_frame_equal(res.outcomes, run_experiments(toy_model, d, 1, **_quiet(backend="sequential")).outcomes)


def test_failing_run_names_the_run_and_keeps_earlier_ones(tmp_path):
    d = full_factorial([Lever("a", [0.0, 1.0, 2.0]), Lever("b", [0.0])])
    with pytest.raises(RunError, match=r"experiment 2.*'a': 2\.0.*boom"):
        run_experiments(failing_model, d, 1, out_dir=tmp_path, **_quiet(backend="sequential"))
    assert len(list((tmp_path / "runs").glob("*.parquet"))) == 2
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["status"] == "failed" and "boom" in manifest["sessions"][-1]["error"]


def test_progress_line_on_stderr_and_quiet_mode(capsys):
    d = small_design()
    run_experiments(toy_model, d, 2, backend="sequential", progress=True)
    err = capsys.readouterr().err
    assert "runs 16/16" in err and "elapsed" in err and "ETA" in err
    run_experiments(toy_model, d, 2, backend="sequential", progress=False)
    assert capsys.readouterr().err == ""


def test_design_from_array_and_bad_outputs():
    d = design_from_array(np.array([[1.0, 2.0], [3.0, 4.0]]), ["a", "b"])
    assert d.columns.tolist() == ["experiment", "a", "b"]
    with pytest.raises(ValueError):
        design_from_array(np.zeros((2, 3)), ["a", "b"])
    with pytest.raises(ValueError, match="reserved"):
        run_experiments(toy_model, pd.DataFrame({"seed": [1]}), backend="sequential")


def test_collect_false_keeps_memory_flat(tmp_path):
    d = small_design()
    res = run_experiments(toy_model, d, 1, out_dir=tmp_path, collect=False, **_quiet(backend="sequential"))
    assert res.outcomes is None
    ref = run_experiments(toy_model, d, 1, **_quiet(backend="sequential"))
    assert_frame_equal(load_results(tmp_path).outcomes, ref.outcomes)
    with pytest.raises(ValueError, match="out_dir"):
        run_experiments(toy_model, d, 1, collect=False)


# --------------------------------------------------------------------------
# Run settings: the one encoding of a run's settings as a design-table cell
# --------------------------------------------------------------------------
def _settings(**over):
    kw = dict(years=10, clusters=["a", "b"], start_year=2020.0, record_every=4,
              params={"scale": 0.1, "exit_rate": 1 / 3, "flag": True},
              policies=[{"policy": "hub_institution", "intensity": 0.1 + 0.2}],
              cluster_columns=[{"id": "a", "search_rate": 0.30000000000000004}],
              extra={"spinup": 0.5, "relax": {"network_persistence": ["search_rate"]}})
    return RunSettings(**{**kw, **over})


def test_run_settings_round_trip_keeps_every_value_exactly():
    s = _settings()
    cell = s.to_cell()
    back = RunSettings.from_cell(cell)
    assert back == s
    assert back.to_cell() == cell
    assert back.params["exit_rate"] == 1 / 3 and back.policies[0]["intensity"] == 0.1 + 0.2
    assert isinstance(back.years, int) and isinstance(back.start_year, float)   # kept as given
    assert back.extra == {"spinup": 0.5, "relax": {"network_persistence": ["search_rate"]}}
    assert RunSettings.from_cell(json.loads(cell)) == s and RunSettings.from_cell(s) is s
    assert back.simulate_kwargs() == {"years": 10, "clusters": ["a", "b"], "start_year": 2020.0,
                                      "record_every": 4}
    # a cell is a scalar of a design table that the engine hashes and stores
    d = pd.DataFrame({"spec": [cell]})
    assert design_hash(d) == design_hash(pd.DataFrame({"spec": [back.to_cell()]}))


def test_run_settings_text_is_canonical():
    s = _settings()
    shuffled = _settings(params={"flag": True, "exit_rate": 1 / 3, "scale": 0.1},
                         policies=[{"intensity": 0.1 + 0.2, "policy": "hub_institution"}],
                         cluster_columns=[{"search_rate": 0.30000000000000004, "id": "a"}],
                         extra={"relax": {"network_persistence": ["search_rate"]}, "spinup": 0.5})
    assert shuffled.to_cell() == s.to_cell() and shuffled.digest() == s.digest()
    cell = s.to_cell()
    assert " " not in cell and list(json.loads(cell)) == sorted(json.loads(cell))
    # extra members sit at the top level; unset fields are left out
    assert set(json.loads(cell)) == {"years", "clusters", "start_year", "record_every", "params", "policies",
                                     "cluster_columns", "spinup", "relax"}
    assert RunSettings(years=2.5).to_cell() == '{"years":2.5}'
    assert RunSettings(years=2.5, policies=[], clusters=None).to_cell() == '{"years":2.5}'
    assert RunSettings().to_cell() == "{}" and RunSettings.from_cell("{}") == RunSettings()
    assert _settings(years=11).to_cell() != cell and _settings(years=11).digest() != s.digest()


def test_run_settings_refuses_clashes_and_non_json_values():
    with pytest.raises(ValueError, match="clash"):
        RunSettings(extra={"years": 3})
    with pytest.raises(ValueError, match="JSON object"):
        RunSettings.from_cell("[1, 2]")
    s = RunSettings(years=np.int64(3))
    with pytest.raises(TypeError):
        s.to_cell()
    assert s.to_cell(lenient=True) == '{"years":"3"}'   # records only (e.g. a run's resume check)
