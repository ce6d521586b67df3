"""What every text classifier (and regressor) of hybridnlp shares (the neural ones and the
hybrids)."""

from __future__ import annotations

from sklearn.base import ClassifierMixin, RegressorMixin

from hybridnlp.utils.saving import SaveMixin
from hybridnlp.utils.validation import check_fitted, check_texts_labels, check_texts_targets

__all__ = ["TextClassifierMixin", "TextRegressorMixin"]


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


class TextRegressorMixin(SaveMixin, RegressorMixin):
    """``score`` as scikit-learn's R^2 (averaged over targets), with the texts and targets
    checked as ``fit`` checks them."""

    def score(self, X, y, sample_weight=None) -> float:
        check_fitted(self)
        texts, y = check_texts_targets(X, y, require_words=False)
        return super().score(texts, y, sample_weight=sample_weight)

