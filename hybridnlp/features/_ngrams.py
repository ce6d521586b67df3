"""Word and character n-gram vectorizers, built the same way for every n-gram feature."""

from __future__ import annotations

import scipy.sparse as sp

from hybridnlp.utils.validation import check_choice, check_ngram_range

__all__ = ["ANALYZERS", "make_vectorizers", "stack"]

ANALYZERS = ("word", "char", "char_wb", "both")


def make_vectorizers(
    vectorizer_cls, analyzer, word_ngram_range, char_ngram_range, token_pattern, stop_words,
    **common,
) -> list[tuple[str, object]]:
    """``[("word", vec)]``, ``[("char", vec)]`` or both, for ``analyzer`` in ANALYZERS.

    ``"both"`` pairs a word vectorizer with a ``char_wb`` one (character n-grams inside word
    boundaries); ``common`` keyword arguments go to each.
    """
    check_choice("analyzer", analyzer, ANALYZERS)
    vectorizers = []
    if analyzer in ("word", "both"):
        ngrams = check_ngram_range("word_ngram_range", word_ngram_range)
        word = vectorizer_cls(
            analyzer="word", ngram_range=ngrams, token_pattern=token_pattern,
            stop_words=stop_words, **common,
        )
        vectorizers.append(("word", word))
    if analyzer != "word":
        ngrams = check_ngram_range("char_ngram_range", char_ngram_range)
        kind = "char_wb" if analyzer == "both" else analyzer
        vectorizers.append(("char", vectorizer_cls(analyzer=kind, ngram_range=ngrams, **common)))
    return vectorizers


def stack(blocks):
    """One CSR matrix from one or more sparse blocks of equal height."""
    return blocks[0].tocsr() if len(blocks) == 1 else sp.hstack(blocks, format="csr")


def feature_names(vectorizers, prefixes=None) -> list[str]:
    """Vocabulary names; prefixed ``word__`` / ``char__`` when there is more than one block."""
    if len(vectorizers) == 1:
        return list(vectorizers[0][1].get_feature_names_out())
    names = []
    for prefix, vec in vectorizers:
        names.extend(f"{prefix}__{v}" for v in vec.get_feature_names_out())
    return names
