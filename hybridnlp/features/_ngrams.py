"""Word and character n-gram vectorizers, built the same way for every n-gram feature."""

from __future__ import annotations

from itertools import islice

import numpy as np
import scipy.sparse as sp

from hybridnlp.text.words import warn_unsegmented, word_split
from hybridnlp.utils.validation import check_choice, check_ngram_range

__all__ = ["ANALYZERS", "check_words", "make_vectorizers", "scale_columns", "stack"]

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
