"""Question answering: passage retrievers (BM25, DrQA's TF-IDF, dense, and their fusion),
classical readers (sliding window, logistic regression over spans), ``QAPipeline``, the
official SQuAD v1.1 metrics and retrieval recall@k. SQuAD-format files load with
:func:`hybridnlp.datasets.squad.load_squad` (and ``load_dataset("squad", split=...)``)."""

from hybridnlp.qa.dense import DenseRetriever
from hybridnlp.qa.extractive import ExtractiveReader
from hybridnlp.qa.logistic_reader import LogisticReader
from hybridnlp.qa.metrics import (
    answer_em,
    answer_f1,
    cmrc_exact_match,
    cmrc_f1,
    exact_match,
    normalize_answer,
    recall_at_k,
    squad_em_f1,
    token_f1,
)
from hybridnlp.qa.pipeline import QAPipeline
from hybridnlp.qa.reader_stacking import HybridReader
from hybridnlp.qa.readers import (
    SlidingWindowReader,
    Span,
    question_type,
)
from hybridnlp.qa.retriever_fusion import HybridRetriever
from hybridnlp.qa.retrievers import BM25Retriever, TfidfRetriever

__all__ = ["BM25Retriever", "DenseRetriever", "ExtractiveReader", "HybridReader", "HybridRetriever",
           "LogisticReader", "QAPipeline",
           "SlidingWindowReader", "Span", "TfidfRetriever", "answer_em", "answer_f1",
           "cmrc_exact_match", "cmrc_f1", "exact_match", "normalize_answer",
           "question_type", "recall_at_k", "squad_em_f1", "token_f1"]
