"""Character-level tokenizer: one id per Unicode code point seen in training."""

from __future__ import annotations

from collections.abc import Iterable

from hybridnlp.text.tokenizer import TableTokenizer

__all__ = ["CharTokenizer"]


class CharTokenizer(TableTokenizer):
    """Characters as tokens; the vocabulary is every character of the training texts.

    Parameters
    ----------
    unknown : {"error", "unk"}, default="error"
        What ``encode`` does with a character unseen in training: raise a ValueError that names
        it and its position, or map it to ``<unk>``.

    Examples
    --------
    >>> tok = CharTokenizer().train(["hello world"])
    >>> tok.decode(tok.encode("hello"))
    'hello'
    """

    kind = "char"

    def __init__(self, unknown: str = "error"):
        if unknown not in ("error", "unk"):
            raise ValueError(f"unknown={unknown!r} is not allowed; choose 'error' or 'unk'.")
        super().__init__()
        self.unknown = unknown

    @property
    def chars(self) -> list[str]:
        return self.tokens

    def train(self, texts: Iterable[str]) -> CharTokenizer:
        """Collect the characters of ``texts`` (a list of str, or one str). Returns self."""
        if isinstance(texts, str):
            texts = [texts]
        seen = set()
        for text in texts:
            seen.update(text)
        if not seen:
            raise ValueError("CharTokenizer.train got no characters; pass non-empty texts.")
        self._set_tokens(sorted(seen))
        return self

    def _encode(self, text: str) -> list[int]:
        index = self._index
        try:
            return [index[c] for c in text]
        except KeyError:
            pass
        if self.unknown == "unk":
            return [index.get(c, self.unk_id) for c in text]
        position = next(i for i, c in enumerate(text) if c not in index)
        char = text[position]
        raise ValueError(
            f"character {char!r} (U+{ord(char):04X}) at position {position} was not in the "
            f"training text of this CharTokenizer; remove it, or use CharTokenizer(unknown='unk') "
            f"or a BPE tokenizer, which can encode any text."
        )

    def _state(self) -> dict:
        return {"unknown": self.unknown, "chars": self.chars}

    @classmethod
    def _from_state(cls, state: dict) -> CharTokenizer:
        tok = cls(unknown=state["unknown"])
        tok._set_tokens(state["chars"])
        return tok
