"""What every classical text transformer shares: input validation and scikit-learn tags."""

from __future__ import annotations

from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from hybridnlp.utils.validation import check_texts, check_texts_labels

__all__ = ["TextTransformer"]


class TextTransformer(TransformerMixin, BaseEstimator):
    """Base class: a scikit-learn transformer whose input is a list of texts.

    Subclasses implement ``fit`` and ``transform`` and call ``_validate_fit`` /
    ``_validate_transform`` first, so every one rejects bad input with the same messages.
    """

    _requires_y = False

    def _validate_fit(self, X, y=None):
        if self._requires_y:
            if y is None:
                raise ValueError(
                    f"{type(self).__name__} is supervised: fit(X, y) needs labels y, got None."
                )
            return check_texts_labels(X, y)
        return check_texts(X, name="X", require_words=True), None

    def _validate_transform(self, X):
        check_is_fitted(self)
        return check_texts(X, name="X")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.target_tags.required = self._requires_y
        return tags
