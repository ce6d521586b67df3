"""The one base of the neural estimators (classifiers, language models, translators, readers)
and the helpers they share: token-id batches, the validation split, word-vector embedding
init, safetensors weights."""

from hybridnlp.neural.base import NeuralEstimator
from hybridnlp.neural.batches import (
    TRUNCATIONS,
    TextBatches,
    embedding_matrix,
    init_word_vectors,
    target_tensor,
)
from hybridnlp.neural.split import accuracy, held_out_rows, holdout_split
from hybridnlp.neural.weights import check_weights_header, load_packed, load_weights, pack_module

__all__ = ["TRUNCATIONS", "NeuralEstimator", "TextBatches", "accuracy", "check_weights_header",
           "embedding_matrix", "held_out_rows", "holdout_split", "init_word_vectors", "load_packed",
           "load_weights", "pack_module", "target_tensor"]
