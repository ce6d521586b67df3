"""What every text classifier (and regressor) of hybridnlp shares (the neural ones and the
hybrids)."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import ClassifierMixin, RegressorMixin

from hybridnlp.utils.saving import SaveMixin
from hybridnlp.utils.validation import check_fitted, check_texts_labels, check_texts_targets

__all__ = ["LogitTemperature", "TextClassifierMixin", "TextRegressorMixin"]


class TextClassifierMixin(SaveMixin, ClassifierMixin):
    """``score`` as scikit-learn's accuracy, but a label never seen in ``fit`` is an error
    naming it, not a silent miss (``score`` on a misspelt label set returned 0.0)."""

    def score(self, X, y, sample_weight=None) -> float:
        check_fitted(self)
        texts, y = check_texts_labels(X, y, require_words=False, min_classes=1)
        known = set(self.classes_.tolist())
        labels = y.tolist()
        unseen = [i for i, label in enumerate(labels) if label not in known]
        if unseen:
            raise ValueError(
                f"y contains labels unseen at fit time: {sorted({labels[i] for i in unseen})} "
                f"(first at index {unseen[0]}); the classifier knows {self.classes_.tolist()}."
            )
        return super().score(texts, y, sample_weight=sample_weight)

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
    """``calibrate=True`` for a neural classifier: after training, one temperature (Guo et
    al. 2017) is fit to the log loss of its logits on the validation texts it held out
    (the texts early stopping watched: one number, so it barely overfits them), and
    ``predict_proba`` is ``softmax(logits / temperature_)``; ``predict`` is unchanged."""

    def _check_calibration(self, has_validation: bool) -> None:
        """Before any training: ``calibrate`` needs held-out texts."""
        if not isinstance(self.calibrate, bool):
            raise ValueError(f"calibrate={self.calibrate!r} must be True or False.")
        if self.calibrate and not has_validation:
            raise ValueError(f"calibrate=True fits a temperature on held-out texts and "
                             f"{type(self).__name__} holds none out; pass validation_data=, "
                             f"or set validation_fraction (with patience) to hold some out.")

    def _fit_calibration(self, val_texts, val_y) -> None:
        """``temperature_`` from the logits on the validation texts (1.0 without
        ``calibrate``)."""
        from hybridnlp.utils.calibration import fit_temperature

        self.temperature_ = 1.0
        if self.calibrate:
            logits = self._class_logits(val_texts).double()
            self.temperature_ = fit_temperature(torch.softmax(logits, -1).numpy(),
                                                np.asarray(val_y))

    def _scaled_proba(self, logits: torch.Tensor) -> np.ndarray:
        """Class probabilities, float64 (float32 rows sum to 1 only within 1e-7)."""
        return torch.softmax(logits.double() / getattr(self, "temperature_", 1.0), -1).numpy()
