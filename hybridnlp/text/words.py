"""A regex word tokenizer shared by every classical feature, so all of them see the same words."""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["WORD_PATTERN", "WordTokenizer"]

# A word is a run of letters/digits/underscore, optionally led by an apostrophe ("'s", "'ll")
# and holding inner apostrophes ("don't", "n't"); any other non-space character is a token on its
# own, so "!" and "?" survive (they carry sentiment and question type).
WORD_PATTERN = r"'?\w+(?:'\w+)*|[^\w\s]"


class WordTokenizer:
    """Split text into word and punctuation tokens with a regular expression.

    Parameters
    ----------
    pattern : str, default=WORD_PATTERN
        Regular expression whose matches are the tokens (``re.findall``; the pattern must not
        contain capturing groups).
    lowercase : bool, default=True
        Lowercase the text before matching.

    Examples
    --------
    >>> WordTokenizer()("It isn't bad, it's GREAT!")
    ['it', "isn't", 'bad', ',', "it's", 'great', '!']
    """

    def __init__(self, pattern: str = WORD_PATTERN, lowercase: bool = True):
        self.pattern = pattern
        self.lowercase = lowercase
        self._regex = re.compile(pattern)
        if self._regex.groups:
            raise ValueError(
                f"pattern={pattern!r} has {self._regex.groups} capturing group(s); use "
                f"non-capturing groups (?:...) so that every match is a whole token."
            )

    def __call__(self, text: str) -> list[str]:
        if self.lowercase:
            text = text.lower()
        return self._regex.findall(text)

    def tokenize_batch(self, texts: Iterable[str]) -> list[list[str]]:
        """Tokenize each text; returns one token list per text."""
        return [self(text) for text in texts]

    def __repr__(self) -> str:
        return f"WordTokenizer(pattern={self.pattern!r}, lowercase={self.lowercase})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, WordTokenizer)
            and other.pattern == self.pattern
            and other.lowercase == self.lowercase
        )

    def __hash__(self) -> int:
        return hash((self.pattern, self.lowercase))

    def __getstate__(self) -> dict:
        return {"pattern": self.pattern, "lowercase": self.lowercase}

    def __setstate__(self, state: dict) -> None:
        self.__init__(**state)
