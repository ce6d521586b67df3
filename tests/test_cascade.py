"""The cheap-first cascade of stacked hybrids (``cascade=``): the threshold from held-out
predictions, the expensive components called only for the texts escalated, and the two
extremes equal to the cheap stage alone and to the full stack."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

import hybridnlp
from hybridnlp import HybridClassifier, NBFeatures, TfidfFeatures, TransformerClassifier
from hybridnlp.hybrid.cascade import cascade_curve, choose_threshold, is_expensive


def _nbsvm():
    return Pipeline([("nb", NBFeatures()), ("lr", LogisticRegression(max_iter=500))])


def _hybrid(**kw):
    return HybridClassifier(estimators=[
        ("nbsvm", _nbsvm()),
        ("tfidf", Pipeline([("tfidf", TfidfFeatures()), ("lr", LogisticRegression(C=10))])),
        ("transformer", TransformerClassifier(preset="tiny", max_epochs=1, batch_size=16,
                                              random_state=0))],
        cv=3, random_state=0, **kw)


def test_cascade_curve_and_threshold_by_hand():
    cheap = np.array([[0.9, 0.1], [0.4, 0.6], [0.55, 0.45], [0.2, 0.8]])
    full = np.array([[0.8, 0.2], [0.7, 0.3], [0.3, 0.7], [0.1, 0.9]])
    y = np.array([0, 0, 1, 1])  # cheap right on 0 and 3; full right on all four
    curve = cascade_curve(cheap, full, y)
    # least confident first: 0.55 (text 2), 0.6 (text 1), 0.8 (text 3), 0.9 (text 0)
    np.testing.assert_allclose(curve["escalated"], [0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(curve["loss"], [0.5, 0.25, 0.0, 0.0, 0.0])
    # texts 2 and 1 are where the two differ: sqrt(2) / 4, sqrt(1) / 4, then none
    np.testing.assert_allclose(curve["spread"], [np.sqrt(2) / 4, 0.25, 0.0, 0.0, 0.0])
    assert curve["cheap_accuracy"] == 0.5 and curve["full_accuracy"] == 1.0
    threshold, share, loss = choose_threshold(curve, 0.0)
    assert (share, loss) == (0.5, 0.0)
    assert (cheap.max(axis=1) < threshold).tolist() == [False, True, True, False]
    # on the loss alone
    assert choose_threshold(curve, 0.3, confidence=0)[1:] == (0.25, 0.25)
    assert choose_threshold(curve, 1.0, confidence=0) == (0.0, 0.0, 0.5)  # none escalated
    # one standard error more: 0.25 + 0.25 > 0.3, 0.5 + 0.354 <= 1.0
    assert choose_threshold(curve, 0.3)[1:] == (0.5, 0.0)
    assert choose_threshold(curve, 0.6)[1:] == (0.25, 0.25)
    assert choose_threshold(curve, 1.0) == (0.0, 0.0, 0.5)
    del curve["spread"]  # a model saved before: the loss alone
    assert choose_threshold(curve, 0.3)[1:] == (0.25, 0.25)


def test_only_transformers_and_pretrained_encoders_are_expensive():
    from hybridnlp import FastTextClassifier, FusionClassifier

    assert is_expensive(TransformerClassifier()) and is_expensive(FusionClassifier())
    assert not is_expensive(FastTextClassifier()) and not is_expensive(_nbsvm())


def test_cascade_calls_the_transformer_only_for_escalated_texts(mr_small, monkeypatch,
                                                                 tmp_path):
    texts, y = mr_small
    from hybridnlp.hybrid import cascade as cascade_module
    from hybridnlp.hybrid import share_fits

    costs = {"nbsvm": 1e-6, "tfidf": 2e-6, "transformer": 1.0}  # measured costs, fixed

    def cost(est):
        return costs[next(n for n, e in cascade.named_estimators_.items() if e is est)]

    monkeypatch.setattr(cascade_module, "predict_seconds", lambda est, sample: cost(est))
    monkeypatch.setattr(cascade_module, "stage_seconds",
                        lambda ests, sample: sum(cost(e) for e in ests))
    with share_fits():  # the components fit once for both
        full = _hybrid().fit(texts, y)
        cascade = _hybrid(cascade=0.0)
        cascade.fit(texts, y)
    assert [s["components"] for s in cascade.cascade_stages_] == [["nbsvm"],
                                                                  ["nbsvm", "tfidf"]]
    stage = cascade.cascade_components_
    assert cascade.cascade_loss_ <= 0.0 and 0.0 <= cascade.cascade_escalated_ <= 1.0
    curve = cascade.cascade_curve_
    assert len(curve["thresholds"]) == len(curve["loss"]) == cascade.n_meta_rows_ + 1
    # every text escalated: the full stack's probabilities; none: the cheap stage's
    cascade.cascade_threshold_ = np.inf
    np.testing.assert_allclose(cascade.predict_proba(texts), full.predict_proba(texts),
                               atol=1e-12)
    cascade.cascade_threshold_ = 0.0
    cheap = cascade.cascade_final_.predict_proba(np.hstack([
        cascade.named_estimators_[n].predict_proba(texts)[:, 1:] for n in stage]))
    np.testing.assert_allclose(cascade.predict_proba(texts), cheap)
    # in between: the transformer sees exactly the texts below the threshold
    cascade.cascade_threshold_ = float(np.median(cheap.max(axis=1)))
    proba = cascade.predict_proba(texts)
    loaded = hybridnlp.load(cascade.save(tmp_path / "cascade"))  # before any patching
    assert loaded.cascade_threshold_ == cascade.cascade_threshold_
    np.testing.assert_allclose(loaded.predict_proba(texts[:20]), proba[:20], atol=1e-6)
    seen = []
    transformer = cascade.named_estimators_["transformer"]
    original = transformer.predict_proba
    monkeypatch.setattr(transformer, "predict_proba",
                        lambda X: seen.extend(X) or original(X))
    assert np.array_equal(cascade.predict_proba(texts), proba)
    low = cascade.escalated(texts)
    assert seen == [t for t, e in zip(texts, low, strict=True) if e] and 0 < low.sum() < len(texts)
    np.testing.assert_allclose(proba[~low], cheap[~low])
    np.testing.assert_allclose(proba[low], full.predict_proba([t for t, e in zip(
        texts, low, strict=True) if e]), atol=1e-12)


def test_cascade_keeps_the_stage_with_the_least_expected_predict_time(mr_small,
                                                                      monkeypatch):
    texts, y = mr_small
    from hybridnlp.hybrid import cascade as cascade_module

    costs = {"nbsvm": 0.5, "tfidf": 1e-4, "transformer": 1e-3}  # nbsvm the dearest

    def cost(est):
        return costs[next(n for n, e in model.named_estimators_.items() if e is est)]

    monkeypatch.setattr(cascade_module, "predict_seconds", lambda est, sample: cost(est))
    monkeypatch.setattr(cascade_module, "stage_seconds",  # a stage: its components' sum
                        lambda ests, sample: sum(cost(e) for e in ests))
    model = _hybrid(cascade=0.05)
    model.fit(texts, y)
    assert model.cascade_costs_ == costs
    stages = model.cascade_stages_
    assert [s["components"] for s in stages] == [["tfidf"], ["nbsvm", "tfidf"]]
    for s in stages:  # its own components, plus the rest for the share it escalates
        own = sum(costs[n] for n in s["components"])
        assert s["seconds_per_text"] == pytest.approx(own + s["escalated"] *
                                                      (sum(costs.values()) - own))
        assert s["loss"] <= 0.05 + 1e-12
    best = min(stages, key=lambda s: s["seconds_per_text"])
    assert model.cascade_components_ == best["components"] == ["tfidf"]
    assert model.cascade_threshold_ == best["threshold"]
    # an escalated text runs every component the stage left out, nbsvm too
    seen = []
    original = model.named_estimators_["nbsvm"].predict_proba
    monkeypatch.setattr(model.named_estimators_["nbsvm"], "predict_proba",
                        lambda X: seen.extend(X) or original(X))
    low = model.escalated(texts)
    model.predict_proba(texts)
    assert seen == [t for t, e in zip(texts, low, strict=True) if e]


def test_predict_seconds_measures_per_text(monkeypatch):
    from hybridnlp.hybrid import cascade
    from hybridnlp.hybrid.cascade import predict_seconds

    class Slow:
        calls = []

        def predict_proba(self, X):
            self.calls.append(len(X))
            import time
            time.sleep(0.001 * len(X))

    est = Slow()
    assert predict_seconds(est, ["a"] * 20) >= 0.001
    # a warm-up call on the texts, then three measured runs: each took ~0.02 s, under
    # REPEAT_UNDER; the least kept
    assert est.calls == [20] * 4
    est.calls.clear()
    monkeypatch.setattr(cascade, "REPEAT_UNDER", 0.01)
    assert predict_seconds(est, ["a"] * 20) >= 0.001
    assert est.calls == [20, 20]  # a run long enough is not repeated


def test_cascade_refuses_settings_it_cannot_serve(mr_small):
    texts, y = mr_small
    cheap_only = clone(_hybrid(cascade=0.01)).set_params(estimators=[("nbsvm", _nbsvm())])
    with pytest.raises(ValueError, match=r"^cascade needs cheap and expensive components, but "
                                         r"every one is cheap \(nbsvm\); set cascade=None.$"):
        cheap_only.fit(texts, y)
    with pytest.raises(ValueError, match="cascade cannot be combined with passthrough"):
        _hybrid(cascade=0.01, passthrough=TfidfFeatures()).fit(texts, y)
    with pytest.raises(ValueError, match="cascade=1.5"):
        _hybrid(cascade=1.5).fit(texts, y)
    plain = clone(cheap_only).set_params(cascade=None).fit(texts, y)
    with pytest.raises(ValueError, match=r"^escalated\(\) needs a cascade; fit with cascade="):
        plain.escalated(texts[:2])


def test_stage_seconds_runs_a_stage_as_predict_does_counting_shared_ngrams_once(
        mr_small, monkeypatch):
    from hybridnlp.features._counting import NgramCounter
    from hybridnlp.hybrid.cascade import stage_seconds

    texts, y = mr_small
    nbsvm = _nbsvm().fit(texts, y)
    tfidf = Pipeline([("tfidf", TfidfFeatures(analyzer="both", char_ngram_range=(2, 3))),
                      ("lr", LogisticRegression(max_iter=1000))]).fit(texts, y)
    counted = []
    count = NgramCounter.transform
    monkeypatch.setattr(NgramCounter, "transform", lambda self, *a, **k: (
        counted.append(1), count(self, *a, **k))[1])
    assert stage_seconds([nbsvm, tfidf], texts[:50]) > 0
    # NBSVM's word n-grams are TF-IDF's word block: counted once; then TF-IDF's char n-grams;
    # a run this short is repeated: three runs
    assert len(counted) == 3 * 2
    assert stage_seconds([], texts[:50]) == 0.0
