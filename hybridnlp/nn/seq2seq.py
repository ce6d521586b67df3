"""An encoder-decoder Transformer for p(y | x): pre-norm blocks around the one attention
module (encoder self-attention, causal decoder self-attention with a KV cache,
cross-attention over the encoder's output), one embedding table shared by source, target and
the output layer, label-smoothed cross-entropy.

Decoding folds the beams of a sentence into cross-attention's query length, so the encoder's
keys and values are computed and held once per sentence, whatever the number of beams.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from hybridnlp.nn.attention import Attention
from hybridnlp.nn.config import PresetConfig
from hybridnlp.nn.gpt import KVCache
from hybridnlp.nn.layers import MLP, Block, init_weights, use_byte_dropout

__all__ = ["ARCHITECTURES", "SEQ2SEQ_PRESETS", "PrefixLM", "PrefixLMStepper", "Seq2SeqConfig",
           "Seq2SeqStepper", "Seq2SeqTransformer"]


@dataclass
class Seq2SeqConfig(PresetConfig):
    """Shape of an encoder-decoder Transformer. ``max_len`` is the longest source and the
    longest target (with its start token) the model embeds."""

    _unknown_preset = "unknown sequence-to-sequence preset {name!r}"
    tie_weights = True  # the output layer is the embedding table (not a field: always)

    vocab_size: int = 8000
    max_len: int = 256
    n_encoder_layers: int = 3
    n_decoder_layers: int = 3
    n_head: int = 4
    n_embd: int = 256
    mlp_ratio: int = 4
    dropout: float = 0.1
    attn_dropout: float = 0.0
    label_smoothing: float = 0.1
    bias: bool = False
    norm_eps: float = 1e-5
    positions: str = "learned"  # or "sinusoidal" (Vaswani et al., fixed)
    scale_embedding: bool = False  # token embeddings x sqrt(n_embd), as Vaswani et al.

    def __post_init__(self):
        self._check_sizes("vocab_size", "max_len", "n_encoder_layers", "n_decoder_layers",
                          "n_head", "n_embd", "mlp_ratio")
        self._check_heads()
        self._check_choice("positions", ("learned", "sinusoidal"))
        self._check_fractions("dropout", "attn_dropout", "label_smoothing")

    @property
    def head_size(self) -> int:
        return self.n_embd // self.n_head


# vocab_size is replaced by the tokenizer's when a Seq2SeqLM fits; the choice of the CPU
# default is measured in benchmarks/translation.py (RESULTS.md, "Translation").
# "small" and "base" embed as Marian does (fixed sinusoidal positions, token embeddings x
# sqrt(n_embd)): in 10 minutes on CPU, 36.1 BLEU against 25.7 with learned positions; the
# one-layer "tiny" of the tests learns a toy task better with learned ones.
_VASWANI = dict(positions="sinusoidal", scale_embedding=True)
SEQ2SEQ_PRESETS = {
    "tiny": dict(n_encoder_layers=1, n_decoder_layers=1, n_head=2, n_embd=32, max_len=64),
    "small": dict(n_encoder_layers=3, n_decoder_layers=3, n_head=4, n_embd=256,
                  mlp_ratio=2, max_len=128, **_VASWANI),
    "base": dict(n_encoder_layers=6, n_decoder_layers=6, n_head=8, n_embd=512, max_len=256,
                 **_VASWANI),
}
Seq2SeqConfig._presets = SEQ2SEQ_PRESETS


def sinusoids(n_pos: int, dim: int) -> torch.Tensor:
    """Vaswani et al.'s position table (n_pos, dim): sin on even, cos on odd dimensions."""
    pos = torch.arange(n_pos, dtype=torch.float32)[:, None]
    inv = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(n_pos, dim)
    table[:, 0::2] = torch.sin(pos * inv)
    table[:, 1::2] = torch.cos(pos * inv)[:, :dim // 2]
    return table


class Sinusoids(nn.Module):
    """Fixed sinusoidal positions, called as an ``nn.Embedding`` of positions is (a buffer,
    not saved)."""

    def __init__(self, n_pos: int, dim: int):
        super().__init__()
        self.register_buffer("table", sinusoids(n_pos, dim), persistent=False)

    def forward(self, positions: torch.Tensor) -> torch.Tensor:
        return self.table[positions]


def _positions(n_pos: int, dim: int, kind: str) -> nn.Module:
    return nn.Embedding(n_pos, dim) if kind == "learned" else Sinusoids(n_pos, dim)


class DecoderBlock(nn.Module):
    """Pre-norm decoder block: causal self-attention, cross-attention, MLP."""

    def __init__(self, c: Seq2SeqConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(c.n_embd, eps=c.norm_eps, bias=c.bias)
        self.attn = Attention(c.n_embd, c.n_head, c.attn_dropout, c.dropout, c.bias,
                              causal=True)
        self.ln_2 = nn.LayerNorm(c.n_embd, eps=c.norm_eps, bias=c.bias)
        self.cross = Attention(c.n_embd, c.n_head, c.attn_dropout, c.dropout, c.bias,
                               cross=True)
        self.ln_3 = nn.LayerNorm(c.n_embd, eps=c.norm_eps, bias=c.bias)
        self.mlp = MLP(c.n_embd, c.mlp_ratio * c.n_embd, c.dropout, c.bias)

    def forward(self, x, memory_kv, memory_mask, *, kv_cache=None, layer: int = 0):
        """x (B*K, T, C): K rows (beams) per sentence of ``memory_kv`` ((B, nh, S, hs) keys
        and values) and ``memory_mask`` (B, 1, 1, S)."""
        x = x + self.attn(self.ln_1(x), kv_cache=kv_cache, layer=layer)
        BK, T, C = x.shape
        B = memory_kv[0].shape[0]
        h = self.ln_2(x).view(B, (BK // B) * T, C)  # a sentence's beams share its memory
        x = x + self.cross(h, memory_mask, memory_kv=memory_kv).view(BK, T, C)
        return x + self.mlp(self.ln_3(x))


class Seq2SeqTransformer(nn.Module):
    """Encoder-decoder Transformer. ``forward(src, src_mask, tgt, targets)`` returns
    ``(logits, loss)``: logits (N, V) of the N target positions that are not padding
    (targets != -1), loss their label-smoothed cross-entropy while training and the plain
    negative log-likelihood in eval mode (what validation and perplexity report)."""

    def __init__(self, config: Seq2SeqConfig):
        super().__init__()
        self.config = c = config
        self.wte = nn.Embedding(c.vocab_size, c.n_embd)
        self.enc_pos = _positions(c.max_len, c.n_embd, c.positions)
        self.dec_pos = _positions(c.max_len, c.n_embd, c.positions)
        self.embed_scale = math.sqrt(c.n_embd) if c.scale_embedding else 1.0
        self.drop = nn.Dropout(c.dropout)
        self.encoder = nn.ModuleList(
            Block(c.n_embd, c.n_head, c.mlp_ratio, c.dropout, c.attn_dropout, c.bias,
                  norm_eps=c.norm_eps) for _ in range(c.n_encoder_layers))
        self.ln_enc = nn.LayerNorm(c.n_embd, eps=c.norm_eps, bias=c.bias)
        self.decoder = nn.ModuleList(DecoderBlock(c) for _ in range(c.n_decoder_layers))
        self.ln_dec = nn.LayerNorm(c.n_embd, eps=c.norm_eps, bias=c.bias)
        self.lm_head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # tied input and output embeddings
        init_weights(self, c.n_encoder_layers + c.n_decoder_layers)
        use_byte_dropout(self)  # nn.Dropout's random numbers dominate its cost on CPU

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def hidden_matrices(self) -> list[nn.Parameter]:
        """The encoder's and decoder's 2-D weights (self- and cross-attention and MLP
        projections): what Muon updates (``trainer__optimizer="muon"``); the tied embedding,
        positions and norms are not."""
        return [p for p in (*self.encoder.parameters(), *self.decoder.parameters())
                if p.dim() == 2]

    def _check_length(self, T: int, what: str) -> None:
        if T > self.config.max_len:
            raise ValueError(f"{what} of {T} tokens is longer than max_len="
                             f"{self.config.max_len}; truncate it or use a larger max_len.")

    def encode(self, src: torch.Tensor, src_mask: torch.Tensor) -> torch.Tensor:
        """src (B, S) ids, src_mask (B, S) bool (True: a real token) -> memory (B, S, C)."""
        S = src.shape[1]
        self._check_length(S, "a source")
        x = self.drop(self.wte(src) * self.embed_scale
                      + self.enc_pos(torch.arange(S, device=src.device)))
        mask = src_mask[:, None, None, :]  # (B, 1, 1, S)
        for block in self.encoder:
            x = block(x, mask)
        return self.ln_enc(x)

    def memory_kv(self, memory: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Every decoder layer's cross-attention keys and values of ``memory``."""
        return [block.cross.memory_kv(memory) for block in self.decoder]

    def decode(self, tgt: torch.Tensor, memory_kv, src_mask: torch.Tensor, *,
               kv_cache: KVCache | None = None) -> torch.Tensor:
        """tgt (B*K, T) ids (from the cache position on) -> hidden states (B*K, T, C)."""
        T = tgt.shape[1]
        start = kv_cache.pos if kv_cache is not None else 0
        self._check_length(start + T, "a target")
        pos = torch.arange(start, start + T, device=tgt.device)
        x = self.drop(self.wte(tgt) * self.embed_scale + self.dec_pos(pos))
        mask = src_mask[:, None, None, :]
        for i, block in enumerate(self.decoder):
            x = block(x, memory_kv[i], mask, kv_cache=kv_cache, layer=i)
        if kv_cache is not None:
            kv_cache.pos += T
        return self.ln_dec(x)

    def stepper(self, src, src_mask, rows_per_source: int, max_len: int, *,
                use_cache: bool = True) -> Seq2SeqStepper:
        """The decoding stepper of the generation engine for these sources."""
        return Seq2SeqStepper(self, src, src_mask, rows_per_source, max_len,
                              use_cache=use_cache)

    def forward(self, src, src_mask, tgt, targets=None):
        memory_kv = self.memory_kv(self.encode(src, src_mask))
        h = self.decode(tgt, memory_kv, src_mask)  # (B, T, C)
        if targets is None:
            return self.lm_head(h), None
        keep = targets != -1
        logits = self.lm_head(h[keep])  # (N, V): the output layer only where there is a loss
        smoothing = self.config.label_smoothing if self.training else 0.0
        loss = F.cross_entropy(logits.float(), targets[keep], label_smoothing=smoothing)
        return logits, loss


class Seq2SeqStepper:
    """Next-token logits of a decoder over a batch of ``K`` rows (beams) per source sentence,
    for the generation engine (:mod:`hybridnlp.lm.decoding`): ``logits(seq, cur)`` gives the
    distribution of ``seq[:, cur]`` given ``seq[:, :cur]``; ``reorder(index)`` follows the
    engine's choice of rows. The encoder runs once, here."""

    def __init__(self, model: Seq2SeqTransformer, src: torch.Tensor, src_mask: torch.Tensor,
                 rows_per_source: int, max_len: int, *, use_cache: bool = True):
        self.model = model
        self.K = rows_per_source
        self.src_mask = src_mask
        self.memory_kv = model.memory_kv(model.encode(src, src_mask))
        p = next(model.parameters())
        self.cache = (KVCache(model.config, src.shape[0] * self.K, max_len, device=p.device,
                              dtype=p.dtype, n_layer=len(model.decoder))
                      if use_cache else None)

    def logits(self, seq: torch.Tensor, cur: int) -> torch.Tensor:
        cache = self.cache
        if cache is None:
            h = self.model.decode(seq[:, :cur], self.memory_kv, self.src_mask)
        else:
            if cache.pos != cur - 1:  # a first call (or a jump): fill the cache
                cache.reset()
                new = seq[:, :cur]
            else:
                new = seq[:, cur - 1:cur]
            h = self.model.decode(new, self.memory_kv, self.src_mask, kv_cache=cache)
        return self.model.lm_head(h[:, -1]).float()

    def reorder(self, index: torch.Tensor) -> None:
        """Keep the rows ``index``: beams of the same sentence (``index // K`` constant over
        each group of ``K``), possibly fewer sentences. The encoder's keys and values are
        selected only when sentences drop out."""
        if self.cache is not None:
            self.cache.reorder(index)
        sources = index.view(-1, self.K)[:, 0] // self.K
        n = self.src_mask.shape[0]
        if len(sources) != n or not torch.equal(sources, torch.arange(n, device=index.device)):
            self.memory_kv = [(k[sources], v[sources]) for k, v in self.memory_kv]
            self.src_mask = self.src_mask[sources]


class PrefixLM(nn.Module):
    """The decoder-only alternative with the same contract as :class:`Seq2SeqTransformer`:
    one stack of ``n_encoder_layers + n_decoder_layers`` blocks over ``source, <bos>,
    target``, where the source attends to itself in both directions and the target to the
    whole source and its own past (p(y | x) as a prefix language model, loss on the target
    only). Positions count real tokens, so a short source padded to the batch's longest sees
    the positions it would see alone."""

    def __init__(self, config: Seq2SeqConfig):
        super().__init__()
        self.config = c = config
        self.wte = nn.Embedding(c.vocab_size, c.n_embd)
        self.wpe = _positions(2 * c.max_len, c.n_embd, c.positions)
        self.embed_scale = math.sqrt(c.n_embd) if c.scale_embedding else 1.0
        self.drop = nn.Dropout(c.dropout)
        self.blocks = nn.ModuleList(
            Block(c.n_embd, c.n_head, c.mlp_ratio, c.dropout, c.attn_dropout, c.bias,
                  causal=True, norm_eps=c.norm_eps)
            for _ in range(c.n_encoder_layers + c.n_decoder_layers))
        self.ln_f = nn.LayerNorm(c.n_embd, eps=c.norm_eps, bias=c.bias)
        self.lm_head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight
        init_weights(self, len(self.blocks))
        use_byte_dropout(self)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def hidden_matrices(self) -> list[nn.Parameter]:
        """The blocks' 2-D weights: what Muon updates, as in ``Seq2SeqTransformer``."""
        return [p for p in self.blocks.parameters() if p.dim() == 2]

    def hidden(self, idx, positions, attn_mask, kv_cache=None):
        x = self.drop(self.wte(idx) * self.embed_scale + self.wpe(positions))
        for i, block in enumerate(self.blocks):
            x = block(x, attn_mask, kv_cache=kv_cache, layer=i)
        if kv_cache is not None:
            kv_cache.pos += idx.shape[1]
        return self.ln_f(x)

    @staticmethod
    def prefix_mask(src_mask: torch.Tensor, T: int) -> torch.Tensor:
        """(B, 1, S+T, S+T) bool: every query sees the real source tokens, a target query
        also sees the targets up to itself."""
        B, S = src_mask.shape
        L = S + T
        causal = torch.ones(L, L, dtype=torch.bool, device=src_mask.device).tril()
        causal[:, :S] = False  # keys in the source: by src_mask alone
        keys = torch.cat([src_mask, torch.zeros(B, T, dtype=torch.bool,
                                                device=src_mask.device)], dim=1)
        return (causal[None] | keys[:, None, :]).unsqueeze(1)

    def _positions(self, src_mask: torch.Tensor, T: int) -> torch.Tensor:
        n_src = src_mask.sum(1, keepdim=True)  # (B, 1)
        src_pos = torch.arange(src_mask.shape[1], device=src_mask.device)[None]
        tgt_pos = n_src + torch.arange(T, device=src_mask.device)[None]
        return torch.cat([src_pos.expand(len(src_mask), -1), tgt_pos], dim=1)

    def forward(self, src, src_mask, tgt, targets=None):
        S, T = src.shape[1], tgt.shape[1]
        for what, n in (("a source", S), ("a target", T)):
            if n > self.config.max_len:
                raise ValueError(f"{what} of {n} tokens is longer than max_len="
                                 f"{self.config.max_len}; truncate it or use a larger max_len.")
        h = self.hidden(torch.cat([src, tgt], 1), self._positions(src_mask, T),
                        self.prefix_mask(src_mask, T))[:, S:]
        if targets is None:
            return self.lm_head(h), None
        keep = targets != -1
        logits = self.lm_head(h[keep])
        smoothing = self.config.label_smoothing if self.training else 0.0
        loss = F.cross_entropy(logits.float(), targets[keep], label_smoothing=smoothing)
        return logits, loss

    def stepper(self, src, src_mask, rows_per_source: int, max_len: int, *,
                use_cache: bool = True) -> PrefixLMStepper:
        return PrefixLMStepper(self, src, src_mask, rows_per_source, max_len,
                               use_cache=use_cache)


class PrefixLMStepper:
    """:class:`Seq2SeqStepper` for a :class:`PrefixLM`: the first call reads the source and
    the start token (the source bidirectionally) into the cache, later calls one token."""

    def __init__(self, model: PrefixLM, src, src_mask, rows_per_source: int, max_len: int, *,
                 use_cache: bool = True):
        self.model = model
        self.src = src.repeat_interleave(rows_per_source, 0)
        self.src_mask = src_mask.repeat_interleave(rows_per_source, 0)
        p = next(model.parameters())
        S = src.shape[1]
        self.cache = (KVCache(model.config, len(self.src), S + max_len, device=p.device,
                              dtype=p.dtype, n_layer=len(model.blocks)) if use_cache else None)

    def logits(self, seq: torch.Tensor, cur: int) -> torch.Tensor:
        m, S = self.model, self.src.shape[1]
        cache = self.cache
        if cache is None or cache.pos != S + cur - 1:
            if cache is not None:
                cache.reset()
            positions = m._positions(self.src_mask, cur)
            h = m.hidden(torch.cat([self.src, seq[:, :cur]], 1), positions,
                         m.prefix_mask(self.src_mask, cur), kv_cache=cache)
        else:
            n_src = self.src_mask.sum(1, keepdim=True)
            keys = torch.cat([self.src_mask, torch.ones(len(seq), cur, dtype=torch.bool,
                                                        device=seq.device)], dim=1)
            h = m.hidden(seq[:, cur - 1:cur], n_src + cur - 1, keys[:, None, None, :],
                         kv_cache=cache)
        return m.lm_head(h[:, -1]).float()

    def reorder(self, index: torch.Tensor) -> None:
        if self.cache is not None:
            self.cache.reorder(index)
        self.src, self.src_mask = self.src[index], self.src_mask[index]


ARCHITECTURES = {"encoder_decoder": Seq2SeqTransformer, "prefix_lm": PrefixLM}
