"""Projections: common random numbers, paired effect tables, transitions, outputs, resume, report."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from scenarios.base import load_params_file, resolve_base
from scenarios.effects import effects_table, transition_table
from scenarios.projection import OUTPUT_COLUMNS, load_projection, project
from scenarios.scenario import ScenarioError, load
from sim.engine.design import replicate_seeds
from sim.engine.runner import run
from sim.face import report as report_module
from sim.face.cli import main
from sim.face.report import build_report
from sim.model.params import ParameterError

CL = ["wonju_medical_devices", "jeonju_machinery", "euljiro_urban_manufacturing"]
HEAD = """
[scenario]
name = "{name}"
start_year = 2020
end_year = 2023
replicates = 3
seed = 11
clusters = ["wonju_medical_devices", "jeonju_machinery", "euljiro_urban_manufacturing"]
record_every = 2

[params]
scale = 0.05
"""
POLICY = """
[[policy]]
policy = "{policy}"
start = 2021
target = "{target}"
intensity = {intensity}
"""


def _scenario(tmp_path, name, policies=()):
    text = HEAD.format(name=name) + "".join(POLICY.format(**p) for p in policies)
    p = tmp_path / f"{name}.toml"
    p.write_text(text)
    return p


@pytest.fixture(scope="module")
def proj(tmp_path_factory):
    d = tmp_path_factory.mktemp("proj")
    files = [_scenario(d, "base"),
             _scenario(d, "startups", [dict(policy="startup_inflow", target="euljiro_urban_manufacturing",
                                            intensity=4.0)]),
             _scenario(d, "hub", [dict(policy="hub_institution", target="jeonju_machinery", intensity=1)])]
    return project(files, d / "out", params_file="calibrated", progress=False)


# ----------------------------------------------------------------------------- common random numbers
def test_replicate_seeds_are_shared_by_every_scenario(proj):
    _, seeds = replicate_seeds(11, 3)
    assert proj.settings["seeds"] == seeds
    per = proj.indicators.groupby(["scenario", "replicate"])["seed"].unique()
    for (scen, r), s in per.items():
        assert list(s) == [seeds[r]], (scen, r)


def test_baseline_equals_sim_runner_run_with_the_same_seed(proj):
    """The projection's baseline is exactly sim.engine.runner.run with the same seed (same replicate streams)
    on the shipped calibrated model: its global values and each cluster's own values."""
    from calibration.shipped import scenario_base, scenario_labeller
    from sim.data.clusters import cluster_table

    params, cols = scenario_base()
    ref = run(years=3, seed=11, replicates=3, clusters=CL, scale=0.05, record_every=2, progress=False,
              base_params=params, cluster_table=cluster_table().merge(cols, on="id", how="left"),
              labeller=scenario_labeller())
    got = proj.indicators[proj.indicators.scenario == "base"].drop(columns=["scenario", "seed"])
    assert_frame_equal(got.reset_index(drop=True), ref.reset_index(drop=True), check_dtype=False)
    assert proj.manifest["params_file"]["path"].startswith("calibration/calibrated.json")
    assert set(proj.manifest["params_file"]["per_cluster"]) >= {"beta_local", "external_cost", "tie_budget"}


def test_defaults_base_is_the_uncalibrated_model(tmp_path):
    s = _scenario(tmp_path, "base")
    p = project([s], None, replicates=2, params_file="defaults", progress=False)
    ref = run(years=3, seed=11, replicates=2, clusters=CL, scale=0.05, record_every=2, progress=False)
    got = p.indicators.drop(columns=["scenario", "seed"])
    assert_frame_equal(got.reset_index(drop=True), ref.reset_index(drop=True), check_dtype=False)
    assert p.manifest["params_file"] is None


def test_calibrated_base_differs_by_cluster_and_a_scenario_value_overrides_it(tmp_path):
    b = resolve_base("calibrated")
    params, cols = b.params, b.columns
    assert "scale" not in params and params
    assert cols["beta_local"].nunique() > 10  # each cluster its own value
    s = _scenario(tmp_path, "base")
    s.write_text(s.read_text() + "beta_local = 0.7\n")  # under the template's [params]
    p = project([s], None, replicates=1, params_file="calibrated", progress=False)
    from sim.data.clusters import cluster_table

    tab = cluster_table().merge(cols.drop(columns="beta_local"), on="id", how="left")
    ref = run(years=3, seed=11, replicates=1, clusters=CL, scale=0.05, record_every=2, progress=False,
              params={**params, "beta_local": 0.7}, cluster_table=tab, labeller=b.labeller)
    assert_frame_equal(p.indicators.drop(columns=["scenario", "seed"]).reset_index(drop=True),
                       ref.reset_index(drop=True), check_dtype=False)
    with pytest.raises(ParameterError, match="no such file"):
        resolve_base(tmp_path / "missing.json")


