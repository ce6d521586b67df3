"""Pretrained encoders from local directories (Hugging Face ``transformers`` and
sentence-transformers checkpoints) as components: frozen sentence embeddings
(``SentenceEmbeddingFeatures``) and fine-tuning (``TransformerClassifier(pretrained=DIR)``).
Nothing is downloaded; ``transformers`` is imported on first use."""

from hybridnlp.pretrained.embeddings import SentenceEmbeddingFeatures, clear_embedding_cache
from hybridnlp.pretrained.local import HFTokenizer, load_encoder, pool_hidden, resolve_model_dir

__all__ = ["HFTokenizer", "SentenceEmbeddingFeatures", "clear_embedding_cache", "load_encoder",
           "pool_hidden", "resolve_model_dir"]
