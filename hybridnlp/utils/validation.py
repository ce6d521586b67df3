"""Validation of the text and label inputs every estimator receives.

Errors name the argument, the index of the first bad item, what was received and the fix, so that
``fit(texts, y)`` on a list with one ``None`` in it says where the ``None`` is.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

__all__ = [
    "PAIR_SEPARATOR",
    "check_fitted",
    "check_choice",
    "check_labels",
    "check_ngram_range",
    "check_sample_weight",
    "check_texts_targets",
    "check_number",
    "check_texts",
    "check_texts_labels",
    "is_missing",
    "is_pairs",
    "join_pairs",
    "text_input_tags",
]


def text_input_tags(tags):
    """scikit-learn tags of an estimator whose input is a list of texts, not a 2-D array."""
    tags.input_tags.two_d_array = False
    tags.input_tags.string = True
    return tags


def is_missing(value: Any) -> bool:
    """True for None, float NaN (numpy or Python) and pandas' NA/NaT."""
    if value is None:
        return True
    if isinstance(value, float | np.floating):
        return math.isnan(value)
    return type(value).__name__ in {"NAType", "NaTType"}


def _as_sequence(values: Any, name: str, what: str) -> Sequence:
    """Turn list/tuple/ndarray/Series input into an indexable sequence, rejecting a lone string."""
    if isinstance(values, str | bytes):
        raise TypeError(
            f"{name} must be a list of {what}, got a single {type(values).__name__}; "
            f"wrap it in a list: [{name}]."
        )
    if hasattr(values, "to_numpy") and not isinstance(values, np.ndarray):  # pandas
        values = values.to_numpy(dtype=object)
    if isinstance(values, np.ndarray):
        if values.ndim != 1:
            raise ValueError(
                f"{name} must be one-dimensional (one item per example), "
                f"got an array of shape {values.shape}."
            )
        return values
    if isinstance(values, Sequence):
        return values
    if isinstance(values, Iterable):
        raise TypeError(
            f"{name} must be a list, tuple, numpy array or pandas Series of {what}, "
            f"got a {type(values).__name__}; materialise it first, e.g. list({name})."
        )
    raise TypeError(
        f"{name} must be a list, tuple, numpy array or pandas Series of {what}, "
        f"got {type(values).__name__}."
    )


PAIR_SEPARATOR = " [SEP] "  # between the two texts of a sentence pair, once joined


def is_pairs(texts: Any) -> bool:
    """Sentence pairs: a 2-column DataFrame or (n, 2) array of strings, or a list whose items
    are 2-tuples (or 2-lists) of strings."""
    if type(texts).__name__ == "DataFrame":
        return texts.shape[1] == 2
    if isinstance(texts, np.ndarray):
        return texts.ndim == 2 and texts.shape[1] == 2
    if isinstance(texts, str | bytes) or not isinstance(texts, Sequence) or not len(texts):
        return False
    first = texts[0]
    return isinstance(first, tuple | list) and len(first) == 2 and all(
        isinstance(t, str) for t in first)


def join_pairs(pairs: Any, *, name: str = "X") -> list[str]:
    """Each pair ``(a, b)`` as one text ``a + PAIR_SEPARATOR + b``: what every estimator
    reads (the neural ones see the separator between the two; ``PairFeatures`` splits them
    apart again)."""
    rows = pairs.to_numpy(dtype=object) if type(pairs).__name__ == "DataFrame" else pairs
    out = []
    for i, pair in enumerate(rows):
        if not (len(pair) == 2 and all(isinstance(t, str) for t in pair)):
            raise TypeError(f"{name}[{i}] is {pair!r:.60}; sentence pairs are two strings each, "
                            f"(text_a, text_b).")
        out.append(f"{pair[0]}{PAIR_SEPARATOR}{pair[1]}")
    return out


