"""Naive-Bayes log-count-ratio features (Wang & Manning 2012): with a linear model, NBSVM."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer

from hybridnlp.features._ngrams import (
    check_words,
    feature_names,
    make_vectorizers,
    scale_columns,
    stack,
    vectorize,
)
from hybridnlp.features._text_transformer import SparseOutput, TextTransformer
from hybridnlp.text import WORD_PATTERN
from hybridnlp.utils.validation import check_fitted, check_sample_weight

__all__ = ["NBFeatures", "log_count_ratios", "scale_columns"]


def log_count_ratios(counts, y, classes, alpha: float, sample_weight=None) -> np.ndarray:
    """Log-count ratios r = log((p / |p|_1) / (q / |q|_1)), one row per one-vs-rest problem.

    ``p = alpha + sum of the feature rows of class c``, ``q`` the same over the other texts
    (each row times its ``sample_weight``: an integer weight counts the row that many times).
    With two classes there is one row (``classes[1]`` against ``classes[0]``); with K > 2, K rows;
    for a multi-label ``y`` (a boolean (n, K) indicator matrix), one row per label (the texts
    with it against those without).

    Returns
    -------
    ndarray of shape (1 or K, n_features)
    """
    if np.ndim(y) == 2:
        members = np.asarray(y, dtype=bool).T
    else:
        members = [y == c for c in (classes[1:] if len(classes) == 2 else classes)]
    if sample_weight is not None:
        counts = sp.diags(np.asarray(sample_weight, dtype=np.float64)) @ counts
    total = np.asarray(counts.sum(axis=0)).ravel()  # (V,)
    ratios = []
    for member in members:
        p = alpha + np.asarray(counts[member].sum(axis=0)).ravel()  # (V,)
        q = alpha + (total - (p - alpha))  # (V,) counts of the other texts
        ratios.append(np.log(p / p.sum()) - np.log(q / q.sum()))
    return np.vstack(ratios)


class NBFeatures(SparseOutput, TextTransformer, auto_wrap_output_keys=None):
    """Binary n-gram indicators scaled by Naive-Bayes log-count ratios.

    For two classes the output has one column per n-gram, ``x * r``. For K > 2 classes (or
    K labels of a multi-label ``y``: an indicator matrix or label lists) it
    stacks K one-vs-rest blocks ``[x * r_1, ..., x * r_K]`` (shape ``(n, K * V)``), so one
    linear model sees every class's evidence; its sparsity is that of ``x``. Followed by
    ``LogisticRegression`` or ``LinearSVC``, this is NBSVM (Wang & Manning 2012);
    ``hybridnlp.estimators.NBSVMClassifier`` fits one binary model per block instead, the
    paper's one-vs-rest form, far cheaper for many classes.

    Parameters
    ----------
    analyzer : {"word", "char", "char_wb", "both"}, default="word"
        ``"both"`` adds character n-grams within word boundaries to the word n-grams; each
        block gets its own ratios.
    word_ngram_range : tuple (min_n, max_n), default=(1, 2)
    char_ngram_range : tuple (min_n, max_n), default=(2, 5)
    alpha : float, default=1.0
        Additive smoothing of the counts.
    binary : bool, default=True
        Use 0/1 indicators (as the paper does) instead of counts.
    lowercase : bool, default=True
    token_pattern : str, default=hybridnlp.text.WORD_PATTERN
    segmenter : str or callable, optional
        A word segmenter (``"jieba"``, a name registered with
        ``hybridnlp.text.register_segmenter``, or a callable text -> words) that splits the
        words instead of ``token_pattern``. Models holding a registered name save and load.
    min_df : int or float, default=1
    max_features : int, optional
        Per analyzer.

    Attributes
    ----------
    classes_ : ndarray
    vectorizers_ : list of (name, CountVectorizer)
    ratios_ : ndarray of shape (1 or K, V), V summed over the vectorizers
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
    _streams = True  # X may be a file path or TextStream

    def __init__(
        self,
        *,
        analyzer="word",
        word_ngram_range=(1, 2),
        char_ngram_range=(2, 5),
        alpha=1.0,
        binary=True,
        lowercase=True,
        token_pattern=WORD_PATTERN,
        segmenter=None,
        min_df=1,
        max_features=None,
    ):
        self.analyzer = analyzer
        self.word_ngram_range = word_ngram_range
        self.char_ngram_range = char_ngram_range
        self.alpha = alpha
        self.binary = binary
        self.lowercase = lowercase
        self.token_pattern = token_pattern
        self.segmenter = segmenter
        self.min_df = min_df
        self.max_features = max_features

    def fit(self, X, y, sample_weight=None):
        """Learn the vocabulary and the log-count ratios (``sample_weight``: each text's
        weight in the counts). Returns self."""
        self._fit(X, y, sample_weight)
        return self

    def fit_transform(self, X, y=None, sample_weight=None):
        counts = self._fit(X, y, sample_weight)
        return self._output(self._scale(counts))

    def _fit(self, X, y, sample_weight=None):
        texts, y = self._validate_fit(X, y)
        w = check_sample_weight(sample_weight, len(y))
        if not (isinstance(self.alpha, int | float) and self.alpha > 0):
            raise ValueError(
                f"alpha={self.alpha!r} must be a positive number (the smoothing count), e.g. 1.0."
            )
        self.vectorizers_ = make_vectorizers(
            CountVectorizer, self.analyzer, self.word_ngram_range, self.char_ngram_range,
            self.token_pattern, None, self.segmenter, binary=self.binary,
            lowercase=self.lowercase,
            min_df=self.min_df, max_features=self.max_features, dtype=np.float64,
        )
        check_words(self.vectorizers_, texts, type(self).__name__)
        blocks = [vec.fit_transform(texts).tocsr() for _, vec in self.vectorizers_]  # (n, V_b)
        if y.ndim == 1:
            self.classes_ = np.unique(y)
        # Ratios per block: each block's p and q are normalised over its own vocabulary.
        ratios = [log_count_ratios(b, y, self.classes_, float(self.alpha), w) for b in blocks]
        self.ratios_ = np.hstack(ratios)  # (1 or K, V)
        self.n_features_out_ = self.ratios_.size
        return stack(blocks)

    def transform(self, X):
        """NB-scaled features, shape (n_texts, n_features_out_), CSR."""
        return self._output(self._scale(self._counts(self._validate_transform(X))))

    def _counts(self, texts):
        """The unscaled n-gram indicators (or counts), (n_texts, V)."""
        return stack([vectorize(vec, texts) for _, vec in self.vectorizers_])

    def _blocks(self, counts) -> list:
        """``counts`` split into the vectorizers' blocks (columns), each with its own ratios."""
        ends = np.cumsum([len(vec.vocabulary_) for _, vec in self.vectorizers_])
        return [counts[:, a:b] for a, b in zip([0, *ends[:-1]], ends)]

    def _scale(self, counts):
        blocks = [scale_columns(counts, r) for r in self.ratios_]  # each (n, V)
        return stack(blocks)

    def get_feature_names_out(self, input_features=None):
        check_fitted(self)
        vocab = feature_names(self.vectorizers_)
        if len(self.ratios_) == 1:
            return np.asarray(vocab, dtype=object)
        return np.asarray([f"{c}__{v}" for c in self.classes_ for v in vocab], dtype=object)
