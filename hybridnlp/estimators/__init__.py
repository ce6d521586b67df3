"""scikit-learn text classifiers: the neural models, and NBSVM as one estimator."""

from hybridnlp.estimators._classifier import TextClassifierMixin
from hybridnlp.estimators.fasttext_classifier import FastTextClassifier
from hybridnlp.estimators.nbsvm import NBSVMClassifier
from hybridnlp.estimators.transformer_classifier import TransformerClassifier
from hybridnlp.neural import embedding_matrix

__all__ = ["FastTextClassifier", "NBSVMClassifier", "TextClassifierMixin", "TransformerClassifier",
           "embedding_matrix"]
