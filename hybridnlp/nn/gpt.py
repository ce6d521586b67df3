"""A decoder-only Transformer (GPT): token + learned or rotary positions, pre-norm blocks,
causal SDPA attention, tied input/output embeddings, and a preallocated KV cache.

The weights are laid out like GPT-2 (LayerNorm with bias, GELU with the tanh approximation),
so :mod:`hybridnlp.lm.gpt2` can map Hugging Face checkpoints onto it one tensor at a time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from hybridnlp.nn.config import PresetConfig
from hybridnlp.nn.layers import Block, SelfAttention

__all__ = ["GPT", "GPT_PRESETS", "GPTConfig", "KVCache"]


@dataclass
class GPTConfig(PresetConfig):
    """Shape of a GPT. ``block_size`` is the context window in tokens."""

    _unknown_preset = "unknown GPT preset {name!r}"

    vocab_size: int = 50257
    block_size: int = 1024
    n_layer: int = 12
    n_head: int = 12
    n_embd: int = 768
    mlp_ratio: int = 4
    dropout: float = 0.0
    bias: bool = True
    positions: str = "learned"  # "learned" (GPT-2) or "rotary"
    rope_base: float = 10000.0
    tie_weights: bool = True
    norm_eps: float = 1e-5
    activation: str = "gelu_tanh"  # GPT-2's tanh approximation; "gelu" (exact) is 2x faster on CPU

    def __post_init__(self):
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd", "mlp_ratio"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"GPTConfig.{name}={value!r} must be a positive integer.")
        if self.n_embd % self.n_head:
            raise ValueError(
                f"n_embd={self.n_embd} is not divisible by n_head={self.n_head}; pick n_head "
                f"among {[h for h in range(1, 33) if self.n_embd % h == 0]}."
            )
        if self.positions not in ("learned", "rotary"):
            raise ValueError(
                f"positions={self.positions!r} is not allowed; choose 'learned' or 'rotary'."
            )
        if self.positions == "rotary" and (self.n_embd // self.n_head) % 2:
            raise ValueError(f"rotary positions need an even head size, got "
                             f"{self.n_embd // self.n_head}; change n_embd or n_head.")
        if self.activation not in ("gelu", "gelu_tanh"):
            raise ValueError(f"activation={self.activation!r} is not allowed; choose 'gelu' or "
                             f"'gelu_tanh'.")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout={self.dropout!r} must be in [0, 1).")

    @property
    def head_size(self) -> int:
        return self.n_embd // self.n_head


# vocab_size of the small presets is replaced by the tokenizer's when a CausalLM fits. The
# small presets train from scratch on CPU: no biases and exact GELU (as nanoGPT), which is
# twice as fast as the tanh approximation there; the gpt2 presets are GPT-2's shapes.
_SMALL = dict(bias=False, activation="gelu")
GPT_PRESETS = {
    "gpt-nano": dict(n_layer=3, n_head=3, n_embd=48, block_size=64, **_SMALL),  # tests
    # CausalLM's default: with minutes of CPU, steps beat depth. One block learns the most
    # per second (Tiny Shakespeare, 90 s, lr 5e-3, context 64: 1 layer 1.68, 2 layers 1.72,
    # 3 layers 1.76, 4 layers 1.81; 1 layer with context 128: 1.66).
    "quick": dict(n_layer=1, n_head=4, n_embd=128, block_size=128, **_SMALL),
    # nanoGPT's CPU "baby GPT" (config/train_shakespeare_char.py, CPU settings)
    "baby": dict(n_layer=4, n_head=4, n_embd=128, block_size=64, **_SMALL),
    "gpt-micro": dict(n_layer=4, n_head=4, n_embd=128, block_size=256, **_SMALL),
    "gpt-mini": dict(n_layer=6, n_head=6, n_embd=192, block_size=256, **_SMALL),
    "shakespeare-char": dict(n_layer=6, n_head=6, n_embd=384, block_size=256, dropout=0.2,
                             **_SMALL),
    "gpt2": dict(n_layer=12, n_head=12, n_embd=768, block_size=1024, vocab_size=50257),
    "gpt2-medium": dict(n_layer=24, n_head=16, n_embd=1024, block_size=1024, vocab_size=50257),
    "gpt2-large": dict(n_layer=36, n_head=20, n_embd=1280, block_size=1024, vocab_size=50257),
    "gpt2-xl": dict(n_layer=48, n_head=25, n_embd=1600, block_size=1024, vocab_size=50257),
}


GPTConfig._presets = GPT_PRESETS


class KVCache:
    """Preallocated keys and values of every layer, ``(n_layer, B, n_head, max_len, head)``.

    ``pos`` is how many positions are filled. Each layer writes its new keys and values at
    ``pos`` and reads everything up to them; the model advances ``pos`` once per forward.
    """

    def __init__(self, config: GPTConfig, batch_size: int, max_len: int | None = None, *,
                 device=None, dtype=torch.float32):
        self.max_len = max_len or config.block_size
        shape = (config.n_layer, batch_size, config.n_head, self.max_len, config.head_size)
        self.k = torch.zeros(shape, device=device, dtype=dtype)
        self.v = torch.zeros(shape, device=device, dtype=dtype)
        self.pos = 0

    @property
    def batch_size(self) -> int:
        return self.k.shape[1]

    def write(self, layer: int, k: torch.Tensor, v: torch.Tensor):
        """Store k, v (B, nh, T, hs) at ``pos``; return all keys and values so far."""
        end = self.pos + k.shape[2]
        if end > self.max_len:
            raise ValueError(f"KV cache is full: {end} positions needed, {self.max_len} "
                             f"allocated; crop the context or allocate a longer cache.")
        self.k[layer, :, :, self.pos:end] = k
        self.v[layer, :, :, self.pos:end] = v
        return self.k[layer, :, :, :end], self.v[layer, :, :, :end]

    def reorder(self, index: torch.Tensor) -> None:
        """Keep the rows ``index`` (beam search)."""
        self.k = self.k.index_select(1, index)
        self.v = self.v.index_select(1, index)

    def reset(self) -> None:
        self.pos = 0


def rotary_tables(head_size: int, n_pos: int, base: float = 10000.0):
    """cos and sin tables, (n_pos, head_size // 2) each."""
    inv_freq = 1.0 / base ** (torch.arange(0, head_size, 2, dtype=torch.float32) / head_size)
    angles = torch.outer(torch.arange(n_pos, dtype=torch.float32), inv_freq)
    return angles.cos(), angles.sin()


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate pairs (first half, second half) of x (B, nh, T, hs); cos/sin (B, 1, T, hs/2)."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1).type_as(x)


class CausalSelfAttention(SelfAttention):
    """Causal self-attention that can read and extend a :class:`KVCache`."""

    def forward(self, x, attn_mask=None, *, kv_cache=None, layer=0, rotary=None):
        """x (B, T, C); attn_mask bool (B, 1, T, Tk), True where attention may go, or None for
        plain causal attention over the cache and x."""
        B, T, C = x.shape
        hs = C // self.n_head
        q, k, v = self.qkv(x).split(C, dim=2)
        q = q.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, nh, T, hs)
        v = v.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, nh, T, hs)
        if rotary is not None:
            q, k = apply_rotary(q, *rotary), apply_rotary(k, *rotary)
        if kv_cache is not None:
            k, v = kv_cache.write(layer, k, v)  # (B, nh, Tk, hs)
        Tk = k.shape[2]
        if T == 1 and not self.training:  # one decoding step: two small matmuls beat SDPA
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))  # (B, nh, 1, Tk)
            if attn_mask is not None:
                att = att.masked_fill(~attn_mask, float("-inf"))
            y = (att.softmax(dim=-1) @ v).transpose(1, 2).reshape(B, T, C)
            return self.resid_drop(self.proj(y))
        is_causal = False
        if attn_mask is None and T > 1:
            if Tk == T:
                is_causal = True
            else:  # queries are the last T of Tk positions
                attn_mask = torch.ones(T, Tk, dtype=torch.bool, device=x.device).tril(Tk - T)
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_mask, is_causal=is_causal,
            dropout_p=self.attn_dropout if self.training else 0.0,
        )  # (B, nh, T, hs)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_drop(self.proj(y))


