"""Multi-label targets: any number of labels per text.

``y`` is multi-label when it is a 2-D binary indicator matrix (a NumPy array, a SciPy sparse
matrix or a pandas DataFrame, one column per label: scikit-learn's form) or a list of label
lists (``[["joy", "love"], [], ["anger"]]``: ``MultiLabelBinarizer``'s form). Either becomes
a boolean (n_texts, n_labels) matrix and the label names (``classes_``): the sorted labels of
the lists, the DataFrame's columns, or ``0 .. n_labels - 1`` for a bare matrix. Rows of equal
length that hold only 0 and 1 are read as indicator rows (as ``np.asarray`` and
scikit-learn's ``type_of_target`` read them); sets are always label sets.

A multi-label classifier answers with one probability per label; ``predict`` gives the
labels whose probability reaches the label's threshold, tuned out of fold
(:func:`tune_thresholds`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from contextvars import ContextVar

import numpy as np

from hybridnlp.utils.validation import check_texts, is_missing

__all__ = ["DEFAULT_THRESHOLD", "check_multilabel", "check_texts_multilabel", "is_multilabel",
           "fit_binary", "label_f1", "label_lists", "multilabel_scores", "positive_proba",
           "skip_threshold_tuning", "tune_thresholds", "tuning_thresholds"]

DEFAULT_THRESHOLD = 0.5  # a label without positives to tune on keeps it
_TUNING: ContextVar[bool] = ContextVar("hybridnlp_tune_thresholds", default=True)
_GRID = np.round(np.arange(0.02, 0.96, 0.01), 2)  # the thresholds tried


@contextlib.contextmanager
def skip_threshold_tuning() -> Iterator[None]:
    """Inside the block, multi-label classifiers keep ``DEFAULT_THRESHOLD`` for every label
    instead of tuning thresholds out of fold: a hybrid's component fits (the hybrid tunes
    its own on its combined probabilities; the components' would cost extra fits unused)."""
    token = _TUNING.set(False)
    try:
        yield
    finally:
        _TUNING.reset(token)


def tuning_thresholds() -> bool:
    """False inside :func:`skip_threshold_tuning`."""
    return _TUNING.get()


def is_multilabel(y) -> bool:
    """True for a 2-D indicator matrix (more than one column) or a list of label lists."""
    if hasattr(y, "tocsr") or type(y).__name__ == "DataFrame":
        return True
    if isinstance(y, np.ndarray):
        return y.ndim == 2 and y.shape[1] > 1 or (y.dtype == object and _rows_are_lists(y))
    if isinstance(y, str | bytes) or not isinstance(y, Sequence):
        return False
    return _rows_are_lists(y)


def _rows_are_lists(y) -> bool:
    first = next((row for row in y if not is_missing(row)), None)
    return isinstance(first, list | tuple | set | frozenset | np.ndarray)


def check_multilabel(y, *, n: int | None = None, classes=None,
                     name: str = "y") -> tuple[np.ndarray, np.ndarray]:
    """``(Y, classes)``: ``y`` as a boolean (n_texts, n_labels) matrix and its label names.

    With ``classes`` (a fitted model's), ``y`` is read against them: the matrix must have as
    many columns, the lists may only hold those labels (an unseen one is an error naming it).
    """
    if hasattr(y, "tocsr"):  # scipy sparse
        y = y.toarray()
    columns = None
    if type(y).__name__ == "DataFrame":
        columns = np.asarray(y.columns.tolist())
        y = y.to_numpy()
    if isinstance(y, np.ndarray) and y.ndim == 2:
        Y, found = _indicator(y, name), columns
    else:
        rows = list(y)
        if _indicator_rows(rows):
            Y, found = _indicator(np.asarray(rows), name), None
        else:
            Y, found = _from_lists(rows, name, classes)
    if found is None:
        found = np.arange(Y.shape[1]) if classes is None else np.asarray(classes)
    if n is not None and len(Y) != n:
        raise ValueError(f"X and {name} have different lengths: {n} texts and {len(Y)} label "
                         f"rows; pass one row of labels per text.")
    if classes is not None and Y.shape[1] != len(classes):
        raise ValueError(f"{name} has {Y.shape[1]} label columns; the classifier was fit on "
                         f"{len(classes)} labels ({list(classes)[:10]}...).")
    if classes is None and Y.shape[1] < 2:
        raise ValueError(f"{name} holds {Y.shape[1]} label(s); multi-label classification needs "
                         f"at least 2 (for one label, pass it as a binary target: one 0/1 per "
                         f"text).")
    return Y, found


