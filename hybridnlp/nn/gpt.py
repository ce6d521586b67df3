"""A decoder-only Transformer (GPT): token + learned or rotary positions, pre-norm blocks,
causal SDPA attention, tied input/output embeddings, and a preallocated KV cache.

The weights are laid out like GPT-2 (LayerNorm with bias, GELU with the tanh approximation),
so :mod:`hybridnlp.lm.gpt2` can map Hugging Face checkpoints onto it one tensor at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from hybridnlp.nn.adaptive import AdaptiveSoftmax, auto_cutoffs
from hybridnlp.nn.attention import apply_rotary, rotary_tables
from hybridnlp.nn.config import PresetConfig
from hybridnlp.nn.encoder import ClassificationHead
from hybridnlp.nn.layers import Block, head_loss, init_weights

__all__ = ["GPT", "GPT_PRESETS", "GPTClassifier", "GPTClassifierConfig", "GPTConfig", "KVCache",
           "apply_rotary", "rotary_tables"]


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
    # The adaptive softmax's cluster bounds over frequency-sorted ids (hybridnlp.nn.adaptive);
    # "auto" picks them from vocab_size (none below 20,000 words), None or [] is a full softmax.
    adaptive_cutoffs: list | str | None = None
    adaptive_div: float = 4.0

    def __post_init__(self):
        self._check_sizes("vocab_size", "block_size", "n_layer", "n_head", "n_embd",
                          "mlp_ratio")
        self._check_heads()
        self._check_choice("positions", ("learned", "rotary"))
        if self.positions == "rotary" and (self.n_embd // self.n_head) % 2:
            raise ValueError(f"rotary positions need an even head size, got "
                             f"{self.n_embd // self.n_head}; change n_embd or n_head.")
        self._check_choice("activation", ("gelu", "gelu_tanh"))
        self._check_fractions("dropout")
        self._check_cutoffs()

    def _check_cutoffs(self) -> None:
        if not (isinstance(self.adaptive_div, int | float) and self.adaptive_div >= 1):
            raise ValueError(f"adaptive_div={self.adaptive_div!r} must be a number >= 1.")
        cut = self.adaptive_cutoffs
        if cut is None or cut == "auto":
            return
        if (isinstance(cut, str) or not isinstance(cut, list | tuple)
                or not all(isinstance(c, int) and not isinstance(c, bool) for c in cut)
                or any(b <= a for a, b in zip(cut[:-1], cut[1:])) or (cut and cut[0] < 1)):
            raise ValueError(f"adaptive_cutoffs={cut!r} must be 'auto', None or increasing "
                             f"positive word counts such as [2000, 10000].")
        if cut and cut[-1] >= self.vocab_size:
            raise ValueError(f"adaptive_cutoffs={list(cut)!r} must all be below "
                             f"vocab_size={self.vocab_size}; drop the last ones or use "
                             f"'auto'.")

    @property
    def cutoffs(self) -> list[int]:
        """The adaptive softmax's cluster bounds; [] for a full softmax."""
        if self.adaptive_cutoffs == "auto":
            return auto_cutoffs(self.vocab_size)
        return list(self.adaptive_cutoffs or [])

    @property
    def head_size(self) -> int:
        return self.n_embd // self.n_head


# vocab_size of the small presets is replaced by the tokenizer's when a CausalLM fits. The
# small presets train from scratch on CPU: no biases and exact GELU (as nanoGPT), which is
# twice as fast as the tanh approximation there, and the adaptive softmax when the vocabulary
# is a word-level one (20,000 words or more); the gpt2 presets are GPT-2's shapes.
_SMALL = dict(bias=False, activation="gelu", adaptive_cutoffs="auto")
GPT_PRESETS = {
    "gpt-nano": dict(n_layer=3, n_head=3, n_embd=48, block_size=64, **_SMALL),  # tests
    # CausalLM's default: with minutes of CPU and CausalLM's Muon, two blocks learn the most
    # per second (chosen on Tiny Shakespeare validation loss in 90 s; with AdamW one block
    # did: benchmarks/RESULTS.md, "how CausalLM's defaults were chosen").
    "quick": dict(n_layer=2, n_head=4, n_embd=128, block_size=128, **_SMALL),
    # Words: two blocks, chosen on WikiText-2 validation perplexity with the adaptive softmax
    # (benchmarks/RESULTS.md "WikiText-2").
    "word": dict(n_layer=2, n_head=4, n_embd=192, block_size=128, dropout=0.1, **_SMALL),
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
                 device=None, dtype=torch.float32, n_layer: int | None = None):
        """``config`` gives the shape (``n_layer``, ``n_head``, ``head_size``, and
        ``block_size``, the default ``max_len``); ``n_layer`` overrides its layer count (a
        sequence-to-sequence decoder's)."""
        self.max_len = max_len or config.block_size
        shape = (n_layer or config.n_layer, batch_size, config.n_head, self.max_len,
                 config.head_size)
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
        """Keep the rows ``index`` (beam search): only the filled positions are copied."""
        shape = (self.k.shape[0], len(index), *self.k.shape[2:])
        for name in ("k", "v"):
            old = getattr(self, name)
            new = torch.empty(shape, device=old.device, dtype=old.dtype)
            torch.index_select(old[:, :, :, :self.pos], 1, index, out=new[:, :, :, :self.pos])
            setattr(self, name, new)

    def reset(self) -> None:
        self.pos = 0


