"""Held-out predictions of base learners: out-of-fold (k-fold), holdout (blending) or prefit.

The meta level of every hybrid (stacking, weighted ensembles, gates) learns only from
predictions a base learner made on texts it was not trained on.
"""

from __future__ import annotations

import contextlib
import numbers
import warnings
from collections.abc import Iterator
from contextvars import ContextVar

import joblib
import numpy as np
from sklearn.base import clone
from sklearn.model_selection import (
    KFold,
    ShuffleSplit,
    StratifiedKFold,
    StratifiedShuffleSplit,
    check_cv,
)
from sklearn.pipeline import Pipeline

from hybridnlp.features import pipeline_proba
from hybridnlp.utils.device import torch_threads
from hybridnlp.utils.jobs import run_jobs, threads_per_job
from hybridnlp.utils.multilabel import skip_threshold_tuning
from hybridnlp.utils.progress import progress
from hybridnlp.utils.validation import check_fitted

__all__ = ["HeldOut", "as_multilabel", "fit_meta", "fit_weighted", "held_out_probas",
           "is_multilabel_learner", "resolve_cv", "share_fits"]

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


def resolve_cv(cv, y: np.ndarray, random_state, *, classifier: bool = True):
    """``"prefit"``, a float in (0, 1) (holdout fraction), an int (k-fold, shuffled;
    stratified for a classifier) or a scikit-learn splitter. Returns ("prefit" | "holdout" |
    "kfold", splitter or None)."""
    if isinstance(cv, str):
        if cv != "prefit":
            raise ValueError(f"cv={cv!r} is not allowed; use an int (folds), a float in (0, 1) "
                             f"(holdout fraction for blending), 'prefit' or a splitter.")
        return "prefit", None
    if isinstance(cv, numbers.Real) and not isinstance(cv, numbers.Integral):
        if not 0 < cv < 1:
            raise ValueError(f"cv={cv!r}: a float is a holdout fraction and must be in (0, 1).")
        split = StratifiedShuffleSplit if classifier else ShuffleSplit
        return "holdout", split(1, test_size=cv, random_state=random_state)
    if isinstance(cv, numbers.Integral) and not isinstance(cv, bool):
        if cv < 2:
            raise ValueError(f"cv={cv!r} folds: use at least 2.")
        folds = StratifiedKFold if classifier else KFold
        return "kfold", folds(cv, shuffle=True, random_state=random_state)
    return "kfold", check_cv(cv, y, classifier=classifier)


class HeldOut:
    """Held-out class probabilities (a regressor's predictions) of one base learner.

    ``proba`` is (n_texts, n_classes) (a regressor's: (n_texts, n_targets)) with NaN rows
    where the learner made no held-out prediction (outside the holdout part); ``fitted`` is
    the learner refit on all the data (or the prefit one).
    """

    def __init__(self, proba: np.ndarray, fitted, shared: bool = False):
        self.proba = proba
        self.fitted = fitted
        self.shared = shared  # reused from an earlier fit inside ``share_fits``

    @property
    def rows(self) -> np.ndarray:
        return ~np.isnan(self.proba).any(axis=1)


def _outputs(est, texts: list[str], classes) -> np.ndarray:
    """What the meta level learns from: class probabilities in ``classes`` order, or with
    ``classes`` None a regressor's predictions as (n_texts, n_targets)."""
    if classes is None:
        return np.asarray(est.predict(texts), dtype=np.float64).reshape(len(texts), -1)
    return _aligned(est, pipeline_proba(est, texts), classes)


