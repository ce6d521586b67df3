"""A fitted logistic regression as JSON and back: how the QA readers, the reader stack and the
learned retriever fusion save their linear models without pickle; and the conditional logit
(a softmax over each question's candidates) the logistic reader and the pipeline's combiner
are trained with."""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.optimize import minimize
from sklearn.linear_model import LogisticRegression

from hybridnlp.utils.saved_arrays import checked_array

__all__ = ["conditional_logit", "linear_from_state", "linear_state", "ranker"]


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


def conditional_logit(X, groups, positives, *, C: float) -> LogisticRegression:
    """A linear scorer fit by maximum likelihood of each group's positive row under a softmax
    over the group's rows (McFadden's conditional logit: a question's right span against its
    other candidates), with scikit-learn's L2 penalty ``0.5 |w|^2 + C x loss``; L-BFGS.

    ``groups``: each row's group (0..G-1), ``positives``: the one positive row of each group.
    Returned as a ``LogisticRegression`` whose ``decision_function`` is the score (intercept
    0: a constant cancels in the softmax), so it saves with :func:`linear_state`."""
    X = sparse.csr_matrix(X, dtype=np.float64)
    groups = np.asarray(groups)
    n_groups = int(groups.max()) + 1
    Xt = X.T.tocsr()

    def loss(w):
        s = X @ w
        top = np.full(n_groups, -np.inf)
        np.maximum.at(top, groups, s)
        e = np.exp(s - top[groups])
        z = np.bincount(groups, weights=e, minlength=n_groups)
        nll = float(np.sum(np.log(z) + top) - s[positives].sum())
        g = e / z[groups]
        g[positives] -= 1.0
        return C * nll + 0.5 * w @ w, C * (Xt @ g) + w

    w = minimize(loss, np.zeros(X.shape[1]), jac=True, method="L-BFGS-B",
                 options={"maxiter": 2000}).x
    model = LogisticRegression(C=C)
    model.coef_, model.intercept_, model.classes_ = w[None, :], np.zeros(1), np.array([0, 1])
    model.n_features_in_ = X.shape[1]
    return model


def ranker(X, groups, gain, *, C: float = 1.0) -> LogisticRegression | None:
    """A conditional logit that ranks each group's rows: the likelihood of a group's best row
    (highest ``gain``, where it is at least 0.5) under a softmax over the group's rows, on
    standardised columns, the scaling folded back into the weights so that
    ``decision_function`` takes raw rows. Groups of one row or with no row of gain >= 0.5
    teach a ranking nothing and are left out; None where no group is left."""
    X = np.asarray(X, dtype=np.float64)
    groups, gain = np.asarray(groups), np.asarray(gain, dtype=np.float64)
    rows, positives, renumbered = [], [], []
    order = np.argsort(groups, kind="stable")  # each group's rows together, in row order
    for idx in np.split(order, np.flatnonzero(np.diff(groups[order])) + 1):
        if len(idx) < 2 or gain[idx].max() < 0.5:
            continue
        positives.append(len(rows) + int(np.argmax(gain[idx])))
        rows.extend(idx.tolist())
        renumbered.extend([len(positives) - 1] * len(idx))
    if not positives:
        return None
    mu, sd = X.mean(axis=0), X.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    model = conditional_logit((X[rows] - mu) / sd, renumbered, positives, C=C)
    model.coef_ = model.coef_ / sd
    model.intercept_ = -(model.coef_ @ mu)
    return model
