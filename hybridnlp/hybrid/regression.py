"""``HybridRegressor``: classical n-gram regressors and fastText stacked out of fold, for
real-valued targets (valence, similarity, ratings): the regression form of
``HybridClassifier``."""

from __future__ import annotations

import numpy as np
from scipy.optimize import nnls
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.linear_model import Ridge
from sklearn.model_selection import KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from hybridnlp.estimators import FastTextRegressor, TextRegressorMixin, TransformerRegressor
from hybridnlp.features import PairFeatures, TfidfFeatures, Word2VecFeatures
from hybridnlp.hybrid._heldout import fit_meta, held_out_probas
from hybridnlp.hybrid._text_ensemble import Components
from hybridnlp.hybrid.hybrid import _DefaultComponents
from hybridnlp.pretrained import SentenceEmbeddingFeatures
from hybridnlp.utils.saving import SaveMixin
from hybridnlp.utils.validation import (
    check_fitted,
    check_sample_weight,
    check_texts,
    check_texts_targets,
    is_pairs,
)

__all__ = ["HybridRegressor", "NonNegativeLinear", "default_regressors"]

RIDGE_ALPHA = 3.0  # TF-IDF ridge: the best of 0.3-10 by 5-fold CV on EmoBank train (RESULTS.md)


def default_regressors(random_state=None, word_vectors=None, segmenter=None,
                       pretrained=None, fine_tune=True, pairs=False) -> list[tuple[str, object]]:
    """Ridge regression on TF-IDF word + char n-grams and ``FastTextRegressor`` (on sentence
    pairs, both read the joined pair, and ``pair`` joins: ridge regression on
    ``PairFeatures``, how alike the two texts are); with
    ``pretrained`` (a local sentence-transformers or Hugging Face directory) ridge on its
    frozen sentence embeddings joins, and with ``fine_tune`` the encoder fine-tuned as a
    ``TransformerRegressor`` (3 epochs); with ``word_vectors`` ridge on mean word vectors.

    A Transformer trained from scratch is not a default component: on EmoBank it reached
    the fastText regressor's out-of-fold Pearson at ten times its cost and added nothing to
    the stack (benchmarks/RESULTS.md, "Regression"); add ``("transformer",
    TransformerRegressor())`` to ``estimators`` where it does."""
    components = [
        ("tfidf", make_pipeline(TfidfFeatures(analyzer="both", segmenter=segmenter),
                                Ridge(alpha=RIDGE_ALPHA))),
        ("fasttext", FastTextRegressor(segmenter=segmenter, random_state=random_state)),
    ]
    if pretrained is not None and fine_tune:
        components.append(("transformer", TransformerRegressor(
            pretrained=pretrained, max_epochs=3, patience=None, random_state=random_state)))
    if pretrained is not None:
        components.append(("sentence_embedding", make_pipeline(
            SentenceEmbeddingFeatures(pretrained=pretrained), Ridge(alpha=1.0))))
    if word_vectors is not None:
        components.append(("word2vec", make_pipeline(
            Word2VecFeatures(word_vectors=word_vectors, segmenter=segmenter), Ridge(alpha=1.0))))
    if pairs:
        components.append(("pair", make_pipeline(
            PairFeatures(segmenter=segmenter), StandardScaler(), Ridge(alpha=1.0))))
    return components


class NonNegativeLinear(SaveMixin, RegressorMixin, BaseEstimator):
    """``intercept_ + X @ coef_`` with ``coef_ >= 0``: least squares on centred data under
    non-negativity (``scipy.optimize.nnls``), the classic meta learner of stacked regression
    (Breiman 1996, "Stacked regressions"). One target."""

    def fit(self, X, y, sample_weight=None):
        X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
        w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, float)
        mx, my = np.average(X, axis=0, weights=w), np.average(y, weights=w)
        root = np.sqrt(w)[:, None]  # weighted least squares: rows scaled by sqrt(weight)
        self.coef_, _ = nnls((X - mx) * root, (y - my) * root[:, 0])
        self.intercept_ = float(my - mx @ self.coef_)
        return self

    def predict(self, X):
        check_fitted(self, "coef_")
        return np.asarray(X, dtype=np.float64) @ self.coef_ + self.intercept_


