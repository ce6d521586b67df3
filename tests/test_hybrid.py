import re

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import Pipeline, make_pipeline
from test_contract import _nbsvm, _tfidf_lr

import hybridnlp
from hybridnlp import (
    FastTextClassifier,
    FusionClassifier,
    HybridClassifier,
    HybridEnsemble,
    StackingClassifier,
    TfidfFeatures,
    TopicFeatures,
    TransformerClassifier,
    WeightedEnsemble,
)
from hybridnlp.hybrid import SimplexWeights, share_fits
from hybridnlp.hybrid.ensemble import fit_simplex_weights
from hybridnlp.text import WORD_PATTERN


class Memoriser(ClassifierMixin, BaseEstimator):
    """Perfect on texts seen in fit, a coin toss on anything else."""

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        self.seen_ = dict(zip(X, y))
        return self

    def predict_proba(self, X):
        out = np.full((len(X), len(self.classes_)), 1.0 / len(self.classes_))
        for i, text in enumerate(X):
            if text in self.seen_:
                out[i] = (self.classes_ == self.seen_[text]).astype(float)
        return out


nbsvm, tfidf = _nbsvm, _tfidf_lr  # the contract suite's small learners


def test_meta_learner_only_sees_out_of_fold_predictions(mr_small):
    texts, y = mr_small
    stack = StackingClassifier(estimators=[("real", nbsvm()), ("memo", Memoriser())], cv=5,
                               random_state=0).fit(texts, y)
    real, memo = stack.final_estimator_.coef_[0]
    # held out, the memoriser says 0.5 everywhere: a constant column, worth (almost) nothing
    assert abs(memo) < 0.01 * abs(real)
    assert stack.n_meta_rows_ == len(texts)
    # in-sample, the memoriser would have looked perfect and taken all the weight
    insample = LogisticRegression().fit(
        np.column_stack([nbsvm().fit(texts, y).predict_proba(texts)[:, 1],
                         Memoriser().fit(texts, y).predict_proba(texts)[:, 1]]), y)
    assert abs(insample.coef_[0][1]) > abs(insample.coef_[0][0])


def test_stacking_cv_modes(mr_small):
    texts, y = mr_small
    blend = StackingClassifier(estimators=[("a", nbsvm()), ("b", tfidf())], cv=0.25,
                               random_state=0).fit(texts, y)
    assert blend.n_meta_rows_ == 50
    mixed = StackingClassifier(estimators=[("a", nbsvm()), ("b", tfidf())], cv=4,
                               estimator_cv={"b": 0.3}, random_state=0).fit(texts, y)
    assert mixed.n_meta_rows_ == 60
    prefit = [("a", nbsvm().fit(texts, y)), ("b", tfidf().fit(texts, y))]
    stack = StackingClassifier(estimators=prefit, cv="prefit").fit(texts, y)
    assert stack.named_estimators_["a"] is prefit[0][1]
    proba = stack.predict_proba(texts[:5])
    assert proba.shape == (5, 2) and np.allclose(proba.sum(1), 1)
    with pytest.raises(ValueError, match=r"^cv='loo' is not allowed"):
        StackingClassifier(estimators=prefit, cv="loo").fit(texts, y)
    with pytest.raises(ValueError, match=re.escape("estimator_cv names ['c'] are not among")):
        StackingClassifier(estimators=prefit, estimator_cv={"c": 0.2}).fit(texts, y)


def test_stacking_passthrough_and_nested_params(mr_small):
    texts, y = mr_small
    stack = StackingClassifier(estimators=[("a", nbsvm())], passthrough=TfidfFeatures(),
                               cv=3, random_state=0).fit(texts, y)
    n_tfidf = stack.passthrough_.n_features_out_
    assert stack.final_estimator_.coef_.shape == (1, 1 + n_tfidf)
    stack.set_params(a__lr__C=0.5)
    assert stack.get_params()["a__lr__C"] == 0.5


class CountingTfidf(TfidfFeatures):
    fits = 0

    def fit_transform(self, X, y=None):
        type(self).fits += 1
        return super().fit_transform(X, y)


