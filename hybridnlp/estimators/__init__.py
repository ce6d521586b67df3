"""scikit-learn estimators around the neural models."""

from hybridnlp.estimators.transformer_classifier import TransformerClassifier

__all__ = ["TransformerClassifier"]
