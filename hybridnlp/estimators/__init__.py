"""scikit-learn text classifiers and regressors: the neural models, and NBSVM as one
estimator."""

from hybridnlp.estimators._classifier import TextClassifierMixin, TextRegressorMixin
from hybridnlp.estimators.fasttext_classifier import FastTextClassifier, FastTextRegressor
from hybridnlp.estimators.nbsvm import NBSVMClassifier
from hybridnlp.estimators.transformer_classifier import TransformerClassifier
from hybridnlp.estimators.transformer_regressor import TransformerRegressor
from hybridnlp.neural import embedding_matrix

__all__ = ["FastTextClassifier", "FastTextRegressor", "NBSVMClassifier", "TextClassifierMixin",
           "TextRegressorMixin", "TransformerClassifier", "TransformerRegressor",
           "embedding_matrix"]
