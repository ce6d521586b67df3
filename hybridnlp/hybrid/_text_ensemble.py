"""What the text ensembles share: nested parameters over named base learners, their
per-component probabilities, prediction, and text-input tags."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import _BaseComposition

from hybridnlp.estimators import TextClassifierMixin
from hybridnlp.features import pipeline_proba, shared_counts
from hybridnlp.hybrid._heldout import _aligned
from hybridnlp.hybrid.attribution import ComponentReportMixin
from hybridnlp.utils.validation import check_fitted, check_texts, text_input_tags

__all__ = ["Components", "TextEnsemble"]


class Components(_BaseComposition):
    """What every hybrid over named text estimators shares (classifiers and regressors):
    nested parameters, the checked (name, estimator) list, the seed of the held-out splits
    and per-component ``estimator_cv``."""

    def get_params(self, deep=True):
        return self._get_params("estimators", deep=deep)

    def set_params(self, **params):
        self._set_params("estimators", **params)
        return self

    def __setstate__(self, state):
        super().__setstate__({"n_jobs": None, **state})  # pickled before n_jobs existed

    def _components(self) -> list[tuple[str, object]]:
        """The (name, learner) pairs to fit, checked."""
        estimators = list(self.estimators or [])
        if not estimators:
            raise ValueError("estimators is empty; pass a list of (name, classifier) pairs.")
        names = [name for name, _ in estimators]
        if len(set(names)) != len(names):
            raise ValueError(f"estimator names must be unique, got {names}.")
        n_jobs = self.n_jobs
        if n_jobs is not None and (isinstance(n_jobs, bool) or not isinstance(
                n_jobs, numbers.Integral) or n_jobs == 0):
            raise ValueError(f"n_jobs={n_jobs!r} must be None (one job at a time), a positive "
                             f"int, or negative (-1: as many jobs as cores).")
        unknown = set(self._estimator_cv()) - set(names)
        if unknown:
            raise ValueError(f"estimator_cv names {sorted(unknown)} are not among the "
                             f"estimators {names}.")
        return estimators

    def _split_seed(self) -> int:
        """The seed of the held-out splits, shared by every component: ``random_state`` as
        given when it is an int, else one draw from ``check_random_state(random_state)``."""
        if isinstance(self.random_state, numbers.Integral):
            return int(self.random_state)
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def _estimator_cv(self, n_texts: int | None = None) -> dict:
        """Per-component ``cv`` for a fit on ``n_texts`` texts (None: the names only)."""
        return dict(self.estimator_cv or {})



class TextEnsemble(ComponentReportMixin, TextClassifierMixin, Components, BaseEstimator):
    """Base of StackingClassifier and WeightedEnsemble: ``estimators`` is a list of
    (name, classifier); fitted learners are in ``named_estimators_``; subclasses define
    ``fit`` and ``_combine`` (components' probabilities -> the hybrid's)."""

    def _split_input(self, X) -> tuple[list[str], object]:
        """(the texts of ``X``, the rest of its columns or None): with ``text_column`` set,
        ``X`` is a DataFrame whose ``text_column`` holds the texts and whose other columns
        (numbers and categories) go to the meta learner; else ``X`` is the texts."""
        column = getattr(self, "text_column", None)
        if column is None:
            return check_texts(X), None
        if type(X).__name__ != "DataFrame" or column not in X.columns:
            got = (f"columns {list(X.columns)}" if type(X).__name__ == "DataFrame"
                   else f"a {type(X).__name__}")
            raise ValueError(f"text_column={column!r}: X must be a pandas DataFrame with a "
                             f"{column!r} column (the texts; the others are its metadata), "
                             f"got {got}.")
        table = X.drop(columns=[column])
        return check_texts(X[column], name=f"X[{column!r}]"), (table if table.shape[1]
                                                                else None)

    def component_proba(self, X) -> dict[str, np.ndarray]:
        """Each base learner's class probabilities, columns in ``classes_`` order."""
        check_fitted(self)
        return self._component_proba(self._split_input(X)[0])

    def _component_proba(self, texts: list[str]) -> dict[str, np.ndarray]:
        with shared_counts():  # NBSVM and TF-IDF count the texts' n-grams once
            return {name: _aligned(est, pipeline_proba(est, texts), self.classes_)
                    for name, est in self.named_estimators_.items()}

    def predict_proba(self, X) -> np.ndarray:
        check_fitted(self)
        texts, table = self._split_input(X)
        return self._combine(self._component_proba(texts), texts, table)

    def _combine(self, probas: dict[str, np.ndarray], texts: list[str],
                 table=None) -> np.ndarray:
        """The hybrid's class probabilities from its components' (``component_proba``) and,
        with ``text_column``, the texts' other columns (``table``)."""
        raise NotImplementedError

    def predict(self, X) -> np.ndarray:
        return self._labels_of(self.predict_proba(X))

    def explain(self, X, *, labels=None, method="auto"):
        """Why each text got its label: each component's word scores toward it
        (``Explanation.components``), combined through the weight the hybrid gives each
        component on that text (``Explanation.weights``) into ``scores``
        (:func:`hybridnlp.hybrid.explain.explain_ensemble`); ``method`` as in
        ``TextClassifierMixin.explain``, for every component."""
        from hybridnlp.hybrid.explain import explain_ensemble

        return explain_ensemble(self, X, labels=labels, method=method)

    def __sklearn_tags__(self):
        tags = text_input_tags(super().__sklearn_tags__())
        return tags