def test_shared_features_are_computed_once_per_fold(mr_small):
    texts, y = mr_small
    learners = [("lr", make_pipeline(CountingTfidf(), LogisticRegression())),
                ("lr_strong", make_pipeline(CountingTfidf(), LogisticRegression(C=100)))]
    CountingTfidf.fits = 0
    StackingClassifier(estimators=learners, cv=3, cache=True, random_state=0).fit(texts, y)
    assert CountingTfidf.fits == 3 + 1  # one per fold and one on all data, shared by both
    CountingTfidf.fits = 0
    StackingClassifier(estimators=learners, cv=3, cache=False, random_state=0).fit(texts, y)
    assert CountingTfidf.fits == 2 * (3 + 1)


def test_simplex_weights_prefer_the_better_component():
    rng = np.random.RandomState(0)
    y = rng.randint(0, 2, 500)
    good = np.where(y[:, None] == [0, 1], 0.9, 0.1)
    noise = rng.dirichlet([1, 1], 500)
    weights = fit_simplex_weights(np.stack([good, noise]), y)
    assert weights.sum() == pytest.approx(1) and weights[0] > 0.9


def test_simplex_weights_meta_learner():
    rng = np.random.RandomState(0)
    y = rng.randint(0, 3, 300)
    good = np.where(y[:, None] == [0, 1, 2], 0.8, 0.1)
    noise = rng.dirichlet([1, 1, 1], 300)
    meta = SimplexWeights().fit(np.hstack([good, noise]), y)  # one block of 3 per learner
    np.testing.assert_allclose(meta.weights_, fit_simplex_weights(np.stack([good, noise]), y))
    np.testing.assert_allclose(meta.predict_proba(np.hstack([good, noise])),
                               meta.weights_[0] * good + meta.weights_[1] * noise)
    assert np.mean(meta.predict(np.hstack([good, noise])) == y) == 1.0
    # two classes: one column per learner, P(classes_[1])
    labels = np.array(["neg", "pos"])[y % 2]
    binary = SimplexWeights().fit(np.column_stack([(y % 2) * 0.8 + 0.1, noise[:, 0]]), labels)
    assert binary.weights_[0] > 0.9 and list(binary.classes_) == ["neg", "pos"]
    assert binary.predict_proba(np.array([[0.9, 0.2]])).shape == (1, 2)
    with pytest.raises(ValueError, match=r"^SimplexWeights expects 3 probability columns per "
                                         r"learner for 3 classes; got 4 columns\.$"):
        SimplexWeights().fit(np.hstack([good, noise[:, :1]]), y)
    with pytest.raises(ValueError, match=r"^SimplexWeights expects class probabilities in "
                                         r"\[0, 1\]; X holds values from -2 to 0\.8\.$"):
        SimplexWeights().fit(np.hstack([good, noise - 2]), y)
    with pytest.raises(ValueError, match=r"^X has 2 columns; SimplexWeights was fit on 6\.$"):
        meta.predict_proba(good[:, :2])
    with pytest.raises(TypeError, match=r"sparse matrix \(passthrough features\?\); use "
                                        r"LogisticRegression"):
        SimplexWeights().fit(sp.csr_matrix(np.hstack([good, noise])), y)


def test_hybrid_meta_learner_defaults(mr_small):
    texts, y = mr_small
    components = [("nbsvm", nbsvm()), ("tfidf", tfidf())]
    stacked = HybridClassifier(estimators=components, cv=3).fit(texts, y)
    assert isinstance(stacked.final_estimator_, LogisticRegression)
    assert stacked.final_estimator_.coef_.shape == (1, 2)  # one column per component
    passed = HybridClassifier(estimators=components, cv=3, passthrough=TfidfFeatures())
    assert isinstance(passed.fit(texts, y).final_estimator_, LogisticRegression)
    voted = HybridClassifier(estimators=components, cv=3,
                             final_estimator=SimplexWeights()).fit(texts, y)
    assert voted.final_estimator_.weights_.shape == (2,)


