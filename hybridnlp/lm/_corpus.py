"""What every language model here shares: reading a corpus, choosing a tokenizer, turning
text into one token stream, and counting words for per-word perplexity.

A corpus is one string (one stream), a list of strings (documents), or a path to a text file.
Streams start with ``<eos>`` (the "start of a document" context) and each document of a list
ends with ``<eos>``, so every real token and every document end is predicted.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from hybridnlp.text import TOKENIZER_KINDS, Tokenizer
from hybridnlp.text import make_tokenizer as text_make_tokenizer
from hybridnlp.text.words import split_spaceless
from hybridnlp.utils.validation import is_missing

__all__ = ["PER_UNITS", "check_unit", "corpus_chunks", "count_units", "count_words",
           "make_tokenizer", "read_corpus", "split_corpus", "token_stream", "token_stream_of_file"]

TOKENIZERS = TOKENIZER_KINDS  # the one list (hybridnlp.text)


def read_corpus(corpus, what: str = "corpus") -> str | list[str]:
    """A string, a list of strings, or the text of a file given as a ``pathlib.Path`` (or any
    ``os.PathLike``; ``.gz`` is decompressed). A ``str`` is always text, never a file name:
    ``lm.perplexity("ROMEO")`` scores the word, whatever files the working directory holds."""
    if isinstance(corpus, os.PathLike):
        path = Path(corpus)
        if not path.is_file():
            raise FileNotFoundError(f"{what} file {str(path)!r} does not exist.")
        with _open_text(path) as f:
            corpus = f.read()
    if isinstance(corpus, str):
        if not corpus:
            raise ValueError(f"{what} is empty; pass a non-empty string, list of strings or "
                             f"text file.")
        return corpus
    if corpus is None or isinstance(corpus, bytes | dict):
        raise TypeError(f"{what} must be a string, a list of strings or a path, got "
                        f"{type(corpus).__name__}.")
    texts = list(corpus)
    for i, text in enumerate(texts):
        if is_missing(text):
            raise ValueError(f"{what}[{i}] is {text!r}; drop missing texts or fill them with "
                             f"'' before fitting.")
        if not isinstance(text, str):
            raise TypeError(f"{what}[{i}] is a {type(text).__name__}, not a str.")
    if not any(texts):
        raise ValueError(f"{what} is empty (no text in {len(texts)} documents); pass "
                         f"non-empty text.")
    return texts


def _open_text(path: Path):
    opener = gzip.open if path.suffix == ".gz" else open
    return opener(path, "rt", encoding="utf-8")


CHUNK_CHARS = 1 << 22  # characters read at a time from a corpus file


def _read_block(f, path: Path, n: int) -> str:
    try:
        return f.read(n)
    except UnicodeDecodeError as err:
        raise ValueError(f"corpus file {str(path)!r} is not UTF-8 text ({err.reason}); save "
                         f"it as UTF-8.") from None
    except (EOFError, gzip.BadGzipFile, zlib.error) as err:
        raise ValueError(f"corpus file {str(path)!r} is a truncated or corrupt gzip file "
                         f"({err}); compress it again.") from None


def corpus_chunks(path: str | os.PathLike, chunk_chars: int | None = None) -> Iterator[str]:
    """The text of a file in pieces of about ``chunk_chars`` (default ``CHUNK_CHARS``)
    characters, read one at a time:
    each piece ends after a line break that a non-space character follows, where every
    tokenizer here splits anyway, so the tokens of the pieces, concatenated, are the tokens
    of the whole text (tested for char, word and BPE tokens)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"corpus file {str(path)!r} does not exist.")
    with _open_text(path) as f:
        buf = ""
        while block := _read_block(f, path, chunk_chars or CHUNK_CHARS):
            buf += block
            end = len(buf)
            while (i := buf.rfind("\n", 0, end)) >= 0:
                if i + 1 < len(buf) and not buf[i + 1].isspace():
                    yield buf[:i + 1]
                    buf = buf[i + 1:]
                    break
                end = i
        if buf:
            yield buf


def token_stream_of_file(tokenizer: Tokenizer, path: str | os.PathLike) -> np.ndarray:
    """``token_stream(tokenizer, text of path)``, read and encoded a piece at a time: the
    memory is that of the ids (2 or 4 bytes a token), never of the whole text's tokens."""
    dtype = _dtype(tokenizer.vocab_size)
    parts = [np.asarray([tokenizer.eos_id], dtype=dtype)]
    parts += [np.asarray(tokenizer.encode(chunk), dtype=dtype) for chunk in corpus_chunks(path)]
    return np.concatenate(parts)


SPREAD_PIECES = 10  # a spread held-out share: this many pieces, one per tenth of the text
SPREAD_MIN_CHARS = 1000  # each piece at least this long (a shorter text keeps one: its tail)


