"""Plain PyTorch modules: configs, layers, the Transformer encoder. No scikit-learn here."""

from hybridnlp.nn.config import ENCODER_PRESETS, EncoderConfig
from hybridnlp.nn.encoder import ClassificationHead, SequenceClassifier, TransformerEncoder
from hybridnlp.nn.gpt import GPT, GPT_PRESETS, GPTConfig, KVCache
from hybridnlp.nn.layers import MLP, Block, SelfAttention

__all__ = [
    "GPT",
    "GPT_PRESETS",
    "GPTConfig",
    "KVCache",
    "ENCODER_PRESETS",
    "MLP",
    "Block",
    "ClassificationHead",
    "EncoderConfig",
    "SelfAttention",
    "SequenceClassifier",
    "TransformerEncoder",
]