class GPTBlock(Block):
    attention_class = CausalSelfAttention


class GPT(nn.Module):
    """Decoder-only Transformer language model.

    ``forward(idx, targets=None, kv_cache=None, positions=None, key_mask=None)`` returns
    ``(logits, loss)``: logits (B, T, vocab) (only the last position when there are no
    targets and a cache is used), loss the mean cross-entropy over targets != -1.
    """

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        c = config
        self.wte = nn.Embedding(c.vocab_size, c.n_embd)
        self.wpe = nn.Embedding(c.block_size, c.n_embd) if c.positions == "learned" else None
        self.drop = nn.Dropout(c.dropout)
        self.blocks = nn.ModuleList(
            GPTBlock(c.n_embd, c.n_head, c.mlp_ratio, c.dropout, 0.0, c.bias, True,
                     c.norm_eps, approximate="tanh" if c.activation == "gelu_tanh" else "none")
            for _ in range(c.n_layer)
        )
        self.ln_f = nn.LayerNorm(c.n_embd, eps=c.norm_eps, bias=c.bias)
        self.lm_head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
        if c.tie_weights:
            self.lm_head.weight = self.wte.weight
        if c.positions == "rotary":
            cos, sin = rotary_tables(c.head_size, c.block_size, c.rope_base)
            self.register_buffer("rope_cos", cos, persistent=False)
            self.register_buffer("rope_sin", sin, persistent=False)
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # GPT-2: scaled init of residual projections
            if name.endswith("proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * c.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def num_params(self, non_embedding: bool = True) -> int:
        """Parameter count; without position embeddings by default (as nanoGPT counts)."""
        n = sum(p.numel() for p in self.parameters())
        if non_embedding and self.wpe is not None:
            n -= self.wpe.weight.numel()
        return n

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None,
                kv_cache: KVCache | None = None, positions: torch.Tensor | None = None,
                key_mask: torch.Tensor | None = None):
        """idx (B, T) token ids; targets (B, T) or None; positions (B, T) or None (counted
        from the cache position); key_mask (B, Tk) bool marks real (not padding) tokens among
        every position attended to, cache included."""
        B, T = idx.shape
        start = kv_cache.pos if kv_cache is not None else 0
        if positions is None:
            if start + T > self.config.block_size:
                raise ValueError(
                    f"sequence of {start + T} tokens is longer than the context window "
                    f"(block_size={self.config.block_size}); crop it to the last "
                    f"{self.config.block_size} tokens."
                )
            positions = torch.arange(start, start + T, device=idx.device)  # (T,), broadcast
        x = self.wte(idx)  # (B, T, C)
        rotary = None
        if self.wpe is not None:
            x = x + self.wpe(positions)
        else:  # (B or 1, 1, T, hs/2)
            rotary = (self.rope_cos[positions].view(-1, 1, T, self.config.head_size // 2),
                      self.rope_sin[positions].view(-1, 1, T, self.config.head_size // 2))
        x = self.drop(x)
        attn_mask = None
        if key_mask is not None:  # (B, 1, T, Tk): causal, real keys, and always itself
            Tk = key_mask.shape[1]
            causal = torch.ones(T, Tk, dtype=torch.bool, device=idx.device).tril(Tk - T)
            diag = torch.zeros_like(causal)
            diag[:, Tk - T:] = torch.eye(T, dtype=torch.bool, device=idx.device)
            attn_mask = ((causal & key_mask[:, None, :]) | diag).unsqueeze(1)
        for i, block in enumerate(self.blocks):
            x = block(x, attn_mask, kv_cache=kv_cache, layer=i, rotary=rotary)
        if kv_cache is not None:
            kv_cache.pos += T
        x = self.ln_f(x)
        if targets is None:
            if kv_cache is not None:
                x = x[:, -1:]  # only the next-token distribution is needed
            return self.lm_head(x), None
        logits = self.lm_head(x)  # (B, T, V)
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1),
                               ignore_index=-1)
        return logits, loss

    # ------------------------------------------------------------------ FLOPs

    def flops_per_token(self, seq_len: int | None = None) -> float:
        """Training FLOPs per token (forward + backward): 6N + 12 L H Q T (PaLM appendix B)."""
        c = self.config
        T = seq_len or c.block_size
        return 6 * self.num_params() + 12 * c.n_layer * c.n_head * c.head_size * T

    def estimate_mfu(self, tokens_per_second: float, peak_flops: float,
                     seq_len: int | None = None) -> float:
        """Model FLOPs utilisation: achieved training FLOP/s over ``peak_flops``."""
        return self.flops_per_token(seq_len) * tokens_per_second / peak_flops
