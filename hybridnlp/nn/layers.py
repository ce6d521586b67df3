"""Transformer building blocks: MLP, pre-norm block (around :class:`~hybridnlp.nn.attention.
Attention`, the one attention module), and GPT-2's weight initialisation."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from hybridnlp.nn.attention import Attention

__all__ = ["MLP", "Block", "ByteDropout", "SelfAttention", "head_loss", "init_weights",
           "use_byte_dropout"]


def head_loss(logits: torch.Tensor, targets: torch.Tensor,
              class_weight: torch.Tensor | None = None,
              sample_weight: torch.Tensor | None = None) -> torch.Tensor:
    """The loss of a sequence head: cross-entropy against class indices (weighted by
    ``class_weight``), or mean squared error against real targets, one per output (a
    regressor's head, as wide as its targets). With ``sample_weight`` (B,), the weighted
    mean over the examples: an integer weight counts as that many copies of the example
    (with class weights, as scikit-learn weighs them: by both, normalised by both). Boolean
    targets (B, n_labels) are a multi-label indicator matrix: binary cross-entropy on each
    label's logit, averaged over the labels."""
    if targets.dtype == torch.bool:
        per = F.binary_cross_entropy_with_logits(logits.float(), targets.float(),
                                                 reduction="none").mean(dim=1)
        norm = torch.ones_like(per)
    elif targets.is_floating_point():
        per = F.mse_loss(logits.float(), targets.float().reshape(logits.shape),
                         reduction="none").reshape(len(logits), -1).mean(dim=1)
        norm = torch.ones_like(per)
    else:
        per = F.cross_entropy(logits.float(), targets, weight=class_weight, reduction="none")
        norm = torch.ones_like(per) if class_weight is None else class_weight[targets].float()
    if sample_weight is not None:
        w = sample_weight.float()
        per, norm = per * w, norm * w
    return per.sum() / norm.sum().clamp(min=1e-12)

SelfAttention = Attention  # the name the encoder's attention had; one module serves both


def init_weights(module: nn.Module, n_layer: int) -> None:
    """GPT-2 style: weights N(0, 0.02), residual projections N(0, 0.02 / sqrt(2 * n_layer)),
    biases zero, norms at their defaults. Tied weights are drawn once."""
    for name, p in module.named_parameters():
        if p.dim() < 2:
            continue  # biases and norms keep their defaults
        std = 0.02 / math.sqrt(2 * n_layer) if name.endswith("proj.weight") else 0.02
        nn.init.normal_(p, mean=0.0, std=std)
    for m in module.modules():
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)


class ByteDropout(nn.Module):
    """Dropout whose mask comes from random bytes: one 64-bit draw gives eight elements'
    bytes, so the mask costs an eighth of the random numbers ``nn.Dropout`` draws, which
    dominate its cost on CPU (benchmarks/RESULTS.md, "Translation"). The drop rate is ``p``
    rounded to a multiple of 1/256; kept values are scaled by 1 / (1 - that rate). On CUDA,
    and in eval mode, it is ``nn.functional.dropout`` (exact ``p``). Seeded by torch's RNG."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p
        self._cut = round(p * 256)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        if x.device.type != "cpu":
            return F.dropout(x, self.p, True)
        n = x.numel()
        draws = torch.randint(-2**63, 2**63 - 1, ((n + 7) // 8,), dtype=torch.int64)
        keep = draws.view(torch.uint8)[:n].view(x.shape) >= self._cut
        return x * keep * (256 / (256 - self._cut))

    def extra_repr(self) -> str:
        return f"p={self.p}"


def use_byte_dropout(module: nn.Module) -> nn.Module:
    """Replace every ``nn.Dropout`` inside ``module`` with a :class:`ByteDropout` of the same
    rate (in place); returns ``module``."""
    for name, child in list(module.named_children()):
        if isinstance(child, nn.Dropout):
            setattr(module, name, ByteDropout(child.p))
        else:
            use_byte_dropout(child)
    return module


class MLP(nn.Module):
    """Linear, GELU (exact, or GPT-2's tanh approximation), linear, dropout."""

    def __init__(self, n_embd: int, hidden: int, dropout: float, bias: bool = True,
                 approximate: str = "none"):
        super().__init__()
        self.fc = nn.Linear(n_embd, hidden, bias=bias)
        self.proj = nn.Linear(hidden, n_embd, bias=bias)
        self.drop = nn.Dropout(dropout)
        self.approximate = approximate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.proj(F.gelu(self.fc(x), approximate=self.approximate)))


class Block(nn.Module):
    """Pre-norm Transformer block: x + attn(ln(x)), then x + mlp(ln(x)).

    Extra keyword arguments of ``forward`` (a KV cache, rotary tables) go to the attention.
    """

    def __init__(self, n_embd: int, n_head: int, mlp_ratio: int, dropout: float,
                 attn_dropout: float, bias: bool = True, causal: bool = False,
                 norm_eps: float = 1e-5, approximate: str = "none"):
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd, eps=norm_eps, bias=bias)
        self.attn = Attention(n_embd, n_head, attn_dropout, dropout, bias, causal)
        self.ln_2 = nn.LayerNorm(n_embd, eps=norm_eps, bias=bias)
        self.mlp = MLP(n_embd, mlp_ratio * n_embd, dropout, bias, approximate)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None,
                **attn_kwargs) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), attn_mask, **attn_kwargs)  # (B, T, C)
        return x + self.mlp(self.ln_2(x))  # (B, T, C)

    def step(self, x: torch.Tensor, index: torch.Tensor, k_cache: torch.Tensor,
             v_cache: torch.Tensor, valid: torch.Tensor, rotary=None) -> torch.Tensor:
        """:meth:`forward` for one new token with static shapes (``Attention.step``)."""
        x = x + self.attn.step(self.ln_1(x), index, k_cache, v_cache, valid, rotary)
        return x + self.mlp(self.ln_2(x))
