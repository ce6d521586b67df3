"""NBSVM (Wang & Manning 2012) as one classifier: for many classes, one binary model per class."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, clone
from sklearn.linear_model import LogisticRegression
from sklearn.utils.metaestimators import available_if

from hybridnlp.estimators._classifier import TextClassifierMixin
from hybridnlp.features import NBFeatures
from hybridnlp.utils.class_weight import weighted_by_class
from hybridnlp.utils.deprecation import positional_deprecated
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
        weighs both, so integer weights give the model of repeated texts. Returns self."""
        check_choice("multiclass", self.multiclass, MULTICLASS)
        if self.features is not None and not isinstance(self.features, NBFeatures):
            raise TypeError(f"features must be an NBFeatures, got {type(self.features).__name__}"
                            f"; pass NBFeatures(...) or None.")
        features = NBFeatures() if self.features is None else clone(self.features)
        clf = LogisticRegression(max_iter=1000) if self.clf is None else self.clf
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

    @property
    def _one_model(self) -> bool:
        return len(self.classes_) == 2 or self.multiclass == "joint"

    def _counts(self, X):
        check_fitted(self)
        return self.features_._counts(self.features_._validate_transform(X))

    def decision_function(self, X) -> np.ndarray:
        """Shape (n,) for two classes, (n, K) otherwise."""
        counts = self._counts(X)
        if self._one_model:
            return self.estimators_[0].decision_function(self.features_._scale(counts))
        return np.column_stack([est.decision_function(_block(counts, r))
                                for est, r in zip(self.estimators_, self.features_.ratios_)])

    @available_if(_clf_has("predict_proba"))
    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities, shape (n, K); one-vs-rest ones are normalised to sum to 1, as
        scikit-learn's ``OneVsRestClassifier`` does."""
        counts = self._counts(X)
        if self._one_model:
            return self.estimators_[0].predict_proba(self.features_._scale(counts))
        p = np.column_stack([est.predict_proba(_block(counts, r))[:, 1]
                             for est, r in zip(self.estimators_, self.features_.ratios_)])
        total = p.sum(axis=1, keepdims=True)
        return np.divide(p, total, out=np.full_like(p, 1 / p.shape[1]), where=total > 0)

    def predict(self, X) -> np.ndarray:
        scores = self.decision_function(X)
        idx = (scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_[idx]

    def __sklearn_tags__(self):
        return text_input_tags(super().__sklearn_tags__())


def _block(counts, ratios) -> sp.csr_matrix:
    """The n-grams scaled by one class's log-count ratios, (n, V)."""
    return (counts @ sp.diags(ratios)).tocsr()
