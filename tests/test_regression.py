"""Regression: FastTextRegressor, HybridRegressor (out-of-fold stacking with non-negative
weights, or its best component alone), the regression scores, and the estimator contract
for regressors (clone, save/load, GridSearchCV, cross_val_score)."""

import pickle

import numpy as np
import pytest
from conftest import requires_data_dir
from scipy.stats import pearsonr, spearmanr
from sklearn.base import clone
from sklearn.dummy import DummyRegressor
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import make_pipeline

import hybridnlp
from hybridnlp import FastTextRegressor, HybridRegressor, TfidfFeatures
from hybridnlp.hybrid import NonNegativeLinear
from hybridnlp.utils.metrics import regression_scores

WORDS = ["good", "bad", "great", "awful", "film", "plot", "actor", "scene", "music", "end"]
VALUE = {"good": 1.0, "bad": -1.0, "great": 2.0, "awful": -2.0}


def _toy(n=240, seed=0):
    """Texts of six words; the target is the sum of the sentiment words' values (and, as a
    second target, the number of times "film" occurs)."""
    rng = np.random.default_rng(seed)
    texts = [" ".join(rng.choice(WORDS, 6)) for _ in range(n)]
    y = np.array([[sum(VALUE.get(w, 0.0) for w in t.split()), t.split().count("film")]
                  for t in texts])
    return texts, y


def _small_fasttext():
    return FastTextRegressor(dim=16, max_epochs=15, random_state=0)


def _small_hybrid():
    return HybridRegressor(estimators=[
        ("tfidf", make_pipeline(TfidfFeatures(), Ridge(alpha=1.0))),
        ("fasttext", FastTextRegressor(dim=8, max_epochs=3, random_state=0))],
        cv=3, random_state=0)


REGRESSORS = [_small_fasttext(), _small_hybrid()]
IDS = ["fasttext-regressor", "hybrid-regressor"]


def test_fasttext_regressor_learns_real_targets_one_or_several():
    texts, y = _toy()
    one = _small_fasttext().fit(texts[:180], y[:180, 0])
    pred = one.predict(texts[180:])
    assert pred.shape == (60,) and pearsonr(pred, y[180:, 0])[0] > 0.95
    two = _small_fasttext().fit(texts[:180], y[:180])
    both = two.predict(texts[180:])
    assert both.shape == (60, 2)
    assert pearsonr(both[:, 0], y[180:, 0])[0] > 0.85 and pearsonr(both[:, 1], y[180:, 1])[0] > 0.8
    np.testing.assert_allclose(two.target_mean_, y[:180].mean(0))
    assert one.score(texts[180:], y[180:, 0]) > 0.85  # R^2, as scikit-learn's regressors


def test_regressors_refuse_labels_and_missing_targets_with_the_fix():
    texts, _ = _toy(20)
    for est in (_small_fasttext(), _small_hybrid()):
        with pytest.raises(ValueError, match=r"^y must hold numbers \(regression targets\); a "
                                             r"regressor cannot learn text labels: use a "
                                             r"classifier for them.$"):
            est.fit(texts, ["pos"] * 20)
        y = np.ones(20)
        y[3] = np.nan
        with pytest.raises(ValueError, match=r"y holds a missing or infinite value at index 3 "
                                             r"\(1 rows in all\)"):
            est.fit(texts, y)
        with pytest.raises(ValueError, match=r"got shape \(19,\) for 20 texts"):
            est.fit(texts, np.ones(19))


def test_non_negative_linear_equals_scikit_learns_positive_least_squares():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    y = X @ np.array([0.5, -1.0, 2.0, 0.0]) + 3 + rng.normal(scale=0.1, size=200)
    ours = NonNegativeLinear().fit(X, y)
    peer = LinearRegression(positive=True).fit(X, y)
    np.testing.assert_allclose(ours.coef_, peer.coef_, atol=1e-6)
    assert ours.intercept_ == pytest.approx(peer.intercept_, abs=1e-6)
    assert ours.coef_[1] == 0.0 and (ours.coef_ >= 0).all()


def test_hybrid_regressor_stacks_out_of_fold_or_keeps_its_best_part():
    texts, y = _toy()
    hybrid = _small_hybrid().fit(texts[:180], y[:180, 0])
    names = list(hybrid.named_estimators_)
    scores = hybrid.meta_scores_[0]
    assert set(scores) == {"stack", *names}
    assert scores[hybrid.chosen_[0]] == min(scores.values())  # never above its best part
    parts = hybrid.component_predict(texts[180:])
    combined = np.column_stack([parts[n][:, 0] for n in names]) @ hybrid.coef_[0] \
        + hybrid.intercept_[0]
    np.testing.assert_allclose(hybrid.predict(texts[180:]), combined)
    assert (hybrid.coef_ >= 0).all()
    # a useless component: the weights leave it out, or the best part is taken alone
    with_dummy = clone(hybrid).set_params(estimators=[
        *hybrid.estimators, ("mean", make_pipeline(TfidfFeatures(), DummyRegressor()))])
    with_dummy.fit(texts[:180], y[:180, 0])
    assert with_dummy.coef_[0, -1] == 0.0
    # several targets: one choice and one set of weights each
    two = clone(hybrid).fit(texts[:180], y[:180])
    assert two.predict(texts[180:]).shape == (60, 2) and len(two.chosen_) == 2
    assert two.coef_.shape == (2, 2)