def _aligned(est, proba: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Probabilities in ``classes`` order (a fold may lack a class: its column is 0); a
    multi-label learner's per-label probabilities are in the label order already."""
    if proba.shape[1] == len(classes) and is_multilabel_learner(est):
        return np.asarray(proba, dtype=np.float64)
    out = np.zeros((proba.shape[0], len(classes)))
    index = {c: i for i, c in enumerate(classes.tolist())}
    for j, c in enumerate(est.classes_.tolist()):
        out[:, index[c]] = proba[:, j]
    return out


def is_multilabel_learner(est) -> bool:
    """Whether a fitted classifier (or a Pipeline ending in one) was fit on a multi-label
    ``y``: ``multilabel_``, as ours and scikit-learn's ``OneVsRestClassifier`` say."""
    if isinstance(est, Pipeline):
        est = est.steps[-1][1]
    return bool(getattr(est, "multilabel_", False))


def as_multilabel(estimator):
    """``estimator`` able to learn an indicator matrix: ours as they are, a Pipeline with its
    last step in scikit-learn's ``OneVsRestClassifier`` (the features fit once, one binary
    model per label), any other classifier in one."""
    from sklearn.multiclass import OneVsRestClassifier

    from hybridnlp.estimators import TextClassifierMixin

    if isinstance(estimator, TextClassifierMixin | OneVsRestClassifier):
        return estimator
    if isinstance(estimator, Pipeline):
        name, last = estimator.steps[-1]
        if isinstance(last, TextClassifierMixin | OneVsRestClassifier):
            return estimator
        return Pipeline([*estimator.steps[:-1], (name, OneVsRestClassifier(last))],
                        memory=estimator.memory)
    return OneVsRestClassifier(estimator)


def fit_weighted(estimator, X, y, sample_weight=None):
    """``estimator.fit(X, y)``, each text weighing ``sample_weight`` (None: 1): given as
    ``sample_weight`` or, to a scikit-learn ``Pipeline``, to its last step (``step__``), or
    to the whole pipeline where scikit-learn's metadata routing is on (the steps that
    request it get it)."""
    if sample_weight is None:
        return estimator.fit(X, y)
    if isinstance(estimator, Pipeline):
        import sklearn

        if sklearn.get_config().get("enable_metadata_routing"):
            return estimator.fit(X, y, sample_weight=sample_weight)
        return estimator.fit(X, y, **{f"{estimator.steps[-1][0]}__sample_weight":
                                      sample_weight})
    return estimator.fit(X, y, sample_weight=sample_weight)


def fit_meta(final, meta, y, sample_weight=None):
    """A meta learner fit on the held-out predictions ``meta`` (rows weighing
    ``sample_weight``; one that takes no weights is refused with the fix)."""
    if sample_weight is None:
        return final.fit(meta, y)
    from sklearn.utils.validation import has_fit_parameter

    if not has_fit_parameter(final, "sample_weight"):
        raise ValueError(f"the meta learner {type(final).__name__} takes no sample_weight; "
                         f"fit without weights or use one that does (SimplexWeights, "
                         f"LogisticRegression).")
    return final.fit(meta, y, sample_weight=sample_weight)


def held_out_probas(components, texts: list[str], y: np.ndarray, classes, cvs,
                    random_state=None, *, memory=None, verbose=0, n_jobs=None,
                    sample_weight=None) -> list[HeldOut]:
    """For each (name, estimator) of ``components`` with its ``cv`` in ``cvs``: predictions on
    texts it did not see, then the estimator fitted on all (one :class:`HeldOut` each).
    ``classes`` None: the components are regressors (k-fold without stratification, their
    ``predict`` held out). ``sample_weight`` (one per text) goes to every fit
    (:func:`fit_weighted`).

    Every fit (each fold of each component, and each refit on all the texts) is one joblib job:
    with ``n_jobs`` they run in parallel on joblib's backend, the one
    ``joblib.parallel_config(backend="dask")`` selects included; torch in each job gets
    ``cpu_count // n_jobs`` threads so jobs do not oversubscribe the cores. Every fit is
    seeded by its estimator, so results depend on ``n_jobs`` only through float summation
    order: torch's thread count per job (and a Dask worker's core count) changes how its
    sums are split, so a neural component's probabilities agree with the serial fit's to
    within 1e-5 (tested, on loky and on a Dask cluster), the classical ones exactly.
    ``memory`` (a folder) is given
    to the clones that are Pipelines, to cache their fitted transformers; workers on other
    machines than this one each cache in their own copy of it. The returned learners have
    none. Inside ``share_fits`` an identical earlier component's result is returned (looked up
    here, before any job starts)."""
    plans = [_plan(est, texts, y, classes, cv, random_state, sample_weight)
             for (_, est), cv in zip(components, cvs, strict=True)]
    jobs = [(c, part) for c, plan in enumerate(plans) if plan.held is None
            for part in plan.parts]
    threads = threads_per_job(n_jobs, len(jobs))
    results = run_jobs(_fit_part, [(components[c][1], texts, y, classes, train, test, memory,
                                     threads, sample_weight) for c, (train, test) in jobs],
                       n_jobs)
    out = []
    for (name, _), plan in zip(components, plans):
        if plan.held is None:  # this component's jobs come next, in order
            width = len(classes) if classes is not None else y.reshape(len(y), -1).shape[1]
            proba = np.full((len(texts), width), np.nan)
            fitted = None
            n = len(plan.parts) - 1
            bar = progress(range(n + 1), desc=f"{name}: {n} held-out fits + 1", verbose=verbose)
            for _i, (_, test) in zip(bar, plan.parts):  # the bar first: it ends, and closes
                est, part = next(results)
                if test is None:
                    fitted = est
                else:
                    proba[test] = part
            if memory is not None and isinstance(fitted, Pipeline):
                fitted.set_params(memory=None)  # the folder is temporary: predict without it
            plan.held = HeldOut(proba, fitted)
            if plan.key is not None:
                plan.shared[plan.key] = plan.held
        out.append(plan.held)
    return out


class _Plan:
    """One component's fits: ``parts`` (train rows, test rows; test None = the refit on all),
    or ``held`` when known already (prefit, or shared)."""

    def __init__(self, parts=(), held=None, key=None, shared=None):
        self.parts, self.held, self.key, self.shared = list(parts), held, key, shared


def _plan(estimator, texts, y, classes, cv, random_state, sample_weight=None) -> _Plan:
    kind, splitter = resolve_cv(cv, y, random_state,  # a multi-label y is not stratified
                                classifier=classes is not None and y.ndim == 1)
    if kind == "prefit":
        check_fitted(estimator)
        return _Plan(held=HeldOut(_outputs(estimator, texts, classes), estimator))
    shared = _SHARED.get()
    key = None
    unseeded = getattr(splitter, "random_state", 0) is None and (
        kind == "holdout" or getattr(splitter, "shuffle", False))  # each call splits anew
    if shared is not None and not unseeded:
        try:
            key = joblib.hash((estimator, texts, y, classes, repr(splitter), sample_weight))
        except Exception:  # noqa: BLE001 - an estimator that cannot be pickled is not shared
            key = None
        if key in shared:
            found = shared[key]
            return _Plan(held=HeldOut(found.proba, found.fitted, shared=True))
    parts = list(splitter.split(np.zeros(len(texts)), y)) + [(np.arange(len(texts)), None)]
    return _Plan(parts, key=key, shared=shared)


def _fit_part(estimator, texts, y, classes, train, test, memory, threads, sample_weight=None):
    """One job: (None, a clone's probabilities on the ``test`` rows, fit on the ``train``
    rows), or (the clone fitted on everything, None) when ``test`` is None."""
    # a multi-label component's own thresholds are unused: the hybrid tunes its own; a
    # fold without a rare label's texts is expected (OneVsRestClassifier warns of each)
    tuning = contextlib.nullcontext() if y.ndim == 1 else skip_threshold_tuning()
    with torch_threads(threads), tuning, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Label .* is present in all training")
        if test is None:
            return fit_weighted(_clone(estimator, memory), texts, y, sample_weight), None
        est = fit_weighted(_clone(estimator, memory), [texts[j] for j in train], y[train],
                           None if sample_weight is None else sample_weight[train])
        return None, _outputs(est, [texts[j] for j in test], classes)


def _clone(estimator, memory):
    est = clone(estimator)
    if memory is not None and isinstance(est, Pipeline):
        est.set_params(memory=memory)
    return est
