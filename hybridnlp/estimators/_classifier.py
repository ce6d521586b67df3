"""What every text classifier (and regressor) of hybridnlp shares (the neural ones and the
hybrids)."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import ClassifierMixin, RegressorMixin

from hybridnlp.utils.multilabel import (
    DEFAULT_THRESHOLD,
    check_texts_multilabel,
    tune_thresholds,
    tuning_thresholds,
)
from hybridnlp.utils.saving import SaveMixin
from hybridnlp.utils.validation import check_fitted, check_texts_labels, check_texts_targets

__all__ = ["LogitTemperature", "TextClassifierMixin", "TextRegressorMixin"]


class TextClassifierMixin(SaveMixin, ClassifierMixin):
    """``score`` as scikit-learn's accuracy, but a label never seen in ``fit`` is an error
    naming it, not a silent miss (``score`` on a misspelt label set returned 0.0).

    Multi-label (``fit`` on an indicator matrix or label lists,
    :mod:`hybridnlp.utils.multilabel`): ``multilabel_`` is True, ``classes_`` the labels,
    ``predict_proba`` one probability per label, ``predict`` the indicator matrix of the
    labels at or above ``thresholds_`` (one per label, tuned out of fold), ``score`` the
    subset accuracy (scikit-learn's ``accuracy_score`` on indicator matrices)."""

    def score(self, X, y, sample_weight=None) -> float:
        check_fitted(self)
        if self._is_multilabel:
            texts, Y, _ = check_texts_multilabel(X, y, require_words=False,
                                                 classes=self.classes_)
            exact = (self.predict(texts).astype(bool) == Y).all(axis=1)
            return float(np.average(exact, weights=sample_weight))
        table = getattr(self, "text_column", None) is not None  # a hybrid's DataFrame
        texts, y = check_texts_labels(self._split_input(X)[0] if table else X, y,
                                      require_words=False, min_classes=1)
        known = set(self.classes_.tolist())
        labels = y.tolist()
        unseen = [i for i, label in enumerate(labels) if label not in known]
        if unseen:
            raise ValueError(
                f"y contains labels unseen at fit time: {sorted({labels[i] for i in unseen})} "
                f"(first at index {unseen[0]}); the classifier knows {self.classes_.tolist()}."
            )
        return super().score(X if table else texts, y, sample_weight=sample_weight)

    @property
    def _is_multilabel(self) -> bool:
        return bool(getattr(self, "multilabel_", False))

    def _labels_of(self, proba: np.ndarray) -> np.ndarray:
        """``predict`` from ``predict_proba``: the most probable class, or (multi-label) the
        indicator matrix of the labels at or above their thresholds."""
        if self._is_multilabel:
            return (proba >= self.thresholds_).astype(np.int64)
        return self.classes_[np.asarray(proba).argmax(axis=1)]

    def _set_thresholds(self, proba=None, Y=None) -> None:
        """``thresholds_``: tuned on held-out per-label probabilities ``proba`` against
        ``Y`` (``tune_thresholds``), or ``DEFAULT_THRESHOLD`` for every label without them
        (so inside a hybrid's component fits: the hybrid's thresholds decide its labels)."""
        if proba is None or not tuning_thresholds():
            self.thresholds_ = np.full(len(self.classes_), DEFAULT_THRESHOLD)
        else:
            self.thresholds_ = tune_thresholds(proba, Y)

    def explain(self, X, *, labels=None, method="auto"):
        """Why each text of ``X`` got its label: one
        :class:`~hybridnlp.estimators.explain.Explanation` per text (its words, each word's
        contribution to the score toward the label, n-gram contributions where the model
        has n-grams). ``labels``: the class to explain per text (default: the predicted
        one); ``method``: ``"auto"`` (exact for linear n-gram and fastText models,
        occlusion otherwise), ``"exact"``, ``"occlusion"`` or ``"integrated_gradients"``."""
        from hybridnlp.estimators.explain import explain

        return explain(self, X, labels=labels, method=method)


class TextRegressorMixin(SaveMixin, RegressorMixin):
    """``score`` as scikit-learn's R^2 (averaged over targets), with the texts and targets
    checked as ``fit`` checks them."""

    def score(self, X, y, sample_weight=None) -> float:
        check_fitted(self)
        texts, y = check_texts_targets(X, y, require_words=False)
        return super().score(texts, y, sample_weight=sample_weight)



class LogitTemperature:
    """What a neural classifier fits on its validation texts after training:

    - ``calibrate=True``: one temperature (Guo et al. 2017) fit to the log loss of its
      logits on the validation texts it held out (the texts early stopping watched: one
      number, so it barely overfits them), and ``predict_proba`` is
      ``softmax(logits / temperature_)``; ``predict`` is unchanged;
    - multi-label: each label's threshold (``thresholds_``), tuned on the validation texts'
      sigmoid probabilities (``DEFAULT_THRESHOLD`` without validation texts)."""

    def _check_calibration(self, has_validation: bool, multilabel: bool = False) -> None:
        """Before any training: ``calibrate`` needs held-out texts (and one label per
        text); a multi-label fit takes no class weights."""
        if not isinstance(self.calibrate, bool):
            raise ValueError(f"calibrate={self.calibrate!r} must be True or False.")
        if multilabel and self.calibrate:
            raise ValueError("calibrate=True scales a softmax over classes, but y is "
                             "multi-label (one sigmoid per label, with tuned thresholds); "
                             "set calibrate=False.")
        if multilabel and self.class_weight is not None:
            raise ValueError(f"class_weight={self.class_weight!r} weighs one class per text, "
                             f"but y is multi-label; weigh texts with fit's sample_weight "
                             f"instead.")
        if self.calibrate and not has_validation:
            raise ValueError(f"calibrate=True fits a temperature on held-out texts and "
                             f"{type(self).__name__} holds none out; pass validation_data=, "
                             f"or set validation_fraction (with patience) to hold some out.")

    def _check_warm_classes(self, classes, multilabel: bool) -> None:
        """A warm start continues with the first fit's classes (labels)."""
        if multilabel != self._is_multilabel:
            raise ValueError("warm_start=True but y is multi-label in one fit and not in the "
                             "other; fit a new classifier instead.")
        unknown = set(np.asarray(classes).tolist()) - set(self.classes_.tolist())
        if unknown or (multilabel and len(classes) != len(self.classes_)):
            raise ValueError(f"warm_start=True but y has classes unseen in the first fit: "
                             f"{sorted(unknown)}; fit a new classifier instead.")

    def _fit_calibration(self, val_texts, val_y) -> None:
        """``temperature_`` from the logits on the validation texts (1.0 without
        ``calibrate``); multi-label, ``thresholds_``."""
        from hybridnlp.utils.calibration import fit_temperature

        self.temperature_ = 1.0
        if self._is_multilabel:
            self._set_thresholds(None if val_texts is None else
                                 self._scaled_proba(self._class_logits(val_texts)), val_y)
        elif self.calibrate:
            logits = self._class_logits(val_texts).double()
            self.temperature_ = fit_temperature(torch.softmax(logits, -1).numpy(),
                                                np.asarray(val_y))

    def _scaled_proba(self, logits: torch.Tensor) -> np.ndarray:
        """Class probabilities, float64 (float32 rows sum to 1 only within 1e-7); each
        label's sigmoid for a multi-label classifier."""
        if self._is_multilabel:
            return torch.sigmoid(logits.double()).numpy()
        return torch.softmax(logits.double() / getattr(self, "temperature_", 1.0), -1).numpy()
