"""``make_tokenizer``: the one factory of the vocabularies the neural models train.

``tokenizer=`` names a vocabulary kind everywhere ("word", "char", "bpe", or a Tokenizer
instance); how "word" splits depends on what reads it, and is said here, not in each model:

- ``words="whitespace"`` (language models and translators): whitespace words, case kept, line
  breaks as ``<eos>``; a language model generates text back from them;
- ``words="regex"`` (classifiers): the shared script-aware splitter, lower-cased (Chinese one
  character a word), ``min_freq`` and ``vocab_size`` capping the vocabulary.

``segmenter=`` (a registered name such as "jieba", or a callable) replaces the splitting of
either. Characters the training text never had are an error for ``unknown="error"`` (an LM's
held-out text must be covered) or ``<unk>`` for ``unknown="unk"`` (a text to classify).
"""

from __future__ import annotations

import copy

from hybridnlp.text.bpe import BPETokenizer
from hybridnlp.text.char import CharTokenizer
from hybridnlp.text.segmenters import segmenter_names
from hybridnlp.text.tokenizer import Tokenizer
from hybridnlp.text.vocab import WhitespaceTokenizer, WordVocabTokenizer

__all__ = ["TOKENIZER_KINDS", "make_tokenizer"]

TOKENIZER_KINDS = ("char", "word", "bpe")


def make_tokenizer(spec, *, vocab_size: int | None = 4096, min_freq: int = 1, segmenter=None,
                   words: str = "whitespace", unknown: str = "error") -> Tokenizer:
    """An untrained tokenizer of the kind ``spec`` (a trained Tokenizer is returned as is, an
    untrained one as a copy, so the caller's is never trained in place). A segmenter given
    as ``spec`` is the old spelling of ``segmenter=`` with ``spec="word"``."""
    if isinstance(spec, Tokenizer):
        return spec if spec.is_trained else copy.deepcopy(spec)
    if callable(spec) or (isinstance(spec, str) and spec in segmenter_names()):
        spec, segmenter = "word", spec
    if words not in ("whitespace", "regex"):
        raise ValueError(f"words={words!r} is not allowed; choose 'whitespace' or 'regex'.")
    if spec == "char":
        return CharTokenizer(unknown=unknown)
    if spec == "word" and words == "regex":
        return WordVocabTokenizer(min_freq=min_freq, max_size=vocab_size, segmenter=segmenter)
    if spec == "word":
        return WhitespaceTokenizer(segmenter=segmenter)
    if spec == "bpe":
        return BPETokenizer(vocab_size=vocab_size)
    raise ValueError(f"tokenizer={spec!r} is not allowed; choose one of {TOKENIZER_KINDS} or "
                     f"pass a hybridnlp.text Tokenizer.")