def test_hybrid_regressor_defaults_and_nested_parameters():
    hybrid = HybridRegressor(random_state=0)
    assert [n for n, _ in hybrid._defaults()] == ["tfidf", "fasttext"]
    params = hybrid.get_params()
    assert params["estimators"] is None and "fasttext__max_epochs" in params
    hybrid.set_params(fasttext__max_epochs=2)
    assert dict(hybrid.estimators)["fasttext"].max_epochs == 2


def test_regression_scores_equal_scipy_and_numpy():
    rng = np.random.default_rng(0)
    t = rng.normal(size=(50, 2))
    p = t + rng.normal(scale=0.5, size=(50, 2))
    s = regression_scores(t, p, ["v", "a"])
    for j, name in enumerate(["v", "a"]):
        per = s["per_target"][name]
        assert per["rmse"] == pytest.approx(np.sqrt(np.mean((t[:, j] - p[:, j]) ** 2)))
        assert per["mae"] == pytest.approx(np.mean(np.abs(t[:, j] - p[:, j])))
        assert per["pearson"] == pytest.approx(pearsonr(t[:, j], p[:, j])[0])
        assert per["spearman"] == pytest.approx(spearmanr(t[:, j], p[:, j])[0])
    assert s["pearson"] == pytest.approx(np.mean([s["per_target"][n]["pearson"]
                                                  for n in ("v", "a")]))
    one = regression_scores(t[:, 0], p[:, 0])
    assert "per_target" not in one and one["rmse"] == s["per_target"]["v"]["rmse"]
    assert np.isnan(regression_scores(t[:, 0], np.ones(50))["pearson"])
    with pytest.raises(ValueError, match="must have one shape"):
        regression_scores(t, p[:, 0])


# ------------------------------------------------------------------ the regressor contract

@pytest.mark.parametrize("est", REGRESSORS, ids=IDS)
def test_regressor_contract_fit_not_fitted_clone_and_trailing_state(est):
    texts, y = _toy(90)
    message = f"^this {type(est).__name__} is not fitted yet; call fit first.$"
    with pytest.raises(NotFittedError, match=message):
        clone(est).predict(texts[:3])
    fresh = clone(est)
    before = set(vars(fresh))
    assert fresh.fit(texts, y[:, 0]) is fresh
    learned = {k for k in set(vars(fresh)) - before if not k.startswith("_")}
    assert learned and all(k.endswith("_") for k in learned), learned
    with pytest.raises(ValueError, match="Invalid parameter 'not_a_param'"):
        clone(est).set_params(not_a_param=1)


@pytest.mark.parametrize("est", REGRESSORS, ids=IDS)
def test_regressor_pickle_save_load_and_refit_give_identical_predictions(est, tmp_path):
    texts, y = _toy(90)
    fitted = clone(est).fit(texts, y[:, 0])
    expected = fitted.predict(texts[:20])
    assert np.array_equal(pickle.loads(pickle.dumps(fitted)).predict(texts[:20]), expected)
    loaded = hybridnlp.load(fitted.save(tmp_path / "model"))
    assert type(loaded) is type(est)
    np.testing.assert_allclose(loaded.predict(texts[:20]), expected, rtol=1e-6, atol=1e-9)
    assert not list((tmp_path / "model").rglob("*.pt"))
    fitted.fit(texts[:40], y[:40, 0]).fit(texts, y[:, 0])
    assert np.array_equal(fitted.predict(texts[:20]), expected)


@pytest.mark.parametrize("est", REGRESSORS, ids=IDS)
def test_regressor_grid_search_and_cross_val_score_agree_with_a_loop(est):
    texts, y = _toy(90)
    key = "max_epochs" if isinstance(est, FastTextRegressor) else "tfidf__ridge__alpha"
    values = [2, 4] if key == "max_epochs" else [0.5, 2.0]
    search = GridSearchCV(clone(est), {key: values}, cv=KFold(2)).fit(texts, y[:, 0])
    by_hand = [cross_val_score(clone(est).set_params(**{key: v}), texts, y[:, 0],
                               cv=KFold(2)).mean() for v in values]
    np.testing.assert_allclose(search.cv_results_["mean_test_score"], by_hand)
    folds = []
    for train, test in KFold(2).split(texts):
        model = clone(est).fit([texts[i] for i in train], y[train, 0])
        folds.append(model.score([texts[i] for i in test], y[test, 0]))
    np.testing.assert_allclose(cross_val_score(clone(est), texts, y[:, 0], cv=KFold(2)), folds)


@requires_data_dir
def test_emobank_loads_by_name_with_three_targets():
    from hybridnlp import load_dataset

    train = load_dataset("emobank", split="train")
    assert len(train.data) == 8062 and train.target.shape == (8062, 3)
    assert train.target_names == ["valence", "arousal", "dominance"]
    assert 1.0 <= train.target.min() and train.target.max() <= 5.0
