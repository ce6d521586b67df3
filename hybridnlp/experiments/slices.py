"""Accuracy by slice of the evaluated texts: where a classifier fails, not only how often.

Slices are the text's length (quartiles of its word count over the evaluated texts), its
share of words unseen in the training texts it was evaluated against, its true class, and any
metadata column given. The worst slice is the one with the lowest accuracy among those holding
at least ``min_texts`` texts (smaller ones are reported, not named: a 3-text slice at 0% is
noise)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from hybridnlp.text.words import WordTokenizer

__all__ = ["slice_accuracy", "worst_slice"]

UNSEEN_BUCKETS = ((0.0, 0.0, "no unseen words"), (0.0, 0.1, "up to 10% unseen"),
                  (0.1, 0.25, "10-25% unseen"), (0.25, 1.0, "over 25% unseen"))


def _words(texts: Iterable[str]) -> list[list[str]]:
    tokenize = WordTokenizer()  # the classical features' words, lowercased
    return [tokenize(t) for t in texts]


def _length_slices(lengths: np.ndarray) -> np.ndarray:
    """Each text's length bucket: the quartiles of ``lengths`` (merged where they tie)."""
    edges = np.unique(np.quantile(lengths, [0.25, 0.5, 0.75]).round().astype(int))
    names, low = [], 0
    for edge in [*edges.tolist(), None]:
        names.append(f"over {low} words" if edge is None else
                     f"{low + 1}-{edge} words" if edge > low + 1 else f"{edge} words")
        low = edge if edge is not None else low
    index = np.searchsorted(edges, lengths, side="left")
    return np.asarray(names, dtype=object)[index]


def _unseen_slices(words: list[list[str]], seen: list[set]) -> np.ndarray:
    shares = np.array([np.mean([w not in known for w in ws]) if ws else 0.0
                       for ws, known in zip(words, seen, strict=True)])
    out = np.empty(len(shares), dtype=object)
    for low, high, name in UNSEEN_BUCKETS:
        out[(shares > low) & (shares <= high) if high > low else shares == 0] = name
    return out


def slice_accuracy(texts, y_true, y_pred, *, train_vocabularies=None,
                   metadata: Mapping[str, Iterable] | None = None) -> dict:
    """``{dimension: {slice: {"n": texts, "accuracy": share right}}}`` over ``texts``.

    ``train_vocabularies``: for each text, the set of (lowercased) words of the training
    texts it was evaluated against (one set shared by all for a test split, one per fold in
    cross-validation); without it there is no "unseen words" dimension. ``metadata``: column
    name -> one value per text, a dimension each (numbers with more than 8 values are cut
    into quartiles)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    right = y_true == y_pred
    words = _words(texts)
    dims = {"length": _length_slices(np.array([len(w) for w in words])),
            "class": np.array([str(c) for c in y_true], dtype=object)}
    if train_vocabularies is not None:
        dims["unseen words"] = _unseen_slices(words, list(train_vocabularies))
    for column, values in (metadata or {}).items():
        values = np.asarray(list(values))
        if np.issubdtype(values.dtype, np.number) and len(np.unique(values)) > 8:
            edges = np.quantile(values, [0.25, 0.5, 0.75])
            values = np.array([f"quartile {q + 1}" for q in np.searchsorted(edges, values)],
                              dtype=object)
        dims[str(column)] = np.array([str(v) for v in values], dtype=object)
    out = {}
    for dim, labels in dims.items():
        order = list(dict.fromkeys(labels.tolist()))
        if dim != "length":
            order.sort()
        if dim == "unseen words":
            order = [name for *_, name in UNSEEN_BUCKETS if name in order]
        out[dim] = {name: {"n": int((labels == name).sum()),
                           "accuracy": float(right[labels == name].mean())}
                    for name in order}
    if "length" in out:  # shortest first
        out["length"] = dict(sorted(out["length"].items(), key=lambda kv: _first_int(kv[0])))
    return out


def _first_int(name: str) -> int:
    digits = "".join(c if c.isdigit() else " " for c in name).split()
    return int(digits[0]) if digits else 0


def worst_slice(slices: dict, min_texts: int = 20) -> tuple[str, str, dict] | None:
    """(dimension, slice, its record) of the lowest accuracy among slices of at least
    ``min_texts`` texts; None when no slice is that large."""
    found = [(rec["accuracy"], dim, name, rec) for dim, named in slices.items()
             for name, rec in named.items() if rec["n"] >= min_texts]
    if not found:
        return None
    _, dim, name, rec = min(found, key=lambda f: f[0])
    return dim, name, rec