def test_weighted_ensemble_and_gating(mr_small):
    texts, y = mr_small
    learners = [("nb", nbsvm()), ("memo", Memoriser())]
    ens = WeightedEnsemble(estimators=learners, cv=4, random_state=0).fit(texts, y)
    # Held out, the memoriser is uniform: it can only temper NBSVM's confidence, which lowers
    # log loss on 200 texts, but it never changes a decision.
    assert ens.weights_[0] > ens.weights_[1] and ens.weights_.sum() == pytest.approx(1)
    unseen = [t + " !" for t in texts[:40]]
    assert np.array_equal(ens.predict(unseen), ens.named_estimators_["nb"].predict(unseen))
    gated = WeightedEnsemble(estimators=learners, cv=4, gating=True, random_state=0)
    gated.fit(texts, y)
    gate = gated.gate(texts[:10])
    assert gate.shape == (10, 2) and np.allclose(gate.sum(1), 1)
    proba = gated.predict_proba(texts[:10])
    assert proba.shape == (10, 2) and np.allclose(proba.sum(1), 1)
    assert gated.gate_coef_.shape == (1 + 2 + 2 * 2, 2)


def test_component_report(mr_small):
    texts, y = mr_small
    stack = StackingClassifier(estimators=[("nb", nbsvm()), ("tfidf", tfidf())], cv=3,
                               random_state=0).fit(texts[:150], y[:150])
    report = stack.component_report(texts[150:], y[150:])
    ex, summary = report.examples, report.summary
    assert len(ex["text"]) == 50
    for name in ("nb", "tfidf", "final"):
        assert ex[f"{name}_pred"].shape == (50,)
        assert summary["accuracy"][name] == pytest.approx(np.mean(ex[f"{name}_correct"]))
    alone = ex["nb_correct"] & ~ex["tfidf_correct"]
    assert summary["only_right"]["nb"] == pytest.approx(alone.mean())
    assert summary["oracle"] >= max(summary["accuracy"]["nb"], summary["accuracy"]["tfidf"])
    assert sum(b["n"] for b in summary["by_length"]) == 50
    assert np.array_equal(report.proba, stack.predict_proba(texts[150:]))
    lines = repr(report).splitlines()
    acc = summary["accuracy"]
    assert lines[0].startswith(f"ComponentReport: 2 components on 50 texts; final "
                               f"{acc['final']:.4f}")
    assert lines[2] == f"nb{'':<14}{acc['nb']:>10.4f}{summary['only_right']['nb']:>12.4f}"
    assert lines[5].startswith("only right: share of texts this component alone gets right")
    frame = report.to_frame()
    assert list(frame.index) == ["nb", "tfidf", "final"]
    assert frame.loc["nb", "only_right"] == summary["only_right"]["nb"]
    assert len(report.to_frame("examples")) == 50


@pytest.mark.parametrize("gating", [False, True])
def test_component_report_asks_each_component_once(mr_small, gating):
    texts, y = mr_small
    calls = []

    class Counting(Pipeline):
        def predict_proba(self, X):
            calls.append(len(X))
            return super().predict_proba(X)

    ensemble = WeightedEnsemble(estimators=[("nb", Counting(nbsvm().steps)), ("tfidf", tfidf())],
                                cv=3, gating=gating, random_state=0).fit(texts[:150], y[:150])
    calls.clear()
    report = ensemble.component_report(texts[150:], y[150:])
    assert calls == [50]
    assert np.allclose(report.proba, ensemble.predict_proba(texts[150:]))
    assert np.array_equal(report.examples["final_pred"], ensemble.predict(texts[150:]))


def test_fusion_uses_out_of_fold_features(mr_small):
    texts, y = mr_small
    fusion = FusionClassifier(preset="tiny", max_epochs=2, validation_fraction=0,
                              random_state=0, feature_cv=4).fit(texts, y)
    assert fusion.model_.config.n_extra == 2  # NBSVM log-probabilities of the two classes
    insample = fusion._apply(fusion.features_, texts)
    oof = fusion._extra_features(texts, np.searchsorted(fusion.classes_, y), fit=True)
    in_acc = (insample.argmax(1) == np.searchsorted(fusion.classes_, y)).mean()
    oof_acc = (oof.argmax(1) == np.searchsorted(fusion.classes_, y)).mean()
    assert in_acc == 1.0 and oof_acc < 0.9  # in-sample NB features are too good to be true
    assert fusion.predict_proba(texts[:3]).shape == (3, 2)


