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
from hybridnlp import FastTextRegressor, HybridRegressor, TfidfFeatures, TransformerRegressor
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


def _small_transformer(**kw):
    return TransformerRegressor(**{"preset": "tiny", "max_epochs": 2, "batch_size": 16,
                                   "random_state": 0, **kw})


REGRESSORS = [_small_fasttext(), _small_transformer(), _small_hybrid()]
IDS = ["fasttext-regressor", "transformer-regressor", "hybrid-regressor"]


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


def test_transformer_regressor_learns_real_targets_with_every_encoder_source(tmp_path):
    texts, y = _toy()
    reg = _small_transformer(max_epochs=20, patience=None).fit(texts[:180], y[:180])
    pred = reg.predict(texts[180:])
    assert pred.shape == (60, 2) and pearsonr(pred[:, 0], y[180:, 0])[0] > 0.9
    assert "class_weight" not in reg.get_params()
    assert reg.get_params()["trainer__monitor"] == "val_loss"
    assert reg.model_.head.out.out_features == 2  # one output per target
    pytest.importorskip("transformers")
    from test_pretrained import _bert_dir

    _bert_dir(tmp_path / "bert")
    tuned = TransformerRegressor(pretrained=tmp_path / "bert", max_epochs=1, batch_size=16,
                                 random_state=0).fit(texts[:60], y[:60, 0])
    before = tuned.predict(texts[:5])
    assert before.shape == (5,) and np.isfinite(before).all()
    loaded = hybridnlp.load(tuned.save(tmp_path / "tuned"))
    np.testing.assert_allclose(loaded.predict(texts[:5]), before, rtol=1e-5, atol=1e-6)


def test_regressors_refuse_labels_and_missing_targets_with_the_fix():
    texts, _ = _toy(20)
    for est in (_small_fasttext(), _small_transformer(), _small_hybrid()):
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
    key, values = {"FastTextRegressor": ("max_epochs", [2, 4]),
                   "TransformerRegressor": ("max_epochs", [1, 2]),
                   "HybridRegressor": ("tfidf__ridge__alpha", [0.5, 2.0])}[type(est).__name__]
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


def test_a_regression_config_runs_from_a_csv_with_every_regressor_type(tmp_path):
    import csv
    import json

    from hybridnlp.experiments import load_config, run

    texts, y = _toy(60)
    with open(tmp_path / "scores.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "score"])
        w.writerows(zip(texts, y[:, 0], strict=True))
    config = {"name": "toy-regression", "task": "regression", "output": str(tmp_path / "runs"),
              "data": {"path": str(tmp_path / "scores.csv"), "label_column": "score"},
              "evaluation": {"cv": 2},
              "models": [{"type": "ridge", "name": "ridge"},
                         {"type": "fasttext_regressor", "name": "fastText",
                          "params": {"max_epochs": 2, "dim": 8}},
                         {"type": "hybrid_regressor", "name": "hybrid",
                          "params": {"fasttext__max_epochs": 2, "cv": 2}}]}
    result = run(config, quiet=True)
    metrics = json.loads((result.run_dir / "metrics.json").read_text())
    rows = metrics["models"]
    assert metrics["protocol"] == "2-fold CV (shuffled, seed 0)" and metrics["target_names"] == [
        "score"]
    for name in ("ridge", "fastText", "hybrid"):
        folds = rows[name]["folds"]
        assert len(folds) == 2
        assert rows[name]["pearson"] == pytest.approx(np.mean([f["pearson"] for f in folds]))
    # the ridge's scores are those of the same folds by hand
    from sklearn.model_selection import KFold

    from hybridnlp.experiments.registry import build_model

    by_hand = []
    for train, test in KFold(2, shuffle=True, random_state=0).split(texts):
        model = build_model("ridge", {}).fit([texts[i] for i in train], y[train, 0])
        by_hand.append(regression_scores(y[test, 0], model.predict([texts[i] for i in test])))
    assert rows["ridge"]["rmse"] == pytest.approx(np.mean([s["rmse"] for s in by_hand]))
    report = (result.run_dir / "report.md").read_text()
    assert "| model | pearson | spearman | rmse | mae |" in report
    assert "![predicted against true](predicted.png)" in report
    assert (result.run_dir / "predicted.png").stat().st_size > 1000
    assert (result.run_dir / "models" / "hybrid" / "config.json").is_file()
    with pytest.raises(Exception, match="'nbsvm' is a classification or multilabel model, "
                                        "but task is "
                                        "'regression'"):
        load_config({**config, "models": [{"type": "nbsvm"}]})


def test_predict_command_writes_a_column_per_target(tmp_path, capsys):
    from hybridnlp.cli import main

    texts, y = _toy(60)
    reg = FastTextRegressor(dim=8, max_epochs=2, random_state=0).fit(texts, y)
    hybridnlp.save(reg, tmp_path / "reg", class_names=["sentiment", "films"])
    (tmp_path / "in.csv").write_text("text\n" + "\n".join(texts[:3]) + "\n")
    assert main(["predict", str(tmp_path / "reg"), "--input", str(tmp_path / "in.csv")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "text,prediction_sentiment,prediction_films" and len(lines) == 4
    expected = reg.predict(texts[:3])
    for line, row in zip(lines[1:], expected, strict=True):
        assert [float(v) for v in line.split(",")[1:]] == pytest.approx(row.tolist())
