"""``class_weight`` as every classifier of hybridnlp takes it: None, "balanced" (n_samples /
(n_classes * count of the class), scikit-learn's) or a dict class -> weight (others 1)."""

from __future__ import annotations

import numpy as np

from hybridnlp.utils.validation import check_choice, check_number

__all__ = ["class_weights", "weighted_by_class"]


def class_weights(class_weight, classes: np.ndarray, y_idx: np.ndarray) -> np.ndarray:
    """One weight per class of ``classes`` (``y_idx``: the training labels' indices),
    checked: a dict naming a class not in ``classes`` or a weight not > 0 is refused."""
    from sklearn.utils.class_weight import compute_class_weight

    n = len(classes)
    if class_weight is None:
        return np.ones(n)
    if isinstance(class_weight, str):
        check_choice("class_weight", class_weight, ("balanced",))
    elif not isinstance(class_weight, dict):
        raise TypeError(f"class_weight={class_weight!r} must be None, 'balanced' or a dict "
                        f"of class -> weight.")
    else:
        unknown = [c for c in class_weight if c not in set(classes.tolist())]
        if unknown:
            raise ValueError(f"class_weight names classes not in y: {unknown}; the classes "
                             f"are {classes.tolist()}.")
        for c, w in class_weight.items():
            check_number(f"class_weight[{c!r}]", w, float, low=0, low_open=True)
    return compute_class_weight(
        class_weight if isinstance(class_weight, str) else
        {i: class_weight.get(c, 1.0) for i, c in enumerate(classes)},
        classes=np.arange(n), y=y_idx)


def weighted_by_class(sample_weight, class_weight, classes: np.ndarray,
                      y) -> np.ndarray | None:
    """Each text's weight: its ``sample_weight`` (checked already, or None) times its class's
    weight, as scikit-learn's estimators combine the two; None when both are None."""
    if class_weight is None:
        return sample_weight
    y_idx = np.searchsorted(classes, y)
    w = class_weights(class_weight, classes, y_idx)[y_idx]
    return w if sample_weight is None else w * sample_weight