def test_fusion_with_transformers_and_errors(mr_small):
    texts, y = mr_small
    topics = FusionClassifier(features=TopicFeatures(n_topics=4, min_df=1, random_state=0),
                              feature_cv=None, preset="tiny", max_epochs=1,
                              validation_fraction=0, random_state=0).fit(texts, y)
    assert topics.model_.config.n_extra == 4
    svd = make_pipeline(TfidfFeatures(), TruncatedSVD(16, random_state=0))
    fused = FusionClassifier(features=svd, preset="tiny", max_epochs=1, validation_fraction=0,
                             random_state=0).fit(texts, y)
    assert fused.model_.config.n_extra == 16
    assert clone(fused).get_params()["features"] is not None
    with pytest.raises(ValueError, match=r"^features produce \d+ sparse columns; fusion takes"):
        FusionClassifier(features=TfidfFeatures(), preset="tiny", max_epochs=1).fit(texts, y)


def test_hybrid_defaults_and_dunder_params(mr_small):
    texts, y = mr_small
    hybrid = HybridClassifier(cv=2)
    params = hybrid.get_params()
    assert "transformer__module__n_layer" not in params  # dunder module params are explicit
    assert params["nbsvm__clf__C"] == 0.3
    hybrid.set_params(transformer__preset="tiny", transformer__max_epochs=1,
                      transformer__module__n_layer=1)
    assert dict(hybrid.estimators)["transformer"].get_params()["module__n_layer"] == 1
    hybrid.fit(texts, y)
    assert set(hybrid.named_estimators_) == {"nbsvm", "tfidf", "mnb", "fasttext", "transformer"}
    assert hybrid.final_estimator_.coef_.shape == (1, 5)  # one weight per component
    assert hybrid.n_meta_rows_ == 200  # under 5,000 texts: every component k-fold
    assert hybrid.predict(texts[:4]).shape == (4,)
    # the naive Bayes component is MNB-bi (Wang & Manning 2012): binary word 1-2 grams, alpha=1
    mnb = make_pipeline(CountVectorizer(token_pattern=WORD_PATTERN, ngram_range=(1, 2),
                                        binary=True), MultinomialNB(alpha=1.0)).fit(texts, y)
    np.testing.assert_allclose(hybrid.named_estimators_["mnb"].predict_proba(texts),
                               mnb.predict_proba(texts))


def test_hybrid_components_share_the_transformers_holdout(mr_small, monkeypatch):
    from hybridnlp.hybrid import hybrid as hybrid_module

    texts, y = mr_small
    fits = []
    monkeypatch.setattr(hybrid_module, "HOLDOUT_MIN_TEXTS", 200)  # as if 200 were many

    class CountingFits(Pipeline):
        def fit(self, X, y):
            fits.append(len(X))
            return super().fit(X, y)

    tiny = TransformerClassifier(preset="tiny", max_epochs=1, random_state=0)
    hybrid = HybridClassifier(estimators=[("nbsvm", CountingFits(nbsvm().steps)),
                                          ("transformer", tiny)]).fit(texts, y)
    assert fits == [160, 200]  # the 80% outside the holdout, then all: not 5 folds + all
    assert hybrid.n_meta_rows_ == 40
    assert hybrid._estimator_cv(200) == {"nbsvm": 0.2, "transformer": 0.2}
    assert hybrid._estimator_cv(199) == {}  # fewer texts: every component k-fold
    five_fold = HybridClassifier(estimators=[("nbsvm", nbsvm()), ("tfidf", tfidf())])
    assert five_fold._estimator_cv(10_000) == {}  # no Transformer: cv=5 for every component
    fits.clear()
    HybridClassifier(estimators=[("nbsvm", CountingFits(nbsvm().steps)), ("transformer", tiny)],
                     estimator_cv={"transformer": 0.2}).fit(texts, y)
    assert fits == [160] * 5 + [200]


FIT_SIZES: list[int] = []


class CountedPipeline(Pipeline):  # module level: share_fits hashes (pickles) components
    def fit(self, X, y):
        FIT_SIZES.append(len(X))
        return super().fit(X, y)


