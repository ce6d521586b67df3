"""``MetaSelection``: a meta learner that chooses, out of fold, how to combine the learners.

A hybrid's meta learner is fit on the learners' held-out probabilities. Which combination
generalises best differs by data set and size: soft voting with fitted weights
(``SimplexWeights``), a logistic regression on the probabilities (stacking), greedy ensemble
selection with replacement (Caruana et al. 2004, as AutoGluon does), or one learner alone
when no combination beats it. ``MetaSelection`` scores each candidate by stratified k-fold
cross-validation on those held-out rows, keeps the best (ties to the simpler), and refits it
on all of them, so a hybrid can choose its best single part rather than fall below it.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from hybridnlp.hybrid.ensemble import SimplexWeights, probability_blocks
from hybridnlp.utils.saving import SaveMixin
from hybridnlp.utils.validation import check_fitted, check_number

__all__ = ["GreedySelection", "MetaSelection", "SingleLearner"]


class _ProbaBlocks:
    """Meta features (per learner one column with two classes, else one per class) as
    probabilities (M, n, K), as ``SimplexWeights`` reads them."""

    def _blocks(self, X, fit: bool = False) -> np.ndarray:
        return probability_blocks(self, X, fit)


class SingleLearner(_ProbaBlocks, SaveMixin, ClassifierMixin, BaseEstimator):
    """One learner's held-out probabilities, as they are: the "no combination" candidate."""

    def __init__(self, *, index: int = 0):
        self.index = index

    def fit(self, X, y):
        self.classes_ = np.unique(np.asarray(y))
        probas = self._blocks(X, fit=True)
        check_number("index", self.index, int, low=0, high=len(probas) - 1)
        return self

    def predict_proba(self, X) -> np.ndarray:
        check_fitted(self, "n_features_in_")
        return self._blocks(X)[self.index]

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


class GreedySelection(_ProbaBlocks, SaveMixin, ClassifierMixin, BaseEstimator):
    """Greedy ensemble selection with replacement (Caruana et al. 2004): ``n_rounds`` times,
    add the learner whose addition to the running average most lowers the log loss; the
    weights are how often each was added."""

    def __init__(self, *, n_rounds: int = 25):
        self.n_rounds = n_rounds

    def fit(self, X, y):
        check_number("n_rounds", self.n_rounds, int, low=1)
        self.classes_, y_idx = np.unique(np.asarray(y), return_inverse=True)
        probas = self._blocks(X, fit=True)  # (M, n, K)
        counts, total = np.zeros(len(probas)), np.zeros(probas.shape[1:])
        for r in range(self.n_rounds):
            trial = (total[None] + probas) / (r + 1)  # (M, n, K): each learner added
            picked = trial[:, np.arange(len(y_idx)), y_idx]
            loss = -np.log(np.clip(picked, 1e-12, 1.0)).mean(axis=1)
            best = int(np.argmin(loss))  # ties: the first learner
            counts[best] += 1
            total += probas[best]
        self.weights_ = counts / counts.sum()
        return self

    def predict_proba(self, X) -> np.ndarray:
        check_fitted(self, "weights_")
        return np.tensordot(self.weights_, self._blocks(X), axes=1)

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


class MetaSelection(SaveMixin, ClassifierMixin, BaseEstimator):
    """The meta learner of ``candidates`` (default: each learner alone, ``SimplexWeights``,
    ``GreedySelection``, a logistic regression) with the best ``cv``-fold cross-validated
    accuracy on the held-out probabilities, refit on all of them. Ties go to the earlier
    candidate: a single learner before a combination, the simplest combination first.

    Attributes
    ----------
    chosen_ : str
        The name of the chosen candidate.
    cv_scores_ : dict
        Each candidate's mean cross-validated accuracy.
    final_ : fitted meta learner
    """

    def __init__(self, *, candidates=None, cv: int = 5, random_state=None):
        self.candidates = candidates
        self.cv = cv
        self.random_state = random_state

    def _candidates(self, n_learners: int) -> list[tuple[str, object]]:
        if self.candidates is not None:
            return list(self.candidates)
        return [*((f"learner {i}", SingleLearner(index=i)) for i in range(n_learners)),
                ("simplex weights", SimplexWeights()), ("greedy selection", GreedySelection()),
                ("logistic regression", LogisticRegression(max_iter=1000))]

    def fit(self, X, y):
        check_number("cv", self.cv, int, low=2)
        y = np.asarray(y)
        self.classes_ = np.unique(y)
        width = 1 if len(self.classes_) == 2 else len(self.classes_)
        candidates = self._candidates(X.shape[1] // width)
        folds = min(self.cv, int(np.bincount(np.unique(y, return_inverse=True)[1]).min()))
        self.cv_scores_ = {}
        if folds >= 2:
            splits = list(StratifiedKFold(folds, shuffle=True, random_state=self.random_state)
                          .split(X, y))
            for name, candidate in candidates:
                right = [np.mean(clone(candidate).fit(X[tr], y[tr]).predict(X[te]) == y[te])
                         for tr, te in splits]
                self.cv_scores_[name] = float(np.mean(right))
            self.chosen_ = max(self.cv_scores_, key=self.cv_scores_.get)  # first of the best
        else:  # a class with one held-out text: nothing to cross-validate
            self.chosen_ = "simplex weights" if self.candidates is None else candidates[0][0]
        self.final_ = clone(dict(candidates)[self.chosen_]).fit(X, y)
        return self

    def predict_proba(self, X) -> np.ndarray:
        check_fitted(self, "final_")
        return self.final_.predict_proba(X)

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]
