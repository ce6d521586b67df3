"""Search from a config: Optuna over a model's parameters inside each fit (nested), every
trial recorded, the best refit, resumable, pruned, and bad sections refused by name."""

import json

import numpy as np
import pytest
from conftest import _with
from sklearn.model_selection import StratifiedKFold, cross_val_score

from hybridnlp import NBSVMClassifier
from hybridnlp.experiments import ConfigError, load_config, run
from hybridnlp.experiments.search import OptunaSearch

SPACE = {"clf__C": {"low": 0.01, "high": 100.0, "log": True}}


def _nbsvm():
    from sklearn.linear_model import LogisticRegression

    return NBSVMClassifier(clf=LogisticRegression(max_iter=1000))


def test_the_best_score_is_the_cross_validated_score_of_the_parameters_refit(mr_small):
    X, y = mr_small
    search = OptunaSearch(estimator=_nbsvm(), space=SPACE, n_trials=4, cv=3,
                          random_state=0).fit(X, y)
    folds = StratifiedKFold(3, shuffle=True, random_state=0)
    direct = cross_val_score(_nbsvm().set_params(**search.best_params_), X, y, cv=folds)
    assert search.best_score_ == pytest.approx(direct.mean(), abs=1e-12)
    assert [t["number"] for t in search.trials_] == [0, 1, 2, 3]
    best = max((t for t in search.trials_ if t["state"] == "complete"),
               key=lambda t: t["value"])
    assert best["params"] == search.best_params_ and len(best["folds"]) == 3
    assert search.best_estimator_.estimators_[0].C == search.best_params_["clf__C"]
    np.testing.assert_array_equal(search.predict(X[:5]), search.best_estimator_.predict(X[:5]))


def test_a_resumed_search_draws_what_an_uninterrupted_one_would(mr_small, tmp_path):
    X, y = mr_small
    whole = OptunaSearch(estimator=_nbsvm(), space=SPACE, n_trials=5, cv=2,
                         random_state=3).fit(X, y)
    journal = tmp_path / "search.log"
    OptunaSearch(estimator=_nbsvm(), space=SPACE, n_trials=2, cv=2, random_state=3,
                 storage=journal).fit(X, y)
    resumed = OptunaSearch(estimator=_nbsvm(), space=SPACE, n_trials=5, cv=2,
                           random_state=3, storage=journal).fit(X, y)
    assert [t["params"] for t in resumed.trials_] == [t["params"] for t in whole.trials_]
    assert resumed.best_params_ == whole.best_params_


def test_trials_behind_the_median_after_a_fold_are_pruned(mr_small):
    X, y = mr_small
    space = {"clf__C": {"choices": [1e-6, 1.0]}}  # 1e-6: one class for every text
    search = OptunaSearch(estimator=_nbsvm(), space=space, n_trials=10, cv=3,
                          random_state=0).fit(X, y)
    pruned = [t for t in search.trials_ if t["state"] == "pruned"]
    assert pruned and all(t["params"]["clf__C"] == 1e-6 and len(t["folds"]) < 3
                          for t in pruned)
    assert search.best_params_ == {"clf__C": 1.0}


def test_a_config_search_runs_nested_records_its_trials_and_saves_the_best(tmp_path):
    config = _with(output=str(tmp_path), **{
        "data.limit": 200, "evaluation.cv": 2, "evaluation.metrics": ["accuracy"],
        "models.0.search": {"params": SPACE, "trials": 3, "cv": 2}})
    d = run(config, quiet=True).run_dir
    metrics = json.loads((d / "metrics.json").read_text())
    folds = metrics["search"]["nbsvm"]
    assert [f["fold"] for f in folds] == [0, 1] and all(len(f["trials"]) == 3 for f in folds)
    assert sorted(p.name for p in (d / "search").iterdir()) == ["nbsvm-fold0.log",
                                                                 "nbsvm-fold1.log"]
    report = (d / "report.md").read_text()
    assert "## Search: nbsvm" in report and report.count("| complete |") >= 3
    from hybridnlp.experiments.report import run_section

    pruned = sum(t["state"] == "pruned" for f in folds for t in f["trials"])
    assert f"; {pruned} of 6 trials pruned." in run_section(d, tmp_path / "R.md", "s")
    from hybridnlp.persistence import load

    saved = load(d / "models" / "nbsvm")  # the refit best model, not the search
    assert isinstance(saved, NBSVMClassifier)
    assert saved.clf.C == folds[-1]["best_params"]["clf__C"]


@pytest.mark.parametrize("search, message", [
    ({"params": {"clf__CC": {"low": 1, "high": 2}}},
     "models[0].search.params.clf__CC: the model has no parameter 'clf__CC'. Did you mean "
     "'clf__C'?"),
    ({"params": {"clf__C": {"low": 2, "high": 1}}},
     "models[0].search.params.clf__C: low and high must be numbers with low < high, got "
     "low=2, high=1."),
    ({"params": {"clf__C": {"low": 0, "high": 1, "log": True}}},
     "models[0].search.params.clf__C: a log scale needs low > 0, got low=0."),
    ({"params": SPACE, "trials": None},
     "models[0].search: give trials, timeout or both (a search needs a budget)."),
    ({"params": SPACE, "metric": "acuracy"},
     "models[0].search.metric: 'acuracy' is not one of accuracy, macro_f1, log_loss. Did you "
     "mean 'accuracy'?"),
])
def test_a_bad_search_section_is_refused_by_name(search, message):
    with pytest.raises(ConfigError) as err:
        load_config(_with(**{"models.0.search": search}))
    assert str(err.value) == message
