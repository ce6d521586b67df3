"""Byte-level BPE, trained with Hugging Face ``tokenizers`` (Rust)."""

from __future__ import annotations

from collections.abc import Iterable

from hybridnlp.text.tokenizer import SPECIAL_TOKENS, Tokenizer

__all__ = ["BPETokenizer", "PretrainedBPETokenizer"]


class BPETokenizer(Tokenizer):
    """Byte-level byte-pair encoding, as GPT-2: any string encodes, nothing is unknown.

    Parameters
    ----------
    vocab_size : int, default=8000
        Target vocabulary size, special tokens and the 256 byte symbols included.
    min_frequency : int, default=2
        Pairs seen fewer times are not merged.

    Examples
    --------
    >>> tok = BPETokenizer(vocab_size=300).train(["low lower lowest"] * 10)
    >>> tok.decode(tok.encode("lowest 🤖"))
    'lowest 🤖'
    """

    kind = "bpe"

    def __init__(self, vocab_size: int = 8000, min_frequency: int = 2):
        min_size = len(SPECIAL_TOKENS) + 256
        if not isinstance(vocab_size, int) or vocab_size < min_size:
            raise ValueError(
                f"vocab_size={vocab_size!r} is too small: byte-level BPE needs at least "
                f"{min_size} (256 bytes + {len(SPECIAL_TOKENS)} special tokens)."
            )
        self.vocab_size_target = vocab_size
        self.min_frequency = min_frequency
        self._tok = None

    @property
    def is_trained(self) -> bool:
        return self._tok is not None

    @property
    def vocab_size(self) -> int:
        self._check_trained()
        return self._tok.get_vocab_size()

    def train(self, texts: Iterable[str]) -> BPETokenizer:
        """Learn merges from an iterable of texts (streamed; may be a generator). Returns self."""
        from tokenizers import Tokenizer as HFTokenizer
        from tokenizers import decoders, models, pre_tokenizers, trainers

        if isinstance(texts, str):
            texts = [texts]
        tok = HFTokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=self.vocab_size_target, min_frequency=self.min_frequency,
            special_tokens=list(SPECIAL_TOKENS.values()),
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
        )
        tok.train_from_iterator(texts, trainer)
        self._set(tok)
        return self

    def _set(self, tok) -> None:
        tok.encode_special_tokens = True  # "<pad>" typed in a text is text, not a pad token
        self._tok = tok

    def _encode(self, text: str) -> list[int]:
        return self._tok.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: Iterable[str], *, add_special_tokens: bool = False):
        """Batch encoding in Rust, in parallel."""
        self._check_trained()
        texts = list(texts)
        if not all(isinstance(t, str) for t in texts):
            bad = next(i for i, t in enumerate(texts) if not isinstance(t, str))
            raise TypeError(f"texts[{bad}] must be a str, got {type(texts[bad]).__name__}.")
        ids = [e.ids for e in self._tok.encode_batch(texts, add_special_tokens=False)]
        if add_special_tokens:
            ids = [[self.bos_id, *row, self.eos_id] for row in ids]
        return ids

    def decode(self, ids: Iterable[int], *, skip_special_tokens: bool = True) -> str:
        self._check_trained()
        return self._tok.decode([int(i) for i in ids], skip_special_tokens=skip_special_tokens)

    def token_to_id(self, token: str) -> int | None:
        self._check_trained()
        return self._tok.token_to_id(token)

    def id_to_token(self, token_id: int) -> str | None:
        """The token string of ``token_id`` (as the ``tokenizers`` vocabulary writes it)."""
        self._check_trained()
        return self._tok.id_to_token(int(token_id))

    @property
    def backend(self):
        """The trained ``tokenizers.Tokenizer`` (what exports to other runtimes write as
        ``tokenizer.json``)."""
        self._check_trained()
        return self._tok

    def _state(self) -> dict:
        return {
            "vocab_size": self.vocab_size_target, "min_frequency": self.min_frequency,
            "tokenizer": self._tok.to_str(),
        }

    @classmethod
    def _from_state(cls, state: dict) -> BPETokenizer:
        from tokenizers import Tokenizer as HFTokenizer

        tok = cls(vocab_size=state["vocab_size"], min_frequency=state["min_frequency"])
        try:
            tok._set(HFTokenizer.from_str(state["tokenizer"]))
        except Exception as err:  # the Rust side raises its own exception type
            raise ValueError(f"field 'tokenizer' is not a valid tokenizers JSON ({err})") from None
        return tok

    def __getstate__(self) -> dict:
        return self._state() if self.is_trained else {
            "vocab_size": self.vocab_size_target, "min_frequency": self.min_frequency,
        }

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["vocab_size"], state["min_frequency"])
        if "tokenizer" in state:
            self._set(type(self)._from_state(state)._tok)