def test_share_fits_fits_a_component_once_for_every_hybrid_that_has_it(mr_small):
    texts, y = mr_small
    components = [("nbsvm", CountedPipeline(nbsvm().steps)), ("tfidf", tfidf())]
    # seeded hybrids share fits; random_state=None (the default) draws new folds each fit
    FIT_SIZES.clear()
    alone = HybridEnsemble(estimators=components, cv=3, random_state=0).fit(texts, y)
    assert len(FIT_SIZES) == 3 + 1 and alone.shared_components_ == []
    FIT_SIZES.clear()
    with share_fits() as cache:
        stacked = HybridClassifier(estimators=components, cv=3, random_state=0,
                                   final_estimator=SimplexWeights()).fit(texts, y)
        voted = HybridEnsemble(estimators=components, cv=3, random_state=0).fit(texts, y)
        assert len(FIT_SIZES) == 3 + 1 and len(cache) == 2  # nbsvm and tfidf, once each
        # another split:
        four = HybridEnsemble(estimators=components, cv=4, random_state=0).fit(texts, y)
        assert len(FIT_SIZES) == (3 + 1) + (4 + 1)
        strong = HybridEnsemble(estimators=components, cv=3, random_state=0).set_params(
            nbsvm__lr__C=100).fit(texts, y)  # other parameters: fit again
        assert len(FIT_SIZES) == (3 + 1) + (4 + 1) + (3 + 1)
        FIT_SIZES.clear()
        for _ in range(2):  # unseeded folds differ from fit to fit: never shared
            HybridEnsemble(estimators=components, cv=3, random_state=None).fit(texts, y)
        assert len(FIT_SIZES) == 2 * (3 + 1)
    assert stacked.shared_components_ == [] and four.shared_components_ == []
    assert voted.shared_components_ == ["nbsvm", "tfidf"]
    assert strong.shared_components_ == ["tfidf"]
    assert voted.named_estimators_["nbsvm"] is stacked.named_estimators_["nbsvm"]
    assert np.array_equal(voted.predict_proba(texts), alone.predict_proba(texts))
    assert np.array_equal(voted.weights_, alone.weights_)
    # SimplexWeights in HybridClassifier is the same soft vote, reached through stacking
    np.testing.assert_allclose(stacked.final_estimator_.weights_, voted.weights_)
    np.testing.assert_allclose(stacked.predict_proba(texts), voted.predict_proba(texts))
    FIT_SIZES.clear()
    # the block ended: no cache
    HybridEnsemble(estimators=components, cv=3, random_state=0).fit(texts, y)
    assert len(FIT_SIZES) == 3 + 1


def test_hybrid_grid_search(mr_small):
    texts, y = mr_small
    hybrid = HybridClassifier(estimators=[
        ("nbsvm", nbsvm()),
        ("transformer", TransformerClassifier(preset="tiny", max_epochs=1, random_state=0)),
    ], cv=3)
    search = GridSearchCV(hybrid, {"transformer__optimizer__lr": [1e-3, 3e-3]}, cv=2)
    search.fit(texts, y)
    assert len(search.cv_results_["params"]) == 2


def test_sklearn_stacking_accepts_our_estimators(mr_small):
    from sklearn.ensemble import StackingClassifier as SklearnStacking

    texts, y = mr_small
    stack = SklearnStacking(
        estimators=[("nbsvm", nbsvm()),
                    ("transformer", TransformerClassifier(preset="tiny", max_epochs=1,
                                                          random_state=0))],
        final_estimator=LogisticRegression(), cv=3,
    ).fit(texts, y)
    assert stack.predict_proba(texts[:4]).shape == (4, 2)
    assert set(stack.predict(texts[:4])) <= set(y)


@pytest.mark.parametrize("cls", [HybridClassifier, HybridEnsemble])
def test_hybrid_with_pretrained_embeddings(tmp_path, mr_small, cls):
    from hybridnlp.features import Word2VecFeatures, save_word_vectors

    texts, y = mr_small
    w2v = Word2VecFeatures(vector_size=32, epochs=1, random_state=0).fit(texts)
    path = save_word_vectors(w2v, tmp_path / "vectors.bin")
    hybrid = cls(word_vectors=str(path), cv=2)
    # embeddings is applied before the nested parameters, whatever the order of the keys
    hybrid.set_params(transformer__preset="tiny", transformer__max_epochs=1,
                      transformer__module__n_embd=32, word_vectors=str(path))
    assert [name for name, _ in hybrid.estimators] == ["nbsvm", "tfidf", "mnb", "fasttext",
                                                        "transformer", "word2vec"]
    hybrid.fit(texts, y)
    transformer = hybrid.named_estimators_["transformer"]
    assert transformer.n_embeddings_initialised_ > 0
    assert transformer.get_params()["trainer__monitor"] == "val_loss"
    word2vec = hybrid.named_estimators_["word2vec"]
    assert word2vec[0].vectors_.index_to_key == w2v.vectors_.index_to_key
    if cls is HybridClassifier:
        assert hybrid.final_estimator_.coef_.shape == (1, 6)  # one weight per component
    else:
        assert hybrid.weights_.shape == (6,) and hybrid.weights_.sum() == pytest.approx(1)
    assert "word2vec" not in dict(cls().get_params())  # only with embeddings
    assert cls().get_params()["nbsvm__clf__C"] == 0.3


