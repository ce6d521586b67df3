"""What every classical text transformer shares: input validation and scikit-learn tags."""

from __future__ import annotations

import copy
import os

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from hybridnlp.utils.deprecation import RenamedParams
from hybridnlp.utils.multilabel import check_texts_multilabel, is_multilabel
from hybridnlp.utils.saving import SaveMixin
from hybridnlp.utils.validation import (
    check_fitted,
    check_labels,
    check_texts,
    check_texts_labels,
    text_input_tags,
)

__all__ = ["SparseOutput", "TextTransformer"]


class TextTransformer(RenamedParams, SaveMixin, TransformerMixin, BaseEstimator):
    """Base class: a scikit-learn transformer whose input is a list of texts.

    Subclasses implement ``fit`` and ``transform`` and call ``_validate_fit`` /
    ``_validate_transform`` first, so every one rejects bad input with the same messages.
    Those with ``_streams = True`` also take a file path or a ``TextStream`` and get the
    stream back (iterable more than once, never held whole); the others get it as a list.
    """

    _requires_y = False
    _streams = False
    _renamed = {"tokenizer": "segmenter"}  # the word splitter's old name, for one release

    def _validate_fit(self, X, y=None):
        stream = _as_stream(X)
        if stream is not None:
            if self._requires_y and y is None:
                raise ValueError(f"{type(self).__name__} is supervised: fit(X, y) needs labels "
                                 f"y, got None.")
            if self._requires_y:
                y = check_labels(y)
                if len(y) != len(stream):  # one cheap pass before the expensive ones
                    raise ValueError(f"X and y have different lengths: {len(stream)} texts in "
                                     f"{stream.path.name} and {len(y)} labels; pass one label "
                                     f"per text.")
            return self._stream_texts(stream), (y if self._requires_y else None)
        if self._requires_y:
            if y is None:
                raise ValueError(
                    f"{type(self).__name__} is supervised: fit(X, y) needs labels y, got None."
                )
            if is_multilabel(y):  # a boolean indicator matrix; classes_ set here
                texts, y, self.classes_ = check_texts_multilabel(X, y)
                return texts, y
            return check_texts_labels(X, y)
        return check_texts(X, name="X", require_words=True), None

    def _validate_transform(self, X):
        check_fitted(self)
        stream = _as_stream(X)
        return check_texts(X, name="X") if stream is None else self._stream_texts(stream)

    def _stream_texts(self, stream):
        """The stream itself for the transformers that stream, its texts as a list for the
        others."""
        return stream if self._streams else check_texts(list(stream))

    # A fitted n-gram vocabulary is a dict of up to millions of strings; stored as one UTF-8
    # byte array and offsets it pickles and skops-saves compactly (skops writes a dict item by
    # item) and without object arrays. ``stop_words_`` (pruned terms, introspection only) goes.
    def __getstate__(self) -> dict:
        state = dict(super().__getstate__())  # object.__getstate__ is __dict__ itself
        if "vectorizers_" in state:
            state["vectorizers_"] = [_pack(name, vec) for name, vec in state["vectorizers_"]]
        return state

    def __setstate__(self, state: dict) -> None:
        if "vectorizers_" in state:
            state = dict(state)
            state["vectorizers_"] = [_unpack(*item) for item in state["vectorizers_"]]
        super().__setstate__(state)

    def __sklearn_tags__(self):
        tags = text_input_tags(super().__sklearn_tags__())
        tags.target_tags.required = self._requires_y
        return tags


class SparseOutput:
    """``set_output(transform="pandas")`` for the transformers whose output is a sparse
    matrix (TF-IDF, NB ratios): a DataFrame of pandas sparse columns named as
    ``get_feature_names_out`` (scikit-learn's own wrapper refuses sparse output, and a dense
    frame of every n-gram would not fit in memory). Subclasses are declared with
    ``auto_wrap_output_keys=None`` and pass their outputs through ``_output``."""

    def set_output(self, *, transform=None):
        """``"pandas"``: ``transform`` and ``fit_transform`` return DataFrames (sparse
        columns); ``"default"``: SciPy sparse matrices; None: unchanged. Returns self."""
        if transform not in (None, "default", "pandas"):
            raise ValueError(f"set_output(transform={transform!r}): {type(self).__name__} "
                             f"gives 'pandas' (sparse columns) or 'default' (a SciPy sparse "
                             f"matrix).")
        if transform is not None:
            self._sparse_output = transform
        return self

    def _output(self, X):
        if getattr(self, "_sparse_output", "default") != "pandas":
            return X
        import pandas as pd

        return pd.DataFrame.sparse.from_spmatrix(X, columns=self.get_feature_names_out())


def _as_stream(X):
    """``X`` as a ``TextStream`` when it is one or a path, else None."""
    from hybridnlp.datasets.files import TextStream

    if isinstance(X, TextStream):
        return X
    if isinstance(X, os.PathLike):
        return TextStream(X)
    return None


def _pack(name: str, vec):
    vec = copy.copy(vec)
    vocab = vec.__dict__.pop("vocabulary_", None)
    vec.__dict__.pop("stop_words_", None)
    if vocab is None:
        return (name, vec, None, None)
    terms = sorted(vocab, key=vocab.__getitem__)  # column order
    encoded = [t.encode("utf-8") for t in terms]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    return (name, vec, np.frombuffer(b"".join(encoded), dtype=np.uint8).copy(), offsets)


def _unpack(name: str, vec, data, offsets):
    if data is not None:
        raw = data.tobytes()
        bounds = offsets.tolist()
        vec.vocabulary_ = {raw[bounds[i]:bounds[i + 1]].decode("utf-8"): i
                           for i in range(len(bounds) - 1)}
    return (name, vec)
