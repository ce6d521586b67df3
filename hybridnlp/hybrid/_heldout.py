"""Held-out predictions of base learners: out-of-fold (k-fold), holdout (blending) or prefit.

The meta level of every hybrid (stacking, weighted ensembles, gates) learns only from
predictions a base learner made on texts it was not trained on.
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold, StratifiedShuffleSplit, check_cv
from sklearn.utils.validation import check_is_fitted

__all__ = ["HeldOut", "held_out_proba", "resolve_cv"]


def resolve_cv(cv, y: np.ndarray, random_state):
    """``"prefit"``, a float in (0, 1) (holdout fraction), an int (stratified k-fold, shuffled)
    or a scikit-learn splitter. Returns ("prefit" | "holdout" | "kfold", splitter or None)."""
    if isinstance(cv, str):
        if cv != "prefit":
            raise ValueError(f"cv={cv!r} is not allowed; use an int (folds), a float in (0, 1) "
                             f"(holdout fraction for blending), 'prefit' or a splitter.")
        return "prefit", None
    if isinstance(cv, numbers.Real) and not isinstance(cv, numbers.Integral):
        if not 0 < cv < 1:
            raise ValueError(f"cv={cv!r}: a float is a holdout fraction and must be in (0, 1).")
        return "holdout", StratifiedShuffleSplit(1, test_size=cv, random_state=random_state)
    if isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
        if cv < 2:
            raise ValueError(f"cv={cv!r} folds: use at least 2.")
        return "kfold", StratifiedKFold(cv, shuffle=True, random_state=random_state)
    return "kfold", check_cv(cv, y, classifier=True)


class HeldOut:
    """Held-out class probabilities of one base learner.

    ``proba`` is (n_texts, n_classes) with NaN rows where the learner made no held-out
    prediction (outside the holdout part); ``fitted`` is the learner refit on all the data (or
    the prefit one).
    """

    def __init__(self, proba: np.ndarray, fitted):
        self.proba = proba
        self.fitted = fitted

    @property
    def rows(self) -> np.ndarray:
        return ~np.isnan(self.proba).any(axis=1)


def _aligned(est, proba: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Probabilities in ``classes`` order (a fold may lack a class: its column is 0)."""
    out = np.zeros((proba.shape[0], len(classes)))
    index = {c: i for i, c in enumerate(classes.tolist())}
    for j, c in enumerate(est.classes_.tolist()):
        out[:, index[c]] = proba[:, j]
    return out


def held_out_proba(estimator, texts: list[str], y: np.ndarray, classes: np.ndarray, cv,
                   random_state=None) -> HeldOut:
    """Predictions of ``estimator`` on texts it did not see, then the estimator fitted on all."""
    kind, splitter = resolve_cv(cv, y, random_state)
    n = len(texts)
    if kind == "prefit":
        check_is_fitted(estimator)
        return HeldOut(_aligned(estimator, estimator.predict_proba(texts), classes), estimator)
    proba = np.full((n, len(classes)), np.nan)
    for train, test in splitter.split(np.zeros(n), y):
        est = clone(estimator).fit([texts[i] for i in train], y[train])
        proba[test] = _aligned(est, est.predict_proba([texts[i] for i in test]), classes)
    return HeldOut(proba, clone(estimator).fit(texts, y))
