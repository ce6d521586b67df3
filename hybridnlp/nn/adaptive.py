"""The adaptive softmax (Grave et al. 2017) with the adaptive input tied to it (Baevski and
Auli 2019): a vocabulary of tens of thousands of words costs a few thousand outputs per token.

Word ids are sorted by frequency (the word tokenizers' order). The ``cutoffs[0]`` most frequent
words are scored in the head with one logit per tail cluster; the rarer words of cluster ``i``
go through a projection to ``n_embd / div_value**(i + 1)`` dimensions. The same matrices embed
the input: a frequent word's row of the head, or a rarer word's low-dimensional row mapped back
up by its cluster's projection, so the model has one set of word vectors, as a tied softmax.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["AdaptiveSoftmax", "auto_cutoffs"]

# A full softmax over fewer words than this is cheap next to the Transformer's blocks.
_AUTO_MIN_VOCAB = 20_000
_AUTO_CUTOFFS = (2_000, 10_000, 50_000)


def auto_cutoffs(vocab_size: int) -> list[int]:
    """The cutoffs ``adaptive_cutoffs="auto"`` means: none (a full softmax) below 20,000
    words, else the bounds 2,000 / 10,000 / 50,000 that fall inside the vocabulary, as Grave
    et al. cut similar vocabularies (on WikiText-2 the two first: the comparison with a full
    softmax is in benchmarks/RESULTS.md "WikiText-2")."""
    if vocab_size < _AUTO_MIN_VOCAB:
        return []
    return [c for c in _AUTO_CUTOFFS if c < vocab_size]


class AdaptiveSoftmax(nn.AdaptiveLogSoftmaxWithLoss):
    """``nn.AdaptiveLogSoftmaxWithLoss`` plus ``embed`` (the tied adaptive input) and
    ``loss`` (mean negative log-likelihood over targets != -1)."""

    def reset_projections(self) -> None:
        """Draw each cluster's projection (n_embd -> d) from N(0, 1/d): a rare word's input
        vector and its logit then start at the size of a frequent word's, with every word
        row drawn N(0, 0.02) as GPT-2 draws its embeddings."""
        for proj, _ in self.tail:
            nn.init.normal_(proj.weight, std=1.0 / math.sqrt(proj.weight.shape[0]))

    def embed(self, idx: torch.Tensor) -> torch.Tensor:
        """Input vectors (..., n_embd) of the word ids ``idx``."""
        flat = idx.reshape(-1)
        out = self.head.weight.new_zeros(flat.shape[0], self.in_features)
        bounds = [0, *self.cutoffs]
        for i, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])):
            where = ((flat >= lo) & (flat < hi)).nonzero().squeeze(1)
            if not len(where):
                continue
            if i == 0:
                vectors = F.embedding(flat[where], self.head.weight)
            else:
                proj, words = self.tail[i - 1]
                vectors = F.embedding(flat[where] - lo, words.weight) @ proj.weight
            out = out.index_copy(0, where, vectors.to(out.dtype))
        return out.view(*idx.shape, self.in_features)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Log-probabilities (..., vocab_size) of hidden states ``x`` (..., n_embd)."""
        with torch.autocast(x.device.type, enabled=False):  # torch's module mixes dtypes
            flat = super().log_prob(x.reshape(-1, self.in_features).float())
        return flat.view(*x.shape[:-1], self.n_classes)

    def loss(self, x: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy of hidden states ``x`` (..., n_embd) against ``targets`` (...),
        ignoring the positions whose target is -1 (as ``F.cross_entropy(ignore_index=-1)``)."""
        x, targets = x.reshape(-1, self.in_features), targets.reshape(-1)
        keep = targets != -1
        if not bool(keep.all()):
            x, targets = x[keep], targets[keep]
        with torch.autocast(x.device.type, enabled=False):  # torch's module mixes dtypes
            return self(x.float(), targets).loss