def test_verbose_shows_a_bar_per_component_and_quiet_shows_nothing(mr_small, capsys):
    from hybridnlp import FastTextClassifier, NGramLM, Word2VecFeatures

    texts, y = mr_small
    stack = StackingClassifier(estimators=[("nb", nbsvm()), ("tfidf", tfidf())], cv=3,
                               random_state=0)
    stack.fit(texts, y)
    FastTextClassifier(max_epochs=2).fit(texts, y)
    Word2VecFeatures(vector_size=8, epochs=2).fit(texts)
    NGramLM(order=3).fit(texts)
    assert capsys.readouterr().err == ""
    stack.set_params(verbose=1).fit(texts, y)
    FastTextClassifier(max_epochs=2, verbose=1).fit(texts, y)
    Word2VecFeatures(vector_size=8, epochs=2, verbose=1).fit(texts)
    NGramLM(order=3, verbose=1).fit(texts)
    err = capsys.readouterr().err
    for bar in ("nb: 3 held-out fits + 1", "tfidf: 3 held-out fits + 1", "epoch 2",
                "word2vec epochs", "n-gram LM: tokens, then counts per order"):
        assert bar in err, bar


def test_every_default_component_learns_chinese_without_a_segmenter(chinese_toy):
    """Text written without spaces: with one token per character, every default component of
    the hybrid (word n-grams are character n-grams) learns the toy, not only the char n-grams."""
    (train, y_train), (test, y_test) = chinese_toy
    names = ["nbsvm", "tfidf", "mnb", "fasttext", "transformer"]
    hybrid = HybridClassifier(random_state=0, estimator_cv=dict.fromkeys(names, 0.2))
    accuracy = hybrid.fit(train, y_train).component_report(test, y_test).summary["accuracy"]
    assert set(accuracy) == {*names, "final"}
    assert min(accuracy.values()) >= 0.95, accuracy


# ---------------------------------------------------------------- choosing the meta learner

