"""A fitted logistic regression as JSON and back: how the QA readers, the reader stack and the
learned retriever fusion save their linear models without pickle."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression

__all__ = ["linear_from_state", "linear_state"]


def linear_state(model) -> dict:
    """A fitted ``LogisticRegression`` as JSON-ready lists (its weights, intercept, classes)."""
    return {"coef": model.coef_.tolist(), "intercept": model.intercept_.tolist(),
            "classes": model.classes_.tolist()}


def linear_from_state(state: dict, **params) -> LogisticRegression:
    """The ``LogisticRegression`` that :func:`linear_state` described, ready to predict."""
    m = LogisticRegression(**params)
    m.coef_ = np.asarray(state["coef"], dtype=np.float64)
    m.intercept_ = np.asarray(state["intercept"], dtype=np.float64)
    m.classes_ = np.asarray(state["classes"])
    m.n_features_in_ = m.coef_.shape[1]
    return m
