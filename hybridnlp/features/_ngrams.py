"""Word and character n-gram vectorizers, built the same way for every n-gram feature."""

from __future__ import annotations

import contextlib
import contextvars
from itertools import islice

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.pipeline import Pipeline

from hybridnlp.features._counting import NgramCounter, counter_for
from hybridnlp.text.words import warn_unsegmented, word_split
from hybridnlp.utils.validation import check_choice, check_ngram_range

__all__ = ["ANALYZERS", "check_words", "make_vectorizers", "pipeline_proba", "scale_columns",
           "shared_counts", "stack", "vectorize"]

ANALYZERS = ("word", "char", "char_wb", "both")


def make_vectorizers(
    vectorizer_cls, analyzer, word_ngram_range, char_ngram_range, token_pattern, stop_words,
    tokenizer=None, **common,
) -> list[tuple[str, object]]:
    """``[("word", vec)]``, ``[("char", vec)]`` or both, for ``analyzer`` in ANALYZERS.

    ``"both"`` pairs a word vectorizer with a ``char_wb`` one (character n-grams inside word
    boundaries); ``common`` keyword arguments go to each; ``tokenizer`` (a segmenter) splits
    the words instead of ``token_pattern``.
    """
    check_choice("analyzer", analyzer, ANALYZERS)
    vectorizers = []
    if analyzer in ("word", "both"):
        ngrams = check_ngram_range("word_ngram_range", word_ngram_range)
        word = vectorizer_cls(
            analyzer="word", ngram_range=ngrams, stop_words=stop_words,
            **word_split(token_pattern, tokenizer), **common,
        )
        vectorizers.append(("word", word))
    if analyzer != "word":
        ngrams = check_ngram_range("char_ngram_range", char_ngram_range)
        kind = "char_wb" if analyzer == "both" else analyzer
        vectorizers.append(("char", vectorizer_cls(analyzer=kind, ngram_range=ngrams, **common)))
    return vectorizers


# Counting n-grams (sklearn's analyzer and vocabulary look-up, in Python) is most of a
# linear n-gram model's predict; NBSVM and TF-IDF + LR count the same n-grams of the same
# texts. Inside ``shared_counts()`` a vectorizer's raw counts are kept, and another vectorizer
# with the same analysis and vocabulary reuses them.
_SHARED: contextvars.ContextVar[dict | None] = contextvars.ContextVar("shared_counts",
                                                                     default=None)
# the weighting parameters: what a vectorizer does to the counts, not which n-grams it counts
_WEIGHTING = frozenset({"binary", "dtype", "norm", "use_idf", "smooth_idf", "sublinear_tf",
                        "min_df", "max_df", "max_features", "vocabulary"})


@contextlib.contextmanager
def shared_counts():
    """Within the block, vectorizers of the same analysis and vocabulary (the word or char
    blocks of ``NBFeatures`` and ``TfidfFeatures`` fit alike) count a list of texts once
    (:func:`vectorize`). The counts are dropped when the block ends."""
    token = _SHARED.set({})
    try:
        yield
    finally:
        _SHARED.reset(token)


def _counter(vec) -> tuple:
    """(key, counter) of a fitted vectorizer: the key names its analysis and vocabulary (its
    size and an order-free hash of its items, summed one item at a time, so that a vocabulary
    of millions of n-grams is not copied to be hashed)."""
    def build():
        params = {k: v for k, v in vec.get_params().items() if k not in _WEIGHTING}
        counter = NgramCounter.for_vectorizer(vec, CountVectorizer(
            **params, vocabulary=vec.vocabulary_, dtype=np.float64))
        counter.share_key = (repr(sorted(params.items())), len(vec.vocabulary_),
                             sum(map(hash, vec.vocabulary_.items())) & 0xFFFFFFFFFFFFFFFF)
        return counter

    counter = counter_for(vec, vec.vocabulary_, build)
    return counter.share_key, counter


def vectorize(vec, texts: list[str]):
    """``vec.transform(texts)`` for a fitted CountVectorizer or TfidfVectorizer, the same
    matrix, its n-grams counted with NumPy (:class:`~hybridnlp.features._counting.
    NgramCounter`); inside :func:`shared_counts` its raw counts are shared with every other
    vectorizer of the same analysis and vocabulary that counts the same texts."""
    if type(vec) not in (CountVectorizer, TfidfVectorizer) or not isinstance(texts, list):
        return vec.transform(texts)  # a stream is read once, by its own vectorizer
    key, counter = _counter(vec)
    shared = _SHARED.get()
    if shared is None:
        counts = counter.transform(texts)
    else:
        key = (*key, len(texts))
        kept = shared.get(key)
        if kept is None or kept[0] is not texts and kept[0] != texts:
            kept = shared[key] = (texts, counter.transform(texts))
        counts = kept[1].copy()
    if vec.binary:
        counts.data.fill(1)
    counts = counts.astype(vec.dtype, copy=False)
    if type(vec) is TfidfVectorizer:  # as its transform does after counting
        return vec._tfidf.transform(counts, copy=False)
    return counts


def pipeline_proba(estimator, texts: list[str]) -> np.ndarray:
    """``estimator.predict_proba(texts)``; a ``Pipeline`` whose first step is a fitted
    CountVectorizer or TfidfVectorizer (the hybrid's naive Bayes) counts through
    :func:`vectorize`, so its n-grams are counted with NumPy and, inside
    :func:`shared_counts`, once with the other components' of the same analysis."""
    if isinstance(estimator, Pipeline) and len(estimator.steps) > 1 and isinstance(texts, list) \
            and type(estimator.steps[0][1]) in (CountVectorizer, TfidfVectorizer):
        return estimator[1:].predict_proba(vectorize(estimator.steps[0][1], texts))
    return estimator.predict_proba(texts)


def check_words(vectorizers, texts, owner: str, sample: int = 2000) -> None:
    """Warn when the word vectorizer's tokens of the first ``sample`` texts are mostly
    unsegmented runs of a space-less script (:func:`hybridnlp.text.words.warn_unsegmented`)."""
    for name, vec in vectorizers:
        if name == "word":
            preprocess, tokenize = vec.build_preprocessor(), vec.build_tokenizer()
            tokens = (t for text in islice(texts, sample) for t in tokenize(preprocess(text)))
            warn_unsegmented(tokens, owner)


def stack(blocks):
    """One CSR matrix from one or more sparse blocks of equal height."""
    return blocks[0].tocsr() if len(blocks) == 1 else sp.hstack(blocks, format="csr")


def scale_columns(X, weights) -> sp.csr_matrix:
    """``X @ diag(weights)`` as CSR (float64), in O(nnz): each stored value times its
    column's weight (``sp.diags`` builds a V x V matrix per call, the larger cost of a
    one-text predict)."""
    X = sp.csr_matrix(X)
    return sp.csr_matrix((X.data * np.asarray(weights, dtype=np.float64)[X.indices],
                          X.indices, X.indptr), shape=X.shape)


def feature_names(vectorizers, prefixes=None) -> list[str]:
    """Vocabulary names; prefixed ``word__`` / ``char__`` when there is more than one block."""
    if len(vectorizers) == 1:
        return list(vectorizers[0][1].get_feature_names_out())
    names = []
    for prefix, vec in vectorizers:
        names.extend(f"{prefix}__{v}" for v in vec.get_feature_names_out())
    return names
