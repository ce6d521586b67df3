"""Transformer building blocks: self-attention through SDPA, MLP, pre-norm block."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["MLP", "Block", "SelfAttention"]


class SelfAttention(nn.Module):
    """Multi-head self-attention with ``F.scaled_dot_product_attention``."""

    def __init__(self, n_embd: int, n_head: int, attn_dropout: float, dropout: float,
                 bias: bool = True, causal: bool = False):
        super().__init__()
        self.n_head = n_head
        self.causal = causal
        self.attn_dropout = attn_dropout
        self.qkv = nn.Linear(n_embd, 3 * n_embd, bias=bias)
        self.proj = nn.Linear(n_embd, n_embd, bias=bias)
        self.resid_drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, T, C); attn_mask bool (B, 1, 1, T) or (B, 1, T, T), True where attention may go."""
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)  # each (B, T, C)
        hs = C // self.n_head
        q = q.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, nh, T, hs)
        v = v.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, nh, T, hs)
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_mask,
            dropout_p=self.attn_dropout if self.training else 0.0,
            is_causal=self.causal and attn_mask is None,
        )  # (B, nh, T, hs)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # (B, T, C)
        return self.resid_drop(self.proj(y))


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

    attention_class = SelfAttention

    def __init__(self, n_embd: int, n_head: int, mlp_ratio: int, dropout: float,
                 attn_dropout: float, bias: bool = True, causal: bool = False,
                 norm_eps: float = 1e-5, approximate: str = "none"):
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd, eps=norm_eps, bias=bias)
        self.attn = self.attention_class(n_embd, n_head, attn_dropout, dropout, bias, causal)
        self.ln_2 = nn.LayerNorm(n_embd, eps=norm_eps, bias=bias)
        self.mlp = MLP(n_embd, mlp_ratio * n_embd, dropout, bias, approximate)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None,
                **attn_kwargs) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), attn_mask, **attn_kwargs)  # (B, T, C)
        return x + self.mlp(self.ln_2(x))  # (B, T, C)
