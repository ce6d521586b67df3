"""Feature fusion: classical features join the pooled Transformer encoding in the head."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.base import clone, is_classifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import make_pipeline

from hybridnlp.estimators.transformer_classifier import TransformerClassifier
from hybridnlp.features import NBFeatures
from hybridnlp.hybrid._heldout import _aligned, as_multilabel
from hybridnlp.utils.folds import out_of_fold

__all__ = ["FusionClassifier"]

MAX_DENSE = 2048  # sparse feature outputs wider than this must be projected first


def default_features():
    """NBSVM (word + char n-grams): its log-probabilities are the fused features."""
    return make_pipeline(NBFeatures(analyzer="both"), LogisticRegression(C=0.3, max_iter=1000))


class FusionClassifier(TransformerClassifier):
    """A ``TransformerClassifier`` whose classification head also receives classical features,
    trained end to end.

    Parameters
    ----------
    features : transformer or classifier, optional
        A scikit-learn transformer on texts (``TopicFeatures``, ``Word2VecFeatures``,
        ``make_pipeline(TfidfFeatures(), TruncatedSVD(100))``, a ``FeatureUnion`` ...) whose
        output is fused, or a classifier whose log-probabilities are fused. Default: NBSVM
        (``NBFeatures(analyzer="both")`` + logistic regression). Sparse outputs wider than 2,048
        columns are refused (project them with ``TruncatedSVD``), never densified.
    feature_cv : int or None, default=5
        The training texts' features come from ``feature_cv`` out-of-fold fits, so the head
        learns how much to trust the classical features on texts they were not fitted on (a
        supervised feature fitted on all training texts would look perfect there). None fits
        once on all training texts (fine for unsupervised features).
    **kwargs
        Every ``TransformerClassifier`` parameter, dunder parameters included.

    Attributes
    ----------
    features_ : the feature model fitted on all training texts (used for new texts)
    """

    def __init__(self, *, features=None, feature_cv=5, **kwargs):
        self.features = features
        self.feature_cv = feature_cv
        super().__init__(**kwargs)

    def _feature_model(self):
        model = clone(self.features) if self.features is not None else default_features()
        if self._is_multilabel and is_classifier(model):  # every label, one-vs-rest
            model = as_multilabel(model)
        return model

    def _apply(self, model, texts: list[str]) -> np.ndarray:
        if is_classifier(model) and not hasattr(model, "transform"):
            proba = _aligned(model, model.predict_proba(texts), self.classes_)
            out = np.log(np.clip(proba, 1e-7, 1.0))
        else:
            out = model.transform(texts)
        if sp.issparse(out):
            if out.shape[1] > MAX_DENSE:
                raise ValueError(
                    f"features produce {out.shape[1]} sparse columns; fusion takes dense "
                    f"features, so project them first, e.g. make_pipeline(TfidfFeatures(), "
                    f"TruncatedSVD(n_components=100))."
                )
            out = out.toarray()
        return np.asarray(out, dtype=np.float32)

    def _extra_features(self, texts, y_idx, fit):
        if not fit:
            return self._apply(self.features_, texts)
        if self.warm_start and hasattr(self, "features_"):
            return self._apply(self.features_, texts)
        # a multi-label fit's y_idx is its indicator matrix
        labels = y_idx if self._is_multilabel else self.classes_[y_idx]
        self.features_ = self._feature_model().fit(texts, labels)
        if self.feature_cv is None:
            return self._apply(self.features_, texts)
        seed = self._seed()  # drawn from random_state, as every RNG of the fit
        split = KFold if self._is_multilabel else StratifiedKFold
        folds = split(self.feature_cv, shuffle=True, random_state=seed)

        def fit_apply(train, test):
            model = self._feature_model().fit([texts[i] for i in train], labels[train])
            return self._apply(model, [texts[i] for i in test])

        return out_of_fold(folds.split(np.zeros(len(texts)), labels), fit_apply, len(texts))
