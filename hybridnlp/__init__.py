"""hybridnlp: classical NLP and Transformers, combined.

Classical features are scikit-learn transformers in :mod:`hybridnlp.features`; data sets load
through :mod:`hybridnlp.datasets`. The names below are imported on first use, so that
``import hybridnlp`` (and the CLI's ``--help``) does not pay for torch and scikit-learn.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "load_dataset": "hybridnlp.datasets", "load_texts": "hybridnlp.datasets",
    "TextStream": "hybridnlp.datasets",
    "FastTextClassifier": "hybridnlp.estimators", "NBSVMClassifier": "hybridnlp.estimators",
    "TransformerClassifier": "hybridnlp.estimators", "FastTextRegressor": "hybridnlp.estimators",
    "TransformerRegressor": "hybridnlp.estimators",
    "NBFeatures": "hybridnlp.features", "TfidfFeatures": "hybridnlp.features",
    "TopicFeatures": "hybridnlp.features", "Word2VecFeatures": "hybridnlp.features",
    "SentenceEmbeddingFeatures": "hybridnlp.pretrained",
    "FusionClassifier": "hybridnlp.hybrid", "HybridClassifier": "hybridnlp.hybrid",
    "HybridEnsemble": "hybridnlp.hybrid", "HybridRegressor": "hybridnlp.hybrid",
    "StackingClassifier": "hybridnlp.hybrid", "explain": "hybridnlp.hybrid",
    "WeightedEnsemble": "hybridnlp.hybrid",
    "CausalLM": "hybridnlp.lm", "InterpolatedLM": "hybridnlp.lm", "NGramLM": "hybridnlp.lm",
    "Seq2SeqLM": "hybridnlp.seq2seq", "ShallowFusion": "hybridnlp.seq2seq",
    "export": "hybridnlp.persistence", "load": "hybridnlp.persistence",
    "save": "hybridnlp.persistence",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    try:  # a subpackage: hybridnlp.features after a bare `import hybridnlp`
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


def __dir__() -> list[str]:
    return sorted(__all__)
