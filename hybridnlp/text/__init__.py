"""Tokenizers: the regex word tokenizer shared by the classical features."""

from hybridnlp.text.words import WORD_PATTERN, WordTokenizer

__all__ = ["WORD_PATTERN", "WordTokenizer"]
