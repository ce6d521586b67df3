"""Word-level tokenizer: regex words mapped to a vocabulary learned from the training texts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from hybridnlp.text.segmenters import Segmenter, resolve_segmenter, unsaveable_segmenter
from hybridnlp.text.tokenizer import TableTokenizer
from hybridnlp.text.words import (
    WORD_PATTERN,
    WordTokenizer,
    is_spaceless,
    split_spaceless,
    warn_unsegmented,
)

__all__ = ["WhitespaceTokenizer", "WordVocabTokenizer"]


def _frequent(counts: Counter, min_freq: int, max_size: int | None, owner: str) -> list[str]:
    """Words seen ``min_freq`` times, most frequent first (ties alphabetically, so the
    vocabulary is reproducible), at most ``max_size``."""
    words = sorted((w for w, c in counts.items() if c >= min_freq), key=lambda w: (-counts[w], w))
    if max_size is not None:
        words = words[:max_size]
    if not words:
        raise ValueError(f"{owner}.train found no word seen min_freq={min_freq} times; pass "
                         f"more text or lower min_freq.")
    return words


class _SegmentedTokenizer(TableTokenizer):
    """A word tokenizer that may split with a segmenter: its file names a registered one; one
    holding a callable is refused by ``save``, which says how to register it."""

    segmenter = None

    def _with_segmenter(self, state: dict) -> dict:
        if self.segmenter is not None:
            state["segmenter"] = getattr(self.segmenter, "name", self.segmenter)
        return state

    def save(self, path) -> None:
        if self.segmenter is not None and not isinstance(self.segmenter, Segmenter):
            raise ValueError(unsaveable_segmenter(self.segmenter))
        super().save(path)


class WordVocabTokenizer(_SegmentedTokenizer):
    """Words (``WordTokenizer``) as tokens; unseen and rare words map to ``<unk>``.

    Decoding joins words with spaces, so it does not restore the original spacing or case.

    Parameters
    ----------
    min_freq : int, default=1
        Words seen fewer times in training are ``<unk>``.
    max_size : int, optional
        Keep at most this many words (the most frequent), special tokens excluded.
    lowercase : bool, default=True
    pattern : str, default=WORD_PATTERN
    segmenter : str or callable, optional
        A word segmenter (``"jieba"``, or any registered name or callable): its words are the
        tokens. A registered name is saved with the tokenizer; a callable cannot be saved.

    Examples
    --------
    >>> tok = WordVocabTokenizer().train(["a good film", "a bad film"])
    >>> tok.decode(tok.encode("A good plot"))
    'a good <unk>'
    """

    kind = "word"
    joiner = " "
    keep_unk = True

    def __init__(self, min_freq: int = 1, max_size: int | None = None, lowercase: bool = True,
                 pattern: str = WORD_PATTERN, segmenter=None):
        super().__init__()
        self.min_freq = min_freq
        self.max_size = max_size
        self.lowercase = lowercase
        self.pattern = pattern
        self._split = WordTokenizer(pattern, lowercase=lowercase, segmenter=segmenter)
        self.segmenter = self._split.segmenter

    @property
    def words(self) -> list[str]:
        return self.tokens

    def train(self, texts: Iterable[str]) -> WordVocabTokenizer:
        """Count words; keep those seen ``min_freq`` times, most frequent first. Returns self."""
        if isinstance(texts, str):
            texts = [texts]
        counts = Counter()
        for text in texts:
            counts.update(self._split(text))
        warn_unsegmented(counts, type(self).__name__)
        self._set_tokens(_frequent(counts, self.min_freq, self.max_size, type(self).__name__))
        return self

    def tokenize(self, text: str) -> list[str]:
        return self._split(text)

    def _encode(self, text: str) -> list[int]:
        index, unk = self._index, self.unk_id
        return [index.get(w, unk) for w in self._split(text)]

    def _state(self) -> dict:
        return self._with_segmenter({
            "min_freq": self.min_freq, "max_size": self.max_size,
            "lowercase": self.lowercase, "pattern": self.pattern, "words": self.words})

    @classmethod
    def _from_state(cls, state: dict) -> WordVocabTokenizer:
        tok = cls(state["min_freq"], state["max_size"], state["lowercase"], state["pattern"],
                  segmenter=state.get("segmenter"))
        tok._set_tokens(state["words"])
        return tok


def _join_words(words: list[str]) -> str:
    out = []
    for k, word in enumerate(words):
        if k and not (is_spaceless(word) or is_spaceless(words[k - 1])):
            out.append(" ")
        out.append(word)
    return "".join(out)


class WhitespaceTokenizer(_SegmentedTokenizer):
    """Whitespace-separated words as tokens, each line break as ``<eos>``: the word level of
    language modelling (Penn Treebank, WikiText). Case and punctuation are kept as written;
    each character of a script written without spaces (Chinese, Japanese, Thai ...) is a word
    of its own (:func:`hybridnlp.text.words.split_spaceless`).

    A word written ``<unk>`` in the text (WikiText marks rare words so) is the ``<unk>`` id.
    Decoding joins words with spaces and turns ``<eos>`` back into a line break.

    Parameters
    ----------
    min_freq : int, default=1
        Words seen fewer times in training are ``<unk>``.
    max_size : int, optional
        Keep at most this many words (the most frequent).
    segmenter : str or callable, optional
        A word segmenter (``"jieba"``, or any registered name or callable): its words, line by
        line, are the tokens. A registered name is saved with the tokenizer.

    Examples
    --------
    >>> tok = WhitespaceTokenizer().train("the cat sat\\nthe dog")
    >>> tok.decode(tok.encode("the dog sat\\nthe bird"))
    'the dog sat\\nthe <unk>'
    """

    kind = "whitespace"
    keep_unk = True

    def __init__(self, min_freq: int = 1, max_size: int | None = None, segmenter=None):
        super().__init__()
        self.min_freq = min_freq
        self.max_size = max_size
        self.segmenter = resolve_segmenter(segmenter)

    def _words(self, text: str) -> list[str]:
        return split_spaceless(text) if self.segmenter is None else self.segmenter(text)

    def tokenize(self, text: str) -> list[str]:
        """Words, with ``"<eos>"`` for every line break."""
        lines = text.split("\n")
        out = []
        for i, line in enumerate(lines):
            out.extend(self._words(line))
            if i < len(lines) - 1:
                out.append("<eos>")
        return out

    def train(self, texts: Iterable[str]) -> WhitespaceTokenizer:
        """Count words; keep those seen ``min_freq`` times, most frequent first. Returns self."""
        if isinstance(texts, str):
            texts = [texts]
        counts = Counter()
        for text in texts:
            for line in text.split("\n"):
                counts.update(self._words(line))
        counts.pop("<unk>", None)
        self._set_tokens(_frequent(counts, self.min_freq, self.max_size, type(self).__name__))
        return self

    @classmethod
    def from_words(cls, words: list[str]) -> WhitespaceTokenizer:
        """A trained tokenizer whose vocabulary is ``words`` in this order (an ARPA file's)."""
        tok = cls()
        tok._set_tokens(words)
        return tok

    def _set_tokens(self, tokens: list[str]) -> None:
        super()._set_tokens(tokens)
        self._index["<eos>"] = self.eos_id
        self._index["<unk>"] = self.unk_id

    def _encode(self, text: str) -> list[int]:
        index, unk = self._index, self.unk_id
        return [index.get(w, unk) for w in self.tokenize(text)]

    def decode(self, ids: Iterable[int], *, skip_special_tokens: bool = True) -> str:
        """The text of ``ids``: words joined by spaces (none next to a character of a
        space-less script), ``<eos>`` as a line break."""
        lines: list[list[str]] = [[]]
        for i in ids:
            if int(i) == self.eos_id:
                lines.append([])
            elif piece := super().decode([i], skip_special_tokens=skip_special_tokens):
                lines[-1].append(piece)
        return "\n".join(_join_words(words) for words in lines)

    def _state(self) -> dict:
        return self._with_segmenter({"min_freq": self.min_freq, "max_size": self.max_size,
                                     "words": self.tokens})

    @classmethod
    def _from_state(cls, state: dict) -> WhitespaceTokenizer:
        tok = cls(state["min_freq"], state["max_size"], segmenter=state.get("segmenter"))
        tok._set_tokens(state["words"])
        return tok
