"""Out-of-fold outputs: each row's output from a model that did not see it."""

from __future__ import annotations

import numpy as np

__all__ = ["out_of_fold"]


def out_of_fold(splits, fit_predict, n: int):
    """For each (train, test) row-index pair of ``splits``, ``fit_predict(train, test)`` gives
    the outputs of the ``test`` rows from a model fit on ``train``; returned in row order: an
    array (n, ...) when the outputs are arrays, else a list of n items (rows no split tests
    stay zero / None)."""
    out = None
    for train, test in splits:
        part = fit_predict(train, test)
        if out is None:
            out = (np.zeros((n, *np.shape(part)[1:]), dtype=np.asarray(part).dtype)
                   if isinstance(part, np.ndarray) else [None] * n)
        if isinstance(out, np.ndarray):
            out[test] = part
        else:
            for i, item in zip(test, part, strict=True):
                out[i] = item
    return out
