"""Naive-Bayes log-count-ratio features (Wang & Manning 2012): with a linear model, NBSVM."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.utils.validation import check_is_fitted

from hybridnlp.features._base import TextTransformer
from hybridnlp.text import WORD_PATTERN
from hybridnlp.utils.validation import check_ngram_range

__all__ = ["NBFeatures", "log_count_ratios"]


def log_count_ratios(counts, y, classes, alpha: float) -> np.ndarray:
    """Log-count ratios r = log((p / |p|_1) / (q / |q|_1)), one row per one-vs-rest problem.

    ``p = alpha + sum of the feature rows of class c``, ``q`` the same over the other classes.
    With two classes there is one row (``classes[1]`` against ``classes[0]``); with K > 2, K rows.

    Returns
    -------
    ndarray of shape (1 or K, n_features)
    """
    positives = classes[1:] if len(classes) == 2 else classes
    total = np.asarray(counts.sum(axis=0)).ravel()  # (V,)
    ratios = []
    for c in positives:
        p = alpha + np.asarray(counts[y == c].sum(axis=0)).ravel()  # (V,)
        q = alpha + (total - (p - alpha))  # (V,) counts of the other classes
        ratios.append(np.log(p / p.sum()) - np.log(q / q.sum()))
    return np.vstack(ratios)


class NBFeatures(TextTransformer):
    """Binary n-gram indicators scaled by Naive-Bayes log-count ratios.

    For two classes the output has one column per n-gram, ``x * r``. For K > 2 classes it
    stacks K one-vs-rest blocks ``[x * r_1, ..., x * r_K]`` (shape ``(n, K * V)``), so one
    linear model sees every class's evidence; its sparsity is that of ``x``. Followed by
    ``LogisticRegression`` or ``LinearSVC``, this is NBSVM (Wang & Manning 2012).

    Parameters
    ----------
    ngram_range : tuple (min_n, max_n), default=(1, 2)
    alpha : float, default=1.0
        Additive smoothing of the counts.
    binary : bool, default=True
        Use 0/1 indicators (as the paper does) instead of counts.
    lowercase : bool, default=True
    token_pattern : str, default=hybridnlp.text.WORD_PATTERN
    min_df : int or float, default=1
    max_features : int, optional

    Attributes
    ----------
    classes_ : ndarray
    vectorizer_ : CountVectorizer
    ratios_ : ndarray of shape (1 or K, V)
    n_features_out_ : int

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> nbsvm = make_pipeline(NBFeatures(), LogisticRegression(C=10))
    >>> nbsvm.fit(["good film", "bad film", "great", "awful"], ["pos", "neg", "pos", "neg"])
    ... # doctest: +ELLIPSIS
    Pipeline(...)
    """

    _requires_y = True

    def __init__(
        self,
        *,
        ngram_range=(1, 2),
        alpha=1.0,
        binary=True,
        lowercase=True,
        token_pattern=WORD_PATTERN,
        min_df=1,
        max_features=None,
    ):
        self.ngram_range = ngram_range
        self.alpha = alpha
        self.binary = binary
        self.lowercase = lowercase
        self.token_pattern = token_pattern
        self.min_df = min_df
        self.max_features = max_features

    def fit(self, X, y):
        """Learn the vocabulary and the log-count ratios. Returns self."""
        self._fit(X, y)
        return self

    def fit_transform(self, X, y=None):
        counts = self._fit(X, y)
        return self._scale(counts)

    def _fit(self, X, y):
        texts, y = self._validate_fit(X, y)
        if not (isinstance(self.alpha, int | float) and self.alpha > 0):
            raise ValueError(
                f"alpha={self.alpha!r} must be a positive number (the smoothing count), e.g. 1.0."
            )
        self.vectorizer_ = CountVectorizer(
            ngram_range=check_ngram_range("ngram_range", self.ngram_range),
            binary=self.binary, lowercase=self.lowercase, token_pattern=self.token_pattern,
            min_df=self.min_df, max_features=self.max_features, dtype=np.float64,
        )
        counts = self.vectorizer_.fit_transform(texts).tocsr()  # (n, V)
        self.classes_ = np.unique(y)
        self.ratios_ = log_count_ratios(counts, y, self.classes_, float(self.alpha))
        self.n_features_out_ = self.ratios_.size
        return counts

    def transform(self, X):
        """NB-scaled features, shape (n_texts, n_features_out_), CSR."""
        texts = self._validate_transform(X)
        return self._scale(self.vectorizer_.transform(texts))

    def _scale(self, counts):
        blocks = [counts @ sp.diags(r) for r in self.ratios_]  # each (n, V)
        return blocks[0].tocsr() if len(blocks) == 1 else sp.hstack(blocks, format="csr")

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self)
        vocab = self.vectorizer_.get_feature_names_out()
        if len(self.ratios_) == 1:
            return vocab
        return np.asarray([f"{c}__{v}" for c in self.classes_ for v in vocab], dtype=object)
