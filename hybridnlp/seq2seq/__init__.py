"""Conditional generation p(y | x): the encoder-decoder :class:`Seq2SeqLM` (translation and
any text-to-text task), shallow fusion with a target-side language model, and sacreBLEU's
BLEU and chrF."""

from hybridnlp.seq2seq.fusion import ShallowFusion
from hybridnlp.seq2seq.metrics import MetricScore, corpus_bleu, corpus_chrf
from hybridnlp.seq2seq.seq2seq_lm import Seq2SeqLM

__all__ = ["MetricScore", "Seq2SeqLM", "ShallowFusion", "corpus_bleu", "corpus_chrf"]
