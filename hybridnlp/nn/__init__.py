"""Plain PyTorch modules: configs, layers, the Transformer encoder. No scikit-learn here."""

from hybridnlp.nn.config import ENCODER_PRESETS, EncoderConfig
from hybridnlp.nn.encoder import ClassificationHead, SequenceClassifier, TransformerEncoder
from hybridnlp.nn.layers import MLP, Block, SelfAttention

__all__ = [
    "ENCODER_PRESETS",
    "MLP",
    "Block",
    "ClassificationHead",
    "EncoderConfig",
    "SelfAttention",
    "SequenceClassifier",
    "TransformerEncoder",
]