def test_scenarios_share_the_initial_state_and_diverge_after_policies_start(proj):
    df = proj.indicators
    w = df.pivot_table(index=["replicate", "cluster", "step", "indicator"], columns="scenario", values="value")
    early = w.xs(0, level="step")
    assert np.allclose(early["base"], early["startups"], equal_nan=True)
    assert np.allclose(early["base"], early["hub"], equal_nan=True)
    # policies start at 2021 (step 4): identical before, different at the end
    pre = w[w.index.get_level_values("step") < 4]
    assert np.allclose(pre["base"], pre["hub"], equal_nan=True)
    last = w.xs(12, level="step")
    assert not np.allclose(last["base"], last["startups"], equal_nan=True)


# ----------------------------------------------------------------------------- tables
def test_indicator_table_layout(proj):
    df = proj.indicators
    assert list(df.columns) == OUTPUT_COLUMNS
    assert list(dict.fromkeys(df.scenario)) == ["base", "startups", "hub"]
    assert sorted(df.year.unique()) == [2020.0, 2020.5, 2021.0, 2021.5, 2022.0, 2022.5, 2023.0]
    assert proj.baseline == "base"


def test_effects_are_paired_differences_with_confidence_intervals(proj):
    eff = proj.effects()
    row = eff[(eff.scenario == "startups") & (eff.cluster == "euljiro_urban_manufacturing")
              & (eff.indicator == "firms")].iloc[0]
    df = proj.indicators
    fin = df[(df.step == 12) & (df.indicator == "firms") & (df.cluster == "euljiro_urban_manufacturing")]
    a = fin[fin.scenario == "startups"].set_index("replicate")["value"]
    b = fin[fin.scenario == "base"].set_index("replicate")["value"]
    d = (a - b).to_numpy()
    assert row["n"] == 3
    assert row["diff"] == pytest.approx(d.mean())
    assert row["ci_low"] < row["diff"] < row["ci_high"]
    half = 4.302652729911275 * d.std(ddof=1) / np.sqrt(3)  # t(0.975, 2)
    assert row["ci_high"] - row["diff"] == pytest.approx(half)
    # No sign is asserted here: that a startup inflow raises firm counts is a model claim, tested on 20 seeds
    # in tests/test_policies.py (test_startup_inflow_raises_startups_and_firms). On the calibrated base at
    # scale 0.05, three replicates of three years, extra startups can displace other newcomers (vacated
    # premises refill anyway; docs/policies.md 5.1): this row read -1.33 firms on the current calibration.
    groups = set(eff[eff.scenario == "startups"].cluster)
    assert groups == {"euljiro_urban_manufacturing", "(targeted)", "(others)"}
    assert set(eff.scenario) == {"startups", "hub"}
    assert np.isnan(eff[eff.indicator == "centripetal"].rel_pct).all()


def test_effects_table_recovers_a_known_difference():
    rows = []
    for scen, shift in (("b", 0.0), ("s", 2.0)):
        for r in range(5):
            for c in ("x", "y"):
                noise = float(r)  # shared by both scenarios: the paired difference has no variance
                rows.append({"scenario": scen, "cluster": c, "replicate": r, "step": 4, "indicator": "firms",
                             "value": 10 + noise + (shift if c == "x" else 0.0)})
    df = pd.DataFrame(rows)
    eff = effects_table(df, "b", {"s": ["x"]}, indicators=["firms"])
    x = eff[eff.cluster == "x"].iloc[0]
    assert x["diff"] == pytest.approx(2.0) and x["ci_low"] == pytest.approx(2.0) and x["p_value"] == 0.0
    assert x["crn_variance_ratio"] == pytest.approx(0.0)
    others = eff[eff.cluster == "(others)"].iloc[0]
    assert others["diff"] == pytest.approx(0.0)


