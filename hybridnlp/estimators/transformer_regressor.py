"""``TransformerRegressor``: ``TransformerClassifier``'s encoders (from scratch, a local
pretrained directory, or our GPT) with a head of one output per real target, trained on
squared error."""

from __future__ import annotations

import numpy as np

from hybridnlp.estimators._classifier import TextRegressorMixin
from hybridnlp.estimators._encoders import check_fit
from hybridnlp.estimators._transformer_base import _TransformerEstimator
from hybridnlp.utils.validation import check_sample_weight, check_texts_targets

__all__ = ["TransformerRegressor"]


class TransformerRegressor(TextRegressorMixin, _TransformerEstimator):
    """Text regressor: tokenizer + Transformer encoder + a linear head with one output per
    target, trained with ``Trainer`` on the mean squared error of the standardised targets
    (mean 0, variance 1 each; ``predict`` gives them back on their own scale).

    Every parameter is :class:`TransformerClassifier`'s but ``class_weight``; early stopping
    watches the validation loss (``trainer__monitor="val_loss"``) on a random
    ``validation_fraction`` of the texts (or ``validation_data=(texts, targets)``).
    ``y`` is one number per text or one row of several targets per text; ``predict`` returns
    the same shape.

    Attributes
    ----------
    n_outputs_ : int
    target_mean_, target_scale_ : ndarray (n_outputs_,)
        What the targets were standardised by.
    tokenizer_, model_, history_, n_truncated_ : as ``TransformerClassifier``'s.

    Examples
    --------
    >>> reg = TransformerRegressor(max_epochs=5, random_state=0)     # doctest: +SKIP
    >>> reg.fit(texts, scores).predict(["a gripping film"])           # doctest: +SKIP
    """

    def fit(self, X, y, sample_weight=None, *, validation_data=None, resume=False):
        """Train on texts ``X`` and real targets ``y`` (``sample_weight``: each text's weight
        in the loss). Returns self."""
        self._check_params()
        check_fit(self)
        texts, y = check_texts_targets(X, y)
        w = check_sample_weight(sample_weight, len(texts))
        seed = self._seed()
        y2 = y.reshape(len(y), -1)
        continuing = self.warm_start and hasattr(self, "model_")
        if continuing and y2.shape[1] != self.n_outputs_:
            raise ValueError(f"warm_start=True but y has {y2.shape[1]} targets per text, the "
                             f"first fit {self.n_outputs_}; fit a new regressor instead.")
        if not continuing:  # a warm start keeps the first fit's scale
            self.n_outputs_ = y2.shape[1]
            self.target_mean_ = y2.mean(axis=0)
            scale = y2.std(axis=0)
            self.target_scale_ = np.where(scale > 0, scale, 1.0)
        val = None
        if validation_data is not None:
            val_texts, val_y = check_texts_targets(*validation_data, require_words=False)
            val_y = val_y.reshape(len(val_y), -1)
            if val_y.shape[1] != self.n_outputs_:
                raise ValueError(f"validation_data has {val_y.shape[1]} targets per text, y "
                                 f"{self.n_outputs_}.")
            val = (val_texts, self._standardise(val_y))
        self._fit_module(texts, self._standardise(y2), val, seed, continuing, resume, w)
        return self

    def _standardise(self, y2: np.ndarray) -> np.ndarray:
        return ((y2 - self.target_mean_) / self.target_scale_).astype(np.float32)

    def _n_outputs(self) -> int:
        return self.n_outputs_

    def predict(self, X) -> np.ndarray:
        """The predicted targets: (n_texts,) for one target, else (n_texts, n_targets)."""
        out = self._logits(X).double().numpy() * self.target_scale_ + self.target_mean_
        return out[:, 0] if self.n_outputs_ == 1 else out