def _indicator_rows(rows: list) -> bool:
    """Rows of equal length (>= 2) holding only 0/1 numbers: an indicator matrix as lists."""
    if not rows or not all(isinstance(r, list | tuple | np.ndarray) for r in rows):
        return False
    width = len(rows[0])
    return width >= 2 and all(len(r) == width for r in rows) and all(
        isinstance(v, int | bool | np.integer | np.bool_) and v in (0, 1)
        for r in rows for v in r)


def _indicator(y: np.ndarray, name: str) -> np.ndarray:
    if y.dtype == bool:
        return y.copy()
    try:
        values = y.astype(np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} is a 2-D array but not of numbers; a multi-label indicator "
                         f"matrix holds 0 and 1 (one column per label).") from None
    bad = np.argwhere((values != 0) & (values != 1))
    if len(bad):
        i, j = bad[0]
        raise ValueError(f"{name} is a 2-D array but holds {values[i, j].item():g} at row "
                         f"{i}, column {j}; a multi-label indicator matrix holds only 0 and 1 "
                         f"(for several real-valued targets use a regressor).")
    return values.astype(bool)


def _from_lists(rows: list, name: str, classes) -> tuple[np.ndarray, np.ndarray]:
    for i, row in enumerate(rows):
        if is_missing(row) or isinstance(row, str | bytes) or not hasattr(row, "__iter__"):
            raise ValueError(f"{name}[{i}] is {row!r}; every item of a multi-label y is a list "
                             f"of that text's labels ([] for none).")
        for label in row:
            if is_missing(label) or isinstance(label, list | dict | set):
                raise ValueError(f"{name}[{i}] holds {label!r}; labels are strings or "
                                 f"integers.")
    found = sorted({label for row in rows for label in row}, key=lambda v: (str(type(v)), v))
    if classes is not None:
        known = set(np.asarray(classes).tolist())
        unseen = [label for label in found if label not in known]
        if unseen:
            first = next(i for i, row in enumerate(rows) if unseen[0] in row)
            raise ValueError(f"{name} contains labels unseen at fit time: {unseen} (first at "
                             f"index {first}); the classifier knows "
                             f"{np.asarray(classes).tolist()}.")
        found = np.asarray(classes).tolist()
    index = {label: j for j, label in enumerate(found)}
    Y = np.zeros((len(rows), len(found)), dtype=bool)
    for i, row in enumerate(rows):
        for label in row:
            Y[i, index[label]] = True
    return Y, np.asarray(found)


def check_texts_multilabel(X, y, *, require_words: bool = True, classes=None
                           ) -> tuple[list[str], np.ndarray, np.ndarray]:
    """``(texts, Y, classes)``: the texts checked, ``y`` as :func:`check_multilabel` reads it."""
    texts = check_texts(X, name="X", require_words=require_words)
    Y, found = check_multilabel(y, n=len(texts), classes=classes)
    return texts, Y, found


def label_lists(Y: np.ndarray, classes) -> list[list]:
    """The labels of each row of an indicator matrix (``MultiLabelBinarizer.inverse_transform``)."""
    classes = np.asarray(classes).tolist()
    return [[classes[j] for j in np.flatnonzero(row)] for row in np.asarray(Y)]


def _counts(proba_j: np.ndarray, y_j: np.ndarray, w: np.ndarray):
    """True positives, false positives and false negatives of one label at every threshold of
    the grid (weighted)."""
    pred = proba_j[:, None] >= _GRID[None, :]  # (n, G)
    pos = (y_j * w)[:, None]
    tp = (pred * pos).sum(axis=0)
    fp = (pred * ((~y_j) * w)[:, None]).sum(axis=0)
    fn = pos.sum() - tp
    return tp, fp, fn


