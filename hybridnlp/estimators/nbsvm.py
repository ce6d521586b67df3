"""NBSVM (Wang & Manning 2012) as one classifier: for many classes, one binary model per class."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, clone
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold
from sklearn.utils.metaestimators import available_if

from hybridnlp.estimators._classifier import TextClassifierMixin
from hybridnlp.features import NBFeatures
from hybridnlp.features.nb import log_count_ratios, scale_columns
from hybridnlp.utils.class_weight import weighted_by_class
from hybridnlp.utils.deprecation import positional_deprecated
from hybridnlp.utils.multilabel import (
    check_multilabel,
    fit_binary,
    is_multilabel,
    positive_proba,
    tuning_thresholds,
)
from hybridnlp.utils.validation import (
    check_choice,
    check_fitted,
    check_labels,
    check_sample_weight,
    text_input_tags,
)

__all__ = ["NBSVMClassifier"]

MULTICLASS = ("ovr", "joint")


def _clf_has(method: str):
    return lambda self: hasattr(self.clf if self.clf is not None else LogisticRegression(), method)


class NBSVMClassifier(TextClassifierMixin, BaseEstimator):
    """A linear classifier on n-gram indicators scaled by Naive-Bayes log-count ratios.

    With two classes it is ``make_pipeline(NBFeatures(), LogisticRegression())``, to the
    prediction. With K > 2 classes, ``multiclass="ovr"`` (Wang & Manning's form) fits one
    binary copy of ``clf`` per class, on the n-grams scaled by that class's own ratios against
    the rest; ``"joint"`` fits one multinomial ``clf`` on the K blocks side by side (what the
    pipeline does), which costs about K times as much per solver iteration and converges
    slower: minutes where one-vs-rest takes seconds on ten classes (benchmarks/RESULTS.md,
    "NBSVM with many classes").

    Parameters
    ----------
    features : NBFeatures, default=None
        The n-grams and their smoothing; None means ``NBFeatures()``.
    clf : classifier, default=None
        The linear model; None means ``LogisticRegression(max_iter=1000)``. ``LinearSVC``
        works too (then there is no ``predict_proba``).
    multiclass : {"ovr", "joint"}, default="ovr"
        How K > 2 classes are fitted (ignored for two).
    class_weight : "balanced", dict or None, default=None
        Each text's weight in the linear model times its class's ("balanced": n_texts /
        (n_classes x the class's count), as scikit-learn's), with ``fit``'s
        ``sample_weight``; the log-count ratios are normalised per class already and take
        ``sample_weight`` only.

    Attributes
    ----------
    classes_ : ndarray
    features_ : fitted NBFeatures
    estimators_ : list of fitted classifiers: one (two classes, or "joint") or K ("ovr")

    Examples
    --------
    >>> from hybridnlp.estimators import NBSVMClassifier
    >>> clf = NBSVMClassifier().fit(["good film", "bad film", "great", "awful"],
    ...                             ["pos", "neg", "pos", "neg"])
    >>> clf.predict(["a good film"]).tolist()
    ['pos']
    """

    @positional_deprecated("features", "clf")
    def __init__(self, *, features=None, clf=None, multiclass="ovr", class_weight=None):
        self.features = features
        self.clf = clf
        self.multiclass = multiclass
        self.class_weight = class_weight

    def __setstate__(self, state):
        super().__setstate__({"class_weight": None, **state})  # pickled before it existed

    def fit(self, X, y, sample_weight=None):
        """Fit the n-gram ratios, then the linear model(s); ``sample_weight`` (one per text)
        weighs both, so integer weights give the model of repeated texts. A multi-label ``y``
        (an indicator matrix or label lists) fits one binary model per label, on that
        label's own ratios, and tunes each label's threshold on 3-fold out-of-fold
        probabilities. Returns self."""
        check_choice("multiclass", self.multiclass, MULTICLASS)
        if self.features is not None and not isinstance(self.features, NBFeatures):
            raise TypeError(f"features must be an NBFeatures, got {type(self.features).__name__}"
                            f"; pass NBFeatures(...) or None.")
        features = NBFeatures() if self.features is None else clone(self.features)
        clf = LogisticRegression(max_iter=1000) if self.clf is None else self.clf
        self.multilabel_ = is_multilabel(y)
        if self.multilabel_:
            return self._fit_multilabel(features, clf, X, y, sample_weight)
        # the ratios count each text sample_weight times; they are normalised per class
        # already, so class weights go to the linear model only
        counts = features._fit(X, y, sample_weight)  # (n, V); X, y, weights checked there
        y = check_labels(y)
        sample_weight = check_sample_weight(sample_weight, len(y))
        weights = weighted_by_class(sample_weight, self.class_weight, np.unique(y), y)
        w = {} if weights is None else {"sample_weight": weights}
        self.features_, self.classes_ = features, features.classes_
        if self._one_model:
            self.estimators_ = [clone(clf).fit(features._scale(counts), y, **w)]
        else:
            self.estimators_ = [clone(clf).fit(_block(counts, r), (y == c).astype(np.int64), **w)
                                for c, r in zip(self.classes_, features.ratios_)]
        return self

    def _fit_multilabel(self, features, clf, X, y, sample_weight):
        if self.class_weight is not None and self.class_weight != "balanced":
            raise ValueError(f"class_weight={self.class_weight!r} with a multi-label y: only "
                             f"'balanced' applies (each label's texts against the rest).")
        Y, classes = check_multilabel(y)
        counts = features._fit(X, Y, sample_weight)  # X, its length and weights checked there
        w = check_sample_weight(sample_weight, len(Y))
        features.classes_ = self.classes_ = classes
        self.features_ = features
        self.estimators_ = _fit_labels(clf, counts, Y, features.ratios_, w, self.class_weight)
        if not tuning_thresholds():
            self._set_thresholds()
            return self
        held = np.zeros(Y.shape)
        for train, test in KFold(3, shuffle=True, random_state=0).split(Y):
            ratios = np.hstack([log_count_ratios(b[train], Y[train], None,
                                                 float(features.alpha),
                                                 None if w is None else w[train])
                                for b in features._blocks(counts)])
            fold = _fit_labels(clf, counts[train], Y[train], ratios,
                               None if w is None else w[train], self.class_weight)
            held[test] = _label_proba(fold, counts[test], ratios)
        self._set_thresholds(held, Y)
        return self

    @property
    def _one_model(self) -> bool:
        if getattr(self, "multilabel_", False):
            return False
        return len(self.classes_) == 2 or self.multiclass == "joint"

    def _counts(self, X):
        check_fitted(self)
        return self.features_._counts(self.features_._validate_transform(X))

    def decision_function(self, X) -> np.ndarray:
        """Shape (n,) for two classes, (n, K) otherwise."""
        counts = self._counts(X)
        if self._one_model:
            return self.estimators_[0].decision_function(self.features_._scale(counts))
        return np.column_stack([_decision(est, _block(counts, r))
                                for est, r in zip(self.estimators_, self.features_.ratios_)])

    @available_if(_clf_has("predict_proba"))
    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape (n, K); one-vs-rest ones are normalised to sum to 1, as
        scikit-learn's ``OneVsRestClassifier`` does (multi-label: each label's own
        probability, not normalised)."""
        counts = self._counts(X)
        if self._is_multilabel:
            return _label_proba(self.estimators_, counts, self.features_.ratios_)
        if self._one_model:
            return self.estimators_[0].predict_proba(self.features_._scale(counts))
        p = np.column_stack([est.predict_proba(_block(counts, r))[:, 1]
                             for est, r in zip(self.estimators_, self.features_.ratios_)])
        total = p.sum(axis=1, keepdims=True)
        return np.divide(p, total, out=np.full_like(p, 1 / p.shape[1]), where=total > 0)

    def predict(self, X) -> np.ndarray:
        if self._is_multilabel:
            if hasattr(self, "predict_proba"):
                return self._labels_of(self.predict_proba(X))
            return (self.decision_function(X) > 0).astype(np.int64)
        scores = self.decision_function(X)
        idx = (scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_[idx]

    def __sklearn_tags__(self):
        return text_input_tags(super().__sklearn_tags__())


def _fit_labels(clf, counts, Y, ratios, sample_weight, class_weight) -> list:
    """One binary copy of ``clf`` per label (column of ``Y``) on its block (a constant model
    where the label is always or never on: ``fit_binary``)."""
    out = []
    for j, r in enumerate(ratios):
        y_j = Y[:, j].astype(np.int64)
        w = weighted_by_class(sample_weight, class_weight, np.array([0, 1]), y_j)
        kw = {} if w is None else {"sample_weight": w}
        out.append(fit_binary(clf, _block(counts, r), y_j,
                              lambda est, X, y, kw=kw: est.fit(X, y, **kw)))
    return out


def _label_proba(estimators, counts, ratios) -> np.ndarray:
    """Each label's probability, (n, K)."""
    return np.column_stack([positive_proba(est, _block(counts, r))
                            for est, r in zip(estimators, ratios)])


def _decision(est, X) -> np.ndarray:
    """A binary model's decision function (a constant model's: +-inf as its probability)."""
    if isinstance(est, DummyClassifier):
        return np.where(positive_proba(est, X) > 0.5, np.inf, -np.inf)
    return est.decision_function(X)


def _block(counts, ratios) -> sp.csr_matrix:
    """The n-grams scaled by one class's log-count ratios, (n, V)."""
    return scale_columns(counts, ratios)
