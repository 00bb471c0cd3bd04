"""`clustersim sensitivity` on the real model: outputs, resume, bad input."""

from __future__ import annotations

import json

import pandas as pd
import pandas.testing as pdt
import pytest

from scenarios.base import resolve_base
from sim.face import cli_sensitivity
from sim.face.cli import build_parser, main
from sim.model.params import SCHEMA, from_sample, problem, validate

ARGS = ["sensitivity", "--method", "morris", "--outcomes", "centripetal,p_path_locked", "--n", "2",
        "--factors", "startup_rate,external_cost", "--years", "1", "--scale", "0.02", "--replicates", "2",
        "--clusters", "wonju_medical_devices,jeonju_machinery", "--jobs", "1", "--backend", "sequential",
        "--quiet"]


def test_morris_cli_writes_indices_and_resumes(tmp_path):
    assert main(ARGS + ["--out", str(tmp_path)]) == 0
    idx = pd.read_csv(tmp_path / "morris_indices.csv")
    assert set(idx.parameter) == {"startup_rate", "external_cost"}
    assert set(idx.outcome) == {"centripetal", "p_path_locked"}
    assert (tmp_path / "morris_centripetal.png").exists()
    noise = pd.read_csv(tmp_path / "morris_noise.csv")
    # a ratio of sample variances: non-negative, and near 1 or above on a design this small
    assert (noise["noise_share"] >= 0).all() and noise["replicates"].eq(2).all()
    assert main(ARGS + ["--out", str(tmp_path), "--resume"]) == 0
    pdt.assert_frame_equal(idx, pd.read_csv(tmp_path / "morris_indices.csv"))


def test_sensitivity_bad_input(tmp_path, capsys):
    bad = list(ARGS)
    bad[bad.index("centripetal,p_path_locked")] = "happiness"
    assert main(bad + ["--out", str(tmp_path)]) == 2
    assert "unknown outcome" in capsys.readouterr().err
    bad = list(ARGS)
    bad[bad.index("startup_rate,external_cost")] = "startup_rat"
    assert main(bad + ["--out", str(tmp_path / "b")]) == 2
    assert "did you mean" in capsys.readouterr().err


@pytest.mark.parametrize("method, n", [("morris", "2"), ("sobol", "2")])
def test_default_factor_set_runs(tmp_path, method, n):
    """Without --factors every non-set-up parameter varies, integer ones included (issue 16, item 1:
    SALib's continuous samples of n_fof, n_local, ... used to stop the run with a ParameterError)."""
    args = ["sensitivity", "--method", method, "--n", n, "--outcomes", "firms", "--years", "0.25",
            "--scale", "0.01", "--clusters", "jeonju_machinery", "--jobs", "1", "--backend", "sequential",
            "--quiet", "--out", str(tmp_path)]
    assert main(args) == 0
    idx = pd.read_csv(tmp_path / f"{method}_indices.csv")
    ints = {name for name, p in SCHEMA.items() if p.kind == "int"} & set(problem()["names"])
    assert ints and ints <= set(idx.parameter)


def test_from_sample_rounds_integer_parameters_only():
    out = from_sample({"n_fof": 1.666, "n_local": 2.5, "startup_rate": 0.123, "scale": 0.05})
    assert out == {"n_fof": 2, "n_local": 3, "startup_rate": 0.123, "scale": 0.05}
    assert isinstance(out["n_fof"], int)
    validate(out)


BASE_ARGS = ["sensitivity", "--method", "morris", "--outcomes", "centripetal", "--n", "2",
             "--factors", "startup_rate,external_cost", "--years", "0.25", "--scale", "0.01", "--replicates", "1",
             "--clusters", "jeonju_machinery", "--jobs", "1", "--quiet"]


def test_params_is_the_base_model_as_in_run(tmp_path, monkeypatch):
    """--params has run's default and meaning: the default base (the schema defaults until the calibration
    is redone on model v2) unless 'calibrated' or a file is given, recorded in manifest.json; a varied factor
    or --set overrides a per-cluster calibrated value of the same name."""
    from scenarios.base import DEFAULT_BASE

    ap = build_parser()
    assert ap.parse_args(BASE_ARGS + ["--out", "x"]).params == ap.parse_args(["run", "--out", "x"]).params \
        == DEFAULT_BASE
    seen = []
    real = cli_sensitivity.morris

    def spy(func, *args, **kw):
        seen.append(func.keywords)
        return real(func, *args, **kw)

    monkeypatch.setattr(cli_sensitivity, "morris", spy)
    assert main(BASE_ARGS + ["--params", "calibrated", "--set", "search_rate=0.3", "--out", str(tmp_path / "cal")]) == 0
    assert main(BASE_ARGS + ["--params", "defaults", "--out", str(tmp_path / "def")]) == 0
    cal = json.loads((tmp_path / "cal" / "manifest.json").read_text())
    dft = json.loads((tmp_path / "def" / "manifest.json").read_text())
    shipped = resolve_base("calibrated")

    assert cal["base_model"]["path"] == shipped.record["path"]
    assert cal["base_model"]["sha256"] == shipped.record["sha256"]
    assert dft["base_model"] is None
    # a calibrated global value that is not varied reaches every run (and the store's constants)
    assert cal["params"]["decay_rate"] == shipped.params["decay_rate"] != dft["params"]["decay_rate"]
    store = json.loads((tmp_path / "cal" / "store" / "manifest.json").read_text())
    assert store["constants"]["decay_rate"] == shipped.params["decay_rate"]
    # per-cluster calibrated values stay, except those of the varied factors and of --set
    table = seen[0]["cluster_table"]
    assert "init_home_share" in table.columns and "init_home_share" in cal["per_cluster"]
    for name in ("external_cost", "search_rate"):
        assert name in shipped.record["per_cluster"]
        assert name not in table.columns and name not in cal["per_cluster"]
    assert seen[0]["labeller"] is shipped.labeller or seen[0]["labeller"].source == shipped.labeller.source
    assert cal["labeller"]["sha256"] and dft["labeller"]["sha256"] is None
    assert seen[1]["cluster_table"] is None and seen[1]["labeller"] is None and dft["per_cluster"] == []
    # resuming with another base model is refused
    assert main(BASE_ARGS + ["--set", "search_rate=0.3", "--params", "defaults", "--resume",
                             "--out", str(tmp_path / "cal")]) == 2


def test_params_bad_file_is_one_line(tmp_path, capsys):
    assert main(BASE_ARGS + ["--params", str(tmp_path / "nope.json"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--params" in err[0] and "nope.json" in err[0], err
    assert not (tmp_path / "o").exists()
