"""Soft voting with weights learned on held-out predictions, and per-example gating."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize
from scipy.special import logsumexp, softmax
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_array

from hybridnlp.hybrid._heldout import as_multilabel, held_out_probas
from hybridnlp.hybrid._text_ensemble import TextEnsemble
from hybridnlp.text import WordTokenizer
from hybridnlp.utils.class_weight import weighted_by_class
from hybridnlp.utils.multilabel import check_texts_multilabel, is_multilabel
from hybridnlp.utils.saving import SaveMixin
from hybridnlp.utils.validation import (
    check_fitted,
    check_sample_weight,
    check_texts,
    check_texts_labels,
)

__all__ = ["SimplexWeights", "WeightedEnsemble"]

EPS = 1e-12
_TOKENIZE = WordTokenizer()


def _mixture_nll(log_gate: np.ndarray, probas: np.ndarray, y_idx: np.ndarray,
                 sample_weight=None) -> float:
    """Mean negative log-likelihood of sum_k gate_k * p_k(y) (weighted by ``sample_weight``).
    log_gate (n, M), probas (M, n, K)."""
    p_true = probas[:, np.arange(len(y_idx)), y_idx].T  # (n, M)
    return -float(np.average(logsumexp(log_gate + np.log(p_true + EPS), axis=1),
                             weights=sample_weight))


def _binary_mixture_nll(weights: np.ndarray, probas: np.ndarray, Y: np.ndarray,
                        sample_weight=None) -> float:
    """Mean over texts (weighted) of the mean over labels of the binary log loss of
    sum_m weights_m * p_m. probas (M, n, K), Y (n, K) 0/1."""
    p = np.clip(np.einsum("m,mnk->nk", weights, probas), EPS, 1 - EPS)
    per = -(Y * np.log(p) + (1 - Y) * np.log(1 - p)).mean(axis=1)
    return float(np.average(per, weights=sample_weight))


def fit_simplex_weights(probas: np.ndarray, y_idx: np.ndarray,
                        sample_weight=None) -> np.ndarray:
    """Weights on the simplex minimising the log loss of the weighted average of ``probas``
    (each example weighing ``sample_weight``); for a multi-label indicator matrix
    ``y_idx`` (n, K), the mean binary log loss of each label's average."""
    M = probas.shape[0]

    def loss(theta):
        log_w = theta - logsumexp(theta)
        if np.ndim(y_idx) == 2:
            return _binary_mixture_nll(np.exp(log_w), probas, y_idx, sample_weight)
        return _mixture_nll(np.broadcast_to(log_w, (len(y_idx), M)), probas, y_idx,
                            sample_weight)

    result = minimize(loss, np.zeros(M), method="L-BFGS-B")
    return softmax(result.x)


def probability_blocks(learner, X, fit: bool = False) -> np.ndarray:
    """A meta learner's input, the stacked learners' class probabilities (per learner one
    column, P(``classes_[1]``), with two classes, else one per class), as (M, n, K); checked
    against ``learner.classes_`` and, after ``fit``, the width it was fit on."""
    self, name = learner, type(learner).__name__
    if sp.issparse(X):
        raise TypeError(f"{name} combines class probabilities and got a sparse matrix "
                        "(passthrough features?); use LogisticRegression as the "
                        "final_estimator with passthrough.")
    X = check_array(X, dtype=np.float64)
    K = len(self.classes_)
    width = 1 if K == 2 else K
    if fit:
        self.n_features_in_ = X.shape[1]
    elif X.shape[1] != self.n_features_in_:
        raise ValueError(f"X has {X.shape[1]} columns; {name} was fit on "
                         f"{self.n_features_in_}.")
    if X.shape[1] % width:
        raise ValueError(f"{name} expects {width} probability columns per learner "
                         f"for {K} classes; got {X.shape[1]} columns.")
    if X.min() < 0 or X.max() > 1:  # check_array refused empty X
        raise ValueError(f"{name} expects class probabilities in [0, 1]; X holds "
                         f"values from {X.min():.3g} to {X.max():.3g}.")
    blocks = X.reshape(len(X), -1, width).transpose(1, 0, 2)  # (M, n, width)
    return np.concatenate([1 - blocks, blocks], axis=2) if K == 2 else blocks