def _held_out(n, accuracies, seed=0):
    """Two-class held-out probabilities (one column a learner) of learners right with the
    given accuracies, independently, and the labels."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    cols = []
    for acc in accuracies:
        right = rng.random(n) < acc
        p = np.where(right, 0.6 + 0.3 * rng.random(n), 0.1 + 0.3 * rng.random(n))
        cols.append(np.where(y == 1, p, 1 - p))
    return np.column_stack(cols), y


def test_meta_selection_keeps_the_one_learner_no_combination_beats():
    from hybridnlp.hybrid import MetaSelection

    X, y = _held_out(400, [0.55, 1.0, 0.6])
    meta = MetaSelection(random_state=0).fit(X, y)
    assert meta.chosen_ == "learner 1" and meta.cv_scores_["learner 1"] == 1.0
    assert set(meta.cv_scores_) == {"learner 0", "learner 1", "learner 2", "simplex weights",
                                    "greedy selection", "logistic regression"}
    np.testing.assert_array_equal(meta.predict_proba(X)[:, 1], X[:, 1])  # it, as it is
    assert (meta.predict(X) == y).all()


def test_meta_selection_combines_when_independent_learners_agree_more_than_each_is_right():
    from hybridnlp.hybrid import MetaSelection
    from hybridnlp.hybrid.meta_selection import GreedySelection

    X, y = _held_out(600, [0.75, 0.75, 0.75, 0.75, 0.75], seed=1)
    meta = MetaSelection(random_state=0).fit(X, y)
    best_single = max(v for k, v in meta.cv_scores_.items() if k.startswith("learner"))
    assert meta.chosen_ in ("simplex weights", "greedy selection", "logistic regression")
    assert meta.cv_scores_[meta.chosen_] > best_single + 0.05
    greedy = GreedySelection(n_rounds=20).fit(X, y)
    assert greedy.weights_.sum() == pytest.approx(1.0) and (greedy.weights_ > 0).sum() >= 3


def test_a_hybrid_with_meta_selection_fits_saves_and_loads(mr_small, tmp_path):
    import hybridnlp
    from hybridnlp.hybrid import MetaSelection

    texts, y = mr_small
    stack = StackingClassifier(estimators=[("nb", _nbsvm()), ("tfidf", _tfidf_lr())], cv=3,
                               final_estimator=MetaSelection(cv=3, random_state=0),
                               random_state=0).fit(texts, y)
    assert stack.final_estimator_.chosen_ in stack.final_estimator_.cv_scores_
    loaded = hybridnlp.load(stack.save(tmp_path / "stack"))
    np.testing.assert_allclose(loaded.predict_proba(texts[:20]), stack.predict_proba(texts[:20]))


# ---------------------------------------------------------------------- calibration


def test_fit_temperature_recovers_the_temperature_labels_were_drawn_at():
    from hybridnlp.utils.calibration import fit_temperature, with_temperature

    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, size=(20_000, 4))
    for true_t in (0.5, 2.0):
        p_true = with_temperature(np.exp(logits) / np.exp(logits).sum(1, keepdims=True),
                                  true_t)
        y = np.array([rng.choice(4, p=row) for row in p_true])
        overconfident = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        assert fit_temperature(overconfident, y) == pytest.approx(true_t, rel=0.05)
    uniform = np.full((10, 2), 0.5)  # no temperature changes it: T stays 1
    assert fit_temperature(uniform, np.arange(10) % 2) == 1.0


def test_fit_top_label_beta_recovers_the_map_labels_were_drawn_at():
    from hybridnlp.utils.calibration import fit_top_label_beta, with_top_label_beta

    rng = np.random.default_rng(0)
    proba = rng.dirichlet([0.7, 0.7, 0.7], size=40_000)  # 3 classes
    truth = (-0.5, 1.5, -0.5)  # a >= -b / (K - 1): rising on [1/3, 1]
    c = proba.max(axis=1)
    p_right = 1 / (1 + np.exp(-(truth[0] * np.log(c) - truth[1] * np.log(1 - c) + truth[2])))
    right = rng.random(len(c)) < p_right
    wrong = (proba.argmax(axis=1) + rng.integers(1, 3, len(c))) % 3
    y = np.where(right, proba.argmax(axis=1), wrong)
    assert fit_top_label_beta(proba, y) == pytest.approx(truth, abs=0.15)
    mapped = with_top_label_beta(proba, truth)
    sure = p_right > 0.5  # a floor (the runner-up's share) never binds above 1/2
    np.testing.assert_allclose(mapped.max(axis=1)[sure], p_right[sure])
    np.testing.assert_allclose(mapped.sum(axis=1), 1.0)
    assert (mapped.argmax(axis=1) == proba.argmax(axis=1)).all()
    # the other classes keep their proportions
    second, third = np.sort(proba, axis=1)[:, 1], np.sort(proba, axis=1)[:, 0]
    m_second, m_third = np.sort(mapped, axis=1)[:, 1], np.sort(mapped, axis=1)[:, 0]
    np.testing.assert_allclose(m_third * second, m_second * third, atol=1e-12)
    # a map that would drop the top label below the runner-up is held at the tie's edge
    low = with_top_label_beta(np.array([[0.6, 0.4]]), (0.0, 0.0, -5.0))
    assert low[0, 0] > low[0, 1] and low[0, 0] == pytest.approx(0.5)
    # already calibrated: nothing fits better than the identity, or barely moves
    calibrated_y = np.array([rng.choice(3, p=row) for row in proba[:5000]])
    drift = with_top_label_beta(proba[:5000], fit_top_label_beta(proba[:5000], calibrated_y))
    assert np.abs(drift - proba[:5000]).mean() < 0.01


def test_expected_calibration_error_by_hand():
    from hybridnlp.utils.calibration import expected_calibration_error

    proba = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.45, 0.55]])
    y = np.array([0, 1, 1, 0])
    # bins of width 1/15: confidences 0.9 (right), 0.8 (wrong), 0.7 (right), 0.55 (wrong),
    # each alone in its bin: (0.1 + 0.8 + 0.3 + 0.55) / 4
    assert expected_calibration_error(y, proba) == pytest.approx((0.1 + 0.8 + 0.3 + 0.55) / 4)
    assert expected_calibration_error(y[:1], proba[:1], n_bins=1) == pytest.approx(0.1)


@pytest.mark.parametrize("make", [
    lambda **kw: FastTextClassifier(validation_fraction=0.25, random_state=0, **kw),
    lambda **kw: TransformerClassifier(preset="tiny", max_epochs=2, validation_fraction=0.25,
                                       random_state=0, **kw)], ids=["fasttext", "transformer"])
def test_calibrate_divides_a_neural_classifiers_logits_by_its_temperature(mr_small, make,
                                                                          tmp_path):
    from hybridnlp.utils.calibration import with_temperature

    texts, y = mr_small
    plain = make().fit(texts[:150], y[:150])
    cal = make(calibrate=True).fit(texts[:150], y[:150])
    assert plain.temperature_ == 1.0 and cal.temperature_ != 1.0
    test = texts[150:]
    assert list(cal.predict(test)) == list(plain.predict(test))  # the same training
    np.testing.assert_allclose(cal.predict_proba(test),
                               with_temperature(plain.predict_proba(test), cal.temperature_),
                               atol=1e-6)
    cal.save(tmp_path / "m")
    assert hybridnlp.load(tmp_path / "m").temperature_ == cal.temperature_


def test_calibrate_without_held_out_texts_is_refused_before_training(mr_small):
    texts, y = mr_small
    with pytest.raises(ValueError, match=r"^calibrate=True fits a temperature on held-out "
                                         r"texts and FastTextClassifier holds none out; pass "
                                         r"validation_data=, or set validation_fraction "
                                         r"\(with patience\) to hold some out\.$"):
        FastTextClassifier(calibrate=True).fit(texts, y)
    with pytest.raises(ValueError, match=r"TransformerClassifier holds none out"):
        TransformerClassifier(calibrate=True, patience=None).fit(texts, y)
    with pytest.raises(ValueError, match=r"^calibrate='yes' must be True or False\.$"):
        FastTextClassifier(calibrate="yes", validation_fraction=0.2).fit(texts, y)


def test_calibrate_scales_the_hybrids_probabilities_and_keeps_its_predictions(mr_small,
                                                                             tmp_path):
    texts, y = mr_small
    est = [("nbsvm", nbsvm()), ("tfidf", tfidf())]
    plain = StackingClassifier(estimators=est, cv=5, random_state=0).fit(texts[:150], y[:150])
    cal = StackingClassifier(estimators=est, cv=5, random_state=0,
                             calibrate="temperature").fit(texts[:150], y[:150])
    assert plain.temperature_ == 1.0 and cal.temperature_ != 1.0
    test = texts[150:]
    assert list(cal.predict(test)) == list(plain.predict(test))
    p, q = plain.predict_proba(test), cal.predict_proba(test)
    np.testing.assert_allclose(q.sum(axis=1), 1.0)
    # the scaled probabilities are the unscaled ones at that temperature
    from hybridnlp.utils.calibration import with_temperature, with_top_label_beta

    np.testing.assert_allclose(q, with_temperature(p, cal.temperature_))
    # the default (True): beta calibration of the top label, fit on the same predictions
    beta = StackingClassifier(estimators=est, cv=5, random_state=0, calibrate=True).fit(
        texts[:150], y[:150])
    assert beta.temperature_ == 1.0 and beta.top_label_beta_ != (1.0, 1.0, 0.0)
    assert plain.top_label_beta_ == (1.0, 1.0, 0.0)
    assert list(beta.predict(test)) == list(plain.predict(test))
    np.testing.assert_allclose(beta.predict_proba(test),
                               with_top_label_beta(p, beta.top_label_beta_))
    loaded = hybridnlp.load(beta.save(tmp_path / "beta"))
    np.testing.assert_allclose(loaded.predict_proba(test), beta.predict_proba(test))
    with pytest.raises(ValueError, match=r"^calibrate='platt' must be True, False, 'beta' or "
                                         r"'temperature'\.$"):
        StackingClassifier(estimators=est, calibrate="platt").fit(texts[:150], y[:150])
    hyb = HybridClassifier(estimators=est, calibrate=True, random_state=0)
    assert hyb.get_params()["calibrate"] is True
    assert clone(hyb).calibrate is True
