"""Plain PyTorch modules: configs, the one attention module, layers, the Transformer encoder
and GPT. No scikit-learn here."""

from hybridnlp.nn.attention import Attention
from hybridnlp.nn.config import ENCODER_PRESETS, EncoderConfig
from hybridnlp.nn.encoder import ClassificationHead, SequenceClassifier, TransformerEncoder
from hybridnlp.nn.gpt import GPT, GPT_PRESETS, GPTConfig, KVCache
from hybridnlp.nn.layers import MLP, Block, SelfAttention

__all__ = [
    "Attention",
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