class PretrainedBPETokenizer(BPETokenizer):
    """A pretrained model's byte-level BPE (GPT-2's and its family's), read from a local
    directory: ``tokenizer.json``, or ``vocab.json`` + ``merges.txt``. Its special tokens keep
    the model's ids: ``<|endoftext|>`` (or the ``eos_token`` of ``tokenizer_config.json`` /
    ``special_tokens_map.json``) ends a document, and stands for pad, bos, unk and sep where
    the model has none, as GPT-2 does.

    Examples
    --------
    A local GPT-2 directory (nothing is downloaded)::

        tok = PretrainedBPETokenizer.from_directory("gpt2-local")
    """

    kind = "pretrained_bpe"

    def __init__(self, special: dict[str, int] | None = None):
        super().__init__()
        self.special = dict(special or {})
        for name, token_id in self.special.items():
            setattr(self, f"{name}_id", int(token_id))

    @classmethod
    def from_directory(cls, path) -> PretrainedBPETokenizer:
        """The tokenizer of the model directory ``path``."""
        from pathlib import Path

        from tokenizers import Tokenizer as HFTokenizer
        from tokenizers import decoders, models, pre_tokenizers

        from hybridnlp.utils.io import read_json

        path = Path(path)
        if (path / "tokenizer.json").is_file():
            try:
                tok = HFTokenizer.from_file(str(path / "tokenizer.json"))
            except Exception as err:  # the Rust side raises its own exception type
                raise ValueError(f"{str(path / 'tokenizer.json')!r} is not a tokenizers JSON "
                                 f"file: {err}") from None
        elif (path / "vocab.json").is_file() and (path / "merges.txt").is_file():
            tok = HFTokenizer(models.BPE.from_file(str(path / "vocab.json"),
                                                   str(path / "merges.txt")))
            tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
            tok.decoder = decoders.ByteLevel()
        else:
            raise FileNotFoundError(f"{str(path)!r} holds no tokenizer: neither tokenizer.json "
                                    f"nor vocab.json with merges.txt.")
        names = {}
        for file in ("special_tokens_map.json", "tokenizer_config.json"):
            if (path / file).is_file():
                for key, value in read_json(path / file, what="tokenizer settings").items():
                    if key.endswith("_token") and value is not None:
                        value = value.get("content") if isinstance(value, dict) else value
                        names.setdefault(key.removesuffix("_token"), value)
        eos = names.get("eos", "<|endoftext|>")
        if tok.token_to_id(eos) is None:
            raise ValueError(f"the tokenizer of {str(path)!r} has no end-of-text token "
                             f"{eos!r}; name it as eos_token in tokenizer_config.json.")
        special = {}
        for name in ("pad", "bos", "eos", "unk", "sep"):
            token_id = tok.token_to_id(names.get(name, eos))
            special[name] = tok.token_to_id(eos) if token_id is None else token_id
        out = cls(special)
        out._set(tok)
        return out

    def _state(self) -> dict:
        return {"special": self.special, "tokenizer": self._tok.to_str()}

    @classmethod
    def _from_state(cls, state: dict) -> PretrainedBPETokenizer:
        from tokenizers import Tokenizer as HFTokenizer

        tok = cls({k: int(v) for k, v in state["special"].items()})
        try:
            tok._set(HFTokenizer.from_str(state["tokenizer"]))
        except Exception as err:
            raise ValueError(f"field 'tokenizer' is not a valid tokenizers JSON ({err})") from None
        return tok

    def __getstate__(self) -> dict:
        return self._state()

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(type(self)._from_state(state).__dict__)