def split_corpus(corpus: str | list[str], fraction: float, spread: bool = False):
    """(training text, held-out text): ``fraction`` of a corpus held out.

    By default the held-out share is the end: the last characters of a string (as nanoGPT
    splits Tiny Shakespeare), the last documents of a list. With ``spread``, it is the end
    of each tenth of the corpus instead: up to ``SPREAD_PIECES`` contiguous pieces of a
    string (each at least ``SPREAD_MIN_CHARS`` characters, so a short text keeps one
    piece, its tail), the last document of each run of ``1 / fraction`` of a list; the
    training text is the rest, joined. A model validated on a spread share still trains on
    text from every part of its corpus, the part nearest what follows included (a held-out
    tail costs Tiny Shakespeare's validation loss 0.2 nats: benchmarks/RESULTS.md)."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"validation={fraction!r} must be a fraction in (0, 1), 0 or None.")
    if isinstance(corpus, str):
        held = int(len(corpus) * fraction)
        pieces = max(1, min(SPREAD_PIECES, held // SPREAD_MIN_CHARS)) if spread else 1
        if pieces == 1:
            cut = len(corpus) - held
            return corpus[:cut], corpus[cut:]
        ends = [len(corpus) * (i + 1) // pieces for i in range(pieces)]
        starts = [end - held // pieces for end in ends]
        train = [corpus[lo:hi] for lo, hi in zip([0, *ends[:-1]], starts, strict=True)]
        return "".join(train), "".join(corpus[lo:hi] for lo, hi in zip(starts, ends,
                                                                         strict=True))
    if len(corpus) < 2:
        raise ValueError("validation needs at least 2 documents to split off a fraction; "
                         "pass validation_data= or one string.")
    n = len(corpus)
    held = np.zeros(n, dtype=bool)
    if spread:  # the last of every run of 1 / fraction documents
        i = np.arange(n)
        held = np.floor((i + 1) * fraction) > np.floor(i * fraction)
    if held.sum() == 0 or held.all():
        cut = min(n - 1, max(1, int(math.floor(n * (1.0 - fraction)))))
        held = np.arange(n) >= cut
    return ([d for d, h in zip(corpus, held, strict=True) if not h],
            [d for d, h in zip(corpus, held, strict=True) if h])


def make_tokenizer(spec, bpe_vocab_size: int = 4096) -> Tokenizer:
    """A language model's vocabulary: :func:`hybridnlp.text.make_tokenizer` with whitespace
    words (case kept, line breaks as ``<eos>``) and characters covered by the training text."""
    return text_make_tokenizer(spec, vocab_size=bpe_vocab_size, words="whitespace",
                               unknown="error")


def _dtype(vocab_size: int):
    return np.uint16 if vocab_size <= 65536 else np.uint32


def token_stream(tokenizer: Tokenizer, corpus: str | list[str]) -> np.ndarray:
    """``[eos] + ids`` for a string; ``[eos] + doc_1 + [eos] + doc_2 + [eos] ...`` for a list."""
    eos, dtype = tokenizer.eos_id, _dtype(tokenizer.vocab_size)
    if isinstance(corpus, str):
        return np.concatenate([np.asarray([eos], dtype=dtype),
                               np.asarray(tokenizer.encode(corpus), dtype=dtype)])
    parts = [np.asarray([eos], dtype=dtype)]
    for start in range(0, len(corpus), 1024):  # ids as arrays a batch at a time: the memory
        for ids in tokenizer.encode_batch(corpus[start:start + 1024]):  # of Python ints stays
            parts += [np.asarray(ids, dtype=dtype), np.asarray([eos], dtype=dtype)]  # small
    return np.concatenate(parts)


PER_UNITS = ("token", "word", "char")


def check_unit(per: str) -> None:
    if per not in PER_UNITS:
        raise ValueError(f"per={per!r} is not allowed; choose one of {', '.join(PER_UNITS)}.")


def count_units(corpus: str | list[str], per: str, n_tokens: int, tokenizer=None) -> int:
    """How many ``per`` units ``corpus`` holds: its ``n_tokens`` predicted tokens, its words
    (:func:`count_words`; with a segmenter's tokenizer its words are the tokens), or its
    characters (plus one end per document of a list, as the words count line ends)."""
    check_unit(per)
    if per == "char":
        return len(corpus) if isinstance(corpus, str) else sum(len(t) + 1 for t in corpus)
    if per == "token" or getattr(tokenizer, "segmenter", None) is not None:
        return n_tokens
    return count_words(corpus)


def count_words(corpus: str | list[str]) -> int:
    """Words for per-word perplexity: whitespace words plus line ends (plus one end per
    document of a list), the convention of Penn Treebank and WikiText; each character of a
    space-less script (Chinese, Japanese, Thai) is a word (``split_spaceless``), so a Chinese
    "word" perplexity is per character, not per clause."""
    if isinstance(corpus, str):
        return len(split_spaceless(corpus)) + corpus.count("\n")
    return sum(len(split_spaceless(t)) + t.count("\n") + 1 for t in corpus)