class HybridRegressor(_DefaultComponents, TextRegressorMixin, Components, BaseEstimator):
    """Classical n-gram regressors and fastText, stacked: the hybrid for real-valued targets.

    Every component's predictions on texts it was not trained on (``cv`` folds, or a held-out
    share) are combined per target by non-negative weights plus an intercept
    (:class:`NonNegativeLinear`), or, where one component alone predicted its held-out
    texts better than the weights did out of fold (5 folds over those predictions), by that
    component alone: the hybrid is not meant to be below its best part. What was chosen is
    ``chosen_`` (per target: ``"stack"`` or a component's name), on the mean squared errors
    in ``meta_scores_``. The components are refit on all the texts. ``y`` is one number per
    text or one row of targets per text (EmoBank's valence, arousal and dominance).

    Parameters
    ----------
    estimators : list of (name, regressor), optional
        Replaces the default components (:func:`default_regressors`).
    word_vectors, segmenter, pretrained, fine_tune
        As in ``HybridClassifier``, for the default components (with ``pretrained``, the
        fine-tuned encoder joins unless ``fine_tune=False``; then every component shares a
        20% holdout from 5,000 texts on, as in ``HybridClassifier``).
    final_estimator : regressor, optional
        A meta learner fit per target on the components' held-out predictions of it
        (no choice against single components then); default :class:`NonNegativeLinear`.
    cv : int, float or splitter, default=5
        k-fold (shuffled), or a float: that share held out once (blending).
    estimator_cv : dict of name -> cv, optional
        Per-component ``cv``; the meta learner trains on the texts every component held out.
    random_state, n_jobs, verbose
        As in ``HybridClassifier``.

    Attributes
    ----------
    named_estimators_ : dict name -> fitted component (refit on all the texts)
    final_estimators_ : list of fitted meta learners, one per target
    chosen_ : list of str, one per target
    coef_ : ndarray (n_targets, n_components)
        The weight of each component's prediction (one-hot where one was chosen alone).
    intercept_ : ndarray (n_targets,)
    meta_scores_ : list of dict, one per target: "stack" and each name -> held-out MSE
    held_out_ : dict name -> ndarray (n_meta_rows, n_targets)
    """

    def __init__(self, *, estimators=None, word_vectors=None, segmenter=None, pretrained=None,
                 fine_tune=True, final_estimator=None, cv=5, estimator_cv=None,
                 random_state=None, n_jobs=None, verbose=0):
        self.estimators = estimators
        self.word_vectors = word_vectors
        self.segmenter = segmenter
        self.pretrained = pretrained
        self.fine_tune = fine_tune
        self.final_estimator = final_estimator
        self.cv = cv
        self.estimator_cv = estimator_cv
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.verbose = verbose

    def _defaults(self):
        return default_regressors(self.random_state, self.word_vectors, self.segmenter,
                                  self.pretrained, self.fine_tune, getattr(self, "pairs_", False))

    def fit(self, X, y, sample_weight=None):
        """Held-out predictions of every component -> per-target weights; components refit
        on all the texts; ``sample_weight`` (one per text) weighs every fit and the
        weights' choice. ``X`` may be sentence pairs (``pairs_``). Returns self."""
        self.pairs_ = is_pairs(X)
        texts, y = check_texts_targets(X, y)
        w = check_sample_weight(sample_weight, len(texts))
        components = self._components()
        seed = self._split_seed()
        cvs = [self._estimator_cv(len(texts)).get(name, self.cv) for name, _ in components]
        held = held_out_probas(components, texts, y, None, cvs, seed, verbose=self.verbose,
                               n_jobs=self.n_jobs, sample_weight=w)
        rows = np.logical_and.reduce([h.rows for h in held])
        if rows.sum() < 10:
            raise ValueError(f"the held-out parts leave {int(rows.sum())} texts for the meta "
                             f"learner (10 needed); use more folds or a larger holdout.")
        names = [name for name, _ in components]
        self.named_estimators_ = {name: h.fitted for name, h in zip(names, held, strict=True)}
        self.held_out_ = {name: h.proba[rows] for name, h in zip(names, held, strict=True)}
        targets = y.reshape(len(y), -1)[rows]
        w_rows = None if w is None else w[rows]
        self.n_outputs_ = 1 if y.ndim == 1 else y.shape[1]
        self.final_estimators_, self.chosen_, self.meta_scores_ = [], [], []
        self.coef_ = np.zeros((targets.shape[1], len(names)))
        self.intercept_ = np.zeros(targets.shape[1])
        for t in range(targets.shape[1]):
            meta = np.column_stack([self.held_out_[name][:, t] for name in names])
            final = fit_meta(clone(self.final_estimator or NonNegativeLinear()), meta,
                             targets[:, t], w_rows)
            self.final_estimators_.append(final)
            chosen, scores = "stack", {}
            if self.final_estimator is None:
                scores = self._held_out_errors(meta, targets[:, t], names, seed, w_rows)
                chosen = min(scores, key=lambda k: (scores[k], k != "stack"))
                if chosen == "stack":
                    self.coef_[t], self.intercept_[t] = final.coef_, final.intercept_
                else:
                    self.coef_[t, names.index(chosen)] = 1.0
            self.chosen_.append(chosen)
            self.meta_scores_.append(scores)
        return self

    @staticmethod
    def _held_out_errors(meta, y, names, seed, w=None) -> dict[str, float]:
        """Mean squared error (weighted by ``w``) of the weights (each row predicted by
        weights fit on the other folds' rows) and of each component's held-out predictions
        as they are."""
        stacked = np.zeros(len(y))
        for train, test in KFold(5, shuffle=True, random_state=seed).split(meta):
            stacked[test] = NonNegativeLinear().fit(
                meta[train], y[train], None if w is None else w[train]).predict(meta[test])
        errors = {"stack": float(np.average((stacked - y) ** 2, weights=w))}
        errors.update({name: float(np.average((meta[:, j] - y) ** 2, weights=w))
                       for j, name in enumerate(names)})
        return errors

    def component_predict(self, X) -> dict[str, np.ndarray]:
        """Each component's predictions, (n_texts, n_targets)."""
        check_fitted(self, "named_estimators_")
        texts = check_texts(X)
        return {name: np.asarray(est.predict(texts), dtype=np.float64).reshape(len(texts), -1)
                for name, est in self.named_estimators_.items()}

    def predict(self, X) -> np.ndarray:
        """(n_texts,) for one target, else (n_texts, n_targets)."""
        parts = list(self.component_predict(X).values())
        meta = [np.column_stack([p[:, t] for p in parts]) for t in range(len(self.coef_))]
        if self.final_estimator is not None:
            out = np.column_stack([f.predict(m) for f, m in zip(self.final_estimators_, meta,
                                                                strict=True)])
        else:
            out = np.column_stack([m @ c + b for m, c, b in zip(meta, self.coef_,
                                                                self.intercept_, strict=True)])
        return out[:, 0] if self.n_outputs_ == 1 else out
