"""What every vocabulary tokenizer shares: special tokens, batch encoding, save and load."""

from __future__ import annotations

import os
from collections.abc import Iterable

from hybridnlp.utils.io import atomic_write_json, read_json
from hybridnlp.utils.saving import Saveable, registered_kinds

__all__ = ["SPECIAL_TOKENS", "TableTokenizer", "Tokenizer", "load_tokenizer"]

# Ids 0..4 in every tokenizer, in this order.
SPECIAL_TOKENS = {"pad": "<pad>", "bos": "<bos>", "eos": "<eos>", "unk": "<unk>", "sep": "<sep>"}


class Tokenizer(Saveable):
    """Base class: ``train``, ``encode``, ``encode_batch``, ``decode``, ``save``, ``load``.

    Subclasses define ``kind``, ``train``, ``_encode``, ``decode``, ``_state`` and
    ``_from_state``. Special tokens take ids 0-4: pad, bos, eos, unk, sep.
    """

    kind = "base"
    pad_id, bos_id, eos_id, unk_id, sep_id = range(5)
    _saves_to_file = True  # tokenizer.json (hybridnlp.save puts it in a directory)

    @property
    def vocab_size(self) -> int:
        raise NotImplementedError

    def _check_trained(self) -> None:
        if not self.is_trained:
            raise ValueError(
                f"this {type(self).__name__} is not trained; call train(texts) or "
                f"{type(self).__name__}.load(path) first."
            )

    def encode(self, text: str, *, add_special_tokens: bool = False) -> list[int]:
        """Token ids of ``text``; with ``add_special_tokens``, wrapped in bos ... eos."""
        self._check_trained()
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}.")
        ids = self._encode(text)
        return [self.bos_id, *ids, self.eos_id] if add_special_tokens else ids

    def encode_batch(self, texts: Iterable[str], *, add_special_tokens: bool = False):
        """``encode`` of each text; a list of id lists."""
        return [self.encode(t, add_special_tokens=add_special_tokens) for t in texts]

    def save(self, path: str | os.PathLike) -> None:
        """Write the tokenizer to one JSON file (atomically)."""
        self._check_trained()
        atomic_write_json(path, {"kind": self.kind, **self._state()})

    @classmethod
    def load(cls, path: str | os.PathLike) -> Tokenizer:
        """Read a tokenizer written by ``save``; ``Tokenizer.load`` dispatches on its kind."""
        return load_tokenizer(path, expected=None if cls is Tokenizer else cls)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._state() == self._state()

    __hash__ = None


def load_tokenizer(path, expected: type | None = None) -> Tokenizer:
    """The tokenizer in the JSON file ``path``, of the kind it names (any registered
    :class:`Tokenizer` subclass; ``hybridnlp.text`` registers the project's)."""
    kinds = {k.kind: k for k in registered_kinds(Tokenizer).values() if k.kind != "base"}
    state = read_json(path, what="tokenizer file")
    kind = state.pop("kind", None)
    if kind not in kinds:
        raise ValueError(
            f"tokenizer file {str(path)!r} is corrupt: field 'kind' is {kind!r}, expected one "
            f"of {sorted(kinds)}."
        )
    if expected is not None and kinds[kind] is not expected:
        raise ValueError(
            f"tokenizer file {str(path)!r} holds a {kind!r} tokenizer, not a "
            f"{expected.kind!r} one; load it with {kinds[kind].__name__}.load or Tokenizer.load."
        )
    try:
        return kinds[kind]._from_state(state)
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(
            f"tokenizer file {str(path)!r} is corrupt: {type(err).__name__}: {err}."
        ) from None


class TableTokenizer(Tokenizer):
    """A tokenizer whose vocabulary is a list of strings after the special tokens.

    Subclasses split text into pieces and join decoded pieces with ``joiner``; ``keep_unk``
    says whether decoding shows ``<unk>`` (words) or drops it with the other special tokens.
    """

    joiner = ""
    keep_unk = False

    def __init__(self):
        self.tokens: list[str] = []
        self._index: dict[str, int] = {}

    @property
    def is_trained(self) -> bool:
        return bool(self.tokens)

    @property
    def vocab_size(self) -> int:
        return len(SPECIAL_TOKENS) + len(self.tokens)

    def token_to_id(self, token: str) -> int | None:
        """The id of ``token`` (a vocabulary entry, or ``"<unk>"`` ...), or None."""
        return self._index.get(token)

    def _set_tokens(self, tokens: list[str]) -> None:
        self.tokens = list(tokens)
        offset = len(SPECIAL_TOKENS)
        self._index = {t: i + offset for i, t in enumerate(self.tokens)}

    def decode(self, ids: Iterable[int], *, skip_special_tokens: bool = True) -> str:
        """The text of ``ids``; special tokens are dropped (or shown, as ``<pad>`` ...)."""
        self._check_trained()
        specials = list(SPECIAL_TOKENS.values())
        offset = len(specials)
        out = []
        for i in ids:
            i = int(i)
            if i >= offset:
                out.append(self.tokens[i - offset])
            elif not skip_special_tokens or (self.keep_unk and i == self.unk_id):
                out.append(specials[i])
        return self.joiner.join(out)