def tune_thresholds(proba, Y, *, sample_weight=None, sweeps: int = 2) -> np.ndarray:
    """One threshold per label maximising the micro-averaged F1 of ``proba`` (held-out
    probabilities, (n, n_labels)) against ``Y``: each label's F1-best threshold first, then
    ``sweeps`` rounds of coordinate ascent on the micro F1 (a label's threshold moved with
    the others fixed). A label without positives in ``Y`` keeps ``DEFAULT_THRESHOLD``; ties
    go to the threshold nearest it."""
    proba = np.asarray(proba, dtype=np.float64)
    Y = np.asarray(Y, dtype=bool)
    w = np.ones(len(Y)) if sample_weight is None else np.asarray(sample_weight, np.float64)
    K = Y.shape[1]
    stats = [_counts(proba[:, j], Y[:, j], w) for j in range(K)]
    tie_break = -np.abs(_GRID - DEFAULT_THRESHOLD) * 1e-9
    choice = np.full(K, int(np.argmin(np.abs(_GRID - DEFAULT_THRESHOLD))))
    has_pos = Y.any(axis=0)
    for j in np.flatnonzero(has_pos):
        tp, fp, fn = stats[j]
        f1 = 2 * tp / np.maximum(2 * tp + fp + fn, 1e-12)
        choice[j] = int(np.argmax(f1 + tie_break))
    totals = np.sum([[tp[c], fp[c], fn[c]] for (tp, fp, fn), c in zip(stats, choice)], axis=0)
    for _ in range(sweeps):
        for j in np.flatnonzero(has_pos):
            tp, fp, fn = stats[j]
            others = totals - (tp[choice[j]], fp[choice[j]], fn[choice[j]])
            tps = others[0] + tp
            micro = 2 * tps / np.maximum(2 * tps + others[1] + fp + others[2] + fn, 1e-12)
            choice[j] = int(np.argmax(micro + tie_break))
            totals = others + (tp[choice[j]], fp[choice[j]], fn[choice[j]])
    return _GRID[choice].astype(np.float64)


def label_f1(Y_true, Y_pred) -> np.ndarray:
    """Each label's F1 (n_labels,); a label neither true nor predicted anywhere counts 0."""
    t, p = np.asarray(Y_true, dtype=bool), np.asarray(Y_pred, dtype=bool)
    tp = 2.0 * (t & p).sum(axis=0)
    denom = tp + (t ^ p).sum(axis=0)
    return np.divide(tp, denom, out=np.zeros_like(tp), where=denom > 0)


def positive_proba(est, X) -> np.ndarray:
    """A fitted binary classifier's probability of 1 (a constant model of 0s: zeros)."""
    p = est.predict_proba(X)
    return p[:, list(est.classes_).index(1)] if 1 in est.classes_ else np.zeros(len(p))


def fit_binary(clf, X, y, fit=None):
    """A clone of ``clf`` fit on a binary 0/1 ``y`` by ``fit(estimator, X, y)`` (default:
    ``estimator.fit(X, y)``); a ``y`` that is always or never 1 (a rare label in a small
    fold) gets a constant model, ``DummyClassifier(strategy="prior")``."""
    from sklearn.base import clone
    from sklearn.dummy import DummyClassifier

    if len(np.unique(y)) < 2:
        return DummyClassifier(strategy="prior").fit(X, y)
    est = clone(clf)
    return est.fit(X, y) if fit is None else fit(est, X, y)


def multilabel_scores(Y_true, Y_pred) -> dict:
    """``micro_f1``, ``macro_f1`` (the mean over labels of each label's F1; a label neither
    true nor predicted anywhere counts 0, as scikit-learn's ``zero_division=0``),
    ``subset_accuracy`` (the share of texts whose label set is exactly right) and
    ``hamming_loss`` (the share of wrong label decisions)."""
    t = np.asarray(Y_true, dtype=bool)
    p = np.asarray(Y_pred, dtype=bool)
    if t.shape != p.shape or t.ndim != 2:
        raise ValueError(f"Y_true and Y_pred must be indicator matrices of one shape; got "
                         f"{t.shape} and {p.shape}.")
    tp = (t & p).sum(axis=0)
    wrong = (t ^ p).sum(axis=0)  # false positives and false negatives
    denom = 2 * tp.sum() + wrong.sum()
    return {
        "micro_f1": float(2 * tp.sum() / denom) if denom else 0.0,
        "macro_f1": float(label_f1(t, p).mean()),
        "subset_accuracy": float((t == p).all(axis=1).mean()),
        "hamming_loss": float((t != p).mean()),
    }
