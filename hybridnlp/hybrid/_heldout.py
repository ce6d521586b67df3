"""Held-out predictions of base learners: out-of-fold (k-fold), holdout (blending) or prefit.

The meta level of every hybrid (stacking, weighted ensembles, gates) learns only from
predictions a base learner made on texts it was not trained on.
"""

from __future__ import annotations

import contextlib
import numbers
from collections.abc import Iterator
from contextvars import ContextVar

import joblib
import numpy as np
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold, StratifiedShuffleSplit, check_cv
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from hybridnlp.utils.progress import progress

__all__ = ["HeldOut", "held_out_proba", "resolve_cv", "share_fits"]

_SHARED: ContextVar[dict | None] = ContextVar("hybridnlp_shared_fits", default=None)


@contextlib.contextmanager
def share_fits() -> Iterator[dict]:
    """Inside the block, a component that another hybrid already fit on the same texts and
    labels, with equal parameters and the same held-out split, is not fit again: its
    held-out predictions and its refit learner are reused (the same fitted object). So a
    ``HybridClassifier`` and a ``HybridEnsemble`` of the same components cost one set of
    component fits. Only seeded hybrids share (``random_state=None`` draws new splits each
    fit); seeded components give the predictions a second fit would give. Yields the cache
    (key -> ``HeldOut``); it is dropped when the block ends.

    >>> with share_fits():                                      # doctest: +SKIP
    ...     stacked = HybridClassifier(random_state=0).fit(texts, y)
    ...     voted = HybridEnsemble(random_state=0).fit(texts, y)   # no component refit
    """
    token = _SHARED.set({})
    try:
        yield _SHARED.get()
    finally:
        _SHARED.reset(token)


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

    def __init__(self, proba: np.ndarray, fitted, shared: bool = False):
        self.proba = proba
        self.fitted = fitted
        self.shared = shared  # reused from an earlier fit inside ``share_fits``

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
                   random_state=None, *, memory=None, verbose=0, name="learner") -> HeldOut:
    """Predictions of ``estimator`` on texts it did not see, then the estimator fitted on all.

    ``memory`` (a folder) is given to the clones that are Pipelines, to cache their fitted
    transformers while fitting; the returned learner has none. Inside ``share_fits`` an
    earlier identical call's result is returned."""
    kind, splitter = resolve_cv(cv, y, random_state)
    if kind == "prefit":
        check_is_fitted(estimator)
        return HeldOut(_aligned(estimator, estimator.predict_proba(texts), classes), estimator)
    shared = _SHARED.get()
    key = None
    unseeded = getattr(splitter, "random_state", 0) is None and (
        kind == "holdout" or getattr(splitter, "shuffle", False))  # each call splits anew
    if shared is not None and not unseeded:
        try:
            key = joblib.hash((estimator, texts, y, classes, repr(splitter)))
        except Exception:  # noqa: BLE001 - an estimator that cannot be pickled is not shared
            key = None
        if key in shared:
            found = shared[key]
            return HeldOut(found.proba, found.fitted, shared=True)
    proba = np.full((len(texts), len(classes)), np.nan)
    splits = list(splitter.split(np.zeros(len(texts)), y))
    bar = progress(range(len(splits) + 1), desc=f"{name}: {len(splits)} held-out fits + 1",
                   verbose=verbose)
    fitted = None
    for i in bar:  # the held-out fits, then the fit on everything
        if i < len(splits):
            train, test = splits[i]
            est = _clone(estimator, memory).fit([texts[j] for j in train], y[train])
            proba[test] = _aligned(est, est.predict_proba([texts[j] for j in test]), classes)
        else:
            fitted = _clone(estimator, memory).fit(texts, y)
    if memory is not None and isinstance(fitted, Pipeline):
        fitted.set_params(memory=None)  # the folder is temporary: predict without it
    held = HeldOut(proba, fitted)
    if key is not None:
        shared[key] = held
    return held


def _clone(estimator, memory):
    est = clone(estimator)
    if memory is not None and isinstance(est, Pipeline):
        est.set_params(memory=memory)
    return est
