"""The meta level of a multi-label stack: how the components' held-out per-label
probabilities become the hybrid's, chosen out of fold.

Candidates, each scored by its micro F1 out of fold (5 folds over the held-out texts: a
candidate's probabilities on a fold's texts come from a meta learner fit on the other folds,
and the thresholds that score them are tuned on the other folds too):

- ``"shared"``: one meta learner for every label, on the components' log-odds of the label
  (a row per text and label): a few weights learned from every label's texts, so rare
  labels get them too;
- ``"per_label"``: one meta learner per label, on that label's probabilities alone (it can
  trust another component for another label, but learns from that label's texts only:
  noisy where a label has a handful of positives);
- each component alone (``"nbsvm"`` ...): the hybrid is not meant to be below its best part.

The best is kept (ties: the order above); every label's threshold is then tuned on its
out-of-fold probabilities.
"""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import KFold

from hybridnlp.hybrid._heldout import fit_meta
from hybridnlp.utils.multilabel import (
    fit_binary,
    multilabel_scores,
    positive_proba,
    tune_thresholds,
)

__all__ = ["META_KINDS", "combine", "fit_multilabel_meta"]

META_KINDS = ("shared", "per_label")
_EPS = 1e-6


def _log_odds(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p) - np.log1p(-p)


def _fit_binary(final, X, y, sample_weight=None):
    return fit_binary(final, X, y, lambda est, X, y: fit_meta(est, X, y, sample_weight))


def _fit(kind: str, final, blocks: np.ndarray, Y: np.ndarray, weights=None):
    """The fitted meta learner(s) of ``kind`` on ``blocks`` (n, K, M) and ``Y`` (n, K)."""
    n, K, M = blocks.shape
    if kind == "shared":
        w = None if weights is None else np.repeat(weights, K)
        return _fit_binary(final, _log_odds(blocks).reshape(n * K, M),
                           Y.reshape(n * K).astype(np.int64), w)
    return [_fit_binary(final, blocks[:, j], Y[:, j].astype(np.int64), weights)
            for j in range(K)]


def combine(kind: str, fitted, blocks: np.ndarray, names: list[str]) -> np.ndarray:
    """The hybrid's per-label probabilities (n, K) from the components' ``blocks`` (n, K, M)."""
    n, K, M = blocks.shape
    if kind == "shared":
        return positive_proba(fitted, _log_odds(blocks).reshape(n * K, M)).reshape(n, K)
    if kind == "per_label":
        return np.column_stack([positive_proba(est, blocks[:, j]) for j, est in enumerate(fitted)])
    return blocks[:, :, names.index(kind)]


def _out_of_fold_f1(P: np.ndarray, Y: np.ndarray, folds) -> float:
    """Micro F1 of ``P`` with thresholds tuned on each fold's other texts."""
    predicted = np.zeros(Y.shape, dtype=bool)
    for train, test in folds:
        predicted[test] = P[test] >= tune_thresholds(P[train], Y[train])
    return multilabel_scores(Y, predicted)["micro_f1"]


def fit_multilabel_meta(final, blocks: np.ndarray, Y: np.ndarray, names: list[str],
                        seed: int, weights=None) -> dict:
    """Choose and fit the meta level (module docstring). ``blocks`` (n, K, M): the
    components' held-out probabilities of each label; ``Y`` (n, K). Returns ``chosen``,
    ``fitted`` (its meta learner(s), None for a component alone), ``scores`` (candidate ->
    out-of-fold micro F1) and ``thresholds``."""
    folds = list(KFold(min(5, len(Y)), shuffle=True, random_state=seed).split(Y))
    held = {}
    for kind in META_KINDS:
        P = np.zeros(Y.shape)
        for train, test in folds:
            part = _fit(kind, final, blocks[train], Y[train],
                        None if weights is None else weights[train])
            P[test] = combine(kind, part, blocks[test], names)
        held[kind] = P
    for m, name in enumerate(names):
        held[name] = blocks[:, :, m]
    scores = {kind: _out_of_fold_f1(P, Y, folds) for kind, P in held.items()}
    chosen = max(scores, key=scores.get)  # the first of equals: the order of ``held``
    fitted = _fit(chosen, final, blocks, Y, weights) if chosen in META_KINDS else None
    return {"chosen": chosen, "fitted": fitted, "scores": scores,
            "thresholds": tune_thresholds(held[chosen], Y)}
