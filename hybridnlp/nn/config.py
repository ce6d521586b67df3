"""Model configurations: plain dataclasses with named presets."""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass

__all__ = ["ENCODER_PRESETS", "EncoderConfig", "PresetConfig"]


class PresetConfig:
    """``from_preset``, ``from_dict`` (unknown keys rejected with a suggestion) and
    ``to_dict`` for a config dataclass whose presets are the dict ``_presets``."""

    _presets: dict = {}
    _unknown_preset = "unknown preset={name!r}"

    @classmethod
    def from_preset(cls, name: str, **overrides):
        """A named preset with fields overridden."""
        if name not in cls._presets:
            close = difflib.get_close_matches(name, cls._presets, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"{cls._unknown_preset.format(name=name)}; choose one of "
                             f"{', '.join(cls._presets)}.{hint}")
        return cls.from_dict({**cls._presets[name], **overrides})

    @classmethod
    def from_dict(cls, values: dict):
        """Build from a dict, rejecting unknown keys with a suggestion."""
        fields = {f.name for f in dataclasses.fields(cls)}
        for key in values:
            if key not in fields:
                close = difflib.get_close_matches(key, fields, n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise ValueError(f"{cls.__name__} has no field {key!r}.{hint}")
        return cls(**values)

    # ------------------------------------------------------------ the checks they share

    def _check_sizes(self, *names: str) -> None:
        """Each field in ``names`` a positive integer (bools refused), with one message."""
        for name in names:
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{type(self).__name__}.{name}={value!r} must be a positive "
                                 f"integer.")

    def _check_heads(self) -> None:
        if self.n_embd % self.n_head:
            raise ValueError(
                f"n_embd={self.n_embd} is not divisible by n_head={self.n_head}; pick n_head "
                f"among {[h for h in range(1, 33) if self.n_embd % h == 0]}.")

    def _check_choice(self, name: str, allowed: tuple[str, ...]) -> None:
        value = getattr(self, name)
        if value not in allowed:
            options = ", ".join(repr(a) for a in allowed[:-1]) + f" or {allowed[-1]!r}"
            raise ValueError(f"{name}={value!r} is not allowed; choose {options}.")

    def _check_fractions(self, *names: str) -> None:
        """Each field in ``names`` in [0, 1) (dropout rates, label smoothing)."""
        for name in names:
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ValueError(f"{type(self).__name__}.{name}={value!r} must be in [0, 1).")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class EncoderConfig(PresetConfig):
    """A Transformer encoder with a classification head."""

    vocab_size: int = 30000
    max_len: int = 256  # positions the model can embed
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 128
    mlp_ratio: int = 4  # MLP hidden width = mlp_ratio * n_embd
    dropout: float = 0.1  # after attention and MLP
    attn_dropout: float = 0.0  # on attention weights
    emb_dropout: float = 0.1  # on token + position embeddings
    head_dropout: float = 0.1  # on the pooled vector, before the classifier
    pooling: str = "mean"  # "mean" over real tokens, "cls" (first token) or "max"
    bias: bool = True
    n_classes: int = 2
    n_extra: int = 0  # width of extra dense features joined to the pooled vector
    pad_id: int = 0
    norm_eps: float = 1e-5

    def __post_init__(self):
        self._check_sizes("vocab_size", "max_len", "n_layer", "n_head", "n_embd", "n_classes")
        self._check_heads()
        self._check_choice("pooling", ("mean", "cls", "max"))

ENCODER_PRESETS = {
    "tiny": dict(n_layer=1, n_head=2, n_embd=32),  # tests
    # Sentence classification from a few thousand examples on CPU: one wide-enough layer and
    # strong dropout on embeddings and the pooled vector (chosen on SST-2 dev accuracy).
    "small": dict(n_layer=1, n_head=4, n_embd=128, mlp_ratio=2, emb_dropout=0.3,
                  head_dropout=0.3),
    "base": dict(n_layer=4, n_head=8, n_embd=256),
    "bert-base": dict(n_layer=12, n_head=12, n_embd=768, max_len=512),
}
EncoderConfig._presets = ENCODER_PRESETS