class GPT(nn.Module):
    """Decoder-only Transformer language model.

    ``forward(idx, targets=None, kv_cache=None, positions=None, key_mask=None)`` returns
    ``(logits, loss)``: logits (B, T, vocab) (only the last position when there are no
    targets and a cache is used), loss the mean cross-entropy over targets != -1. With the
    adaptive softmax, logits are log-probabilities, and None when there are targets (the
    loss never forms the full distribution).
    """

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        c = config
        adaptive = bool(c.cutoffs)
        # with a tied adaptive softmax the input vectors are its matrices (adaptive input)
        self.wte = None if adaptive and c.tie_weights else nn.Embedding(c.vocab_size, c.n_embd)
        self.wpe = nn.Embedding(c.block_size, c.n_embd) if c.positions == "learned" else None
        self.drop = nn.Dropout(c.dropout)
        self.blocks = nn.ModuleList(
            Block(c.n_embd, c.n_head, c.mlp_ratio, c.dropout, 0.0, c.bias, True,
                  c.norm_eps, approximate="tanh" if c.activation == "gelu_tanh" else "none")
            for _ in range(c.n_layer)
        )
        self.ln_f = nn.LayerNorm(c.n_embd, eps=c.norm_eps, bias=c.bias)
        if adaptive:
            self.lm_head = AdaptiveSoftmax(c.n_embd, c.vocab_size, c.cutoffs, c.adaptive_div)
        else:
            self.lm_head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
            if c.tie_weights:
                self.lm_head.weight = self.wte.weight
        if c.positions == "rotary":
            cos, sin = rotary_tables(c.head_size, c.block_size, c.rope_base)
            self.register_buffer("rope_cos", cos, persistent=False)
            self.register_buffer("rope_sin", sin, persistent=False)
        init_weights(self, c.n_layer)
        if adaptive:
            self.lm_head.reset_projections()

    @property
    def adaptive(self) -> bool:
        return isinstance(self.lm_head, AdaptiveSoftmax)

    def embed(self, idx: torch.Tensor) -> torch.Tensor:
        """Token vectors (B, T, C) of ids (B, T)."""
        return self.wte(idx) if self.wte is not None else self.lm_head.embed(idx)

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        """Next-token scores (..., vocab) of final hidden states ``h`` (..., C): logits, or
        with the adaptive softmax log-probabilities (which are logits too)."""
        return self.lm_head.log_prob(h) if self.adaptive else self.lm_head(h)

    def hidden_matrices(self) -> list[nn.Parameter]:
        """The blocks' 2-D weights (attention and MLP projections): what Muon updates
        (``Trainer(optimizer="muon")``); embeddings, the output layer and norms are not."""
        return [p for p in self.blocks.parameters() if p.dim() == 2]

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
        x = self.hidden(idx, kv_cache=kv_cache, positions=positions, key_mask=key_mask)
        if targets is None:
            if kv_cache is not None:
                x = x[:, -1:]  # only the next-token distribution is needed
            return self.logits(x), None
        if self.adaptive:
            return None, self.lm_head.loss(x, targets)
        logits = self.lm_head(x)  # (B, T, V)
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1),
                               ignore_index=-1)
        return logits, loss

    def hidden(self, idx: torch.Tensor, kv_cache: KVCache | None = None,
               positions: torch.Tensor | None = None,
               key_mask: torch.Tensor | None = None) -> torch.Tensor:
        """The final hidden states (B, T, C), after ``ln_f``: what ``forward`` projects to the
        vocabulary, and what a classifier on a pretrained GPT pools (arguments as
        ``forward``'s)."""
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
        x = self.embed(idx)  # (B, T, C)
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
        return self.ln_f(x)

    def decode_step(self, idx: torch.Tensor, pos: torch.Tensor, k_cache: torch.Tensor,
                    v_cache: torch.Tensor, positions: torch.Tensor | None = None,
                    key_valid: torch.Tensor | None = None) -> torch.Tensor:
        """One decoding step with static shapes, for ``torch.compile``: the new token ``idx``
        (B, 1) at cache slot ``pos`` (a 0-dim tensor), keys and values written into the
        preallocated ``k_cache`` / ``v_cache`` (n_layer, B, nh, max_len, hs) in place,
        attention over every slot with the unfilled ones (and, with ``key_valid``
        (B, max_len), padding) masked. ``positions`` (B, 1) overrides the position ``pos``.
        Returns logits (B, V), float: the arithmetic of ``self(idx, kv_cache=...)`` without
        shapes that change per step."""
        c = self.config
        C, hs = c.n_embd, c.head_size
        where = pos.view(1) if positions is None else positions  # (1,) or (B, 1)
        x = self.embed(idx)  # (B, 1, C)
        rotary = None
        if self.wpe is not None:
            x = x + self.wpe(where).view(-1, 1, C)
        else:
            rotary = (self.rope_cos[where].view(-1, 1, 1, hs // 2),
                      self.rope_sin[where].view(-1, 1, 1, hs // 2))
        slots = torch.arange(k_cache.shape[3], device=idx.device)
        valid = (slots <= pos).view(1, 1, 1, -1)  # (1, 1, 1, max_len)
        if key_valid is not None:
            valid = valid & key_valid[:, None, None, :]
        index = pos.view(1)
        for i, block in enumerate(self.blocks):
            x = block.step(x, index, k_cache[i], v_cache[i], valid, rotary)
        return self.logits(self.ln_f(x))[:, -1].float()

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


@dataclass
class GPTClassifierConfig(PresetConfig):
    """A classifier on a (pretrained) GPT: the GPT's config dict and the head's shape."""

    gpt: dict = None
    n_classes: int = 2
    n_extra: int = 0
    pooling: str = "last"  # the last real token (it has seen the whole text) or "mean"
    head_dropout: float = 0.1
    lm_weight: float = 0.0  # the LM loss kept as an auxiliary term (GPT-1 used 0.5)

    def __post_init__(self):
        if self.pooling not in ("last", "mean"):
            raise ValueError(f"pooling={self.pooling!r} is not allowed for a GPT encoder; "
                             f"choose 'last' or 'mean'.")
        if not isinstance(self.lm_weight, int | float) or self.lm_weight < 0:
            raise ValueError(f"lm_weight={self.lm_weight!r} must be a number >= 0.")


class GPTClassifier(nn.Module):
    """GPT-1's fine-tuning recipe (Radford et al. 2018): the causal Transformer reads the text,
    the last real token's (or the mean) hidden state goes to a linear head, and optionally
    ``lm_weight`` times the language-model loss on the same text joins the classification
    loss. ``forward(idx, mask, features, targets) -> (logits, loss)``, as
    :class:`hybridnlp.nn.SequenceClassifier`."""

    def __init__(self, config: GPTClassifierConfig, gpt: GPT | None = None):
        super().__init__()
        self.config = config
        self.gpt = gpt if gpt is not None else GPT(GPTConfig.from_dict(config.gpt))
        self.head = ClassificationHead(self.gpt.config.n_embd, config.n_extra,
                                       config.n_classes, config.head_dropout)
        nn.init.normal_(self.head.out.weight, std=0.02)
        nn.init.zeros_(self.head.out.bias)
        self.register_buffer("class_weight", torch.ones(config.n_classes))

    def forward(self, idx: torch.Tensor, mask: torch.Tensor | None = None,
                features: torch.Tensor | None = None, targets: torch.Tensor | None = None,
                sample_weight: torch.Tensor | None = None):
        if mask is None:
            mask = torch.ones_like(idx, dtype=torch.bool)
        h = self.gpt.hidden(idx, key_mask=None if bool(mask.all()) else mask)  # (B, T, C)
        if self.config.pooling == "last":  # right padding: the last real position
            last = mask.long().sum(dim=1).clamp(min=1) - 1
            pooled = h[torch.arange(h.shape[0], device=h.device), last]
        else:
            m = mask.unsqueeze(-1).to(h.dtype)
            pooled = (h * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0)
        logits = self.head(pooled, features)
        loss = None
        if targets is not None:
            loss = head_loss(logits, targets, self.class_weight, sample_weight)
            if self.config.lm_weight and self.training:
                next_ids = idx[:, 1:].masked_fill(~mask[:, 1:], -1)  # (B, T-1)
                lm_logits = self.gpt.logits(h[:, :-1]).float()
                lm_loss = F.cross_entropy(lm_logits.reshape(-1, lm_logits.shape[-1]),
                                          next_ids.reshape(-1), ignore_index=-1)
                loss = loss + self.config.lm_weight * lm_loss
        return logits, loss
