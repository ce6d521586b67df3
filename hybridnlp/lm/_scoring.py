"""Perplexity and score for every language model here, from ``token_log_probs``."""

from __future__ import annotations

import math

import numpy as np

from hybridnlp.lm._corpus import check_unit, count_units, read_corpus, token_stream
from hybridnlp.utils.validation import check_fitted

__all__ = ["LMScoringMixin"]


class LMScoringMixin:
    """``log_likelihood``, ``perplexity`` and ``score`` for a model with ``tokenizer_`` and
    ``token_log_probs(ids, **kw)``: log p(ids[j] | ids[:j]) for j >= 1 of a token stream."""

    _fitted_attr = "tokenizer_"

    def stream(self, texts) -> np.ndarray:
        """The token stream of ``texts`` (see :func:`hybridnlp.lm._corpus.token_stream`)."""
        check_fitted(self, self._fitted_attr)
        return token_stream(self.tokenizer_, read_corpus(texts, what="texts"))

    def log_likelihood(self, texts, **kw) -> tuple[float, int]:
        """Total log-likelihood (nats) of ``texts`` and the number of tokens predicted."""
        lp = self.token_log_probs(self.stream(texts), **kw)
        return float(lp.sum()), len(lp)

    def perplexity(self, texts, *, per: str = "token", **kw) -> float:
        """exp(mean negative log-likelihood) of ``texts``: per token of this model's
        tokenizer, or the same total over the number of words (``per="word"``: whitespace
        words plus line ends, each character of Chinese, Japanese or Thai a word, or the
        segmenter's words) or characters (``per="char"``), so char, word and BPE models
        compare."""
        check_unit(per)
        total, n = self.log_likelihood(texts, **kw)
        corpus = read_corpus(texts, what="texts")
        return math.exp(-total / max(count_units(corpus, per, n, self.tokenizer_), 1))

    def score(self, texts, y=None) -> float:
        """Mean log-likelihood per token (higher is better, for model selection)."""
        total, n = self.log_likelihood(texts)
        return total / max(n, 1)
