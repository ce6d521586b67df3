"""A pretrained Hugging Face encoder with the project's classification head, for fine-tuning
with the one Trainer."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from hybridnlp.nn.encoder import ClassificationHead
from hybridnlp.nn.layers import head_loss
from hybridnlp.pretrained.local import encoder_from_config, encoder_kwargs, pool_hidden

__all__ = ["PretrainedClassifierConfig", "PretrainedSequenceClassifier", "PretrainedSpanExtractor",
           "layer_depths"]

_LAYER = re.compile(r"(?:^|\.)(?:layer|layers|h|block|blocks)\.(\d+)\.")


@dataclass
class PretrainedClassifierConfig:
    """The head's shape and the encoder's ``transformers`` config dict."""

    encoder: dict = field(default_factory=dict)
    n_classes: int = 2
    n_extra: int = 0
    pooling: tuple = ("cls",)
    head_dropout: float = 0.1
    layer_decay: float | None = None

    def to_dict(self) -> dict:
        values = asdict(self)
        values["pooling"] = list(self.pooling)
        return values

    @classmethod
    def from_dict(cls, values: dict) -> PretrainedClassifierConfig:
        return cls(**{**values, "pooling": tuple(values.get("pooling", ("cls",)))})


def layer_depths(names: list[str]) -> tuple[dict[str, int], int]:
    """Depth of each encoder parameter (embeddings 0, layer i i + 1, the rest above the last
    layer) and the number of layers: what layer-wise learning-rate decay scales by."""
    found = {name: int(m.group(1)) + 1 for name in names if (m := _LAYER.search(name))}
    n_layers = max(found.values(), default=0)
    depths = {name: found.get(name, 0 if "embed" in name else n_layers + 1) for name in names}
    return depths, n_layers


class PretrainedSequenceClassifier(nn.Module):
    """``encoder`` (a ``transformers`` base model) -> pooled hidden states (+ extra features)
    -> ``ClassificationHead``. ``forward(idx, mask, features, targets) -> (logits, loss)``,
    as :class:`hybridnlp.nn.SequenceClassifier`."""

    ddp_find_unused_parameters = True  # BERT's pooler is loaded but not used

    def __init__(self, config: PretrainedClassifierConfig, encoder: nn.Module | None = None):
        super().__init__()
        self.config = config
        self.encoder = encoder if encoder is not None else encoder_from_config(config.encoder)
        width = int(self.encoder.config.hidden_size) * len(config.pooling)
        self.head = ClassificationHead(width, config.n_extra, config.n_classes,
                                       config.head_dropout)
        nn.init.normal_(self.head.out.weight, std=0.02)
        nn.init.zeros_(self.head.out.bias)
        self.register_buffer("class_weight", torch.ones(config.n_classes))

    def forward(self, idx: torch.Tensor, mask: torch.Tensor | None = None,
                features: torch.Tensor | None = None, targets: torch.Tensor | None = None,
                sample_weight: torch.Tensor | None = None):
        if mask is None:
            mask = torch.ones_like(idx, dtype=torch.bool)
        h = self.encoder(**encoder_kwargs(self.encoder, idx, mask)).last_hidden_state
        logits = self.head(pool_hidden(h, mask, self.config.pooling), features)
        loss = None
        if targets is not None:
            loss = head_loss(logits, targets, self.class_weight, sample_weight)
        return logits, loss

    def optimizer_groups(self, weight_decay: float) -> list[dict]:
        """AdamW groups: decay on matrices only; with ``layer_decay`` (Clark et al. 2020, as in
        ELECTRA and BEiT) each group's learning rate is scaled by ``layer_decay ** (top -
        depth)``, the head at the full rate and the embeddings lowest."""
        decay = self.config.layer_decay
        named = [(n, p) for n, p in self.named_parameters() if p.requires_grad]
        depths, n_layers = layer_depths([n.removeprefix("encoder.") for n, _ in named
                                         if n.startswith("encoder.")])
        groups: dict[tuple, dict] = {}
        for name, param in named:
            depth = depths.get(name.removeprefix("encoder."), n_layers + 1) \
                if name.startswith("encoder.") else n_layers + 1
            scale = 1.0 if decay is None else decay ** (n_layers + 1 - depth)
            wd = weight_decay if param.dim() >= 2 else 0.0
            group = groups.setdefault((scale, wd), {"params": [], "weight_decay": wd,
                                                    "lr_scale": scale})
            group["params"].append(param)
        return list(groups.values())


class PretrainedSpanExtractor(nn.Module):
    """A ``transformers`` base model with start / end logits over its tokens (the
    ``qa_outputs`` layer of ``AutoModelForQuestionAnswering``, whose weights it takes over
    when the directory holds one). ``forward(idx, mask, segment, start, end) -> (logits,
    loss)``: logits (B, T, 2); loss the mean of the start and end cross-entropies (label 0,
    the first token, where the window does not hold the answer), as Devlin et al. train
    SQuAD."""

    ddp_find_unused_parameters = True  # BERT's pooler is loaded but not used

    def __init__(self, encoder_config: dict, encoder: nn.Module | None = None,
                 head: nn.Module | None = None):
        super().__init__()
        self.encoder = encoder if encoder is not None else encoder_from_config(encoder_config)
        self.qa_outputs = head if head is not None else nn.Linear(
            int(self.encoder.config.hidden_size), 2)
        if head is None:
            nn.init.normal_(self.qa_outputs.weight, std=0.02)
            nn.init.zeros_(self.qa_outputs.bias)
        self._segments = int(getattr(self.encoder.config, "type_vocab_size", 1) or 1) > 1

    def forward(self, idx: torch.Tensor, mask: torch.Tensor | None = None,
                segment: torch.Tensor | None = None, start: torch.Tensor | None = None,
                end: torch.Tensor | None = None):
        if mask is None:
            mask = torch.ones_like(idx, dtype=torch.bool)
        kwargs = encoder_kwargs(self.encoder, idx, mask)
        if self._segments and segment is not None:  # BERT's sentence B embedding
            kwargs["token_type_ids"] = segment
        h = self.encoder(**kwargs).last_hidden_state
        logits = self.qa_outputs(h).float().masked_fill(~mask.bool()[..., None], -1e4)
        loss = None
        if start is not None and end is not None:
            loss = (F.cross_entropy(logits[..., 0], start)
                    + F.cross_entropy(logits[..., 1], end)) / 2
        return logits, loss