class SimplexWeights(SaveMixin, ClassifierMixin, BaseEstimator):
    """Meta learner that soft-votes: non-negative weights summing to one on the learners'
    class probabilities, minimising the log loss of their weighted average.

    Stacking with non-negative weights on probabilities (Breiman 1996, Ting & Witten 1999)
    has one free parameter per learner less one, where a logistic regression on the same
    columns has one per learner and class plus intercepts; on a held-out part of a few
    thousand texts it generalises better (see ``HybridClassifier``). Its input is
    ``StackingClassifier``'s meta features: per learner one column, P(``classes_[1]``), with
    two classes, or a block of one column per class.

    Attributes
    ----------
    classes_ : ndarray
    weights_ : ndarray of shape (n_learners,)
    n_features_in_ : int
    """

    def fit(self, X, y, sample_weight=None):
        """Fit the weights to the held-out probabilities ``X`` and labels ``y`` (each row
        weighing ``sample_weight``). Returns self."""
        self.classes_, y_idx = np.unique(np.asarray(y), return_inverse=True)
        probas = self._probas(X, fit=True)
        self.weights_ = fit_simplex_weights(probas, y_idx, sample_weight)
        return self

    def _probas(self, X, fit: bool = False) -> np.ndarray:
        """Meta features (n, M * width) -> probabilities (M, n, K)."""
        return probability_blocks(self, X, fit)

    def predict_proba(self, X) -> np.ndarray:
        check_fitted(self, "weights_")
        return np.tensordot(self.weights_, self._probas(X), axes=1)  # (n, K)

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


