"""Sample and class weights: ``fit(X, y, sample_weight=)`` and ``class_weight`` on the
classifiers and the hybrids. The definition is tested where a model is deterministic:
integer weights give the model of repeated rows; "balanced" raises the minority class's
recall on an imbalanced set."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline

from hybridnlp import (
    FastTextClassifier,
    HybridClassifier,
    NBFeatures,
    NBSVMClassifier,
    StackingClassifier,
    TfidfFeatures,
    load_dataset,
)
from hybridnlp.hybrid import NonNegativeLinear
from hybridnlp.hybrid._heldout import fit_weighted
from hybridnlp.nn.layers import head_loss
from hybridnlp.utils.validation import check_sample_weight


@pytest.fixture(scope="module")
def weighted(mr_small):
    texts, y = mr_small
    w = np.random.default_rng(0).integers(1, 4, size=len(texts))
    repeated = [t for t, k in zip(texts, w, strict=True) for _ in range(k)]
    return texts, y, w, repeated, np.repeat(y, w)


def test_integer_weights_give_the_nb_ratios_and_nbsvm_of_repeated_texts(weighted):
    texts, y, w, rep_texts, rep_y = weighted
    a = NBFeatures().fit(texts, y, sample_weight=w)
    b = NBFeatures().fit(rep_texts, rep_y)
    np.testing.assert_allclose(a.ratios_, b.ratios_, rtol=1e-12)
    clf = LogisticRegression(tol=1e-10, max_iter=5000)
    one = NBSVMClassifier(clf=clf).fit(texts, y, sample_weight=w)
    many = NBSVMClassifier(clf=clf).fit(rep_texts, rep_y)
    np.testing.assert_allclose(one.predict_proba(texts), many.predict_proba(texts), atol=1e-5)


def test_head_loss_weights_count_examples_and_combine_with_class_weights():
    torch.manual_seed(0)
    logits, targets = torch.randn(6, 3), torch.tensor([0, 1, 2, 1, 0, 2])
    w = torch.tensor([1.0, 2.0, 0.0, 1.0, 3.0, 1.0])
    rep = torch.repeat_interleave(torch.arange(6), w.long())
    cw = torch.tensor([1.0, 2.0, 0.5])
    assert head_loss(logits, targets, None, w) == pytest.approx(
        F.cross_entropy(logits[rep], targets[rep]).item(), rel=1e-6)
    assert head_loss(logits, targets, cw, w) == pytest.approx(
        F.cross_entropy(logits[rep], targets[rep], weight=cw).item(), rel=1e-6)
    assert head_loss(logits, targets, cw) == pytest.approx(
        F.cross_entropy(logits, targets, weight=cw).item(), rel=1e-6)
    real = torch.randn(6, 2)
    assert head_loss(logits[:, :2], real, None, w) == pytest.approx(
        F.mse_loss(logits[rep, :2], real[rep]).item(), rel=1e-6)


def test_non_negative_linear_weights_equal_repeated_rows():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(40, 3)), rng.normal(size=40)
    w = rng.integers(1, 4, size=40)
    one = NonNegativeLinear().fit(X, y, sample_weight=w)
    many = NonNegativeLinear().fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    np.testing.assert_allclose(one.coef_, many.coef_, atol=1e-10)
    assert one.intercept_ == pytest.approx(many.intercept_)


def test_a_stack_gives_every_component_and_the_meta_learner_the_weights(weighted):
    texts, y, w, _, _ = weighted
    tfidf = Pipeline([("tfidf", TfidfFeatures()), ("lr", LogisticRegression(C=10))])
    stack = StackingClassifier(estimators=[("tfidf", tfidf)], cv=3, random_state=0).fit(
        texts, y, sample_weight=w)
    by_hand = Pipeline([("tfidf", TfidfFeatures()), ("lr", LogisticRegression(C=10))]).fit(
        texts, y, lr__sample_weight=w)
    np.testing.assert_allclose(stack.named_estimators_["tfidf"].predict_proba(texts),
                               by_hand.predict_proba(texts))
    np.testing.assert_allclose(fit_weighted(Pipeline([("tfidf", TfidfFeatures()), ("lr", (
        LogisticRegression(C=10)))]), texts, y, w).predict_proba(texts),
        by_hand.predict_proba(texts))
    unweighted = StackingClassifier(estimators=[("tfidf", tfidf)], cv=3, random_state=0).fit(
        texts, y)
    assert not np.allclose(unweighted.predict_proba(texts), stack.predict_proba(texts))
    with pytest.raises(ValueError, match=r"^the meta learner KNeighborsClassifier takes no "
                                         r"sample_weight; fit without weights or use one that "
                                         r"does \(SimplexWeights, LogisticRegression\).$"):
        StackingClassifier(estimators=[("tfidf", tfidf)], final_estimator=KNeighborsClassifier(),
                           cv=3, random_state=0).fit(texts, y, sample_weight=w)


def _imbalanced():
    mr = load_dataset("mr")
    rng = np.random.default_rng(0)
    neg, pos = np.flatnonzero(mr.target == 0), np.flatnonzero(mr.target == 1)
    rng.shuffle(neg)
    rng.shuffle(pos)
    train = np.concatenate([neg[:1500], pos[:300]])  # 5 to 1
    test = np.concatenate([neg[1500:1800], pos[300:600]])
    take = lambda idx: ([mr.data[i] for i in idx], mr.target[idx])  # noqa: E731
    return take(train), take(test)


@pytest.mark.parametrize("make", [
    lambda cw: NBSVMClassifier(class_weight=cw),
    lambda cw: FastTextClassifier(class_weight=cw, dim=16, max_epochs=5, random_state=0),
    lambda cw: HybridClassifier(estimators=[("nbsvm", NBSVMClassifier())], cv=2,
                                random_state=0, class_weight=cw),
], ids=["nbsvm", "fasttext", "hybrid"])
def test_balanced_class_weight_raises_the_minority_recall(make):
    (X, y), (X_test, y_test) = _imbalanced()
    recall = {}
    for cw in (None, "balanced"):
        pred = make(cw).fit(X, y).predict(X_test)
        recall[cw] = float(np.mean(pred[y_test == 1] == 1))
    assert recall["balanced"] > recall[None] + 0.03, recall  # NBSVM: +0.05, the others more


def test_bad_weights_are_refused_with_the_fix():
    with pytest.raises(ValueError, match=r"^sample_weight has shape \(2,\); pass one weight "
                                         r"per text \(3\).$"):
        check_sample_weight([1, 2], 3)
    with pytest.raises(ValueError, match="must be finite and non-negative"):
        check_sample_weight([1, -1, 2], 3)
    with pytest.raises(ValueError, match="sample_weight sums to 0"):
        check_sample_weight([0, 0, 0], 3)
    with pytest.raises(ValueError, match=r"class_weight names classes not in y: \['maybe'\]"):
        NBSVMClassifier(class_weight={"maybe": 2.0}).fit(["a b", "c d"], ["pos", "neg"])


def test_metadata_routing_reaches_the_steps_that_request_the_weights(weighted):
    import sklearn

    texts, y, w, _, _ = weighted
    by_hand = Pipeline([("tfidf", TfidfFeatures()), ("lr", LogisticRegression(C=10))]).fit(
        texts, y, lr__sample_weight=w)
    with sklearn.config_context(enable_metadata_routing=True):
        lr = LogisticRegression(C=10).set_fit_request(sample_weight=True)
        routed = fit_weighted(Pipeline([("tfidf", TfidfFeatures()), ("lr", lr)]), texts, y, w)
    np.testing.assert_allclose(routed.predict_proba(texts), by_hand.predict_proba(texts))
