"""Tokenizers: the regex word tokenizer of the classical features, and the vocabulary
tokenizers of the neural models (characters, words, byte-level BPE), made by the one factory
``make_tokenizer``."""

from hybridnlp.text.bpe import BPETokenizer, PretrainedBPETokenizer
from hybridnlp.text.char import CharTokenizer
from hybridnlp.text.factory import TOKENIZER_KINDS, make_tokenizer
from hybridnlp.text.segmenters import Segmenter, register_segmenter
from hybridnlp.text.tokenizer import SPECIAL_TOKENS, Tokenizer, load_tokenizer
from hybridnlp.text.vocab import WhitespaceTokenizer, WordVocabTokenizer
from hybridnlp.text.words import WORD_PATTERN, WordTokenizer

__all__ = [
    "SPECIAL_TOKENS",
    "TOKENIZER_KINDS",
    "WORD_PATTERN",
    "BPETokenizer",
    "CharTokenizer",
    "PretrainedBPETokenizer",
    "Segmenter",
    "Tokenizer",
    "WhitespaceTokenizer",
    "WordTokenizer",
    "WordVocabTokenizer",
    "load_tokenizer",
    "make_tokenizer",
    "register_segmenter",
]
