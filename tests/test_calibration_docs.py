"""scripts/calibration_docs.py renders the generated blocks of docs/calibration.md from result folders.

The pipeline behind the numbers (a full calibration, two cross-validations, the exam) cannot run in
a test, so these tests build small synthetic result folders in the format the commands write and
check that the rendering is stable, computes the goals right, survives missing folders, and that
docs/calibration.md carries the markers of every block.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from calibration.exam import EXAM_CLUSTERS, scorecard_markdown
from sim.data.observed import INDEX_COLUMNS, load_all

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "calibration.md"


@pytest.fixture(scope="module")
def cd():
    """``scripts/calibration_docs.py`` as a module."""
    spec = importlib.util.spec_from_file_location("calibration_docs", ROOT / "scripts" / "calibration_docs.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["calibration_docs"] = mod
    spec.loader.exec_module(mod)
    return mod


RAW = ("inclusiveness", "links_per_firm")
FORECASTS = ("model", "persistence", "training_mean", "family_mean", "linear_persistence", "size_regression")


def _metrics(skill, diff_lo, diff_hi, rho_change, incl_mae) -> pd.DataFrame:
    """A benchmark table (cv_metrics.csv / scorecard.csv) with the given per-index skill, intervals, ρ change."""
    rows = []
    for i, k in enumerate(INDEX_COLUMNS):
        r = {"index": k, "n": 20}
        for j, f in enumerate(FORECASTS):
            r[f"rmse_{f}"] = 0.5 + 0.1 * j if f != "model" else 0.6 - 0.05 * i
            r[f"rho_{f}"] = 0.1 * j
        r["mae_model"] = 0.4
        r.update(best_baseline="persistence", rmse_best=0.6, skill=skill[i], diff_rmse=(diff_lo[i] + diff_hi[i]) / 2,
                 diff_lo=diff_lo[i], diff_hi=diff_hi[i], n_change=20, rho_change=rho_change[i])
        rows.append(r)
    for k in RAW:
        r = {"index": k, "n": 24, "rmse_model": 0.12, "rho_model": 0.2, "rmse_training_mean": 0.1,
             "rho_training_mean": np.nan, "mae_model": incl_mae if k == "inclusiveness" else 0.3,
             "best_baseline": "training_mean", "rmse_best": 0.1, "skill": -0.4, "diff_rmse": 0.02, "diff_lo": -0.01,
             "diff_hi": 0.05, "n_change": 0, "rho_change": np.nan}
        rows.append(r)
    return pd.DataFrame(rows)


def _cv(folder: Path, information: str, met: pd.DataFrame, ids: list[str]) -> None:
    folder.mkdir(parents=True)
    met.to_csv(folder / "cv_metrics.csv", index=False)
    pd.DataFrame({"index": list(INDEX_COLUMNS), "n": 24, "rmse_model": 0.7, "rho_model": 0.3}) \
        .to_csv(folder / "cv_metrics_all.csv", index=False)
    labels = ["path_locked", "other", "resilient", "path_locked", "centrifugal_dominant", "path_locked"] * 4
    typ = pd.DataFrame({"id": ids[:24], "fold": [i % 4 for i in range(24)], "published": labels,
                        "model": ["path_locked"] * 12 + ["other"] * 12, "model_share": 1.0,
                        "persistence": labels[::-1], "family_mode": "path_locked"})
    typ.to_csv(folder / "cv_typology.csv", index=False)
    pd.DataFrame([{"fact": "S4V-6", "statement": "Wonju is path-locked in 2020", "observed_within_year": None,
                   "reproduced": True, "detail": "model typology: path_locked"}]).to_csv(folder / "case_facts.csv",
                                                                                         index=False)
    pd.DataFrame({"fold": range(4), "sector_persistence": [0.1, 0.2, 0.3, 0.4],
                  "decay_rate": [0.05, 0.06, 0.07, 0.08], "loss": 9.0}).to_csv(folder / "cv_estimates.csv", index=False)
    folds = [ids[f:24:4] for f in range(4)]
    (folder / "validation.json").write_text(json.dumps({"mode": "full", "folds": folds,
                                                        "config": {"information": information}, "wall_time_s": 1234.5}))


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    """Synthetic result folders in the format of the pipeline (calibration, exam, cv, cv-2010, recovery)."""
    R = tmp_path_factory.mktemp("results")
    data = load_all()
    ids = [c for c in data.cluster_ids() if c not in data.withheld_ids() and c not in EXAM_CLUSTERS]
    rng = np.random.default_rng(7)
    # calibration/
    cal = R / "calibration"
    cal.mkdir()
    r2 = [0.85, 0.81, 0.9, 0.95, 0.82, 0.8]
    params = {
        "mode": "full", "created": "2026-12-02T10:00:00+0000", "baseline": "ab" * 32, "wall_time_s": 700.0,
        "config": {"seed": 1, "bootstrap": 200, "information": "with_2020_size"},
        "params": {"scale": 0.3, "decay_rate": 0.1}, "run_params": {"sector_persistence": 0.25,
                                                                     "network_persistence": 1.0},
        "estimates": {"sector_persistence": {"value": 0.25, "q05": 0.1, "q95": 0.5, "prior": [0.0, 1.0],
                                             "interval_share_of_prior": 0.4, "identified": True},
                      "decay_rate": {"value": 0.1, "q05": 0.02, "q95": 0.19, "prior": [0.02, 0.2],
                                     "interval_share_of_prior": 0.94, "identified": False}},
        "fit_clusters": ids, "excluded": [],
        "loss": {"total_at_estimate": 8.0, "evaluations": 68,
                 "per_moment": {"2020:firms": 0.2, **{f"2010:{k}": 1 - r for k, r in zip(INDEX_COLUMNS, r2)}}},
        "initial_state_fit": [{"index": k, "loss": 1 - r, "r2": r, "rmse_published": 0.4, "sd_published": 0.9,
                               "spearman": 0.8, "n": 35} for k, r in zip(INDEX_COLUMNS, r2)],
        "fit_2020": [{"index": k, "loss": 0.5, "rmse_published": 0.7, "spearman": 0.4, "n": 24}
                     for k in (*INDEX_COLUMNS, *RAW)],
        "typology": {"simulated_vs_published_in_fit": "9/24"},
    }
    (cal / "params.json").write_text(json.dumps(params))
    rows = []
    for c in data.cluster_ids():
        for y in (2010, 2020):
            for k in INDEX_COLUMNS:
                v = float(np.round(rng.normal(), 4))
                rows.append({"cluster": c, "year": y, "index": k, "observed": np.nan, "simulated_mean": v,
                             "simulated_sd": 0.1, "raw_mean": v, "in_fit": c in ids})
        rows.append({"cluster": c, "year": 2020, "index": "firms", "observed": 100.0, "simulated_mean": 120.0,
                     "simulated_sd": 5.0, "raw_mean": 120.0, "in_fit": c in ids})
    pd.DataFrame(rows).to_csv(cal / "fit.csv", index=False)
    # cv/ (goals a-d reached) and cv-2010/ (not reached)
    _cv(R / "cv", "with_2020_size", _metrics(skill=[0.2, -0.1, 0.3, 0.1, -0.2, -0.3],
                                             diff_lo=[-0.3, -0.1, -0.2, -0.1, 0.01, -0.1],
                                             diff_hi=[-0.01, 0.1, 0.05, 0.1, 0.2, 0.1],
                                             rho_change=[0.1, 0.2, 0.3, 0.4, -0.1, -0.2], incl_mae=0.08), ids)
    _cv(R / "cv-2010", "2010_only", _metrics(skill=[-0.2, -0.1, 0.3, 0.1, -0.2, -0.3],
                                             diff_lo=[0.1, 0.2, -0.2, -0.1, 0.01, -0.1],
                                             diff_hi=[0.3, 0.4, 0.05, 0.1, 0.2, 0.1],
                                             rho_change=[0.1, -0.2, 0.3, -0.4, -0.1, -0.2], incl_mae=0.15), ids)
    # exam/
    ex = R / "exam"
    ex.mkdir()
    table = _metrics(skill=[0.1, -1.0, 0.2, -0.3, 0.4, -0.5], diff_lo=[-0.2, 0.1, -0.3, -0.1, -0.2, 0.1],
                     diff_hi=[-0.01, 0.3, 0.1, 0.2, -0.05, 0.4], rho_change=[0.5, -0.5, 0.1, 0.2, -0.1, 0.3],
                     incl_mae=0.09)
    typ = pd.DataFrame({"id": list(EXAM_CLUSTERS), "published": ["path_locked", "path_locked", "other", "resilient",
                                                                 "other", "path_locked"],
                        "model": ["path_locked", "other", "other", "other", "other", "path_locked"],
                        "model_share": 1.0})
    meta = {"calibration": "/somewhere/params.json", "calibration_sha256": "cd" * 32, "calibration_baseline": "ab" * 32,
            "calibration_mode": "full", "fit_clusters": 24, "exam_clusters": list(EXAM_CLUSTERS), "replicates": 8,
            "seed": 1, "bootstrap": 2000, "git_commit": "0123456789", "wall_time_s": 60.0}
    table.to_csv(ex / "scorecard.csv", index=False)
    typ.to_csv(ex / "scorecard_typology.csv", index=False)
    (ex / "scorecard.json").write_text(json.dumps(meta))
    (ex / "scorecard.md").write_text(scorecard_markdown(table, typ, meta))
    # recovery-quick/ (pred-withheld/ deliberately missing)
    rec = R / "recovery-quick"
    rec.mkdir()
    pd.DataFrame({"parameter": ["sector_persistence", "decay_rate"], "truth": [0.5, 0.11], "estimate": [0.6, 0.05],
                  "q05": [0.4, 0.06], "q95": [0.8, 0.15], "abs_error_share_of_prior": [0.1, 0.33],
                  "covered": [True, False], "interval_share_of_prior": [0.4, 0.5]}).to_csv(rec / "recovery.csv",
                                                                                          index=False)
    (R / "pipeline.out").write_text("+ clustersim calibrate --exam\ncalibrate 812 s\nexam 75 s\n+ echo x\n"
                                    "validate 2400 s\nvalidate 2010 2500 s\nALLDONE\n")
    return R


def test_rendering_is_stable_and_independent_of_where_the_folders_are(cd, results, tmp_path):
    first = cd.render(results)
    assert list(first) == list(cd.BLOCKS)
    assert cd.render(results) == first
    moved = tmp_path / "elsewhere"
    shutil.copytree(results, moved)
    assert cd.render(moved) == first
    assert str(results) not in "".join(first.values()) and str(moved) not in "".join(first.values())


def test_every_block_starts_with_the_command_note(cd, results):
    for name, body in cd.render(results).items():
        first = body.splitlines()[0]
        assert first.startswith(f"*Generated by `{cd.SCRIPT} --results results --write`"), name
        assert first.endswith("*") or "`calibration.loss.observed_targets" in first, name


def test_goals_are_computed_per_information_set(cd, results):
    text = cd.render(results)["short-version"]
    goals = {ln[3]: ln for ln in text.splitlines() if ln.startswith("* (")}
    assert set(goals) == set("abcdef")
    assert "`with_2020_size`: **reached**; `2010_only`: **not reached**" in goals["a"]
    assert "`with_2020_size`: **reached**; `2010_only`: **not reached**" in goals["c"]
    assert "`with_2020_size`: **reached**; `2010_only`: **not reached**" in goals["d"]
    # the model RMSE (0.60, 0.55) is below linear persistence (0.90) on both: goal (b) is reached in both
    assert "`with_2020_size`: **reached**; `2010_only`: **reached**" in goals["b"]
    assert "**reached** (812 s, pipeline.out)" in goals["e"]
    assert goals["f"].endswith("**reached**.")
    assert ("skill against the best statistical baseline is > 0 on 3 of 6 indices (specialization, hierarchy and "
            "heterophily)") in text
    assert "entirely below 0 on 1 (specialization) and entirely above 0 on 1 (internal cohesion)" in text
    assert "the inclusiveness MAE is 0.08 (raw units; goal ≤ 0.10)" in text
    # majority class of each fold's training clusters: path_locked, hit on the path-locked held-out clusters
    assert "Typology: 8 of 24 held-out clusters labelled right, against 12 for the majority class" in text
    assert ("**Final exam** (6 frozen exam clusters): skill > 0 on 3 of 6 indices, significantly better on 2, "
            "significantly worse on 2") in text


def test_blocks_read_every_folder(cd, results):
    b = cd.render(results)
    assert "| `decay_rate` | 0.12 | 0.1 | 0.02 – 0.19 | 0.02 – 0.2 | no (94%) | 0.05 – 0.08 | 0.05 – 0.08 |" \
        in b["estimates"]
    assert "| inclusiveness (raw units) | 0.50 | 0.40 | 0.70 (raw units) | 24 |" in b["fit-2020"]
    assert "median 1.20" in b["fit-2020"] and "9/24 fitted clusters" in b["fit-2020"]
    assert "#### Information set `with_2020_size`" in b["validation"]
    assert "#### Information set `2010_only`" in b["validation"]
    assert "inclusiveness 0.08 (n = 24)" in b["validation"] and "Warning" not in b["validation"]
    assert "Typology (most frequent over replicates): 4 of 6 correct." in b["exam"]
    assert "/somewhere" not in b["exam"] and "the frozen exam clusters" in b["exam"]
    assert "Not run: `results/pred-withheld/` is missing" in b["withheld"]
    assert "for 1 of 2 parameters" in b["recovery"]
    assert "| `clustersim exam --params results/calibration/params.json --out results/exam` | 75 | 1.2 | " \
           "pipeline.out |" in b["timing"]
    assert "+0.40 in 2010, -0.51 in 2020" in b["findings"]  # the published data
    assert "| hierarchy | 27 | 0.51 |" in b["findings"]


def test_missing_folders_render_as_not_run(cd, tmp_path):
    b = cd.render(tmp_path)
    for name in ("estimates", "initial-fit", "fit-2020", "exam", "withheld", "recovery"):
        assert "*Not run: `results/" in b[name], name
    assert b["validation"].count("*Not run:") == 2
    assert "not measured (folder missing)" in b["short-version"]


def test_check_then_write(cd, results, tmp_path):
    doc = tmp_path / "calibration.md"
    shutil.copyfile(DOC, doc)
    args = ["--results", str(results), "--doc", str(doc)]
    assert cd.main(args) in (0, 1)
    assert cd.main([*args, "--write"]) == 0
    assert cd.main(args) == 0
    assert cd.blocks_of(doc.read_text(encoding="utf-8")) == cd.render(results)
    text = doc.read_text(encoding="utf-8")
    doc.write_text(text.replace("<!-- END generated: timing -->", ""), encoding="utf-8")
    with pytest.raises(SystemExit):
        cd.main(args)


def test_docs_carry_every_generated_block(cd):
    """docs/calibration.md has the markers of every block once; the numbers between them come from the script."""
    text = DOC.read_text(encoding="utf-8")
    for name in cd.BLOCKS:
        assert text.count(cd.BEGIN.format(name)) == 1, name
        assert text.count(cd.END.format(name)) == 1, name
    blocks = cd.blocks_of(text)
    assert set(blocks) == set(cd.BLOCKS)
    for name, body in blocks.items():
        assert body.startswith(f"*Generated by `{cd.SCRIPT} --results results --write`"), name
    assert "Stale: these numbers describe model v1" not in text
    # the settings block comes from the code alone: it must be current
    assert blocks["settings"] == cd.render(Path("/nonexistent-results"))["settings"]
