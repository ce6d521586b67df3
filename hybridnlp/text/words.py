"""A regex word tokenizer shared by every classical feature, so all of them see the same words."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Mapping
from itertools import islice

from hybridnlp.text.segmenters import resolve_segmenter

__all__ = ["SPACELESS", "SPAN_PATTERN", "WORD_PATTERN", "WordTokenizer", "is_spaceless",
           "split_spaceless", "warn_unsegmented", "word_split"]

# Scripts written without spaces between words: CJK ideographs (with their extensions, the
# compatibility block and the iteration marks), Japanese kana, Thai, Lao, Myanmar, Khmer. Each
# character of them is a token of its own, so word n-grams of Chinese are character n-grams
# (a segmenter such as jieba gives real words). Korean Hangul is written with spaces: not here.
SPACELESS = ("\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3005-\u3007\u3040-\u30ff"
             "\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f"
             "\U00020000-\U0003134f")

# A word is one character of a space-less script, or a run of other letters/digits/underscore,
# optionally led by an apostrophe ("'s", "'ll") and holding inner apostrophes ("don't", "n't");
# any other non-space character is a token on its own, so "!" and "?" survive (they carry
# sentiment and question type). Latin-script text splits exactly as with r"'?\w+(?:'\w+)*|...".
WORD_PATTERN = rf"[{SPACELESS}]|'?[^\W{SPACELESS}]+(?:'[^\W{SPACELESS}]+)*|[^\w\s]"
# Answer spans (QA): the same script rule, with hyphens, apostrophes and inner periods kept
# inside a word ("15-1", "Levi's", "U.S.") and punctuation one token.
SPAN_PATTERN = rf"[{SPACELESS}]|[^\W{SPACELESS}]+(?:[-'.][^\W{SPACELESS}]+)*|[^\w\s]"

_SPACELESS_SPLIT = re.compile(rf"[{SPACELESS}]|[^{SPACELESS}\s]+")
_SPACELESS_CHAR = re.compile(rf"[{SPACELESS}]")


_LONG_RUN = re.compile(rf"[{SPACELESS}]{{4,}}")


def warn_unsegmented(tokens: Iterable[str], where: str, *, share: float = 0.2,
                     singletons: float = 0.95, min_words: int = 1000,
                     sample: int = 200_000) -> None:
    """Warn (once per call) when the training words look unsplit; ``tokens`` is an iterable
    of words (the first ``sample`` are read) or a mapping word -> occurrences.

    Two signs, the first that holds is named: more than ``share`` of the words are runs of 4
    or more characters of a space-less script (a tokenizer that splits on spaces and
    punctuation sees clauses of Chinese, not words); or, among at least ``min_words``
    distinct words, more than ``singletons`` occur once (whole clauses or texts of any script
    as "words"). Either way they will rarely repeat, and every model on them fails quietly.
    Natural text stays below: in the first 200, 2,000 and 20,000 texts of each English and
    Chinese set of ``../shared/data`` (by character and in jieba words), at most 86% of the
    distinct words occur once (jieba words of 200 news headlines), 40-60% from 20,000 on."""
    n = long = 0
    example = None
    counts: dict[str, int] = {}
    counted = tokens.items() if isinstance(tokens, Mapping) else ((t, 1) for t in tokens)
    for token, count in islice(counted, sample):
        n += count
        counts[token] = counts.get(token, 0) + count
        if _LONG_RUN.search(token):
            long += count
            example = example or token
    if n and long / n > share:
        warnings.warn(
            f"{where}: {long / n:.0%} of the training words are runs of 4 or more characters of "
            f"a script written without spaces (such as {example!r}), so they are clauses, not "
            f"words, and will rarely repeat. Use the default token pattern "
            f"(hybridnlp.text.WORD_PATTERN: one token per character) or a word segmenter.",
            UserWarning, stacklevel=3)
        return
    once = [t for t, c in counts.items() if c == 1]
    if len(counts) >= min_words and len(once) / len(counts) > singletons:
        example = max(once, key=len)
        warnings.warn(
            f"{where}: {len(once) / len(counts):.0%} of the {len(counts):,} distinct training "
            f"words occur only once in {n:,} (the longest: {example[:40]!r}), so the words "
            f"are probably not being split and will rarely repeat. Check the token pattern, "
            f"or pass a word segmenter as segmenter= (hybridnlp.text.register_segmenter).",
            UserWarning, stacklevel=3)


_SPACELESS_WORD = re.compile(rf"[{SPACELESS}]+")


def is_spaceless(token: str) -> bool:
    """Whether ``token`` is written in a space-less script only (a character, or a word of
    a segmenter), so decoding joins it to its neighbours without a space."""
    return _SPACELESS_WORD.fullmatch(token) is not None


def split_spaceless(text: str) -> list[str]:
    """Whitespace words, with each character of a space-less script a word of its own
    (``"我爱NLP 很好"`` -> ``['我', '爱', 'NLP', '很', '好']``): the word unit of the
    whitespace LM tokenizer and of per-word perplexity."""
    if not _SPACELESS_CHAR.search(text):
        return text.split()
    return _SPACELESS_SPLIT.findall(text)


class WordTokenizer:
    """Split text into word and punctuation tokens with a regular expression.

    Parameters
    ----------
    pattern : str, default=WORD_PATTERN
        Regular expression whose matches are the tokens (``re.findall``; the pattern must not
        contain capturing groups).
    lowercase : bool, default=True
        Lowercase the text before matching.
    segmenter : str or callable, optional
        A word segmenter (the name of a registered one, such as ``"jieba"``, or a callable
        text -> list of words) whose words are the tokens instead of the pattern's matches
        (:mod:`hybridnlp.text.segmenters`).

    Examples
    --------
    >>> WordTokenizer()("It isn't bad, it's GREAT!")
    ['it', "isn't", 'bad', ',', "it's", 'great', '!']
    >>> WordTokenizer()("这部电影很好!")   # space-less scripts: one token per character
    ['这', '部', '电', '影', '很', '好', '!']
    """

    def __init__(self, pattern: str = WORD_PATTERN, lowercase: bool = True, segmenter=None):
        self.pattern = pattern
        self.lowercase = lowercase
        self.segmenter = resolve_segmenter(segmenter)
        self._regex = re.compile(pattern)
        if self._regex.groups:
            raise ValueError(
                f"pattern={pattern!r} has {self._regex.groups} capturing group(s); use "
                f"non-capturing groups (?:...) so that every match is a whole token."
            )

    def __call__(self, text: str) -> list[str]:
        if self.segmenter is not None:
            words = self.segmenter(text)
            return [w.lower() for w in words] if self.lowercase else words
        if self.lowercase:
            text = text.lower()
        return self._regex.findall(text)

    def spans(self, text: str) -> list[tuple[int, int]]:
        """(start, end) character offsets in ``text`` of the tokens ``__call__`` gives (a
        segmenter's words are found in the text in order; whitespace is never a token)."""
        if self.segmenter is None:  # the pattern's classes ignore case: match the text as is
            return [m.span() for m in self._regex.finditer(text)]
        out, at = [], 0
        for word in self.segmenter(text):
            start = text.find(word, at)
            if start < 0:  # a segmenter that rewrites its words: skip what cannot be found
                continue
            out.append((start, start + len(word)))
            at = start + len(word)
        return out

    def tokenize_batch(self, texts: Iterable[str]) -> list[list[str]]:
        """Tokenize each text; returns one token list per text."""
        return [self(text) for text in texts]

    def __repr__(self) -> str:
        segmenter = "" if self.segmenter is None else f", segmenter={self.segmenter!r}"
        return f"WordTokenizer(pattern={self.pattern!r}, lowercase={self.lowercase}{segmenter})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, WordTokenizer)
            and other.pattern == self.pattern
            and other.lowercase == self.lowercase
            and other.segmenter == self.segmenter
        )

    def __hash__(self) -> int:
        return hash((self.pattern, self.lowercase, self.segmenter))

    def __getstate__(self) -> dict:
        state = {"pattern": self.pattern, "lowercase": self.lowercase}
        if self.segmenter is not None:
            state["segmenter"] = self.segmenter
        return state

    def __setstate__(self, state: dict) -> None:
        self.__init__(**state)


def word_split(token_pattern: str, tokenizer) -> dict:
    """A scikit-learn vectorizer's word-splitting arguments: the ``token_pattern``, or the
    ``tokenizer`` hook (a registered segmenter's name or a callable) that replaces it."""
    if tokenizer is None:
        return {"token_pattern": token_pattern}
    return {"token_pattern": None, "tokenizer": WordTokenizer(segmenter=tokenizer,
                                                              lowercase=False)}
