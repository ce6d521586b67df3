"""The one attention module: encoder self-attention, causal self-attention with a KV cache,
cross-attention over an encoder's output, and the static-shape decoding step that
``torch.compile`` compiles. Every model in ``nn/`` attends through it."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Attention", "apply_rotary", "rotary_tables"]


def rotary_tables(head_size: int, n_pos: int, base: float = 10000.0):
    """cos and sin tables, (n_pos, head_size // 2) each."""
    inv_freq = 1.0 / base ** (torch.arange(0, head_size, 2, dtype=torch.float32) / head_size)
    angles = torch.outer(torch.arange(n_pos, dtype=torch.float32), inv_freq)
    return angles.cos(), angles.sin()


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate pairs (first half, second half) of x (B, nh, T, hs); cos/sin (B, 1, T, hs/2)."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1).type_as(x)


# Training on CPU in bf16, keys up to this long attend by plain products (``_by_products``):
# there the CPU flash kernel's backward cost 1.6x the whole step; from 256 on it is the
# faster (benchmarks/RESULTS.md "Attention on CPU: which kernel trains faster")
_PRODUCTS_MAX_LEN = 128


def _by_products(q, k, v, attn_mask=None, is_causal: bool = False,
                 dropout_p: float = 0.0) -> torch.Tensor:
    """softmax(q k^T / sqrt(head size), where ``attn_mask``) v as matrix products, the
    arithmetic of ``F.scaled_dot_product_attention``'s math kernel (a query whose keys are
    all masked gets zeros, as SDPA gives)."""
    att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(q.shape[-1]))
    if is_causal:
        attn_mask = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool,
                               device=q.device).tril(k.shape[-2] - q.shape[-2])
    if attn_mask is not None:
        att = att.masked_fill(~attn_mask, float("-inf"))
    att = att.softmax(dim=-1)
    if attn_mask is not None and not is_causal:  # a query with no key to see: zeros, as SDPA
        att = torch.where(attn_mask.any(dim=-1, keepdim=True), att, 0.0)
    if dropout_p:
        att = F.dropout(att, dropout_p)
    return att.to(v.dtype) @ v


class Attention(nn.Module):
    """Multi-head attention through ``F.scaled_dot_product_attention``.

    ``cross=False``: queries, keys and values from ``x`` (one ``qkv`` projection); with
    ``causal=True`` each position sees itself and the past, and a :class:`KVCache` extends the
    past across calls. ``cross=True``: queries from ``x``, keys and values from ``memory`` (an
    encoder's output; ``q`` and ``kv`` projections). The parameter names (``qkv``, ``proj``)
    are GPT-2's, so checkpoints map one to one.
    """

    def __init__(self, n_embd: int, n_head: int, attn_dropout: float, dropout: float,
                 bias: bool = True, causal: bool = False, cross: bool = False):
        super().__init__()
        if n_embd % n_head:
            raise ValueError(f"n_embd={n_embd} is not divisible by n_head={n_head}.")
        self.n_head = n_head
        self.causal = causal
        self.cross = cross
        self.attn_dropout = attn_dropout
        if cross:
            self.q = nn.Linear(n_embd, n_embd, bias=bias)
            self.kv = nn.Linear(n_embd, 2 * n_embd, bias=bias)
        else:
            self.qkv = nn.Linear(n_embd, 3 * n_embd, bias=bias)
        self.proj = nn.Linear(n_embd, n_embd, bias=bias)
        self.resid_drop = nn.Dropout(dropout)

    def _heads(self, t: torch.Tensor) -> torch.Tensor:
        B, T, C = t.shape
        return t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)

    def _merge(self, y: torch.Tensor) -> torch.Tensor:
        B, nh, T, hs = y.shape
        return self.resid_drop(self.proj(y.transpose(1, 2).contiguous().view(B, T, nh * hs)))

    def memory_kv(self, memory: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Cross-attention keys and values of ``memory`` (B, S, C), each (B, nh, S, hs):
        computed once per source sentence when decoding, then passed as ``memory_kv``."""
        k, v = self.kv(memory).split(memory.shape[-1], dim=2)
        return self._heads(k), self._heads(v)

    def project(self, x: torch.Tensor, memory: torch.Tensor | None = None, memory_kv=None):
        """(q, k, v), each (B, nh, T, hs): from ``x``, or keys and values from ``memory``
        (or the ``memory_kv`` computed from it)."""
        C = x.shape[-1]
        if self.cross:
            if memory_kv is None:
                if memory is None:
                    raise ValueError("cross-attention needs memory (the encoder's output).")
                memory_kv = self.memory_kv(memory)
            return (self._heads(self.q(x)), *memory_kv)
        q, k, v = self.qkv(x).split(C, dim=2)
        return self._heads(q), self._heads(k), self._heads(v)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None, *,
                memory: torch.Tensor | None = None, memory_kv=None, kv_cache=None,
                layer: int = 0, rotary=None) -> torch.Tensor:
        """x (B, T, C). attn_mask bool, True where attention may go: (B, 1, 1, Tk) for padding
        or (B, 1, T, Tk); None means plain (causal, if ``causal``) attention over the cache
        and x. ``rotary``: (cos, sin) tables for the positions of x. Cross-attention takes
        ``memory`` (B, S, C) or its precomputed ``memory_kv``."""
        q, k, v = self.project(x, memory, memory_kv)
        if rotary is not None and not self.cross:
            q, k = apply_rotary(q, *rotary), apply_rotary(k, *rotary)
        if kv_cache is not None and not self.cross:
            k, v = kv_cache.write(layer, k, v)  # (B, nh, Tk, hs)
        T, Tk = q.shape[2], k.shape[2]
        if self.causal and T == 1 and not self.training:
            # one decoding step: two small matmuls beat SDPA
            return self._merge(_by_products(q, k, v, attn_mask))
        is_causal = False
        if self.causal and attn_mask is None and T > 1:
            if Tk == T:
                is_causal = True
            else:  # queries are the last T of Tk positions
                attn_mask = torch.ones(T, Tk, dtype=torch.bool, device=x.device).tril(Tk - T)
        dropout_p = self.attn_dropout if self.training else 0.0
        if (q.device.type == "cpu" and q.dtype == torch.bfloat16 and q.requires_grad
                and Tk <= _PRODUCTS_MAX_LEN):
            return self._merge(_by_products(q, k, v, attn_mask, is_causal, dropout_p))
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, is_causal=is_causal,
                                           dropout_p=dropout_p)  # (B, nh, T, hs)
        return self._merge(y)

    def step(self, x: torch.Tensor, index: torch.Tensor, k_cache: torch.Tensor,
             v_cache: torch.Tensor, valid: torch.Tensor, rotary=None) -> torch.Tensor:
        """One decoding step with static shapes (for ``torch.compile``): x (B, 1, C) is the
        new token's input, written at slot ``index`` (shape (1,)) of this layer's preallocated
        ``k_cache`` / ``v_cache`` (B, nh, max_len, hs) in place; attention goes over every
        slot where ``valid`` (broadcast to (B, nh, 1, max_len)) is True."""
        q, k, v = self.project(x)
        if rotary is not None:
            q, k = apply_rotary(q, *rotary), apply_rotary(k, *rotary)
        k_cache.index_copy_(2, index, k)
        v_cache.index_copy_(2, index, v)
        return self._merge(_by_products(q, k_cache, v_cache, valid))  # over (B, nh, 1, L)
