"""Question answering: passage retrievers (BM25, DrQA's TF-IDF, dense, and their fusion), the
official SQuAD v1.1 metrics and retrieval recall@k. SQuAD-format files load with
:func:`hybridnlp.datasets.squad.load_squad` (and ``load_dataset("squad", split=...)``)."""

from hybridnlp.qa.metrics import (
    exact_match,
    normalize_answer,
    recall_at_k,
    squad_em_f1,
    token_f1,
)
from hybridnlp.qa.retrievers import (
    BM25Retriever,
    DenseRetriever,
    HybridRetriever,
    TfidfRetriever,
)

__all__ = ["BM25Retriever", "DenseRetriever", "HybridRetriever", "TfidfRetriever",
           "exact_match", "normalize_answer", "recall_at_k", "squad_em_f1", "token_f1"]
