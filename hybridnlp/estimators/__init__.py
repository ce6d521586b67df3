"""scikit-learn estimators around the neural models."""

from hybridnlp.estimators._classifier import TextClassifierMixin
from hybridnlp.estimators.fasttext_classifier import FastTextClassifier
from hybridnlp.estimators.transformer_classifier import TransformerClassifier

__all__ = ["FastTextClassifier", "TextClassifierMixin", "TransformerClassifier"]