def check_texts(texts: Any, *, name: str = "X", require_words: bool = False) -> list[str]:
    """Validate a collection of texts and return it as a ``list[str]``; sentence pairs
    (:func:`is_pairs`) come back joined (:func:`join_pairs`).

    Parameters
    ----------
    texts : list, tuple, numpy array or pandas Series of str
        The texts.
    name : str, default="X"
        The argument name used in error messages.
    require_words : bool, default=False
        Also reject input in which every text is empty or whitespace (used by ``fit``: a model
        cannot learn a vocabulary from nothing).

    Returns
    -------
    list of str

    Raises
    ------
    TypeError
        A single string instead of a list, bytes, or a non-string item.
    ValueError
        Empty input, a missing value (None, NaN), or (with ``require_words``) only blank texts.

    Examples
    --------
    >>> check_texts(["a good film", "a bad one"])
    ['a good film', 'a bad one']
    """
    if is_pairs(texts):
        texts = join_pairs(texts, name=name)
    elif type(texts).__name__ == "DataFrame" and texts.shape[1] == 1:  # its one column
        texts = texts.iloc[:, 0]
    seq = _as_sequence(texts, name, "str")
    if len(seq) == 0:
        raise ValueError(f"{name} is empty: got 0 texts; pass at least one text.")
    out = []
    for i, text in enumerate(seq):
        if isinstance(text, str):
            out.append(str(text))  # np.str_ -> str
            continue
        if is_missing(text):
            raise ValueError(
                f"{name} contains a missing value ({text!r}) at index {i}; drop those examples "
                f"or fill them with a string (e.g. '') first."
            )
        if isinstance(text, bytes | bytearray):
            raise TypeError(
                f"{name}[{i}] is bytes, not str; decode the texts first, "
                f"e.g. text.decode('utf-8')."
            )
        raise TypeError(
            f"{name}[{i}] has type {type(text).__name__}; every text must be a str "
            f"(got {text!r:.50})."
        )
    if require_words and not any(text.strip() for text in out):
        raise ValueError(
            f"{name} contains only empty or whitespace-only texts ({len(out)} of them, "
            f"first at index 0); at least one text must contain a word."
        )
    return out


def check_labels(y: Any, *, name: str = "y", min_classes: int = 2) -> np.ndarray:
    """Validate labels and return them as a 1-d numpy array.

    Labels may be any hashable (str, int, bool ...). A missing label (None, NaN) is an error,
    and so is fewer than ``min_classes`` distinct classes.
    """
    seq = _as_sequence(y, name, "labels")
    if len(seq) == 0:
        raise ValueError(f"{name} is empty: got 0 labels; pass one label per text.")
    for i, label in enumerate(seq):
        if is_missing(label):
            raise ValueError(
                f"{name} contains a missing label ({label!r}) at index {i}; drop those "
                f"examples before fitting."
            )
    kinds = {"string" if isinstance(label, str | np.str_) else "number" for label in seq}
    if len(kinds) > 1:
        first = next(i for i, label in enumerate(seq) if not isinstance(label, str | np.str_))
        raise TypeError(f"{name} mixes strings and numbers (e.g. {seq[0]!r} and "
                        f"{seq[first]!r} at index {first}); they would all become strings. "
                        f"Give every label the same type.")
    arr = np.asarray(seq)
    if arr.ndim != 1:
        arr = np.empty(len(seq), dtype=object)
        arr[:] = list(seq)
    if arr.dtype.kind == "f" and np.any(arr != np.round(arr)):
        raise ValueError(f"Unknown label type: continuous. {name} holds non-integer numbers "
                         f"(e.g. {float(arr[np.flatnonzero(arr != np.round(arr))[0]])!r}); a "
                         f"classifier needs discrete classes (strings or integers), not a "
                         f"regression target.")
    n_classes = len(np.unique(arr))
    if n_classes < min_classes:
        first = arr[0].item() if isinstance(arr[0], np.generic) else arr[0]
        found = f"a single class ({first!r})" if n_classes == 1 else f"{n_classes} classes"
        raise ValueError(
            f"{name} contains {found}; a classifier needs at least {min_classes} classes. "
            f"Check that the labels were read from the right column."
        )
    return arr


def check_texts_labels(
    texts: Any, y: Any, *, min_classes: int = 2, require_words: bool = True
) -> tuple[list[str], np.ndarray]:
    """Validate texts and labels: each on its own, then their lengths against each other."""
    texts = check_texts(texts, name="X", require_words=require_words)
    seq = _as_sequence(y, "y", "labels")
    if len(seq) != len(texts):
        raise ValueError(
            f"X and y have different lengths: {len(texts)} texts and {len(seq)} labels; "
            f"pass one label per text."
        )
    return texts, check_labels(seq, min_classes=min_classes)


