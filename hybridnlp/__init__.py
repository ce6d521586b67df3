"""hybridnlp: classical NLP and Transformers, combined.

Classical features are scikit-learn transformers in :mod:`hybridnlp.features`; data sets load
through :mod:`hybridnlp.datasets`.
"""

__version__ = "0.1.0"

from hybridnlp.datasets import load_dataset, load_texts
from hybridnlp.estimators import FastTextClassifier, TransformerClassifier
from hybridnlp.features import NBFeatures, TfidfFeatures, TopicFeatures, Word2VecFeatures
from hybridnlp.hybrid import (
    FusionClassifier,
    HybridClassifier,
    HybridEnsemble,
    StackingClassifier,
    WeightedEnsemble,
)
from hybridnlp.lm import CausalLM, InterpolatedLM, NGramLM

__all__ = [
    "CausalLM",
    "InterpolatedLM",
    "NGramLM",
    "FusionClassifier",
    "HybridClassifier",
    "HybridEnsemble",
    "StackingClassifier",
    "WeightedEnsemble",
    "NBFeatures",
    "TfidfFeatures",
    "TopicFeatures",
    "FastTextClassifier",
    "TransformerClassifier",
    "Word2VecFeatures",
    "__version__",
    "load_dataset",
    "load_texts",
]
