"""`clustersim sensitivity` on the real model: outputs, resume, bad input."""

from __future__ import annotations

import pandas as pd
import pandas.testing as pdt
import pytest

from sim.face.cli import main
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
    assert noise["noise_share"].between(0, 1).all()
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
