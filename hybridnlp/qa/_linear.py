"""A fitted logistic regression as JSON and back: how the QA readers, the reader stack and the
learned retriever fusion save their linear models without pickle."""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression

from hybridnlp.utils.saved_arrays import checked_array

__all__ = ["linear_from_state", "linear_state"]


def linear_state(model) -> dict:
    """A fitted ``LogisticRegression`` as JSON-ready lists (its weights, intercept, classes)."""
    return {"coef": model.coef_.tolist(), "intercept": model.intercept_.tolist(),
            "classes": model.classes_.tolist()}


def linear_from_state(state: dict, *, what: str, n_features: int | None = None,
                      **params) -> LogisticRegression:
    """The ``LogisticRegression`` that :func:`linear_state` described, ready to predict; its
    arrays checked (shapes agree, values finite, ``n_features`` columns when given) and a bad
    one a ValueError naming ``what``, the file."""
    if not isinstance(state, dict):
        raise ValueError(f"{what}: a linear model must be a mapping of coef, intercept and "
                         f"classes.")
    try:
        coef = checked_array(state.get("coef"), what=f"{what}: coef", ndim=2,
                             shape=(None, n_features), kind="fi").astype(np.float64)
        intercept = checked_array(state.get("intercept"), what=f"{what}: intercept",
                                  shape=(len(coef),), kind="fi").astype(np.float64)
    except (TypeError, ValueError) as err:  # ragged lists, strings
        raise ValueError(str(err) if str(err).startswith(what) else f"{what}: {err}") from None
    classes = state.get("classes")
    if not isinstance(classes, list) or len(classes) < 2 or len(classes) != max(
            len(coef) + (len(coef) == 1), 2):
        raise ValueError(f"{what}: the linear model's classes do not match its "
                         f"{len(coef)} rows of weights.")
    m = LogisticRegression(**params)
    m.coef_, m.intercept_, m.classes_ = coef, intercept, np.asarray(classes)
    m.n_features_in_ = coef.shape[1]
    return m
