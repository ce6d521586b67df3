"""Ranking a block of scores (queries x passages): every passage best first, or the best k
without sorting every score. Shared by the retrievers and their fusion."""

from __future__ import annotations

import numpy as np

__all__ = ["WIDE", "ranking", "top_k"]

# passages beyond which a retriever scores each query from its postings and top-k goes row
# by row (below it one sparse product and one partition over the block are faster;
# benchmarks/RESULTS.md "Question answering: BM25 against bm25s")
WIDE = 5000


def ranking(scores: np.ndarray) -> np.ndarray:
    """Column indices of each row's scores, best first, ties in collection order."""
    return np.argsort(-scores, axis=1, kind="stable")


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """The first ``k`` columns of :func:`ranking` without sorting every score. Rows of up to
    ``WIDE`` passages: one partition over the block picks each row's k best, only they are
    sorted, and a row where the k-th score is tied beyond the k (where the partition could
    pick another of the tied) is ranked in full; wider rows: :func:`_top_k_row`."""
    n = scores.shape[1]
    if k >= n:
        return ranking(scores)
    if n > WIDE:
        return np.vstack([_top_k_row(row, k) for row in scores]).reshape(len(scores), k)
    part = np.argpartition(scores, n - k, axis=1)[:, n - k:]  # no negated copy
    values = np.take_along_axis(scores, part, axis=1)
    kth = values.min(axis=1)
    order = np.lexsort((part, -values), axis=1)  # best first, ties by collection position
    top = np.take_along_axis(part, order, axis=1)
    tied = (scores >= kth[:, None]).sum(axis=1) > k
    if tied.any():
        top[tied] = ranking(scores[tied])[:, :k]
    return top


def _top_k_row(s: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` best positions of one score row, best first, ties in collection order
    (exactly ``ranking`` cut at k). The k-th best of a strided sample bounds the row's k-th
    best from below, so one comparison pass leaves a few candidates, and only they are
    partitioned and sorted (a full partition of a 175,000-passage row cost more than
    scoring it: benchmarks/RESULTS.md "Question answering: BM25 against bm25s")."""
    n = len(s)
    stride = max(1, int(np.sqrt(n / k)))
    sample = s[::stride]
    if len(sample) > k:
        bound = np.partition(sample, len(sample) - k)[len(sample) - k]
        cand = np.flatnonzero(s >= bound)
    else:
        cand = np.arange(n)
    vals = s[cand]
    kth = np.partition(vals, len(vals) - k)[len(vals) - k]  # the row's k-th best value
    above = vals > kth
    best = cand[above][np.lexsort((cand[above], -vals[above]))]  # fewer than k
    tied = cand[vals == kth][:k - len(best)]  # the k-th value's first in collection order
    return np.concatenate([best, tied])
