"""Tests of the typology: factor extraction and the classifier (sim.indices.typology), the shipped fit
and the rule selection (calibration.typology)."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from calibration import typology as typ
from sim.data import observed as obs
from sim.indices import typology as ti
from sim.indices.typology import TypologyClassifier

ROOT = Path(__file__).resolve().parents[1]

# Measured numbers (docs/calibration.md §Typology).
CHOSEN = {"rule": "fitted_quadrant", "method": "pca", "orientation": "majority"}
IN_SAMPLE_CORRECT = 18
LOO_CORRECT = 14
N_PUBLISHED = 30
EXPECTED_TABLE = [
    # rule, method, orientation, in-sample, LOO
    ("sign_quadrant", "pca", "majority", 12, 12),
    ("fitted_quadrant", "pca", "majority", 18, 14),
    ("nearest_centroid", "pca", "majority", 15, 12),
    ("sign_quadrant", "pca", "anchor", 9, 9),
    ("fitted_quadrant", "pca", "anchor", 14, 10),
    ("nearest_centroid", "pca", "anchor", 15, 12),
    ("sign_quadrant", "paf", "majority", 11, 11),
    ("fitted_quadrant", "paf", "majority", 16, 9),
    ("nearest_centroid", "paf", "majority", 12, 9),
    ("majority_class", "-", "-", 10, 10),
]


@pytest.fixture(scope="module")
def published():
    return typ.published_2020()


def synthetic(n=500, loadings=(0.9, 0.8, 0.85), noise=0.1, seed=1, shift=(3.0, -2.0, 10.0), scale=(2.0, 0.5, 7.0)):
    """Three indicators = latent factor x loading + small noise, on arbitrary affine scales."""
    rng = np.random.default_rng(seed)
    f = rng.standard_normal(n)
    cols = {}
    for j, (a, m, s) in enumerate(zip(loadings, shift, scale)):
        cols[f"x{j}"] = m + s * (a * f + noise * rng.standard_normal(n))
    return pd.DataFrame(cols), f


# ----------------------------------------------------------------------------------------
# factor extraction: known answers
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("rho", [0.2, 0.5, 0.8])
def test_pca_equicorrelated_known_answer(rho):
    R = np.full((3, 3), rho) + (1 - rho) * np.eye(3)
    loadings, eig, heywood = ti.one_factor(R, "pca")
    assert eig == pytest.approx(1 + 2 * rho)
    assert np.abs(loadings) == pytest.approx(np.full(3, np.sqrt((1 + 2 * rho) / 3)))
    assert not heywood


def test_paf_recovers_exact_one_factor_structure():
    a = np.array([0.9, 0.6, 0.4])
    R = np.outer(a, a)
    np.fill_diagonal(R, 1.0)
    loadings, eig, heywood = ti.one_factor(R, "paf")
    assert np.abs(loadings) == pytest.approx(a, abs=1e-6)
    assert eig == pytest.approx(np.sum(a**2), abs=1e-6)
    assert not heywood


def test_unknown_method():
    with pytest.raises(ValueError):
        ti.one_factor(np.eye(3), "ml")


@pytest.mark.parametrize("method", ["pca", "paf"])
def test_synthetic_score_recovers_latent_factor(method):
    df, f = synthetic()
    fam = ti.fit_family(df, ["x0", "x1", "x2"], "centripetal", method=method)
    score = fam.score(df)
    assert np.corrcoef(score, f)[0, 1] > 0.95
    assert np.all(fam.loadings > 0)
    assert score.mean() == pytest.approx(0.0, abs=1e-12)
    assert score.std(ddof=1) == pytest.approx(1.0)
    if method == "pca":
        # regression weights of a principal component: w = v / sqrt(lambda)
        assert fam.weights == pytest.approx(fam.loadings / fam.eigenvalue)


def test_synthetic_noisier_factor_still_recovered():
    df, f = synthetic(loadings=(0.7, 0.6, 0.5), noise=0.3, n=2000, seed=5)
    fam = ti.fit_family(df, ["x0", "x1", "x2"], "centripetal")
    assert np.corrcoef(fam.score(df), f)[0, 1] > 0.9


def test_orientation_rules():
    df, f = synthetic()
    df["x0"] = -df["x0"]  # one indicator reversed: majority still positive
    maj = ti.fit_family(df, ["x0", "x1", "x2"], "centripetal", orientation="majority")
    assert maj.loadings.sum() > 0
    assert maj.loadings[0] < 0 < min(maj.loadings[1:])
    assert np.corrcoef(maj.score(df), f)[0, 1] > 0.95
    anc = ti.fit_family(df, ["x0", "x1", "x2"], "centripetal", orientation="anchor", anchor="x0")
    assert anc.loadings[0] > 0
    assert np.corrcoef(anc.score(df), f)[0, 1] < -0.95


def test_shipped_family_orientation(published):
    X, _ = published
    model = ti.fit_factor_model(X)
    cp, cf = model.centripetal, model.centrifugal
    assert cp.columns == obs.CENTRIPETAL and cf.columns == obs.CENTRIFUGAL
    assert np.all(cp.loadings > 0)  # positive with specialization as well
    assert cf.loadings.sum() > 0
    anchor = ti.fit_factor_model(X, orientation="anchor").centrifugal
    assert anchor.loadings[cf.columns.index("related_variety")] > 0


def test_imputation_of_missing_value(published):
    X, _ = published
    assert np.isnan(X.loc["jeonbuk_food", "heterophily"])
    fam = ti.fit_factor_model(X).centrifugal
    Z = fam.standardize(X)
    k = list(X.index).index("jeonbuk_food")
    j = fam.columns.index("heterophily")
    o = [i for i in range(3) if i != j]
    z_obs = (X.loc["jeonbuk_food", [fam.columns[i] for i in o]].to_numpy() - fam.mean[o]) / fam.sd[o]
    expected = fam.corr[j, o] @ np.linalg.solve(fam.corr[np.ix_(o, o)], z_obs)
    assert Z[k, j] == pytest.approx(expected)
    assert np.isfinite(fam.score(X).loc["jeonbuk_food"])


def test_factor_scores_api(published):
    X, _ = published
    s = ti.factor_scores(X)
    assert list(s.columns) == ["centripetal", "centrifugal"]
    assert s.index.equals(X.index)
    assert s.notna().all().all()
    assert s.mean().to_numpy() == pytest.approx([0, 0], abs=1e-12)
    model = ti.fit_factor_model(X)
    pd.testing.assert_frame_equal(ti.factor_scores(X, model), s)
    pd.testing.assert_frame_equal(ti.factor_scores(X, json.loads(json.dumps(model.to_dict()))), s)


def test_all_missing_family_gives_nan_score_and_no_label(published):
    X, y = published
    clf = TypologyClassifier().fit(X, y)
    row = X.iloc[[0]].copy()
    row[list(obs.CENTRIFUGAL)] = np.nan
    assert np.isnan(clf.scores(row)["centrifugal"].iloc[0])
    assert clf.predict(row).iloc[0] is None


# ----------------------------------------------------------------------------------------
# the classifier on the published data
# ----------------------------------------------------------------------------------------


def test_published_data(published):
    X, y = published
    assert len(X) == len(y) == N_PUBLISHED
    assert not set(X.index) & set(obs.withheld_ids())
    assert X[list(obs.INDEX_COLUMNS)].isna().sum().sum() == 1


def test_shipped_classifier_in_sample_accuracy(published):
    X, y = published
    clf = typ.load_fitted()
    assert {"rule": clf.rule, "method": clf.method, "orientation": clf.orientation} == CHOSEN
    pred = clf.predict(X)
    assert int((pred == y).sum()) == IN_SAMPLE_CORRECT
    payload = json.loads((resources.files("sim.indices") / typ.FIT_FILE).read_text(encoding="utf-8"))
    assert payload["accuracy"] == {"n": N_PUBLISHED, "in_sample": IN_SAMPLE_CORRECT, "loo": LOO_CORRECT}


def test_shipped_classifier_is_up_to_date(published):
    X, y = published
    fresh = TypologyClassifier(**CHOSEN).fit(X, y)
    shipped = typ.load_fitted()
    assert shipped.thresholds_ == pytest.approx(fresh.thresholds_)
    pd.testing.assert_frame_equal(shipped.scores(X), fresh.scores(X))


def test_loo_accuracy_of_chosen_rule(published):
    X, y = published
    ev = typ.evaluate(X, y, **CHOSEN)
    assert ev["in_sample"] == IN_SAMPLE_CORRECT
    assert ev["loo"] == LOO_CORRECT


def test_candidate_table_matches_the_measured_table(published):
    X, y = published
    table = typ.candidate_table(X, y)
    got = [(r.rule, r.method, r.orientation, r.in_sample, r.loo) for r in table.itertuples()]
    assert got == EXPECTED_TABLE
    assert typ.select_rule(table) == CHOSEN


def test_docs_typology_table_matches():
    """The measured table in docs/calibration.md §Typology holds the numbers of EXPECTED_TABLE."""
    text = (ROOT / "docs" / "calibration.md").read_text(encoding="utf-8")
    rows = [f"{rule:<28}{method:<12}{orient:<13}{ins:>2}{loo:>11}"
            for rule, method, orient, ins, loo in EXPECTED_TABLE[:-1]]
    for r in rows:
        assert r in text


def test_round_trip(published):
    X, y = published
    X2010 = obs.indices_for_year(None, 2010).dropna()
    for rule in ti.RULES:
        clf = TypologyClassifier(rule=rule).fit(X, y)
        d = json.loads(json.dumps(clf.to_dict()))
        clf2 = TypologyClassifier.from_dict(d)
        assert clf2.to_dict() == clf.to_dict()
        pd.testing.assert_series_equal(clf2.predict(X), clf.predict(X))
        pd.testing.assert_series_equal(clf2.predict(X2010), clf.predict(X2010))
        pd.testing.assert_frame_equal(clf2.scores(X), clf.scores(X))


def test_load_classifier_from_dict_wrapped_dict_and_file(published, tmp_path):
    X, _ = published
    shipped = typ.load_fitted()
    d = shipped.to_dict()
    path = tmp_path / "fit.json"
    path.write_text(json.dumps({"classifier": d}))
    for source in (d, {"classifier": d}, path, str(path)):
        clf = ti.load_classifier(source)
        assert clf.to_dict() == d
        pd.testing.assert_series_equal(clf.predict(X), shipped.predict(X))
    assert typ.load_fitted(path).to_dict() == d


def test_unfitted_and_bad_labels(published):
    X, y = published
    with pytest.raises(RuntimeError):
        TypologyClassifier().predict(X)
    with pytest.raises(ValueError, match="unknown typology"):
        TypologyClassifier().fit(X, y.replace("other", "misc"))
    with pytest.raises(ValueError):
        TypologyClassifier(rule="svm")


# ----------------------------------------------------------------------------------------
# withheld clusters
# ----------------------------------------------------------------------------------------


def _same(a, b, path="") -> list[str]:
    """Where two fitted-classifier dicts differ: exactly for text and structure, to 1e-12 relative for floats
    (LAPACK's kernels differ by CPU, and an eigenvalue may then differ in the last bit)."""
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return [f"{path}: keys {sorted(set(a) ^ set(b))}"]
        return [d for k in a for d in _same(a[k], b[k], f"{path}/{k}")]
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return [f"{path}: length {len(a)} != {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _same(x, y, f"{path}[{i}]")]
    if isinstance(a, float) and isinstance(b, float):
        return [] if np.isclose(a, b, rtol=1e-12, atol=1e-15) or (np.isnan(a) and np.isnan(b)) else [f"{path}: {a} != {b}"]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def test_same_compares_floats_to_the_last_bits_only():
    assert _same({"x": [1.0, "a"]}, {"x": [1.0 + 1e-15, "a"]}) == []
    assert _same({"x": [1.0, "a"]}, {"x": [1.0 + 1e-9, "a"]}) and _same({"x": "a"}, {"x": "b"})


def test_withheld_clusters_never_used_in_fit():
    data = obs.load_all()
    withheld = data.withheld_ids()
    shipped = typ.load_fitted()
    assert len(shipped.fitted_ids_) == N_PUBLISHED
    assert not set(shipped.fitted_ids_) & set(withheld)

    # all 38 clusters of 2020 with all labels: the withheld rows carry NaN labels
    X38 = data.indices_for_year(2020)
    y38 = data.clusters.set_index("id")["typology_2020"]
    clf = TypologyClassifier(**CHOSEN).fit(X38, y38)
    assert sorted(clf.fitted_ids_) == sorted(shipped.fitted_ids_)
    assert not _same(clf.to_dict(), shipped.to_dict()), _same(clf.to_dict(), shipped.to_dict())

    # arbitrary values in the unlabelled rows do not change the fit
    Xfake = X38.copy()
    Xfake.loc[withheld, list(obs.INDEX_COLUMNS)] = 99.0
    clf_fake = TypologyClassifier(**CHOSEN).fit(Xfake, y38)
    assert not _same(clf_fake.to_dict(), shipped.to_dict()), _same(clf_fake.to_dict(), shipped.to_dict())


def test_predict_withheld_from_2010_values():
    data = obs.load_all()
    withheld = data.withheld_ids()
    X2010 = data.indices_for_year(2010).loc[withheld]
    assert X2010.notna().all().all()
    pred = typ.load_fitted().predict(X2010)
    assert list(pred.index) == withheld
    assert set(pred) <= set(obs.TYPOLOGIES)
    assert pred.notna().all()


def test_fit_with_array_labels_drops_missing(published):
    X, y = published
    labels = y.to_numpy(dtype=object).copy()
    labels[:3] = None
    clf = TypologyClassifier(rule="nearest_centroid").fit(X, labels)
    assert clf.fitted_ids_ == list(X.index[3:])
    ref = TypologyClassifier(rule="nearest_centroid").fit(X.iloc[3:], y.iloc[3:])
    assert clf.to_dict() == ref.to_dict()
