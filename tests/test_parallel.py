"""Hybrids' component fits as joblib jobs: in parallel (loky), on a Dask cluster, and the same
predictions as one job at a time."""

import json
import os

import numpy as np
import pytest
import torch
from conftest import _with
from joblib import parallel_config
from sklearn.base import BaseEstimator, ClassifierMixin
from test_contract import _nbsvm, _tfidf_lr

from hybridnlp import HybridClassifier, HybridEnsemble, TransformerClassifier
from hybridnlp.experiments import ConfigError, load_config, run
from hybridnlp.hybrid import share_fits
from hybridnlp.utils.jobs import threads_per_job


class ThreadsSeen(ClassifierMixin, BaseEstimator):
    """Predicts the class prior; remembers how many torch threads its fit ran with."""

    def fit(self, X, y):
        self.classes_, counts = np.unique(y, return_counts=True)
        self.prior_ = counts / counts.sum()
        self.threads_ = torch.get_num_threads()
        return self

    def predict_proba(self, X):
        return np.tile(self.prior_, (len(X), 1))


def _components():
    tiny = TransformerClassifier(preset="tiny", max_epochs=2, random_state=0)
    return [("nbsvm", _nbsvm()), ("tfidf", _tfidf_lr()), ("transformer", tiny)]


def test_parallel_fits_give_the_serial_predictions(mr_small):
    texts, y = mr_small
    serial = HybridClassifier(estimators=_components(), cv=2, random_state=0).fit(texts, y)
    parallel = HybridClassifier(estimators=_components(), cv=2, random_state=0,
                                n_jobs=2).fit(texts, y)
    np.testing.assert_allclose(parallel.predict_proba(texts), serial.predict_proba(texts),
                               atol=1e-5)
    for name in ("nbsvm", "tfidf", "transformer"):
        np.testing.assert_allclose(parallel.held_out_[name], serial.held_out_[name], atol=1e-5)
    voted = HybridEnsemble(estimators=_components()[:2], cv=3, random_state=0).fit(texts, y)
    voted2 = HybridEnsemble(estimators=_components()[:2], cv=3, random_state=0,
                            n_jobs=-1).fit(texts, y)
    np.testing.assert_allclose(voted2.weights_, voted.weights_, atol=1e-9)


def test_share_fits_is_looked_up_before_the_jobs_start(mr_small):
    texts, y = mr_small
    components = _components()[:2]
    with share_fits() as cache:
        first = HybridClassifier(estimators=components, cv=3, random_state=0, n_jobs=2)
        first.fit(texts, y)
        second = HybridEnsemble(estimators=components, cv=3, random_state=0, n_jobs=2)
        second.fit(texts, y)
        assert len(cache) == 2
    assert first.shared_components_ == [] and second.shared_components_ == ["nbsvm", "tfidf"]
    assert second.named_estimators_["nbsvm"] is first.named_estimators_["nbsvm"]


def test_jobs_share_the_cores_between_their_torch_threads(mr_small):
    texts, y = mr_small
    cores = torch.get_num_threads()
    assert threads_per_job(None, 10) is None and threads_per_job(1, 10) is None
    assert threads_per_job(4, 1) is None  # one fit: nothing to share
    with parallel_config(backend="threading"):
        hybrid = HybridEnsemble(estimators=[("a", ThreadsSeen()), ("b", ThreadsSeen())], cv=2,
                                random_state=0, n_jobs=2).fit(texts, y)
    expected = max(1, (os.cpu_count() or 1) // 2)
    assert hybrid.named_estimators_["a"].threads_ == expected
    assert torch.get_num_threads() == cores  # restored after the jobs


@pytest.mark.parametrize("n_jobs", [0, 1.5, "2", True])
def test_bad_n_jobs_is_refused_before_any_fit(mr_small, n_jobs):
    texts, y = mr_small
    with pytest.raises(ValueError, match=rf"^n_jobs={n_jobs!r} must be None \(one job at a "
                                         rf"time\), a positive int, or negative"):
        HybridClassifier(estimators=[("a", ThreadsSeen())], n_jobs=n_jobs).fit(texts, y)


def test_a_dask_cluster_fits_the_hybrid_as_one_process_does(mr_small):
    distributed = pytest.importorskip("distributed")
    texts, y = mr_small
    serial = HybridClassifier(estimators=_components(), cv=2, random_state=0).fit(texts, y)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client, parallel_config(backend="dask"):
        on_dask = HybridClassifier(estimators=_components(), cv=2, random_state=0, n_jobs=-1)
        on_dask.fit(texts, y)
        assert len(client.scheduler_info()["workers"]) == 2
    np.testing.assert_allclose(on_dask.predict_proba(texts), serial.predict_proba(texts),
                               atol=1e-5)


def _run_metrics(config) -> tuple[dict, str]:
    result = run(config, quiet=True)
    metrics = json.loads((result.run_dir / "metrics.json").read_text())
    rows = {name: {k: v for k, v in row.items() if not k.startswith("fit_time")}
            for name, row in metrics["models"].items()}
    return rows, (result.run_dir / "predictions.csv").read_text()


RUNNER_MODELS = [{"type": "nbsvm"}, {"type": "hybrid", "name": "hybrid", "params": {
    "estimators": [{"name": "nb", "type": "nbsvm"}, {"name": "tfidf", "type": "tfidf_lr"}]}}]


@pytest.mark.parametrize("execution", [{"n_jobs": 2}, {"backend": "dask", "n_jobs": 2}],
                         ids=["loky", "dask"])
def test_runner_folds_as_parallel_jobs_give_the_serial_run(tmp_path, execution):
    if execution.get("backend") == "dask":
        pytest.importorskip("distributed")
    serial = _run_metrics(_with(output=str(tmp_path / "a"), models=RUNNER_MODELS))
    parallel = _run_metrics(_with(output=str(tmp_path / "b"), models=RUNNER_MODELS,
                                  execution=execution))
    assert parallel == serial
    assert len(serial[0]["hybrid"]["folds"]) == 3


@pytest.mark.parametrize("execution, message", [
    ({"backend": "spark"}, r"^execution.backend: 'spark' is not a backend. Choose one of "
                           r"loky, threading, dask."),
    ({"n_jobs": 0}, r"^execution.n_jobs: 0 jobs; use a positive number, or -1 for one per"),
    ({"backend": "dask", "address": "tcp://h:8786"},
     r"^execution.address: a config may not choose where the program connects \(a Dask "
     r"scheduler and its workers can run code in this process\); remove it and pass "
     r"--scheduler ADDRESS to hybridnlp run, or set HYBRIDNLP_DASK_SCHEDULER, for a cluster "
     r"you trust.$"),
    ({"n_jobs": "2"}, r"^execution.n_jobs: expected int, got str '2'."),
    ({"jobs": 2}, r"^execution.jobs: unknown key. Did you mean 'n_jobs'\?"),
])
def test_bad_execution_sections_are_refused_at_load(execution, message):
    with pytest.raises(ConfigError, match=message):
        load_config(_with(execution=execution))


def test_execution_is_refused_for_tasks_that_fit_one_model_at_a_time():
    config = {"name": "t", "task": "language_modeling", "data": {"name": "wikitext2"},
              "models": [{"type": "ngram_lm"}], "execution": {"n_jobs": 2}}
    with pytest.raises(ConfigError, match=r"^execution: folds run as parallel jobs in "
                                          r"classification runs; a language_modeling run"):
        load_config(config)