def check_texts_targets(texts: Any, y: Any, *, require_words: bool = True
                        ) -> tuple[list[str], np.ndarray]:
    """Validate texts and regression targets: ``y`` numbers, one per text (1-D) or one row
    of several targets per text (2-D), all finite; returned as float64."""
    texts = check_texts(texts, name="X", require_words=require_words)
    try:
        values = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("y must hold numbers (regression targets); a regressor cannot learn "
                         "text labels: use a classifier for them.") from None
    if values.ndim not in (1, 2) or len(values) != len(texts):
        raise ValueError(f"y must be one number per text or one row of targets per text; "
                         f"got shape {values.shape} for {len(texts)} texts.")
    bad = np.flatnonzero(~np.isfinite(values).reshape(len(values), -1).all(axis=1))
    if len(bad):
        raise ValueError(f"y holds a missing or infinite value at index {int(bad[0])} "
                         f"({len(bad)} rows in all); drop those rows or fill them in.")
    return texts, values


def check_sample_weight(sample_weight: Any, n: int) -> np.ndarray | None:
    """``sample_weight`` as float64 (n,): finite, non-negative, not all zero; None stays
    None (every example weighs 1)."""
    if sample_weight is None:
        return None
    try:
        w = np.asarray(sample_weight, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("sample_weight must hold numbers, one per text.") from None
    if w.shape != (n,):
        raise ValueError(f"sample_weight has shape {w.shape}; pass one weight per text "
                         f"({n}).")
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError("sample_weight must be finite and non-negative; a weight of 0 "
                         "leaves an example out.")
    if not w.sum() > 0:
        raise ValueError("sample_weight sums to 0: no example would count.")
    return w


def check_choice(name: str, value: Any, allowed: Sequence) -> Any:
    """Raise a ValueError naming the parameter, the allowed values and the closest one."""
    if value in allowed:
        return value
    import difflib

    close = difflib.get_close_matches(str(value), [str(a) for a in allowed], n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(
        f"{name}={value!r} is not allowed; choose one of "
        f"{', '.join(repr(a) for a in allowed)}.{hint}"
    )


def check_ngram_range(name: str, value: Any) -> tuple[int, int]:
    """An (min_n, max_n) pair with 1 <= min_n <= max_n."""
    ok = (
        isinstance(value, tuple | list)
        and len(value) == 2
        and all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in value)
        and 1 <= value[0] <= value[1]
    )
    if not ok:
        raise ValueError(
            f"{name}={value!r} is not a valid n-gram range; pass (min_n, max_n) with "
            f"1 <= min_n <= max_n, e.g. (1, 2)."
        )
    return int(value[0]), int(value[1])


def check_fitted(estimator, attributes: str | Sequence[str] | None = None) -> None:
    """The one not-fitted check of every estimator: scikit-learn's ``check_is_fitted`` (the
    learned attributes ``attributes``, or any attribute ending in ``_``), raising its
    ``NotFittedError`` (a ValueError and AttributeError, as scikit-learn's tools expect) with
    one message: "this NAME is not fitted yet; call fit first."."""
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(estimator, attributes,
                    msg=f"this {type(estimator).__name__} is not fitted yet; call fit first.")


def check_number(name: str, value: Any, kind: type = int, *, low: float | None = None,
                 high: float | None = None, low_open: bool = False, high_open: bool = False,
                 none_ok: bool = False) -> Any:
    """``value`` as ``kind`` (int, or float which also takes ints) within [low, high] (open
    at either end with ``low_open``/``high_open``); a TypeError for a wrong type (a string,
    a bool) and a ValueError for a value out of range, each naming the parameter and what it
    takes."""
    if value is None and none_ok:
        return None
    numeric = (int, np.integer) if kind is int else (int, float, np.integer, np.floating)
    if isinstance(value, bool) or not isinstance(value, numeric):
        what = "an integer" if kind is int else "a number"
        raise TypeError(f"{name}={value!r} is a {type(value).__name__}; it takes {what}"
                        f"{' or None' if none_ok else ''}.")
    if kind is float and not np.isfinite(value):
        raise ValueError(f"{name}={value!r} is not finite.")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        bounds = []
        if low is not None:
            bounds.append(f"{'>' if low_open else '>='} {low}")
        if high is not None:
            bounds.append(f"{'<' if high_open else '<='} {high}")
        raise ValueError(f"{name}={value!r} is out of range; it must be {' and '.join(bounds)}.")
    return kind(value)