def test_transition_tables(proj):
    t = proj.transitions()
    pcols = [c for c in t.columns if c.startswith("p_")]
    assert np.allclose(t[pcols].sum(axis=1), 1.0)
    assert t.groupby("scenario")["n"].sum().tolist() == [9, 9, 9]  # 3 clusters x 3 replicates
    # same start typologies in every scenario (common random numbers)
    starts = t.groupby("scenario").apply(lambda g: tuple(zip(g.start_typology, g.n)), include_groups=False)
    assert len(set(starts)) == 1
    co = proj.cluster_outcomes()
    assert set(co.columns) >= {"scenario", "cluster", "start_typology", "p_path_locked", "d_resilient"}
    assert np.allclose(co[co.scenario == "base"]["d_other"], 0.0)
    assert_frame_equal(transition_table(proj.indicators), t)


# ----------------------------------------------------------------------------- outputs, resume, parameters
def test_output_folder(proj):
    out = proj.out
    for f in ("indicators.parquet", "effects.csv", "transitions.csv", "cluster_outcomes.csv", "manifest.json",
              "figures/plane.png", "figures/effects.png", "figures/fan_euljiro_urban_manufacturing.png",
              "figures/fan_jeonju_machinery.png", "scenarios/base.toml", "scenarios/hub.toml"):
        assert (out / f).is_file(), f
    m = json.loads((out / "manifest.json").read_text())
    assert m["format"] == "clustersim.projection/1" and m["baseline"] == "base"
    assert m["settings"]["seeds"] == replicate_seeds(11, 3)[1]
    assert [s["name"] for s in m["scenarios"]] == ["base", "startups", "hub"]
    assert all(len(s["sha256"]) == 64 for s in m["scenarios"])
    assert m["scenarios"][1]["targeted"] == ["euljiro_urban_manufacturing"]
    assert m["versions"]["mesa"] and "wall_time_s" in m
    re = load_projection(out)
    assert_frame_equal(re.indicators, proj.indicators)
    assert re.names == proj.names and re.baseline == "base"


def test_resume_reuses_finished_runs_and_refuses_to_overwrite(tmp_path):
    f = [_scenario(tmp_path, "base"), _scenario(tmp_path, "st", [dict(policy="startup_inflow",
                                                                         target="all", intensity=2.0)])]
    a = project(f, tmp_path / "o", replicates=2, progress=False, figures=False)
    with pytest.raises(FileExistsError, match="resume"):
        project(f, tmp_path / "o", replicates=2, progress=False, figures=False)
    b = project(f, tmp_path / "o", replicates=2, progress=False, figures=False, resume=True)
    assert b.manifest["engine"]["counts"]["reused"] == 4 and b.manifest["engine"]["counts"]["computed"] == 0
    assert_frame_equal(a.indicators, b.indicators)


def test_baseline_is_added_when_missing_and_settings_must_agree(tmp_path):
    st = _scenario(tmp_path, "st", [dict(policy="startup_inflow", target="all", intensity=2.0)])
    p = project([st], None, replicates=1, progress=False)
    assert p.names == ["baseline", "st"] and p.baseline == "baseline"
    assert p.manifest["baseline_added"] is True
    other = tmp_path / "other.toml"
    other.write_text(HEAD.format(name="other").replace("seed = 11", "seed = 12"))
    with pytest.raises(ScenarioError, match="disagree on seed.*--seed"):
        project([st, other], None, progress=False)
    with pytest.raises(ScenarioError, match="given more than once"):
        project([st, st], None, progress=False)
    with pytest.raises(ScenarioError, match="--baseline 'zz'"):
        project([st], None, baseline="zz", progress=False)


def test_params_file(tmp_path):
    good = tmp_path / "cal.json"
    good.write_text(json.dumps({"startup_rate": 0.06, "exit_rate": 0.05}))
    assert load_params_file(good) == {"startup_rate": 0.06, "exit_rate": 0.05}
    wrapped = tmp_path / "wrapped.json"
    wrapped.write_text(json.dumps({"description": "fit", "params": {"startup_rate": 0.06}}))
    assert load_params_file(wrapped) == {"startup_rate": 0.06}
    for text, words in (('{"startup_rate": 0.06,}', ["not valid JSON", "line 1"]),
                        ('[1, 2]', ["JSON object"]),
                        ('{"strtup_rate": 0.1}', ["strtup_rate", "did you mean"]),
                        ('{"startup_rate": 9}', ["startup_rate", "out of range"])):
        bad = tmp_path / "bad.json"
        bad.write_text(text)
        with pytest.raises(ParameterError) as exc:
            load_params_file(bad)
        assert all(w in str(exc.value) for w in words), str(exc.value)
    s = _scenario(tmp_path, "b2")
    p = project([s], None, replicates=1, params_file=good, progress=False)
    full = p.manifest["scenarios"][0]["full_params"]
    assert full["startup_rate"] == 0.06 and full["scale"] == 0.05  # the file's [params] still apply
    assert p.manifest["params_file"]["values"] == {"startup_rate": 0.06, "exit_rate": 0.05}