class WeightedEnsemble(TextEnsemble):
    """Weighted soft voting; weights minimise log loss on held-out predictions (a
    multi-label ``y``: one set of weights for every label's probability, on the mean binary
    log loss, and per-label thresholds tuned on the held-out average).

    With ``gating=True`` the weights depend on the text: a small multinomial model of cheap
    features (log length, rate of words unseen in training, each component's confidence and
    entropy) gives each component's share per example, fit (with an L2 penalty) to minimise
    the log loss of the mixture on held-out predictions.

    Parameters
    ----------
    estimators : list of (name, classifier)
    cv : int, float or splitter, default=5
        How held-out predictions are made (see ``StackingClassifier``).
    estimator_cv : dict of name -> cv, optional
    gating : bool, default=False
    gate_alpha : float, default=1.0
        L2 penalty of the gate (per held-out text).
    random_state : int or None
    n_jobs : int or None, default=None
        As in ``StackingClassifier``: the held-out fits in parallel (joblib's backend).
    verbose : int, default=0
        A progress bar (tqdm, on standard error) per component over its held-out fits.
    class_weight : "balanced", dict or None, default=None
        As in ``StackingClassifier``: the components and the weights weigh each text by its
        class's weight (times ``fit``'s ``sample_weight``).

    Attributes
    ----------
    weights_ : ndarray of shape (n_estimators,)
        Global weights (the gate's starting point when ``gating``).
    gate_coef_ : ndarray of shape (n_gate_features + 1, n_estimators) or None
    shared_components_ : list of str
        Learners reused from an earlier hybrid's fit inside ``share_fits`` (not fit again).
    """

    def __init__(self, *, estimators, cv=5, estimator_cv=None, gating=False, gate_alpha=1.0,
                 random_state=None, n_jobs=None, verbose=0, class_weight=None):
        self.estimators = estimators
        self.cv = cv
        self.estimator_cv = estimator_cv
        self.gating = gating
        self.gate_alpha = gate_alpha
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.class_weight = class_weight

    def __setstate__(self, state):
        super().__setstate__({"class_weight": None, **state})  # pickled before it existed

    def fit(self, X, y, sample_weight=None):
        """Held-out probabilities of every component -> weights (or a gate), each text
        weighing ``sample_weight`` in the components' fits and in the weights'. A
        multi-label ``y``: the components learn every label (scikit-learn ones
        one-vs-rest), one set of simplex weights minimises the mean binary log loss of the
        weighted average of their held-out per-label probabilities, and each label's
        threshold is tuned on that average (``thresholds_``)."""
        self.multilabel_ = is_multilabel(y)
        if self.multilabel_:  # one set of weights for every label's probability
            if self.gating or self.class_weight is not None:
                raise ValueError("gating and class_weight weigh one class per text, but y is "
                                 "multi-label; set gating=False and class_weight=None.")
            texts, y, self.classes_ = check_texts_multilabel(X, y)  # y: indicator matrix
            w = check_sample_weight(sample_weight, len(texts))
            components = [(n, as_multilabel(est)) for n, est in self._components()]
            target = y
        else:
            texts, y = check_texts_labels(X, y)
            w = weighted_by_class(check_sample_weight(sample_weight, len(texts)),
                                  self.class_weight, np.unique(y), y)
            components = self._components()
            self.classes_ = np.unique(y)
            target = np.searchsorted(self.classes_, y)
        seed = self._split_seed()  # one for every component: their held-out rows align
        names = [name for name, _ in components]
        cvs = [self._estimator_cv(len(texts)).get(name, self.cv) for name in names]
        held = held_out_probas(components, texts, y, self.classes_, cvs, seed,
                               verbose=self.verbose, n_jobs=self.n_jobs, sample_weight=w)
        rows = np.logical_and.reduce([h.rows for h in held])
        probas = np.stack([h.proba[rows] for h in held])  # (M, n, K)
        self.named_estimators_ = dict(zip(names, [h.fitted for h in held]))
        self.estimators_ = list(self.named_estimators_.values())
        self.shared_components_ = [n for n, h in zip(names, held) if h.shared]
        w_rows = None if w is None else w[rows]
        self.weights_ = fit_simplex_weights(probas, target[rows], w_rows)
        self.gate_coef_ = None
        if self.multilabel_:  # thresholds on the held-out weighted average
            self._set_thresholds(np.einsum("m,mnk->nk", self.weights_, probas), target[rows])
        elif self.gating:
            tokens = _TOKENIZE.tokenize_batch(texts)
            self.vocabulary_ = {w for toks in tokens for w in toks}
            kept = [toks for toks, keep in zip(tokens, rows) if keep]
            feats = self._gate_features(kept, probas, fit=True)
            self.gate_coef_ = self._fit_gate(feats, probas, target[rows], w_rows)
        return self

    def _gate_features(self, tokens: list[list[str]], probas: np.ndarray,
                       fit: bool) -> np.ndarray:
        """(n, F): log length, OOV rate, and per component max probability and entropy."""
        length = np.log1p([len(t) for t in tokens])
        oov = np.array([np.mean([w not in self.vocabulary_ for w in t]) if t else 1.0
                        for t in tokens])
        confidence = probas.max(axis=2).T  # (n, M)
        entropy = -(probas * np.log(probas + EPS)).sum(axis=2).T  # (n, M)
        feats = np.column_stack([length, oov, confidence, entropy])
        if fit:
            self.gate_mean_, self.gate_scale_ = feats.mean(0), feats.std(0) + 1e-6
        feats = (feats - self.gate_mean_) / self.gate_scale_
        return np.column_stack([np.ones(len(tokens)), feats])  # bias first

    def _fit_gate(self, feats: np.ndarray, probas: np.ndarray, y_idx: np.ndarray,
                  sample_weight=None) -> np.ndarray:
        F, M = feats.shape[1], probas.shape[0]
        start = np.zeros((F, M))
        start[0] = np.log(self.weights_ + EPS)  # begin at the global weights

        def loss(flat):
            coef = flat.reshape(F, M)
            logits = feats @ coef  # (n, M)
            log_gate = logits - logsumexp(logits, axis=1, keepdims=True)
            penalty = self.gate_alpha * np.sum(coef[1:] ** 2) / len(y_idx)
            return _mixture_nll(log_gate, probas, y_idx, sample_weight) + penalty

        return minimize(loss, start.ravel(), method="L-BFGS-B").x.reshape(F, M)


    def gate(self, X) -> np.ndarray:
        """Each component's weight per text, shape (n_texts, n_estimators)."""
        texts = check_texts(X)
        probas = np.stack(list(self.component_proba(texts).values()))
        return self._gate(texts, probas)

    def _gate(self, texts, probas) -> np.ndarray:
        if self.gate_coef_ is None:
            return np.broadcast_to(self.weights_, (len(texts), len(self.weights_)))
        feats = self._gate_features(_TOKENIZE.tokenize_batch(texts), probas, fit=False)
        return softmax(feats @ self.gate_coef_, axis=1)

    def _combine(self, probas: dict[str, np.ndarray], texts: list[str],
                 table=None) -> np.ndarray:
        probas = np.stack(list(probas.values()))  # (M, n, K)
        weights = self._gate(texts, probas)  # (n, M)
        return np.einsum("nm,mnk->nk", weights, probas)
