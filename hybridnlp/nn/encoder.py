"""A Transformer encoder with padding masks and pooling, and a classifier on top of it."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hybridnlp.nn.config import EncoderConfig
from hybridnlp.nn.layers import Block, head_loss, init_weights

__all__ = ["ClassificationHead", "SequenceClassifier", "SpanExtractor", "TransformerEncoder"]


class TransformerEncoder(nn.Module):
    """Token + learned position embeddings, pre-norm blocks, final LayerNorm."""

    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.n_embd)
        self.pos_emb = nn.Embedding(config.max_len, config.n_embd)
        self.drop = nn.Dropout(config.emb_dropout)
        self.blocks = nn.ModuleList(
            Block(config.n_embd, config.n_head, config.mlp_ratio, config.dropout,
                  config.attn_dropout, config.bias, causal=False, norm_eps=config.norm_eps)
            for _ in range(config.n_layer)
        )
        self.ln_f = nn.LayerNorm(config.n_embd, eps=config.norm_eps, bias=config.bias)

    def forward(self, idx: torch.Tensor, mask: torch.Tensor | None = None,
                extra: torch.Tensor | None = None) -> torch.Tensor:
        """idx (B, T) token ids; mask (B, T) bool, True on real tokens; extra (B, T, C) added
        to the embeddings (segment or feature embeddings). Returns (B, T, C)."""
        B, T = idx.shape
        if T > self.config.max_len:
            raise ValueError(
                f"sequence length {T} exceeds max_len={self.config.max_len}; truncate the input "
                f"or build the model with a larger max_len."
            )
        pos = torch.arange(T, device=idx.device)  # (T,)
        x = self.tok_emb(idx) + self.pos_emb(pos)  # (B, T, C)
        x = self.drop(x if extra is None else x + extra)
        attn_mask = None
        if mask is not None and (_exporting() or not bool(mask.all())):  # a graph: no branch
            attn_mask = mask[:, None, None, :]  # (B, 1, 1, T): every query sees real keys only
        for block in self.blocks:
            x = block(x, attn_mask)
        return self.ln_f(x)  # (B, T, C)

    def pool(self, h: torch.Tensor, mask: torch.Tensor | None, how: str) -> torch.Tensor:
        """(B, T, C) hidden states -> (B, C) by mean / max over real tokens, or the first token."""
        if how == "cls":
            return h[:, 0]  # (B, C)
        if mask is None:
            return h.mean(dim=1) if how == "mean" else h.max(dim=1).values
        m = mask.unsqueeze(-1).to(h.dtype)  # (B, T, 1)
        if how == "mean":
            return (h * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0)  # (B, C)
        return h.masked_fill(m == 0, float("-inf")).max(dim=1).values  # (B, C)


def _exporting() -> bool:
    """Whether torch.export (the ONNX exporter) is tracing: no data-dependent branches."""
    is_exporting = getattr(torch.compiler, "is_exporting", None)
    return bool(is_exporting and is_exporting())


class ClassificationHead(nn.Module):
    """Pooled encoding, optionally joined with extra dense features, -> class logits."""

    def __init__(self, n_embd: int, n_extra: int, n_classes: int, dropout: float):
        super().__init__()
        self.extra_norm = nn.LayerNorm(n_extra) if n_extra else None
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(n_embd + n_extra, n_classes)

    def forward(self, pooled: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        """pooled (B, C), extra (B, F) -> logits (B, n_classes)."""
        if self.extra_norm is not None:
            if extra is None:
                raise ValueError(
                    f"this head expects {self.extra_norm.normalized_shape[0]} extra features "
                    f"per example; pass features=..."
                )
            pooled = torch.cat([pooled, self.extra_norm(extra.to(pooled.dtype))], dim=-1)
        return self.out(self.drop(pooled))


class SequenceClassifier(nn.Module):
    """TransformerEncoder + ClassificationHead. ``forward(idx, ..., targets) -> (logits, loss)``."""

    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.config = config
        self.encoder = TransformerEncoder(config)
        self.head = ClassificationHead(config.n_embd, config.n_extra, config.n_classes,
                                       config.head_dropout)
        self.register_buffer("class_weight", torch.ones(config.n_classes))
        init_weights(self, config.n_layer)

    def forward(self, idx: torch.Tensor, mask: torch.Tensor | None = None,
                features: torch.Tensor | None = None, targets: torch.Tensor | None = None,
                sample_weight: torch.Tensor | None = None):
        h = self.encoder(idx, mask)  # (B, T, C)
        pooled = self.encoder.pool(h, mask, self.config.pooling)  # (B, C)
        logits = self.head(pooled, features)  # (B, n_classes)
        loss = None
        if targets is not None:
            loss = head_loss(logits, targets, self.class_weight, sample_weight)
        return logits, loss


class SpanExtractor(nn.Module):
    """TransformerEncoder over ``<bos> question <sep> passage``, with a segment embedding
    (question / passage) and an exact-match embedding (the passage word occurs in the
    question, DrQA's strongest feature), and start / end heads. ``forward(idx, mask, segment,
    match, start=None, end=None) -> (logits (B, T, 2), loss)``: the loss is the mean of the
    start and end cross-entropies over the positions that may hold an answer (``segment ==
    1``, and position 0, the target of a window without the answer)."""

    def __init__(self, config: EncoderConfig):
        super().__init__()
        self.config = config
        self.encoder = TransformerEncoder(config)
        self.segment = nn.Embedding(2, config.n_embd)
        self.match = nn.Embedding(2, config.n_embd)
        self.head = nn.Linear(config.n_embd, 2)
        init_weights(self, config.n_layer)

    def forward(self, idx, mask, segment, match, start=None, end=None):
        h = self.encoder(idx, mask, self.segment(segment) + self.match(match))
        logits = self.head(h).float()  # (B, T, 2)
        allowed = segment.bool() & mask
        allowed[:, 0] = True
        logits = logits.masked_fill(~allowed[..., None], float("-inf"))
        if start is None:
            return logits, None
        loss = (F.cross_entropy(logits[..., 0], start) + F.cross_entropy(logits[..., 1], end)) / 2
        return logits, loss
