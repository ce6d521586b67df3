"""Accuracy by slice of the evaluated texts: where a classifier fails, not only how often.

Slices are the text's length (quartiles of its word count over the evaluated texts), its
share of words unseen in the training texts it was evaluated against, its true class, and any
metadata column given. The worst slice is the one with the lowest accuracy among those holding
at least ``min_texts`` texts (smaller ones are reported, not named: a 3-text slice at 0% is
noise). A run computes the slices once (:func:`slice_labels`) and each model's accuracy on
them (:func:`accuracy_by_slice`); :func:`slice_accuracy` does both for one model."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from hybridnlp.text.words import WordTokenizer

__all__ = ["accuracy_by_slice", "slice_accuracy", "slice_labels", "worst_slice"]

UNSEEN_BUCKETS = ((0.0, 0.0, "no unseen words"), (0.0, 0.1, "up to 10% unseen"),
                  (0.1, 0.25, "10-25% unseen"), (0.25, 1.0, "over 25% unseen"))


def _length_slices(lengths: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Each text's length bucket, the quartiles of ``lengths`` (merged where they tie), and
    the buckets shortest first."""
    edges = np.unique(np.quantile(lengths, [0.25, 0.5, 0.75]).round().astype(int)).tolist()
    names, low = [], 0
    for edge in edges:
        names.append(f"{low + 1}-{edge} words" if edge > low + 1 else f"{edge} words")
        low = edge
    names.append(f"over {low} words")
    labels = np.asarray(names, dtype=object)[np.searchsorted(edges, lengths, side="left")]
    return labels, names


def _unseen_slices(words: list[list[str]], seen: list[set]) -> np.ndarray:
    shares = np.array([np.mean([w not in known for w in ws]) if ws else 0.0
                       for ws, known in zip(words, seen, strict=True)])
    out = np.empty(len(shares), dtype=object)
    for low, high, name in UNSEEN_BUCKETS:
        out[(shares > low) & (shares <= high) if high > low else shares == 0] = name
    return out


def slice_labels(words: list[list[str]], y_true, *, train_vocabularies=None,
                 metadata: Mapping[str, Iterable] | None = None) -> dict:
    """``{dimension: (each text's slice, the slices in report order)}`` for texts split into
    ``words`` (lowercased, as ``WordTokenizer`` splits them).

    ``train_vocabularies``: for each text, the set of words of the training texts it was
    evaluated against (one set shared by all for a test split, one per fold in
    cross-validation); without it there is no "unseen words" dimension. ``metadata``: column
    name -> one value per text, a dimension each (numbers with more than 8 values are cut
    into quartiles)."""
    dims = {"length": _length_slices(np.array([len(w) for w in words]))}
    classes = np.array([str(c) for c in y_true], dtype=object)
    dims["class"] = (classes, sorted(set(classes.tolist())))
    if train_vocabularies is not None:
        labels = _unseen_slices(words, list(train_vocabularies))
        dims["unseen words"] = (labels, [name for *_, name in UNSEEN_BUCKETS])
    for column, values in (metadata or {}).items():
        values = np.asarray(list(values))
        if np.issubdtype(values.dtype, np.number) and len(np.unique(values)) > 8:
            edges = np.quantile(values, [0.25, 0.5, 0.75])
            values = np.array([f"quartile {q + 1}" for q in np.searchsorted(edges, values)],
                              dtype=object)
        labels = np.array([str(v) for v in values], dtype=object)
        dims[str(column)] = (labels, sorted(set(labels.tolist())))
    return dims


def accuracy_by_slice(dims: dict, right) -> dict:
    """``{dimension: {slice: {"n": texts, "accuracy": share right}}}`` of the slices
    :func:`slice_labels` gave, ``right`` saying which texts a model predicted right (empty
    slices left out)."""
    right = np.asarray(right, dtype=bool)
    return {dim: {name: {"n": int((labels == name).sum()),
                         "accuracy": float(right[labels == name].mean())}
                  for name in order if (labels == name).any()}
            for dim, (labels, order) in dims.items()}


def slice_accuracy(texts, y_true, y_pred, *, train_vocabularies=None,
                   metadata: Mapping[str, Iterable] | None = None) -> dict:
    """:func:`accuracy_by_slice` of one model's predictions ``y_pred`` of ``texts``."""
    tokenize = WordTokenizer()  # the classical features' words, lowercased
    dims = slice_labels([tokenize(t) for t in texts], y_true,
                        train_vocabularies=train_vocabularies, metadata=metadata)
    return accuracy_by_slice(dims, np.asarray(y_true) == np.asarray(y_pred))


def worst_slice(slices: dict, min_texts: int = 20) -> tuple[str, str, dict] | None:
    """(dimension, slice, its record) of the lowest accuracy among slices of at least
    ``min_texts`` texts; None when no slice is that large."""
    found = [(rec["accuracy"], dim, name, rec) for dim, named in slices.items()
             for name, rec in named.items() if rec["n"] >= min_texts]
    if not found:
        return None
    _, dim, name, rec = min(found, key=lambda f: f[0])
    return dim, name, rec