# ----------------------------------------------------------------------------- command line and report
def test_cli_project_quick_and_report(tmp_path, capsys):
    s = _scenario(tmp_path, "lab", [dict(policy="living_lab", target="euljiro_urban_manufacturing", intensity=3.0)])
    out = tmp_path / "cli"
    rc = main(["project", "baseline", str(s), "--quick", "--replicates", "2", "--clusters", ",".join(CL),
               "--out", str(out), "--quiet", "--no-figures"])
    assert rc == 2  # the built-in baseline runs 2020-2035, the file 2020-2023
    assert "disagree on end_year" in capsys.readouterr().err
    rc = main(["project", str(s), "--quick", "--replicates", "2", "--out", str(out), "--quiet"])
    assert rc == 0
    m = json.loads((out / "manifest.json").read_text())
    assert m["settings"]["quick"] and m["settings"]["scale"] == 0.02 and m["settings"]["replicates"] == 2
    assert m["command"].startswith("clustersim project")
    assert main(["report", str(out), "--quiet"]) == 0
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 3
    assert "src='http" not in html and 'src="http' not in html and "<script" not in html
    for words in ("lab", "baseline", "Provenance", "living_lab", "Typology transitions", "[KRIHS-2020] S4",
                  "8. Sources", "Korea Research Institute for Human Settlements",
                  m["settings"]["seeds"][0].__str__()):
        assert words in html, words
    # issue 16, item 8: a quick projection says it is a smoke test, with its scale and replicates
    assert "Smoke test, not a measurement" in html and "2 replicates per scenario at scale 0.02" in html
    assert "Labeller" in html and "reference-standardised" not in html
    assert main(["report", str(tmp_path / "nothing")]) == 2
    assert "not a projection folder" in capsys.readouterr().err


def test_cli_project_errors(tmp_path, capsys):
    s = _scenario(tmp_path, "b")
    assert main(["project", str(s), "--out", str(tmp_path / "o"), "--params", str(tmp_path / "no.json")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["project", str(s), "--out", str(tmp_path / "o"), "--clusters", "nowhere"]) == 2
    assert "unknown cluster id" in capsys.readouterr().err
    assert main(["project", str(s), "--out", str(tmp_path / "o"), "--scale", "5"]) == 2
    assert "scale" in capsys.readouterr().err
    hub = _scenario(tmp_path, "h", [dict(policy="hub_institution", target="jeonju_machinery", intensity=1)])
    assert main(["project", str(hub), "--out", str(tmp_path / "o"), "--clusters", "wonju_medical_devices"]) == 2
    assert "not simulated" in capsys.readouterr().err


def test_builtin_report_of_loaded_projection_is_self_contained(proj, tmp_path):
    path = build_report(proj.out, tmp_path / "r.html")
    html = path.read_text()
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert "startups − base" in html and "(targeted)" in html
    assert load("baseline").name == "baseline"


@pytest.mark.parametrize("settings, smoke", [
    ({"quick": True, "replicates": 20, "scale": 0.1}, True),
    ({"quick": False, "replicates": 3, "scale": 0.1}, True),
    ({"quick": False, "replicates": 20, "scale": 0.02}, True),
    ({"quick": False, "replicates": 20, "scale": 0.1}, False),
])
def test_report_marks_small_projections_as_smoke_tests(settings, smoke):
    fake = SimpleNamespace(settings=settings, manifest={})
    assert bool(report_module._caveat(fake)) == smoke


def test_projection_labels_with_its_base_models_labeller(tmp_path):
    """A calibrated projection labels its clusters as `run` on the same base does (issue 12: one typology)."""
    s = _scenario(tmp_path, "base")
    p = project([s], None, replicates=1, params_file="calibrated", progress=False)
    b = resolve_base("calibrated")
    ref = run(years=3, seed=11, replicates=1, clusters=CL, scale=0.05, record_every=2, progress=False, base=b)
    got = p.indicators.drop(columns=["scenario", "seed"]).reset_index(drop=True)
    assert_frame_equal(got, ref.reset_index(drop=True), check_dtype=False)
