"""TF-IDF over word and/or character n-grams, with sublinear term frequency."""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from hybridnlp.features._ngrams import (
    check_words,
    feature_names,
    make_vectorizers,
    stack,
    vectorize,
)
from hybridnlp.features._text_transformer import SparseOutput, TextTransformer
from hybridnlp.text import WORD_PATTERN
from hybridnlp.utils.validation import check_fitted

__all__ = ["TfidfFeatures"]


class TfidfFeatures(SparseOutput, TextTransformer, auto_wrap_output_keys=None):
    """TF-IDF features of word n-grams, character n-grams, or both side by side.

    Wraps scikit-learn's ``TfidfVectorizer``; ``analyzer="both"`` fits one word and one
    ``char_wb`` vectorizer and stacks their (separately normalised) columns.

    Parameters
    ----------
    analyzer : {"word", "char", "char_wb", "both"}, default="word"
    word_ngram_range : tuple (min_n, max_n), default=(1, 2)
    char_ngram_range : tuple (min_n, max_n), default=(2, 5)
    lowercase : bool, default=True
    token_pattern : str, default=hybridnlp.text.WORD_PATTERN
        Regex of a word token (words and single punctuation marks; one character of Chinese,
        Japanese or Thai).
    segmenter : str or callable, optional
        A word segmenter (``"jieba"``, a name registered with
        ``hybridnlp.text.register_segmenter``, or a callable text -> words) that splits the
        words instead of ``token_pattern``. Models holding a registered name save and load.
    min_df, max_df : int or float, default=1 and 1.0
        Document-frequency cut-offs, as in scikit-learn.
    max_features : int, optional
        Keep the most frequent n-grams (per analyzer).
    sublinear_tf : bool, default=True
        Use ``1 + log(tf)``.
    norm : {"l2", "l1", None}, default="l2"
    stop_words : "english", list or None, default=None
    dtype : numpy dtype, default=np.float64

    Attributes
    ----------
    vectorizers_ : list of (name, TfidfVectorizer)
    n_features_out_ : int

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> clf = make_pipeline(TfidfFeatures(analyzer="both"), LogisticRegression())
    >>> clf.fit(["good film", "bad film", "great", "awful"], [1, 0, 1, 0]).predict(["good"])
    array([1])
    """

    _streams = True  # X may be a file path or TextStream

    def __init__(
        self,
        *,
        analyzer="word",
        word_ngram_range=(1, 2),
        char_ngram_range=(2, 5),
        lowercase=True,
        token_pattern=WORD_PATTERN,
        segmenter=None,
        min_df=1,
        max_df=1.0,
        max_features=None,
        sublinear_tf=True,
        norm="l2",
        stop_words=None,
        dtype=np.float64,
    ):
        self.analyzer = analyzer
        self.word_ngram_range = word_ngram_range
        self.char_ngram_range = char_ngram_range
        self.lowercase = lowercase
        self.token_pattern = token_pattern
        self.segmenter = segmenter
        self.min_df = min_df
        self.max_df = max_df
        self.max_features = max_features
        self.sublinear_tf = sublinear_tf
        self.norm = norm
        self.stop_words = stop_words
        self.dtype = dtype

    def _make_vectorizers(self) -> list[tuple[str, TfidfVectorizer]]:
        return make_vectorizers(
            TfidfVectorizer, self.analyzer, self.word_ngram_range, self.char_ngram_range,
            self.token_pattern, self.stop_words, self.segmenter, lowercase=self.lowercase,
            min_df=self.min_df,
            max_df=self.max_df, max_features=self.max_features, sublinear_tf=self.sublinear_tf,
            norm=self.norm, dtype=self.dtype,
        )

    def fit(self, X, y=None):
        """Learn the n-gram vocabularies and inverse document frequencies. Returns self."""
        self.fit_transform(X, y)
        return self

    def fit_transform(self, X, y=None):
        """Fit and return the TF-IDF matrix, shape (n_texts, n_features_out_), CSR."""
        texts, _ = self._validate_fit(X, y)
        self.vectorizers_ = self._make_vectorizers()
        check_words(self.vectorizers_, texts, type(self).__name__)
        blocks = [vec.fit_transform(texts) for _, vec in self.vectorizers_]
        self.n_features_out_ = sum(block.shape[1] for block in blocks)
        return self._output(stack(blocks))

    def transform(self, X):
        """TF-IDF matrix of new texts, shape (n_texts, n_features_out_), CSR."""
        texts = self._validate_transform(X)
        return self._output(stack([vectorize(vec, texts) for _, vec in self.vectorizers_]))

    def get_feature_names_out(self, input_features=None):
        """N-gram names, prefixed ``word__`` / ``char__`` when both analyzers are used."""
        check_fitted(self)
        return np.asarray(feature_names(self.vectorizers_), dtype=object)
