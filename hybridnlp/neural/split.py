"""The validation split of the neural estimators, and the classifiers' validation metric.

:func:`held_out_rows` is the one seeded split of examples (the translator's sentence pairs, the
reader's questions); :func:`holdout_split` adds stratification by class for the classifiers.
A language model holds out contiguous text instead (``lm.split_corpus``: its tail, or with
``spread=True``, as ``CausalLM`` does, the end of each tenth): its validation windows must
run over text as written."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from hybridnlp.utils.validation import check_texts_labels

__all__ = ["accuracy", "held_out_rows", "holdout_split"]


def accuracy(logits, targets) -> float:
    """The Trainer's validation metric for classifiers: argmax of ``logits`` == ``targets``;
    for a multi-label indicator matrix (boolean targets), the subset accuracy (every label's
    logit on the right side of 0)."""
    if targets.dtype == torch.bool:
        return float(((logits > 0) == targets).all(dim=-1).float().mean())
    return float((logits.argmax(dim=-1) == targets).float().mean())


def holdout_split(texts: list[str], y_idx: np.ndarray, classes: np.ndarray, validation_data,
                  fraction: float | None, seed: int, sample_weight=None):
    """(train texts, train class indices, validation texts, validation class indices,
    train weights): the given ``validation_data`` (texts, labels), else a stratified
    ``fraction`` of the training data, else no validation (Nones) when ``fraction`` is 0 or
    None; the training texts' ``sample_weight`` (None stays None)."""
    if validation_data is not None:
        val_texts, val_y = check_texts_labels(*validation_data, require_words=False,
                                              min_classes=1)
        unknown = set(np.unique(val_y)) - set(classes)
        if unknown:
            raise ValueError(f"validation_data has labels unseen in y: {sorted(unknown)}.")
        return texts, y_idx, val_texts, np.searchsorted(classes, val_y), sample_weight
    if not fraction:
        return texts, y_idx, None, None, sample_weight
    idx = np.arange(len(texts))
    counts = np.bincount(y_idx)
    n_val = int(np.ceil(fraction * len(texts)))
    # Stratify where every class can appear on both sides (not on a handful of texts).
    stratify = y_idx if counts.min() >= 2 and n_val >= len(counts) else None
    tr, va = train_test_split(idx, test_size=fraction, random_state=seed, stratify=stratify)
    return ([texts[i] for i in tr], y_idx[tr], [texts[i] for i in va], y_idx[va],
            None if sample_weight is None else sample_weight[tr])


def held_out_rows(n: int, fraction: float, seed: int, *,
                  what: str = "examples") -> tuple[np.ndarray, np.ndarray]:
    """(training rows, validation rows) of ``n`` examples: a seeded ``fraction`` held out,
    at least one, and at least one left to train on."""
    n_val = max(1, int(round(n * fraction)))
    if n_val >= n:
        raise ValueError(f"validation_fraction={fraction} of {n} {what} leaves none to train "
                         f"on; pass validation_data= or validation_fraction=None.")
    order = np.random.default_rng(seed).permutation(n)
    return order[n_val:], order[:n_val]
