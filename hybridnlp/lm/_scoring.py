"""Perplexity and score for every language model here, from ``token_log_probs``."""

from __future__ import annotations

import math

import numpy as np

from hybridnlp.exceptions import NotFittedError
from hybridnlp.lm._corpus import count_words, read_corpus, token_stream

__all__ = ["LMScoringMixin"]


class LMScoringMixin:
    """``log_likelihood``, ``perplexity`` and ``score`` for a model with ``tokenizer_`` and
    ``token_log_probs(ids, **kw)``: log p(ids[j] | ids[:j]) for j >= 1 of a token stream."""

    _fitted_attr = "tokenizer_"

    def _check_fitted(self) -> None:
        if not hasattr(self, self._fitted_attr):
            name = type(self).__name__
            raise NotFittedError(f"this {name} is not fitted yet; call fit first.")

    def stream(self, texts) -> np.ndarray:
        """The token stream of ``texts`` (see :func:`hybridnlp.lm._corpus.token_stream`)."""
        self._check_fitted()
        return token_stream(self.tokenizer_, read_corpus(texts, what="texts"))

    def log_likelihood(self, texts, **kw) -> tuple[float, int]:
        """Total log-likelihood (nats) of ``texts`` and the number of tokens predicted."""
        lp = self.token_log_probs(self.stream(texts), **kw)
        return float(lp.sum()), len(lp)

    def perplexity(self, texts, *, per: str = "token", **kw) -> float:
        """exp(mean negative log-likelihood) of ``texts``: per token of this model's
        tokenizer, or ``per="word"``: the same total over the number of words (whitespace
        words plus line ends), so char, word and BPE models compare."""
        if per not in ("token", "word"):
            raise ValueError(f"per={per!r} is not allowed; choose 'token' or 'word'.")
        total, n = self.log_likelihood(texts, **kw)
        if per == "word":
            n = count_words(read_corpus(texts, what="texts"))
        return math.exp(-total / max(n, 1))

    def score(self, texts, y=None) -> float:
        """Mean log-likelihood per token (higher is better, for model selection)."""
        total, n = self.log_likelihood(texts)
        return total / max(n, 1)
